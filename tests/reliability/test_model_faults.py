"""Models that are broken, hostile or too large, against everything that loads one.

- The probe: a model is loaded and run once in a child process with a time and a memory limit; a
  native crash, a hang or an out-of-memory load comes back as one line.
- A running service: a model that segfaults LiteRT, swapped in over MQTT or by a reload, is refused
  on the error topic while the running model keeps publishing and the process stays up.
- The fuzzer: ``EDGETM_FUZZ_CASES`` seeded mutations (500 by default, a few seconds; thousands with
  scripts/fuzz-models.py) of models, export zips, MediaPipe bundles and labels files through
  ``load_model`` in a worker child, a few through ``edgetm classify``, and some through a running
  pipeline's swap. Every case is a valid model or a typed one-line error.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import edgetm
from edgetm.errors import LabelsError, ModelError
from edgetm.model.options import ModelOptions
from edgetm.model.probe import probe_model
from edgetm.train.export_tflite import to_tflite
from tests.broker import Probe
from tests.conftest import DEMO, ROOT, ZOO, write_video
from tests.modelkit import custom_op_tflite, identity_net, onnx_model, small_cnn, write
from tests.reliability.fuzz import Outcome, Worker, classify_cli, spread, swap_outcome
from tests.reliability.mutate import Case, cases, reshape_without_shape, seeds

pytestmark = pytest.mark.reliability

FUZZ_CASES = int(os.environ.get("EDGETM_FUZZ_CASES", "500"))
FUZZ_SEED = int(os.environ.get("EDGETM_FUZZ_SEED", "1"))
CLI_CASES = 6  # each starts Python and a runtime: about half a second
SWAP_CASES = 12  # each is tried in a probe child first: about half a second
BASE = "edgetm/testdev"


@pytest.fixture
def crashing(tmp_path: Path) -> Path:
    """A model that segfaults LiteRT 2.3 while it prepares the model (made here, not kept as a file)."""
    path = write(tmp_path / "models", "crash.tflite", reshape_without_shape())
    done = subprocess.run([sys.executable, "-c", "import sys; from edgetm.model import load_model; "
                           "load_model(sys.argv[1])", str(path)], capture_output=True, timeout=60, cwd=ROOT)
    if done.returncode != -signal.SIGSEGV:
        pytest.skip(f"this LiteRT no longer crashes on a RESHAPE without its shape (exit {done.returncode})")
    return path


# -- the probe --------------------------------------------------------------------------------
def test_the_probe_passes_a_model_that_loads(tmp_path: Path):
    seconds = probe_model(ModelOptions(path=str(DEMO)))
    assert 0 < seconds < 30


def test_the_probe_survives_a_native_crash(crashing: Path):
    with pytest.raises(ModelError) as raised:
        probe_model(ModelOptions(path=str(crashing)))
    assert str(raised.value) == f"{crashing} crashed with signal SIGSEGV when loaded and run once (the file is " \
                                "probably corrupt: copy or export it again)"


def test_the_probe_gives_the_childs_own_typed_error(tmp_path: Path):
    with pytest.raises(ModelError, match="needs the custom op 'Madeup'"):
        probe_model(ModelOptions(path=str(write(tmp_path, "custom.tflite", custom_op_tflite("Madeup")))))
    folder = tmp_path / "export"
    write(folder, "model_unquant.tflite", to_tflite(small_cnn(classes=4)))
    (folder / "labels.txt").write_text("0 only\n1 two\n")
    with pytest.raises(LabelsError, match="has 2 labels but the model outputs 4 classes"):
        probe_model(ModelOptions(path=str(folder)))


def test_a_model_for_a_delegate_is_not_tried_in_a_child(crashing: Path):
    """A Coral opens in one process at a time, and the running pipeline holds it."""
    assert probe_model(ModelOptions(path=str(crashing), delegate="edgetpu")) == 0.0


def test_the_probe_stops_a_child_that_takes_too_long():
    slow = [sys.executable, "-c", "import time; time.sleep(30)"]
    started = time.monotonic()
    with pytest.raises(ModelError, match=r"^slow.tflite took longer than 0.5 s to load and run once"):
        probe_model(ModelOptions(path="slow.tflite"), timeout_s=0.5, command=slow)
    assert time.monotonic() - started < 5


def test_the_probe_limits_memory(tmp_path: Path):
    """An 8192x8192 image model needs 1.6 GB for its input and output alone."""
    huge = write(tmp_path, "huge.onnx", onnx_model(identity_net(size=(8192, 8192)), dynamic=False))
    with pytest.raises(ModelError, match=r"huge.onnx ran out of memory \(limit 600 MB\) when loaded and run once"):
        probe_model(ModelOptions(path=str(huge)), memory_bytes=600 << 20)


def test_a_running_pipeline_refuses_a_model_that_crashes_the_runtime(crashing: Path, tmp_path: Path):
    """Swapped in from Python: refused in one line, and the pipeline runs on and swaps again."""
    video = write_video(tmp_path / "clip.avi", ["ripe-1.jpg", "unripe-1.jpg"], repeat=5)
    pipeline = edgetm.Pipeline(DEMO, {"type": "video", "path": str(video), "loop": True, "realtime": True},
                               options=edgetm.PipelineOptions(max_fps=30))
    pipeline.start()
    try:
        with pytest.raises(ModelError, match="crashed with signal SIGSEGV"):
            pipeline.swap(crashing)
        results = pipeline.stats.snapshot()["results"]
        deadline = time.monotonic() + 10
        while pipeline.stats.snapshot()["results"] < results + 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pipeline.stats.snapshot()["results"] >= results + 5 and not pipeline.finished
        pipeline.swap(DEMO / "model.onnx")
        assert pipeline.model_name == "model.onnx" and pipeline.swaps == 1
    finally:
        pipeline.stop()


def test_a_running_service_survives_a_crashing_model_by_swap_and_by_reload(broker, crashing: Path, tmp_path: Path):
    """``edgetm run``: a model that segfaults LiteRT, named over MQTT and then by a reload that builds
    the pipeline again, is refused on the error topic; the process keeps publishing."""
    video = write_video(tmp_path / "clip.avi", ["ripe-1.jpg", "unripe-1.jpg"], repeat=5)
    config_file = tmp_path / "models" / "edgetm.yaml"

    def write_config(model: Path, max_fps: int) -> None:
        config_file.write_text(yaml.safe_dump({
            "device_id": "testdev", "sinks": [{"type": "mqtt", "url": broker.url}],
            "pipelines": [{"model": str(model), "max_fps": max_fps,
                           "source": {"type": "video", "path": str(video), "loop": True, "realtime": True}}]}))

    write_config(DEMO, 30)
    probe = Probe(broker.port, [f"{BASE}/#"])
    process = subprocess.Popen([sys.executable, "-m", "edgetm", "run", "--config", str(config_file)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def results() -> int:
        return len(probe.on(f"{BASE}/default/result"))

    def refused(count: int) -> str:
        probe.wait_for(lambda m: len(probe.json(f"{BASE}/error")) > count, 30)
        now = results()
        probe.wait_for(lambda m: results() > now + 5, 15)  # still publishing
        return probe.json(f"{BASE}/error")[-1]["error"]

    try:
        probe.wait_for(lambda m: results() > 3, 30)
        probe.publish(f"{BASE}/default/set", json.dumps({"model": str(crashing)}))
        error = refused(0)
        assert error.startswith("swap in pipeline default refused: ") and "crashed with signal SIGSEGV" in error
        write_config(crashing, 20)  # another max_fps: the pipeline is built again, not swapped
        probe.publish(f"{BASE}/reload", b"")
        error = refused(1)
        assert "still running the previous configuration" in error and "crashed with signal SIGSEGV" in error
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        probe.close()
    assert {r["model"] for r in probe.json(f"{BASE}/default/result")} == {"model_unquant.tflite"}


# -- the fuzzer -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory) -> list[tuple[Case, Path, Outcome]]:
    """Every case through ``load_model`` in a worker child."""
    zoo = ZOO if (ZOO / "README.md").is_file() else None
    scratch = tmp_path_factory.mktemp("fuzz")
    worker = Worker()
    done = []
    try:
        for case in cases(FUZZ_SEED, FUZZ_CASES, zoo):
            folder = scratch / str(case.number)
            folder.mkdir()
            path = case.write(folder)
            done.append((case, path, worker.load(path)))
    finally:
        worker.close()
    return done


def _failures(results) -> str:
    return "\n".join(f"{outcome.label}: {case}: {outcome.message}" for case, _, outcome in results)


def test_fuzzed_models_load_or_fail_in_one_typed_line(fuzzed):
    """A native crash is what the probe is for: it comes back as one line (and is listed here)."""
    for case, _, outcome in fuzzed:
        if outcome.kind == "crash":
            print(f"{case} crashed the runtime: {outcome.message}")
    bad = [(case, path, outcome) for case, path, outcome in fuzzed if not outcome.passed and outcome.kind != "crash"]
    assert not bad, _failures(bad)
    kinds = {outcome.kind for _, _, outcome in fuzzed}
    assert {"valid", "error"} <= kinds  # mutations that keep a model whole, and ones that break it
    assert len(fuzzed) == FUZZ_CASES


def test_fuzzed_models_through_edgetm_classify(fuzzed):
    """``edgetm classify`` loads in its own process: a case that crashes the runtime would end it the
    same way (see the probe), so those are left to the swap test; the rest end in one line."""
    image = DEMO / "samples" / "ripe-1.jpg"
    candidates = [(case, path) for case, path, outcome in fuzzed if outcome.kind != "crash"]
    picked = spread(candidates, CLI_CASES, lambda item: item[0].seed)
    results = [(case, path, classify_cli(path, image)) for case, path in picked]
    bad = [(case, path, outcome) for case, path, outcome in results if not outcome.passed]
    assert not bad, _failures(bad)


def test_fuzzed_models_through_a_running_pipelines_swap(fuzzed, tmp_path: Path):
    """Crashes and hangs first (a model known to crash LiteRT among them), then cases spread over the
    run: each swap is refused in one typed line or taken, and the pipeline is still running at the end."""
    known = Case(-1, "crash", "a RESHAPE without its shape", {"crash.tflite": reshape_without_shape()}, "crash.tflite")
    worst = [(known, known.write(tmp_path))]  # so that a native crash is met even if the seeded cases hold none
    worst += [(case, path) for case, path, outcome in fuzzed if outcome.kind in ("crash", "hang")]
    rest = [(case, path) for case, path, outcome in fuzzed if outcome.kind not in ("crash", "hang")]
    picked = worst + spread(rest, SWAP_CASES - len(worst), lambda item: item[0].seed)
    running = tmp_path / "running"
    files, _ = seeds()["labels"]
    for name, content in files.items():
        write(running, name, content)
    video = write_video(tmp_path / "clip.avi", ["ripe-1.jpg", "unripe-1.jpg"], repeat=5)
    pipeline = edgetm.Pipeline(running, {"type": "video", "path": str(video), "loop": True, "realtime": True},
                               options=edgetm.PipelineOptions(max_fps=30))
    pipeline.start()
    try:
        results = [(case, path, swap_outcome(pipeline.swap, path)) for case, path in picked]
        count = pipeline.stats.snapshot()["results"]
        deadline = time.monotonic() + 10
        while pipeline.stats.snapshot()["results"] < count + 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        alive = pipeline.stats.snapshot()["results"] >= count + 5 and not pipeline.finished
    finally:
        pipeline.stop()
    bad = [(case, path, outcome) for case, path, outcome in results if not outcome.passed]
    assert not bad, _failures(bad)
    assert alive, "the pipeline stopped publishing after the swaps"
