"""What every output is. A sink hears about pipelines (and their entities), results, changes of
retained state, source states, stats and errors, and, if it asks, the newest frame. It must never
block the pipeline that calls it; ``Sinks`` (fanout.py) isolates every call and feeds frames to
a sink on its own thread."""


from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from edgetm.events import Entity, Observation, SourceState, StateChange
from edgetm.plugins import Options
from edgetm.records import Record

# (pipeline name, or None for the device-wide reload command; payload)
CommandHandler = Callable[[str | None, bytes], None]


class PipelineInfo(Record):
    """A pipeline as sinks present it: what it runs, on what, and the retained state it publishes."""

    name: str
    model: str
    source: str
    entities: tuple[Entity, ...] = ()


class SinkContext(Record):
    """What a sink is opened with besides its own options."""

    device_id: str
    on_command: CommandHandler | None = None
    stats_interval_s: float | None = None  # how often stats come (None: they do not; no sink announces them)


class Sink(ABC):
    wants_frames: ClassVar[bool] = False

    @property
    def gone(self) -> bool:
        """True once nothing can be delivered here any more (the reader of a pipe went away)."""
        return False

    @property
    def problem(self) -> str | None:
        """Why this sink cannot deliver now, in one sentence (None while it can)."""
        return None

    def ready(self) -> None:  # noqa: B027 - optional
        """Every pipeline of the service is registered: commands may be handled now."""

    def add_pipeline(self, info: PipelineInfo) -> None:  # noqa: B027 - optional
        """A pipeline that publishes here, or the same pipeline with new entities (a model swap)."""

    def remove_pipeline(self, name: str) -> None:  # noqa: B027 - optional
        """A pipeline is gone: forget it and delete what was retained for it."""

    @abstractmethod
    def result(self, observation: Observation) -> None:
        """One inference (already rate-limited by the pipeline)."""

    def state(self, pipeline: str, changes: Sequence[StateChange]) -> None:  # noqa: B027 - optional
        """A pipeline's retained state changed (a label, counts), or it has an event (a snapshot)."""

    def source_state(self, pipeline: str, state: SourceState) -> None:  # noqa: B027 - optional
        """A pipeline's source went online, offline or stale."""

    def frame(self, observation: Observation, item: Any) -> None:  # noqa: B027 - optional
        """The newest item and what was made of it (sinks with ``wants_frames`` only, on their own
        thread: items that arrive while this runs replace each other, so a slow sink sees fewer)."""

    def stats(self, payload: dict) -> None:  # noqa: B027 - optional
        """Periodic runtime statistics."""

    def error(self, message: str, detail: dict | None = None) -> None:  # noqa: B027 - optional
        """Something went wrong that the process survived."""

    def close(self, timeout_s: float = 1.0) -> None:  # noqa: B027 - optional
        """Flush and release, within ``timeout_s``."""


class SinkOptions(Options):
    """A sink's settings; each sink adds its own and a literal ``type``, and says how to open it.
    ``unique`` says why a configuration may hold only one sink of this type (None: any number);
    ``publishes_state`` whether it publishes retained state and events (labels, counts, snapshots)."""

    type: str
    unique: ClassVar[str | None] = None
    publishes_state: ClassVar[bool] = False

    def open(self, context: SinkContext) -> Sink:
        raise NotImplementedError
