"""What a pipeline runs: one small interface for every modality.

A task turns each item from the source into inputs for its model (``prepare``: a frame gives
one; a block of sound gives as many windows as it completes, often none), each input into a
typed result (``infer``), then updates the state it keeps across results and says what of it
changed (``track``): a classifier's smoothed label, a detector's per-label counts. It declares
that retained state as entities, so that sinks can publish it (and Home Assistant show it)
without knowing which task runs.

Threading: ``prepare`` may run in a helper thread one item ahead of ``infer``, but always in item
order and once per item; ``infer`` and ``track`` run on the pipeline's thread, in order. A task
being checked for a model swap runs ``probe`` in another thread while the running task keeps
going: tasks share no buffers.
"""


from abc import ABC, abstractmethod
from typing import Any, ClassVar

from edgetm.capture.base import Frame, Item
from edgetm.events import Entity, Payload, StateChange
from edgetm.model.model import Model, TaskKind
from edgetm.options import Field
from edgetm.plugins import Options
from edgetm.records import Record
from edgetm.tasks.smoothing import SmoothingOptions
from edgetm.vision.preprocess import PreprocessOptions


class StageOptions(Options):
    """Options of the stages around a task: preparing items before it, smoothing its results after."""

    preprocess: PreprocessOptions = Field(default_factory=PreprocessOptions, description="image models: how frames "
                                          "become the model's input")
    smoothing: SmoothingOptions = Field(default_factory=SmoothingOptions, description="how results become the "
                                        "steady state that is published")


class Unit(Record):
    """One input for the model and the item it stands for (a frame, or a window of sound)."""

    item: Item
    input: Any


class Tracked(Record):
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
    wrong_source_hint: ClassVar[str | None] = None  # what to say to someone who gave it the wrong kind of source

    def __init__(self, model: Model, options: Any, stages: StageOptions) -> None:
        self.model = model
        self.options = options
        self.stages = stages

    @abstractmethod
    def prepare(self, item: Any) -> list[Unit]:
        """The model's inputs this item gives (may run one item ahead, in another thread)."""

    @abstractmethod
    def infer(self, prepared: Any, item: Any) -> Payload:
        """Run the model on one prepared input; the typed result, with timings. No state changes."""

    def flush(self) -> list[Unit]:
        """At the end of a finite stream: inputs still held back (a last, partial window)."""
        return []

    def probe(self, item: Any) -> Payload:
        """One inference on an item as it stands, changing no state (a swapped-in model's check)."""
        units = self.prepare(item)
        return self.infer(units[0].input, units[0].item)

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

    def adopt(self, previous: "Task") -> None:  # noqa: B027 - optional
        """Take over the state of the task this one replaces (a model swap with the same labels)."""

    def continues(self, previous: object) -> bool:
        """True when inputs ``previous`` prepared serve this task as they are (it took over their
        stream); otherwise an item ``previous`` prepared is prepared again."""
        return False

    @property
    def input_rate(self) -> int | None:
        """The sample rate the model takes (sound tasks), for sources that can deliver any."""
        return None

    def describe(self) -> dict:
        """What ``edgetm info`` says about how this task runs its model."""
        return {}

    def status(self) -> dict:
        """Figures for the stats topic (a sound task's level); read from another thread."""
        return {}
