"""Do the next item's preparation while the current one is being used.

Inference releases the GIL, so decoding and preprocessing frame N+1 in a helper thread overlaps
with running frame N: right after an inference the caches hold the network, and preparing a
frame then costs two to three times what it costs alongside.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# Preparing one frame takes milliseconds; a minute means something is stuck.
PREPARE_TIMEOUT_S = 60.0
# Handing an item between threads costs about 0.1-0.3 ms of wake-ups and GIL hand-overs. That is
# small beside a MobileNet's or a YOLO's invoke (4-25 ms), which hides the preparation, but it is
# as long as a sub-millisecond model's whole invoke: when the consumer spends less than this per
# item, preparing in line is faster (benchmarks/classify.py, the demo model's loop).
THREAD_FROM_S = 1e-3
# Items consumed with the helper thread before deciding; the first few include warm-up.
PROBE_ITEMS = 8


def _attempt(work: Callable[[Item], Result], item: Item) -> Result | Exception:
    try:
        return work(item)
    except Exception as error:  # handed to the consumer, who decides
        return error


def prefetch(items: Iterable[Item], work: Callable[[Item], Result], timeout_s: float = PREPARE_TIMEOUT_S,
             adaptive: bool = True) -> Iterator[tuple[Item, Result | Exception]]:
    """Yield (item, work(item)) in order, computing the next one in a helper thread meanwhile.

    An exception raised by ``work`` is yielded in place of its result, so one bad item does not
    end the stream. At most one item is prepared ahead: ``work`` may reuse double buffers.
    ``adaptive``: after ``PROBE_ITEMS`` items, a consumer that spends less than ``THREAD_FROM_S``
    on each (the median) gets the rest prepared in line, in its own thread.
    """
    iterator = iter(items)
    spent: list[float] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="edgetm-prefetch") as pool:
        try:
            item = next(iterator)
        except StopIteration:
            return
        pending = pool.submit(_attempt, work, item)
        while True:
            result = pending.result(timeout=timeout_s)
            current = item
            try:
                item = next(iterator)
                pending = pool.submit(_attempt, work, item)
                more = True
            except StopIteration:
                more = False
            handed = time.perf_counter()
            yield current, result
            if not more:
                return
            if adaptive and len(spent) < PROBE_ITEMS:
                spent.append(time.perf_counter() - handed)
                if len(spent) == PROBE_ITEMS and statistics.median(spent) < THREAD_FROM_S:
                    break
        ahead = pending.result(timeout=timeout_s)  # the one already under way
    yield item, ahead
    for item in iterator:
        yield item, _attempt(work, item)
