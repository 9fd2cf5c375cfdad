"""What every frame source is: a small interface, its states, and the live-capture machinery.

Two kinds of source:

- *Finite* sources (image files, a video file read as fast as possible) hand out every frame in
  order; the pipeline pulls them and prepares the next one while the current one runs.
- *Live* sources (cameras, network streams, a video paced in real time) run their own capture
  thread and keep only the newest frame: inference always takes the latest, older frames are
  dropped and counted, and memory stays bounded whatever the speeds. A live source that fails
  or ends reopens itself with exponential backoff and reports its state.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)


class LiveOptions(BaseModel):
    """Options every live source has; each source's config adds its own and a literal ``type``."""

    model_config = ConfigDict(extra="forbid")

    stale_after_s: float = Field(5.0, gt=0, description="no frame for this long: the source is stale")
    reconnect_initial_s: float = Field(1.0, gt=0, description="first delay before reopening a failed source")
    reconnect_max_s: float = Field(30.0, gt=0, description="longest delay between reopening attempts")

    def backoff(self) -> Backoff:
        return Backoff(self.reconnect_initial_s, max(self.reconnect_max_s, self.reconnect_initial_s))


class SourceState(enum.Enum):
    ONLINE = "online"
    OFFLINE = "offline"
    STALE = "stale"  # open, but no frame for longer than ``stale_after_s``


@dataclass(frozen=True)
class Frame:
    """One decoded BGR frame. ``captured`` is ``time.monotonic()`` at capture, ``wall`` epoch seconds."""

    image: np.ndarray
    index: int
    captured: float
    wall: float
    name: str | None = None  # the file it came from, for file sources


class EndOfStream(Exception):
    """A finite source has no more frames."""


class Source(ABC):
    """A source of frames. ``read`` returns the next frame, None when none came within the timeout
    (live sources only), or raises ``EndOfStream``."""

    name: str
    live: bool = False
    dropped: int = 0

    def start(self) -> None:  # noqa: B027 - optional
        """Begin capturing (live sources start their thread here)."""

    @abstractmethod
    def read(self, timeout_s: float) -> Frame | None: ...

    def stop(self, timeout_s: float = 2.0) -> None:  # noqa: B027 - optional
        """Release the device; returns within ``timeout_s``."""

    @property
    def state(self) -> SourceState:
        return SourceState.ONLINE

    def on_state(self, callback: Callable[[SourceState], None]) -> None:  # noqa: B027 - optional
        """Be told about state changes (live sources)."""


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: ``initial_s``, doubling each failure, at most ``max_s``; reset on success."""

    initial_s: float = 1.0
    max_s: float = 30.0

    def delays(self):
        delay = self.initial_s
        while True:
            yield delay
            delay = min(delay * 2, self.max_s)


class LiveSource(Source):
    """A capture thread that keeps the newest frame.

    Subclasses open a device (``_open``), grab one frame (``_grab``: None means the device failed
    or the stream ended) and close it (``_close``). The thread reopens a failed device after
    ``backoff`` delays (1 s doubling to 30 s by default) until stopped. State changes go to the
    callbacks: ONLINE on the first frame after opening, OFFLINE when opening or grabbing fails,
    STALE when no frame has arrived for ``stale_after_s`` (checked by ``read``).
    """

    live = True

    def __init__(self, name: str, backoff: Backoff | None = None, stale_after_s: float = 5.0) -> None:
        self.name = name
        self.backoff = backoff or Backoff()
        self.stale_after_s = stale_after_s
        self.dropped = 0
        self.reconnects = 0
        self._frame: Frame | None = None
        self._fresh = False
        self._count = 0
        self._last_frame_at = time.monotonic()
        self._state = SourceState.OFFLINE
        self._callbacks: list[Callable[[SourceState], None]] = []
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self._ended = False
        self._thread: threading.Thread | None = None

    # -- to implement ---------------------------------------------------------------------------
    @abstractmethod
    def _open(self):
        """Open the device; return a handle, or raise (any exception means: retry later)."""

    @abstractmethod
    def _grab(self, handle) -> np.ndarray | None:
        """Block (with a timeout) until the next frame; None when the device failed or the stream
        broke off (it will be reopened); raise ``EndOfStream`` when the source is finished."""

    def _close(self, handle) -> None:
        """Release the handle."""

    # -- the interface --------------------------------------------------------------------------
    @property
    def state(self) -> SourceState:
        return self._state

    def on_state(self, callback: Callable[[SourceState], None]) -> None:
        self._callbacks.append(callback)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"edgetm-capture-{self.name}", daemon=True)
            self._thread.start()

    def read(self, timeout_s: float) -> Frame | None:
        """The newest frame not yet read, waiting up to ``timeout_s``; None if none came."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not self._fresh:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping.is_set() or self._ended:
                    break
                self._changed.wait(remaining)
            if self._fresh:
                self._fresh = False
                return self._frame
            if self._ended:
                raise EndOfStream
        if (self._state is SourceState.ONLINE
                and time.monotonic() - self._last_frame_at > self.stale_after_s):
            self._set_state(SourceState.STALE)
        return None

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_s)

    # -- the capture thread ---------------------------------------------------------------------
    def _set_state(self, state: SourceState) -> None:
        if state is self._state:
            return
        self._state = state
        log.info("source %s is %s", self.name, state.value)
        for callback in self._callbacks:
            try:
                callback(state)
            except Exception:  # a sink's failure must not stop capture
                log.exception("state callback failed")

    def _publish(self, image: np.ndarray) -> None:
        now = time.monotonic()
        frame = Frame(image, self._count, now, time.time())
        self._count += 1
        self._last_frame_at = now
        with self._changed:
            if self._fresh:
                self.dropped += 1  # the previous frame was never read: newest wins
            self._frame = frame
            self._fresh = True
            self._changed.notify()
        if self._state is not SourceState.ONLINE:
            self._set_state(SourceState.ONLINE)

    def _run(self) -> None:
        delays = self.backoff.delays()
        first = True
        while not self._stopping.is_set():
            if not first:
                self.reconnects += 1
            first = False
            try:
                handle = self._open()
            except Exception as error:
                log.warning("cannot open %s: %s", self.name, error)
                self._set_state(SourceState.OFFLINE)
                self._stopping.wait(next(delays))
                continue
            try:
                got_frame = False
                while not self._stopping.is_set():
                    image = self._grab(handle)
                    if image is None:
                        break
                    if not got_frame:
                        got_frame = True
                        delays = self.backoff.delays()  # a working device resets the backoff
                    self._publish(image)
            except EndOfStream:
                with self._changed:
                    self._ended = True
                    self._changed.notify_all()
                self._stopping.set()
            except Exception as error:
                log.warning("capture from %s failed: %s", self.name, error)
            finally:
                try:
                    self._close(handle)
                except Exception:
                    log.exception("closing %s failed", self.name)
            if not self._stopping.is_set():
                self._set_state(SourceState.OFFLINE)
                self._stopping.wait(next(delays))
