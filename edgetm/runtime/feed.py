"""How items reach a pipeline's task, following the source's delivery policy.

- ``LATEST``: read the newest item, waiting at most ``READ_TIMEOUT_S`` at a time so the loop stays
  responsive, and prepare it on the pipeline's thread (anything older was already dropped).
- ``STREAM``: every item in order, read and prepared one ahead in a helper thread while the
  current one runs, when that is measured to be faster than doing it in turn (``Prefetch``).

Either way the feed yields ``Fed`` items (an item with its prepared input, or the error preparing
it raised), the error reading an item raised (an unreadable image file: that item only), and
``IDLE`` when nothing came within ``READ_TIMEOUT_S``, so that the loop can check in. While
paused, a live source keeps being read and its items are let go; a file waits.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from typing import Any

from edgetm.capture import Delivery, EndOfStream, Item, LiveSource, Source
from edgetm.records import Record
from edgetm.runtime.prefetch import Prefetch

READ_TIMEOUT_S = 0.5  # longest wait for an item before the loop checks in again


class Fed(Record):
    item: Item
    prepared: Any  # the task's input, or the Exception preparing it raised
    prepared_by: object  # the task that prepared it: after a model swap the item is prepared again


IDLE = object()


class Feed:
    def __init__(self, source: Source, prepare: Callable[[Item], tuple[Any, object]], stop: threading.Event,
                 paused: Callable[[], bool]) -> None:
        self.source = source
        self._prepare = prepare  # (prepared input, the task that made it); may raise
        self._stop = stop
        self._paused = paused
        self._live = isinstance(source, LiveSource)
        self._prefetch: Prefetch | None = None

    def describe(self) -> dict:
        """How a stream's items are prepared (ahead or in turn, and the times that chose it)."""
        return self._prefetch.choice.describe() if self._prefetch is not None else {}

    def _fed(self, item: Item) -> Fed:
        try:
            prepared, task = self._prepare(item)
        except Exception as error:  # handed to the loop, which reports it and goes on
            return Fed(item, error, None)
        return Fed(item, prepared, task)

    def __iter__(self) -> Iterator[Fed | Exception | object]:
        return self._latest() if self.source.delivery is Delivery.LATEST else self._stream()

    def _latest(self) -> Iterator[Fed | object]:
        while not self._stop.is_set():
            try:
                item = self.source.read(READ_TIMEOUT_S)
            except EndOfStream:
                return
            if item is None or self._paused():
                yield IDLE  # while paused, keep draining the camera but infer nothing
                continue
            yield self._fed(item)

    def _read_and_prepare(self, _: int) -> Fed | object:
        if self._paused() and not self._live:
            self._stop.wait(READ_TIMEOUT_S)  # a file waits for the pipeline to resume
            return IDLE
        item = self.source.read(READ_TIMEOUT_S)
        if item is None or self._paused():
            return IDLE
        return self._fed(item)

    def _stream(self) -> Iterator[Fed | Exception | object]:
        self._prefetch = Prefetch(itertools.count(), self._read_and_prepare)
        for _, fed in self._prefetch:
            if isinstance(fed, EndOfStream):
                return
            yield fed
            if self._stop.is_set():
                return
