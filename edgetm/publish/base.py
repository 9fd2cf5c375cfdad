"""What every output does. A sink is told about pipelines, results, label changes, source states,
stats and errors; it must never block the pipeline that calls it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from edgetm.capture.base import SourceState
from edgetm.results import Observation


@dataclass(frozen=True)
class PipelineInfo:
    name: str
    model: str
    source: str
    labels: list[str] = field(default_factory=list)
    none_label: str = "none"
    detector: bool = False
    counted: list[str] = field(default_factory=list)  # a detector's class filter: a count sensor each


class Sink(ABC):
    def add_pipeline(self, info: PipelineInfo) -> None:  # noqa: B027 - optional
        """A pipeline that will publish here."""

    @abstractmethod
    def result(self, observation: Observation) -> None:
        """One inference (already rate-limited by the pipeline)."""

    def label(self, pipeline: str, label: str) -> None:  # noqa: B027 - optional
        """The smoothed label changed."""

    def counts(self, pipeline: str, changed: dict[str, int]) -> None:  # noqa: B027 - optional
        """A detector's smoothed object counts changed (only the labels that did)."""

    def snapshot(self, pipeline: str, image: bytes) -> None:  # noqa: B027 - optional
        """An annotated JPEG of the frame where the counts changed."""

    def source_state(self, pipeline: str, state: SourceState) -> None:  # noqa: B027 - optional
        """A pipeline's source went online, offline or stale."""

    def stats(self, payload: dict) -> None:  # noqa: B027 - optional
        """Periodic runtime statistics."""

    def error(self, message: str, detail: dict | None = None) -> None:  # noqa: B027 - optional
        """Something went wrong that the process survived."""

    def close(self, timeout_s: float = 1.0) -> None:  # noqa: B027 - optional
        """Flush and release, within ``timeout_s``."""
