"""Threads when nobody said how many: every core back to back; for a paced source, one thread for
a light LiteRT model; ONNX Runtime's threads never spin while idle."""

import os
import time
from pathlib import Path

import pytest

import edgetm
from edgetm.errors import ConfigError
from edgetm.model import threads
from edgetm.model.load import warm_up_inputs
from edgetm.model.options import ModelOptions

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "models" / "banana"
CORES = os.cpu_count() or 1
needs_cores = pytest.mark.skipif(CORES < 2, reason="one core: there is no thread count to choose")


def threads_of(model) -> int:
    return model.backend.describe()["threads"]


@needs_cores
def test_a_light_model_runs_on_one_thread_when_paced_and_on_every_core_back_to_back():
    options = ModelOptions(path=str(DEMO / "model_unquant.tflite"))
    assert threads_of(threads.load_for_pacing(options, paced=True)) == 1
    assert threads_of(threads.load_for_pacing(options, paced=False)) == CORES


@needs_cores
def test_a_heavy_model_keeps_every_core_when_paced(monkeypatch):
    # Heavy is what takes longer than the limit on one thread: with no time allowed, every model is.
    monkeypatch.setattr(threads, "PACED_ONE_THREAD_MS", 0.0)
    assert threads_of(threads.load_for_pacing(ModelOptions(path=str(DEMO / "model_unquant.tflite")), True)) == CORES


def test_threads_given_are_kept_whatever_the_pace():
    options = ModelOptions(path=str(DEMO / "model_unquant.tflite"), threads=2)
    assert threads_of(threads.load_for_pacing(options, paced=True)) == 2
    onnx = ModelOptions(path=str(DEMO / "model.onnx"))
    assert threads_of(threads.load_for_pacing(onnx, paced=True)) == CORES


@needs_cores
def test_a_pipeline_chooses_by_its_source(banana_video: Path):
    paced = edgetm.Pipeline(DEMO, {"type": "video", "path": str(banana_video), "realtime": True})
    fast = edgetm.Pipeline(DEMO, str(banana_video))
    try:
        assert paced.paced and threads_of(paced.task.model) == 1
        assert not fast.paced and threads_of(fast.task.model) == CORES
    finally:
        paced.stop()
        fast.stop()


def _idle_cpu_s(model) -> float:
    """Median CPU seconds the process spends in the 50 ms after a run."""
    run = model.backend.bare(warm_up_inputs(model.inputs, None))
    idle = []
    for _ in range(5):
        run()
        start = time.process_time()
        time.sleep(0.05)
        idle.append(time.process_time() - start)
    return sorted(idle)[2]


def test_onnx_runtime_threads_do_not_spin_while_a_paced_loop_waits():
    """Spinning, ONNX Runtime's threads burn up to a core for tens of milliseconds after each run,
    CPU a camera's capture and preprocessing need; back to back, spinning saves waking them."""
    options = ModelOptions(path=str(DEMO / "model.onnx"), threads=2)
    assert _idle_cpu_s(threads.load_for_pacing(options, paced=True)) < 0.005
    assert _idle_cpu_s(threads.load_for_pacing(options.model_copy(update={"spin": False}), paced=False)) < 0.005


def test_spin_given_for_a_tflite_model_is_refused():
    with pytest.raises(ConfigError, match="spin applies to ONNX Runtime only"):
        edgetm.load_model(ModelOptions(path=str(DEMO / "model_unquant.tflite"), spin=True))
    onnx = threads.load_for_pacing(ModelOptions(path=str(DEMO / "model.onnx")), paced=True)
    assert onnx.backend.describe()["spin"] is False  # what runs is said (info, bench)


def test_info_says_whether_onnx_runtime_spins(capsys):
    from edgetm.cli import main

    assert main(["info", str(DEMO / "model.onnx"), "--no-spin"]) == 0
    assert "spin False" in capsys.readouterr().out
    assert main(["info", str(DEMO / "model.onnx")]) == 0
    assert "spin True" in capsys.readouterr().out  # back to back, ONNX Runtime's own default
