"""What flows from a running pipeline to its sinks: observations, retained-state changes, source
states, and the entities a task publishes. Every stage may import this; it imports no stage."""

from __future__ import annotations

import datetime
import enum
import re
from typing import Any, Protocol

from edgetm.records import Record, field
from edgetm.results import round_ms


class SourceState(enum.Enum):
    ONLINE = "online"
    OFFLINE = "offline"
    STALE = "stale"  # open, but no item for longer than the source's ``stale_after_s``
    SILENT = "silent"  # a microphone that delivers nothing but zeros (muted, or its cable pulled)


class EntityKind(enum.Enum):
    """What a piece of retained state is, so that sinks can present it (Home Assistant's sensor kinds)."""

    LABEL = "label"  # one of a known set of words; the result topic carries score and top as attributes
    COUNT = "count"  # a whole number that goes up and down


class Entity(Record):
    """A piece of retained state a task publishes under ``base/<pipeline>/<key>``.

    ``suffix`` tells entities of one pipeline apart (None: the pipeline's main entity, named after
    it); ``options`` are a label's possible values.
    """

    key: str
    kind: EntityKind
    suffix: str | None = None
    options: tuple[str, ...] = ()
    icon: str | None = None  # a Material Design icon name (default: by kind)
    hint: str | None = None  # what a user could do to get more of this state (said once, where it is announced)


class StateChange(Record):
    """A change to what a pipeline publishes under ``base/<pipeline>/<key>``.

    Retained changes are what a subscriber arriving later should find (a label, a count); a None
    payload deletes the retained value. Changes that are not retained are events (a snapshot).
    """

    key: str
    payload: str | bytes | None
    retain: bool = True


# The retained state saying whether a pipeline is paused ("true" / "false"): what it does, not what was asked.
PAUSED_KEY = "paused"


def paused_change(paused: bool) -> StateChange:
    return StateChange(PAUSED_KEY, "true" if paused else "false")


class Payload(Protocol):
    def to_dict(self) -> dict: ...


class Observation(Record, frozen=False):
    """What a running pipeline made of one item: the task's result, its retained state after it,
    what that state changed, and timings.

    ``captured`` is the item's wall-clock capture time (epoch seconds); ``latency_ms`` holds the
    result's stages plus ``capture_to_result``, from capture to the result being ready.
    """

    pipeline: str
    model: str
    source: str
    frame: int
    captured: float
    result: Any
    state: Payload | None = None
    changes: tuple[StateChange, ...] = ()
    latency_ms: dict[str, float] = field(default_factory=dict)

    def changed(self, key: str) -> bool:
        """True when this item changed the retained state ``key`` (``"label"``, ``"count/dog"``)."""
        return any(change.key == key for change in self.changes)

    @property
    def label(self) -> str | None:
        """The result's own label (before smoothing), for results that have one."""
        return getattr(self.result, "label", None)

    def to_dict(self) -> dict:
        payload = self.result.to_dict()
        payload.update({
            "timestamp": datetime.datetime.fromtimestamp(self.captured, datetime.timezone.utc).isoformat(
                timespec="milliseconds"),
            "pipeline": self.pipeline,
            "model": self.model,
            "source": getattr(self.result, "source", None) or self.source,
            "frame": self.frame,
            "latency_ms": round_ms(self.latency_ms),
        })
        if self.state is not None:
            payload.update(self.state.to_dict())
        return payload


# The longest topic level a label becomes, in bytes: a model's labels are as long as its maker
# wrote them, and the topics they name must stay short (``errors.MAX_TOPIC_BYTES``).
MAX_LEVEL_BYTES = 128


def topic_level(text: str) -> str:
    """Text as one MQTT topic level: wildcards, separators and control characters replaced. A
    level longer than ``MAX_LEVEL_BYTES`` is cut and ends in a hash of the whole, so that two long
    labels stay two levels."""
    level = re.sub(r"[+#/\x00-\x1f\x7f]", "_", text) or "_"
    encoded = level.encode()
    if len(encoded) <= MAX_LEVEL_BYTES:
        return level
    import hashlib

    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return encoded[:MAX_LEVEL_BYTES - 9].decode(errors="ignore") + "~" + digest
