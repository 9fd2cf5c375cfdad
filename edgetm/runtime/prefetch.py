"""Do the next item's preparation while the current one is being used.

Inference releases the GIL, so decoding and preprocessing frame N+1 in a helper thread overlaps
with running frame N: right after an inference the caches hold the network, and preparing a
frame then costs two to three times what it costs alongside.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# Preparing one frame takes milliseconds; a minute means something is stuck.
PREPARE_TIMEOUT_S = 60.0


def prefetch(items: Iterable[Item], work: Callable[[Item], Result],
             timeout_s: float = PREPARE_TIMEOUT_S) -> Iterator[tuple[Item, Result | Exception]]:
    """Yield (item, work(item)) in order, computing the next one in a helper thread meanwhile.

    An exception raised by ``work`` is yielded in place of its result, so one bad item does not
    end the stream. Exactly one item is prepared ahead: ``work`` may reuse double buffers.
    """

    def attempt(item: Item) -> Result | Exception:
        try:
            return work(item)
        except Exception as error:  # handed to the consumer, who decides
            return error

    iterator = iter(items)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="edgetm-prefetch") as pool:
        try:
            item = next(iterator)
        except StopIteration:
            return
        pending = pool.submit(attempt, item)
        while True:
            result = pending.result(timeout=timeout_s)
            current = item
            try:
                item = next(iterator)
                pending = pool.submit(attempt, item)
                more = True
            except StopIteration:
                more = False
            yield current, result
            if not more:
                return
