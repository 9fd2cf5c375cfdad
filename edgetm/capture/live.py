"""A capture thread that opens a device, reads items and hands them over under the source's
delivery policy; it reopens a failed device with backoff and reports its state."""

from __future__ import annotations

import logging
import threading
import time
from abc import abstractmethod
from collections import deque
from collections.abc import Callable
from typing import Any

from edgetm.capture.base import Backoff, Delivery, EndOfStream, Frame, Item, Source
from edgetm.errors import ImageError
from edgetm.events import SourceState

log = logging.getLogger(__name__)

# Items a STREAM source may hold for a pipeline that is busy: at the usual 20-100 ms per audio block,
# several seconds; a pipeline that falls further behind than this is losing data and is told so.
STREAM_CAPACITY = 64


class _Handoff:
    """Where the capture thread leaves items for the pipeline: the newest only (LATEST), or a
    bounded queue in order (STREAM). ``put`` returns how many items it pushed out."""

    def __init__(self, delivery: Delivery, capacity: int) -> None:
        self._items: deque[Item] = deque(maxlen=1 if delivery is Delivery.LATEST else capacity)
        self._ready = threading.Condition()
        self._ended = False

    def put(self, item: Item) -> int:
        with self._ready:
            pushed_out = int(len(self._items) == self._items.maxlen)
            self._items.append(item)
            self._ready.notify()
        return pushed_out

    def get(self, timeout_s: float, stopping: threading.Event) -> Item | None:
        """The next item; None after ``timeout_s`` or once stopping; EndOfStream once ended and empty."""
        deadline = time.monotonic() + timeout_s
        with self._ready:
            while not self._items:
                if self._ended:
                    raise EndOfStream
                remaining = deadline - time.monotonic()
                if remaining <= 0 or stopping.is_set():
                    return None
                self._ready.wait(remaining)
            return self._items.popleft()

    def wake(self, ended: bool = False) -> None:
        with self._ready:
            self._ended = self._ended or ended
            self._ready.notify_all()


class LiveSource(Source):
    """A device read by its own thread.

    Subclasses open the device (``_open``), read from it (``_grab``: None means the device failed or
    the stream broke off) and close it (``_close``); ``_item`` wraps what ``_grab`` returned (a BGR
    image by default, refused with ``ImageError`` when it is none: counted in ``rejected``, never
    handed over). The thread reopens a failed device after ``backoff`` delays (1 s doubling to 30 s
    by default) until stopped; the delays start again from the first only after a good item.

    States go to the ``on_state`` callbacks, the first one always: ONLINE on the first item after
    opening, OFFLINE when opening or reading fails (and when a finite source ends), STALE when no
    item has arrived for ``stale_after_s`` (checked by ``read``). What is wrong goes to ``problem``
    and, when it is new, to the ``on_problem`` callbacks: a device that fails every attempt to
    reopen it is said to once, not at every attempt.
    """

    delivery = Delivery.LATEST

    def __init__(self, name: str, backoff: Backoff | None = None, stale_after_s: float = 5.0,
                 capacity: int = STREAM_CAPACITY) -> None:
        self.name = name
        self.backoff = backoff or Backoff()
        self.stale_after_s = stale_after_s
        self.dropped = 0
        self.reconnects = 0
        self.rejected = 0
        self.rejection = None
        self.problem = None
        self._handoff = _Handoff(self.delivery, capacity)
        self._count = 0
        self._last_item_at = time.monotonic()
        self._rejected_at_last_item = 0
        self._state = SourceState.OFFLINE
        self._announced = False  # the first state is told even when it is OFFLINE: a source absent from the start
        self._callbacks: list[Callable[[SourceState], None]] = []
        self._problem_callbacks: list[Callable[[str], None]] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- to implement ---------------------------------------------------------------------------
    @abstractmethod
    def _open(self) -> Any:
        """Open the device; return a handle, or raise (any exception means: retry later)."""

    @abstractmethod
    def _grab(self, handle: Any) -> Any | None:
        """Block (with a timeout) until the next data; None when the device failed or the stream
        broke off (it will be reopened); raise ``EndOfStream`` when the source is finished."""

    def _close(self, handle: Any) -> None:
        """Release the handle."""

    def _item(self, data: Any, index: int, captured: float, wall: float) -> Item:
        """``data`` as an item; raise ``ImageError`` saying why it cannot be one."""
        from edgetm.vision.preprocess import as_bgr

        # Checked here, at the device, so that garbage is told apart from a model that fails, never
        # counts as a sign of life, and grey or 16-bit frames are converted once for every reader.
        return Frame(image=as_bgr(data), index=index, captured=captured, wall=wall)

    def _state_for(self, item: Item) -> SourceState:
        """The state an item shows the source is in (a microphone's zeros: SILENT)."""
        return SourceState.ONLINE

    # -- the interface --------------------------------------------------------------------------
    @property
    def state(self) -> SourceState:
        return self._state

    def on_state(self, callback: Callable[[SourceState], None]) -> None:
        self._callbacks.append(callback)

    def on_problem(self, callback: Callable[[str], None]) -> None:
        self._problem_callbacks.append(callback)

    def start(self) -> None:
        if self._thread is None:
            self._last_item_at = time.monotonic()
            self._thread = threading.Thread(target=self._run, name=f"edgetm-capture-{self.name}", daemon=True)
            self._thread.start()

    def read(self, timeout_s: float) -> Item | None:
        """The next item under the delivery policy, waiting up to ``timeout_s``; None if none came."""
        item = self._handoff.get(timeout_s, self._stopping)
        if item is not None:
            return item
        quiet_s = time.monotonic() - self._last_item_at
        if self._state is not SourceState.OFFLINE and quiet_s > self.stale_after_s:
            rejected = self.rejected - self._rejected_at_last_item
            garbage = f"; it gave {rejected} unusable frames: {self.rejection}" if rejected else ""
            self._set_state(SourceState.STALE)
            self._set_problem(f"nothing from {self.name} for {self.stale_after_s:g} s{garbage}")
        return None

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stopping.set()
        self._handoff.wake()
        if self._thread is not None:
            self._thread.join(timeout_s)

    # -- the capture thread ---------------------------------------------------------------------
    def _set_state(self, state: SourceState) -> None:
        if state is self._state and self._announced:
            return
        self._state = state
        self._announced = True
        log.info("source %s is %s", self.name, state.value)
        for callback in self._callbacks:
            try:
                callback(state)
            except Exception:  # a listener's failure must not stop capture
                log.exception("state callback failed")

    def _set_problem(self, problem: str | None) -> None:
        """What is wrong now (None: nothing); listeners hear of it when it is not what they heard last."""
        said = self.problem
        self.problem = problem
        if problem is None or problem == said:
            return
        log.debug("source %s: %s", self.name, problem)
        for callback in self._problem_callbacks:
            try:
                callback(problem)
            except Exception:  # a listener's failure must not stop capture
                log.exception("problem callback failed")

    def _deliver(self, data: Any) -> bool:
        """Hand an item over; False when the data was no item (counted, and the reason kept)."""
        now = time.monotonic()
        try:
            item = self._item(data, self._count, now, time.time())
        except ImageError as error:
            self.rejected += 1
            self.rejection = str(error)
            return False
        self._count += 1
        self._last_item_at = now
        self._rejected_at_last_item = self.rejected
        # The state first: whoever reads this item has already heard that the source is back.
        self._set_state(self._state_for(item))
        self._set_problem(None)
        self.dropped += self._handoff.put(item)
        return True

    def _failed(self, problem: str, delay_s: float) -> None:
        """Say what failed, then wait before the next attempt (or until stopped)."""
        self._set_problem(problem)
        self._set_state(SourceState.OFFLINE)
        log.debug("source %s: next attempt in %.1f s", self.name, delay_s)
        self._stopping.wait(delay_s)

    def _run(self) -> None:
        delays = self.backoff.delays()
        first = True
        while not self._stopping.is_set():
            if not first:
                self.reconnects += 1
            log.debug("source %s: opening it%s", self.name, "" if first else f" again (attempt {self.reconnects + 1})")
            first = False
            try:
                handle = self._open()
            except Exception as error:
                self._failed(f"cannot open {self.name}: {_why(error)}", next(delays))
                continue
            got_item = False
            problem = f"{self.name} opened but gave nothing"
            try:
                while not self._stopping.is_set():
                    data = self._grab(handle)
                    if data is None:
                        break
                    if self._deliver(data) and not got_item:
                        got_item = True
                        problem = f"{self.name} stopped delivering"
                        delays = self.backoff.delays()  # a working device resets the backoff
            except EndOfStream:  # items already handed over are still read, then EndOfStream
                self._stopping.set()
                self._set_state(SourceState.OFFLINE)
                self._handoff.wake(ended=True)
            except Exception as error:
                problem = f"reading {self.name} failed: {_why(error)}"
            finally:
                try:
                    self._close(handle)
                except Exception:
                    log.exception("closing %s failed", self.name)
            if not self._stopping.is_set():
                self._failed(problem, next(delays))


def _why(error: Exception) -> str:
    return str(error) or type(error).__name__
