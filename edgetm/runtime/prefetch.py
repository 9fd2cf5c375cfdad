"""Do the next item's preparation while the current one is being used, when that pays.

Inference releases the GIL, so decoding and preprocessing item N+1 in a helper thread overlaps
with running item N: right after an inference the caches hold the network, and preparing a frame
then costs two to three times what it costs alongside. For a model whose inference is short next
to the preparation (the demo model: 0.3 ms against 0.15 ms), the hand-off and the contention with
the runtime's own threads cost more than the overlap saves (``benchmarks/classify.py``: an ONNX
demo loop at 1.26 ms a frame ahead, 0.6 ms inline). So by default the two ways are timed on the
stream itself, one after the other, and the faster one is kept (ahead on a tie, as it hides more
when the load changes); they are timed again every ``REPROBE_S`` in case the load or the model changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Generic, TypeVar

from edgetm.records import Record

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

Item = TypeVar("Item")
Result = TypeVar("Result")

# Preparing one frame takes milliseconds; a minute means something is stuck.
PREPARE_TIMEOUT_S = 60.0
# Untimed items before the first probe: thread start, first-call allocations, the model's warm-up.
WARMUP_ITEMS = 8
# A probe times the two ways in turn, PROBE_ROUNDS rounds of a window of PROBE_ITEMS items each way,
# and keeps the way faster in most rounds: the ways differ by 5-10%, about what one window's noise is.
PROBE_ITEMS = 12
PROBE_ROUNDS = 5
# How often the choice is measured again, in seconds of streaming.
REPROBE_S = 60.0


class Choice(Record):
    """How items are prepared now and, when timed, each way's loop time per item (ms, median window)
    and in how many of the paired rounds preparing ahead was at least as fast: the rounds decide,
    so the medians may lean the other way when the load drifted."""

    ahead: bool
    ahead_ms: float | None = None
    inline_ms: float | None = None
    ahead_rounds: int | None = None
    rounds: int | None = None

    def describe(self) -> dict:
        described: dict = {"prepare_ahead": self.ahead}
        if self.ahead_ms is not None and self.inline_ms is not None:
            described["prepare_ms_per_item"] = {"ahead": round(self.ahead_ms, 3), "inline": round(self.inline_ms, 3)}
            described["prepare_rounds"] = {"ahead_won": self.ahead_rounds, "of": self.rounds}
        return described


class Prefetch(Generic[Item, Result]):
    """Yields (item, work(item)) in order. ``ahead``: True prepares the next item in a helper thread
    while the current one is used, False prepares it when asked, None (default) times both on the
    stream and keeps the faster (``choice`` says which, and the times).

    An exception raised by ``work`` is yielded in place of its result, so one bad item does not end
    the stream. At most one item is prepared ahead: ``work`` may reuse double buffers. A preparation
    in the helper taking over ``timeout_s`` raises ``TimeoutError``; one made inline is not cut short.
    """

    def __init__(self, items: Iterable[Item], work: Callable[[Item], Result], timeout_s: float = PREPARE_TIMEOUT_S,
                 ahead: bool | None = None, clock: Callable[[], float] = time.perf_counter) -> None:
        self._items = items
        self._work = work
        self._timeout_s = timeout_s
        self._fixed = ahead
        self._clock = clock
        self.choice = Choice(ahead if ahead is not None else True)
        self._times: dict[bool, list[float]] = {True: [], False: []}  # loop seconds per item, each way

    def _attempt(self, item: Item) -> Result | Exception:
        try:
            return self._work(item)
        except Exception as error:  # handed to the consumer, who decides
            return error

    def _plan(self) -> Iterator[tuple[bool, bool]]:
        """For each item: (prepare the next one ahead?, is this item's loop time a sample of that way?)."""
        if self._fixed is not None:
            while True:
                yield self._fixed, False
        yield False, False  # the first result is not held up by starting the helper thread
        for _ in range(WARMUP_ITEMS - 1):
            yield True, False
        while True:
            windows: dict[bool, list[float]] = {True: [], False: []}
            for _ in range(PROBE_ROUNDS):
                for way in (True, False):
                    for _ in range(PROBE_ITEMS):
                        yield way, True
                    samples = self._times[way]  # (a window's first item, half one way, is not among them)
                    windows[way].append(sum(samples) / len(samples) if samples else float("nan"))
                    samples.clear()
            from statistics import median

            # Each round's two windows are compared with each other: they ran under the same load, which
            # on a shared board drifts by more than the two ways differ.
            gains = [inline / ahead for ahead, inline in zip(windows[True], windows[False], strict=True)
                     if ahead > 0 and inline > 0]
            ahead_ms, inline_ms = (median(windows[way]) * 1e3 for way in (True, False))
            won = sum(gain >= 1.0 for gain in gains)  # rounds preparing ahead was at least as fast
            self.choice = Choice(2 * won >= len(gains), ahead_ms, inline_ms, won, len(gains))
            until = self._clock() + REPROBE_S
            while self._clock() < until:
                yield self.choice.ahead, False

    def __iter__(self) -> Iterator[tuple[Item, Result | Exception]]:
        iterator = iter(self._items)
        plan = self._plan()
        pool: ThreadPoolExecutor | None = None
        pending: tuple[Item, Future] | None = None
        was_ahead: bool | None = None
        try:
            while True:
                started = self._clock()
                if pending is not None:
                    item, future = pending
                    pending = None
                    result = future.result(timeout=self._timeout_s)
                else:
                    try:
                        item = next(iterator)
                    except StopIteration:
                        return
                    result = self._attempt(item)
                ahead, timed = next(plan)
                if ahead:
                    try:
                        upcoming = next(iterator)
                    except StopIteration:
                        yield item, result
                        return
                    if pool is None:
                        from concurrent.futures import ThreadPoolExecutor  # not needed for one photo

                        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edgetm-prefetch")
                    pending = (upcoming, pool.submit(self._attempt, upcoming))
                yield item, result
                # One item's whole loop: getting it, the consumer's use of it, handing off the next. It is
                # a sample of one way only when the item before was got the same way.
                if timed and was_ahead is ahead:
                    self._times[ahead].append(self._clock() - started)
                was_ahead = ahead
        finally:
            if pool is not None:
                # A preparation still running is waited for (it may hold a file or a buffer), not cut short.
                pool.shutdown(wait=True, cancel_futures=True)


def prefetch(items: Iterable[Item], work: Callable[[Item], Result], timeout_s: float = PREPARE_TIMEOUT_S,
             ahead: bool | None = None) -> Iterator[tuple[Item, Result | Exception]]:
    """``iter(Prefetch(items, work, timeout_s, ahead))``."""
    return iter(Prefetch(items, work, timeout_s, ahead))
