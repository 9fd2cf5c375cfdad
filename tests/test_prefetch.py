import threading
import time

import numpy as np
import pytest

from edgetm.model import Layout, load_model
from edgetm.runtime.prefetch import prefetch
from edgetm.vision.preprocess import Preprocessor
from tests.modelkit import identity_net, onnx_model, write


def test_results_in_order_with_errors_in_place():
    def work(n: int) -> int:
        if n == 2:
            raise ValueError("two")
        return n * 10

    out = list(prefetch(range(5), work))
    assert [item for item, _ in out] == [0, 1, 2, 3, 4]
    assert [r for _, r in out if not isinstance(r, Exception)] == [0, 10, 30, 40]
    assert isinstance(out[2][1], ValueError)
    assert list(prefetch([], work)) == []


def test_prepares_exactly_one_ahead_in_another_thread():
    started: list[int] = []
    threads: set[str] = set()

    def work(n: int) -> int:
        started.append(n)
        threads.add(threading.current_thread().name)
        return n

    seen_ahead = []
    for item, _ in prefetch(range(4), work):
        time.sleep(0.02)  # the consumer is slow: the helper must not run further ahead
        seen_ahead.append(max(started) - item)
    assert seen_ahead == [1, 1, 1, 0]
    assert threading.current_thread().name not in threads


def test_a_timeout_stops_a_stuck_preparation():
    with pytest.raises(TimeoutError):
        list(prefetch([1], lambda n: time.sleep(0.5), timeout_s=0.05))


def test_nchw_buffers_survive_one_frame_of_lookahead(tmp_path):
    model = load_model(write(tmp_path, "id.onnx", onnx_model(identity_net((4, 4)), Layout.NCHW, dynamic=False)))
    pre = Preprocessor(model)
    black, white = np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 255, np.uint8)
    first, _ = pre(black)
    second, _ = pre(white)
    assert first is not second
    assert np.allclose(first, -1.0) and np.allclose(second, 1.0)


def test_a_quick_consumer_gets_the_rest_prepared_in_line():
    """Past the probe, a consumer that spends well under a millisecond per item makes the helper
    thread cost more than it hides: the remaining items are prepared in the consumer's thread."""
    from edgetm.runtime.prefetch import PROBE_ITEMS

    where: list[str] = []

    def work(n: int) -> int:
        where.append(threading.current_thread().name)
        return n

    out = [item for item, _ in prefetch(range(40), work)]
    assert out == list(range(40))
    me = threading.current_thread().name
    assert me not in where[:PROBE_ITEMS] and set(where[PROBE_ITEMS + 1:]) == {me}


def test_a_slow_consumer_keeps_the_helper_thread():
    where: list[str] = []

    def work(n: int) -> int:
        where.append(threading.current_thread().name)
        return n

    for _ in prefetch(range(12), work):
        time.sleep(0.003)  # a model's invoke of a few milliseconds
    assert threading.current_thread().name not in where


def test_in_line_preparation_keeps_errors_in_place():
    def work(n: int) -> int:
        if n == 30:
            raise ValueError("thirty")
        return n

    out = list(prefetch(range(40), work))
    assert isinstance(out[30][1], ValueError) and [r for _, r in out[31:]] == list(range(31, 40))
