import threading
import time

import numpy as np
import pytest

from edgetm.model import Layout, load_model
from edgetm.runtime import prefetch as prefetch_module
from edgetm.runtime.prefetch import Prefetch, prefetch
from edgetm.vision.preprocess import Preprocessor
from tests.conftest import DEMO, write_video
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
    threads: dict[int, str] = {}

    def work(n: int) -> int:
        started.append(n)
        threads[n] = threading.current_thread().name
        return n

    seen_ahead = []
    for item, _ in prefetch(range(4), work, ahead=True):
        time.sleep(0.02)  # the consumer is slow: the helper must not run further ahead
        seen_ahead.append(max(started) - item)
    assert seen_ahead == [1, 1, 1, 0]
    # The first item has nothing to overlap with; every later one is prepared by the helper.
    assert all(threads[n].startswith("edgetm-prefetch") for n in (1, 2, 3))


def test_inline_prepares_each_item_when_asked():
    started: list[int] = []
    threads: set[str] = set()

    def work(n: int) -> int:
        started.append(n)
        threads.add(threading.current_thread().name)
        return n

    seen_ahead = [max(started) - item for item, _ in prefetch(range(4), work, ahead=False)]
    assert seen_ahead == [0, 0, 0, 0]
    assert threads == {threading.current_thread().name}


def _helper_is(slow: bool, fast_s: float = 0.0005, slow_s: float = 0.008):
    """Work that takes ``slow_s`` in the helper thread when ``slow`` (else inline), ``fast_s`` the other way."""
    def work(n: int) -> int:
        in_helper = threading.current_thread().name.startswith("edgetm-prefetch")
        time.sleep(slow_s if in_helper == slow else fast_s)
        return n
    return work


def test_measures_both_ways_and_keeps_the_faster():
    # Preparation that only overlaps well: 4 ms inline, the consumer 4 ms too -> ahead halves the loop.
    slow_inline = Prefetch(range(140), _helper_is(slow=False, fast_s=0.0003, slow_s=0.004))
    for _ in slow_inline:
        time.sleep(0.004)
    assert slow_inline.choice.ahead is True
    assert slow_inline.choice.ahead_ms < slow_inline.choice.inline_ms
    # A hand-off that costs more than it saves (here: the helper is slow) -> prepared in turn.
    slow_helper = Prefetch(range(140), _helper_is(slow=True, fast_s=0.0003, slow_s=0.004))
    out = [item for item, _ in slow_helper]
    assert out == list(range(140))
    assert slow_helper.choice.ahead is False
    assert slow_helper.choice.describe()["prepare_ahead"] is False
    assert set(slow_helper.choice.describe()["prepare_ms_per_item"]) == {"ahead", "inline"}
    rounds = slow_helper.choice.describe()["prepare_rounds"]
    assert rounds["of"] == 5 and rounds["ahead_won"] <= 2  # most rounds decide


def test_the_choice_is_measured_again(monkeypatch):
    # README: five rounds of a window of 12 frames each way, again every minute.
    assert (prefetch_module.PROBE_ROUNDS, prefetch_module.PROBE_ITEMS, prefetch_module.REPROBE_S) == (5, 12, 60.0)
    # README's bench paragraph: timing both ways takes a stream's first 128 frames.
    assert prefetch_module.WARMUP_ITEMS + 2 * prefetch_module.PROBE_ROUNDS * prefetch_module.PROBE_ITEMS == 128
    monkeypatch.setattr(prefetch_module, "REPROBE_S", 0.0)
    helper_slow = [True]

    def work(n: int) -> int:
        in_helper = threading.current_thread().name.startswith("edgetm-prefetch")
        time.sleep(0.004 if in_helper == helper_slow[0] else 0.0003)
        return n

    stream = Prefetch(range(500), work)
    choices = []
    for n, _ in stream:
        if n == 150:
            helper_slow[0] = False  # now inline is the slow way
        time.sleep(0.001)
        choices.append(stream.choice.ahead)
    # Warm-up and the first probe take 8 + 120 items; probes then follow one another (REPROBE_S = 0).
    assert choices[145] is False and choices[-1] is True


def test_a_timeout_stops_a_stuck_preparation():
    with pytest.raises(TimeoutError):  # the second item is prepared by the helper, and gets stuck
        list(prefetch([0, 1], lambda n: time.sleep(0.5 * n), timeout_s=0.05, ahead=True))


def test_nchw_buffers_survive_one_frame_of_lookahead(tmp_path):
    model = load_model(write(tmp_path, "id.onnx", onnx_model(identity_net((4, 4)), Layout.NCHW, dynamic=False)))
    pre = Preprocessor(model)
    black, white = np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 255, np.uint8)
    first, _ = pre(black)
    second, _ = pre(white)
    assert first is not second
    assert np.allclose(first, -1.0) and np.allclose(second, 1.0)


def test_a_streamed_pipeline_says_in_its_stats_how_it_prepares_frames(tmp_path):
    from edgetm.config import parse_config
    from edgetm.publish import Sinks
    from edgetm.runtime.pipeline import build_pipeline

    video = write_video(tmp_path / "ripe.avi", ["ripe-1.jpg"], repeat=140)
    config = parse_config({"pipelines": [{"model": str(DEMO), "source": str(video)}]})
    pipeline = build_pipeline(config.pipelines[0], Sinks())
    assert "prepare_ahead" not in pipeline.status()  # nothing timed yet
    assert sum(1 for _ in pipeline) == 140
    status = pipeline.status()
    assert isinstance(status["prepare_ahead"], bool)
    ways = status["prepare_ms_per_item"]
    assert set(ways) == {"ahead", "inline"} and all(ms > 0 for ms in ways.values())
    # The way is chosen round by round, so it can differ from a comparison of the two medians shown;
    # the rounds say why.
    rounds = status["prepare_rounds"]
    assert rounds["of"] == 5 and status["prepare_ahead"] is (rounds["ahead_won"] >= 3)
    assert ways["ahead"] != ways["inline"]
