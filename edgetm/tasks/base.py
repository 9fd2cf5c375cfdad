"""What a pipeline runs: one small interface for every modality.

A task turns an item from the source into a typed result (``prepare`` then ``infer``), then
updates the state it keeps across items and says what of it changed (``track``): a classifier's
smoothed label, a detector's per-label counts. It declares that retained state as entities, so
that sinks can publish it (and Home Assistant show it) without knowing which task runs.

Threading: ``prepare`` may run in a helper thread one item ahead of ``infer``; ``infer`` and
``track`` run on the pipeline's thread, in item order. A task being checked for a model swap
runs ``prepare`` and ``infer`` in another thread while the running task keeps going: tasks share
no buffers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import Field

from edgetm.capture.base import Frame, Item
from edgetm.events import Entity, Payload, StateChange
from edgetm.model.model import Model, TaskKind
from edgetm.plugins import Options
from edgetm.tasks.smoothing import SmoothingOptions
from edgetm.vision.preprocess import PreprocessOptions


class StageOptions(Options):
    """Options of the stages around a task: preparing items before it, smoothing its results after."""

    preprocess: PreprocessOptions = Field(default_factory=PreprocessOptions, description="image models: how frames "
                                          "become the model's input")
    smoothing: SmoothingOptions = Field(default_factory=SmoothingOptions, description="how results become the "
                                        "steady state that is published")


@dataclass(frozen=True)
class Tracked:
    """What one result did to a task's state: the result as published, the state after it (merged
    into the result's payload) and the retained-state changes it caused."""

    result: Payload
    state: Payload | None
    changes: tuple[StateChange, ...] = ()


class Task(ABC):
    """Runs one model on one kind of item. A task is registered with the options class that
    configures it (``Options``, with a literal ``type``); ``kinds`` are the model kinds it runs
    when a pipeline does not name its task; ``accepts`` is the item type it takes."""

    Options: ClassVar[type[Options]]
    kinds: ClassVar[tuple[TaskKind, ...]] = ()
    accepts: ClassVar[type[Item]] = Frame

    def __init__(self, model: Model, options: Any, stages: StageOptions) -> None:
        self.model = model
        self.options = options
        self.stages = stages

    @abstractmethod
    def prepare(self, item: Any) -> Any:
        """The item as the model's input (may run one item ahead, in another thread)."""

    @abstractmethod
    def infer(self, prepared: Any, item: Any) -> Payload:
        """Run the model on a prepared item; the typed result, with timings. No state changes."""

    @abstractmethod
    def track(self, result: Any, item: Any) -> Tracked:
        """Fold a result into the state kept across items."""

    @abstractmethod
    def entities(self) -> list[Entity]:
        """The retained state this task publishes, for sinks to announce."""

    @abstractmethod
    def retained(self) -> dict[str, str]:
        """The retained state now, by key (what a subscriber arriving now should find)."""

    @property
    @abstractmethod
    def threshold(self) -> float:
        """The score a result must reach to count (changeable while running)."""

    @threshold.setter
    @abstractmethod
    def threshold(self, value: float) -> None: ...

    def adopt(self, previous: Task) -> None:  # noqa: B027 - optional
        """Take over the state of the task this one replaces (a model swap with the same labels)."""

    def describe(self) -> dict:
        """What ``edgetm info`` says about how this task runs its model."""
        return {}
