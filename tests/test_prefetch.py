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
