"""What every source is: the items it yields, how it delivers them, its states.

A source yields *items* carrying their timestamps: ``Frame`` (a BGR image) or ``Block`` (a run of
audio samples). How items reach the pipeline is the source's *delivery policy*:

- ``LATEST`` (cameras, network streams, video paced in real time): the newest item wins. Older
  items the pipeline did not take in time are dropped and counted, so inference always sees the
  latest picture and memory stays bounded whatever the speeds.
- ``STREAM`` (microphones, files): every item, in order, exactly once. Files are read when the
  pipeline asks (nothing can overflow); a device that pushes items fills a bounded buffer, and an
  item that finds it full pushes out the oldest one, counted in ``dropped`` and reported by the
  pipeline, never silently.

Threading contract: a live source runs one capture thread that opens the device, reads items and
hands each over (``LiveSource`` in ``live.py``); nothing else runs there. ``read`` is called by the
pipeline's own thread. State callbacks (``on_state``) run on the capture thread and must only hand
the state over (the pipeline queues it and tells its sinks from its own thread).
"""


import enum
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar, NamedTuple

import numpy as np

from edgetm.events import SourceState
from edgetm.options import Field
from edgetm.plugins import Options
from edgetm.records import Record


class Delivery(enum.Enum):
    LATEST = "latest"
    STREAM = "stream"


class Item(Record, kw_only=True):
    """One unit from a source. ``index`` counts items from 0; ``captured`` is ``time.monotonic()``
    at capture and ``wall`` epoch seconds; ``name`` the file it came from, for file sources."""

    index: int
    captured: float
    wall: float
    name: str | None = None


class Frame(Item, kw_only=True):
    """A decoded image: uint8 BGR (grey and BGRA are converted where they are used)."""

    image: np.ndarray


class Block(Item, kw_only=True):
    """Consecutive audio samples: float32 [n, channels] in [-1, 1] at ``rate`` Hz. ``start`` is the
    index of the first sample in the stream, so gaps (a dropped block) are visible."""

    samples: np.ndarray
    rate: int
    start: int

    @property
    def t_start(self) -> float:
        """Seconds into the stream."""
        return self.start / self.rate

    @property
    def t_end(self) -> float:
        return (self.start + len(self.samples)) / self.rate


class EndOfStream(Exception):
    """A finite source has no more items."""


class Progress(NamedTuple):
    """How far through a file or folder: ``done`` of ``total`` ``unit`` ("frames", "images")."""

    done: int
    total: int
    unit: str


class Source(ABC):
    """A source of items. ``read`` returns the next item, None when none came within the timeout,
    or raises ``EndOfStream``; ``dropped`` counts items lost under the delivery policy, ``rejected``
    what the device gave that is no item (garbage in place of a frame), the last reason in
    ``rejection``.

    ``problem`` is what is wrong, in one sentence naming the source: for a live source, what is
    wrong now (it cannot be opened, it gives nothing; None again after the next good item), told to
    ``on_problem`` listeners when it starts; for a finite source, why it ended early or gave nothing,
    set when it ends and said by whoever ran it, with the exit status.
    """

    name: str
    delivery: ClassVar[Delivery] = Delivery.STREAM
    item: ClassVar[type[Item]] = Frame
    dropped: int = 0
    reconnects: int = 0
    rejected: int = 0
    rejection: str | None = None
    problem: str | None = None

    def start(self) -> None:  # noqa: B027 - optional
        """Begin capturing (live sources start their thread here)."""

    @abstractmethod
    def read(self, timeout_s: float) -> Item | None: ...

    def stop(self, timeout_s: float = 2.0) -> None:  # noqa: B027 - optional
        """Release the device; returns within ``timeout_s``."""

    @property
    def state(self) -> SourceState:
        return SourceState.ONLINE

    def on_state(self, callback: Callable[[SourceState], None]) -> None:  # noqa: B027 - optional
        """Be told about state changes (live sources; see the threading contract above)."""

    def on_problem(self, callback: Callable[[str], None]) -> None:  # noqa: B027 - optional
        """Be told of each new problem of a live source, once (same thread rules as ``on_state``)."""

    def progress(self) -> Progress | None:
        """How far through a finite source; None for a live or endless one."""
        return None

    def prefer(self, rate: int | None = None) -> None:  # noqa: B027 - optional
        """What the task would like, before ``start``: a sound source that can decode at any rate
        (ffmpeg) delivers the model's own, so that nothing needs resampling."""


class SourceOptions(Options):
    """A source's settings; each source adds its own and a literal ``type``, and says how to open it."""

    type: str

    @property
    def paced(self) -> bool:
        """Items arrive at the world's pace (a camera's frame rate, a microphone's blocks) rather
        than as fast as they are read: inference then waits idle between them."""
        return False

    def open(self) -> Source:
        raise NotImplementedError


class LiveOptions(SourceOptions):
    """Options every live source has."""

    # Reopening more often than every 50 ms (faster than a camera's frames) only keeps a core busy
    # and floods the log; an hour is as long as a source should go unwatched.
    stale_after_s: float = Field(5.0, ge=0.1, le=3600, description="no item for this long: the source is stale")
    reconnect_initial_s: float = Field(1.0, ge=0.05, le=3600, description="first delay before reopening a failed "
                                       "source")
    reconnect_max_s: float = Field(30.0, ge=0.05, le=3600, description="longest delay between reopening attempts")

    @property
    def paced(self) -> bool:
        return True  # files among live sources say otherwise unless played in real time

    def backoff(self) -> "Backoff":
        return Backoff(self.reconnect_initial_s, max(self.reconnect_max_s, self.reconnect_initial_s))


class Backoff(Record):
    """Reconnect delays: ``initial_s``, doubling each failure, at most ``max_s``; reset on success."""

    initial_s: float = 1.0
    max_s: float = 30.0

    def delays(self):
        delay = self.initial_s
        while True:
            yield delay
            delay = min(delay * 2, self.max_s)
