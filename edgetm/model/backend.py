"""The interface every inference runtime implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

from edgetm.model.spec import TensorSpec
from edgetm.records import replace


class Backend(ABC):
    """A loaded network: tensor specs and a synchronous ``run``."""

    name: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    # The first input's shape the last ``fit`` asked for: what a rectangular run feeds (None before
    # any fit; a backend that reallocates to fit starts at its loaded shape).
    fitted: tuple[int, ...] | None = None

    @abstractmethod
    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Run once; inputs and outputs are raw tensors in the model's own dtypes."""

    @abstractmethod
    def bare(self, inputs: Sequence[np.ndarray]) -> Callable[[], object]:
        """One run through the runtime's own API and nothing of edgetm's (no checks, no error
        translation): the reference ``edgetm bench`` measures edgetm against."""

    def resize(self, shapes: Sequence[tuple[int, ...]]) -> None:  # noqa: B027 - optional
        """Fix dynamic input shapes before running; backends that take any shape ignore it."""

    def fit(self, shape: tuple[int, ...]) -> None:
        """Take the first input at ``shape`` from the next run on, leaving ``inputs`` as loaded
        (rectangular inference: one shape per frame geometry). Backends that take any shape
        only note it; the others resize only when ``shape`` differs from the last one."""
        self.fitted = shape

    def learn_output_shapes(self, outputs: Sequence[np.ndarray]) -> None:
        """Record output shapes from a run: dynamic output dims are known only then."""
        self.outputs = [replace(s, shape=tuple(o.shape)) for s, o in zip(self.outputs, outputs, strict=True)]

    def describe(self) -> dict:
        """Runtime details for ``edgetm info``."""
        return {"backend": self.name}
