"""Sound models end to end: Teachable-Machine-shaped exports through `edgetm listen` and `edgetm run`
to a real mosquitto, streaming state, spectrogram inputs, gates, and what is refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgetm.audio.classify import SoundClassifier, SoundOptions
from edgetm.errors import ConfigError, ModelError
from edgetm.model import Family, ModelOptions, TaskKind, load_model
from edgetm.tasks import build_task
from tests.audiokit import LABELS, SAMPLES, tm_sound_onnx, tm_sound_tflite, tones
from tests.broker import Probe
from tests.conftest import ROOT
from tests.modelkit import custom_op_tflite, write
from tests.runtime.service_helpers import mqtt_sink, running

HOP = SAMPLES // 2 / 44100  # seconds between windows at 50 % overlap


@pytest.fixture
def tone_change(tmp_path: Path) -> Path:
    """3 s of 500 Hz, then 3 s of 4 kHz, recorded at 48 kHz as a USB microphone would."""
    return tones(tmp_path / "tones.wav", [(500, 3.0, 0.3), (4000, 3.0, 0.3)], rate=48000)


def test_a_teachable_machine_sound_export_is_recognised(tmp_path: Path):
    model = load_model(tm_sound_tflite(tmp_path / "export").parent)
    assert model.task is TaskKind.SOUND and model.family is Family.TEACHABLE_MACHINE
    assert model.metadata["audio"] == {"sample_rate": 44100, "channels": 1} and model.labels == LABELS
    task = build_task(model, SoundOptions())
    assert task.describe()["sound"] == {"rate": 44100, "window_samples": 44032, "hop_samples": 22016,
                                        "input": "samples", "background": ["Background Noise"]}
    assert task.threshold == 0.75 and task.classifier.threshold == 0.75  # as in Teachable Machine
    assert [e.options for e in task.entities()] == [("low", "high", "none")]
    bare = load_model(tm_sound_tflite(tmp_path / "bare", name="sound.tflite", metadata=False))
    assert build_task(bare, SoundOptions()).rate == 44100  # from the input length alone
    told = load_model(ModelOptions(path=str(tmp_path / "bare" / "sound.tflite"), sample_rate=22050))
    assert build_task(told, SoundOptions()).rate == 22050


@pytest.mark.parametrize("export", ["tflite", "onnx"])
def test_listen_hears_each_side_of_a_tone_change(tmp_path: Path, tone_change: Path, export):
    model = tm_sound_tflite(tmp_path / "m").parent if export == "tflite" else tm_sound_onnx(tmp_path / "m")
    out = subprocess.run([sys.executable, "-m", "edgetm", "listen", str(model), "--source", f"wav:{tone_change}",
                          "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    windows = [json.loads(line) for line in out.stdout.splitlines()]
    assert set(windows[0]) == {"t_start", "t_end", "label", "score", "top", "dbfs", "latency_ms"}
    # 6 s at 44.1 kHz: 264600 samples, windows of 44032 every 22016.
    assert len(windows) == (264600 - 44032) // 22016 + 1
    assert [w["t_start"] for w in windows] == [round(k * HOP, 4) for k in range(len(windows))]
    for window in windows:
        if window["t_end"] <= 3.0:
            assert window["label"] == "low"
        elif window["t_start"] >= 3.0:
            assert window["label"] == "high"
        assert window["dbfs"] == pytest.approx(-13.5, abs=0.2)


def test_run_publishes_what_it_hears_next_to_a_camera_pipeline(broker, tmp_path: Path, tone_change: Path,
                                                                banana_video: Path):
    from tests.conftest import DEMO
    from tests.runtime.service_helpers import looping_video

    model = tm_sound_tflite(tmp_path / "m").parent
    config = {"device_id": "testdev", "stats_interval_s": 1,
              "pipelines": [{"name": "doorbell", "model": str(model),
                             "source": {"type": "wav", "path": str(tone_change), "realtime": True},
                             "smoothing": {"k": 2}},
                            {"name": "bananas", "model": str(DEMO), "source": looping_video(banana_video)}],
              "sinks": [mqtt_sink(broker, homeassistant={"enabled": True})]}
    base = "edgetm/testdev"
    probe = Probe(broker.port, [f"{base}/#", "homeassistant/#"])
    with running(config) as service:
        stats = probe.wait_for(lambda m: [s for s in probe.json(f"{base}/stats")
                                          if s["pipelines"]["doorbell"]["windows"] > 0], 30)[-1]
        assert stats["pipelines"]["doorbell"]["dbfs"] == pytest.approx(-13.5, abs=0.5)  # the level, in stats
        probe.wait_for(lambda m: service.pipelines.get("doorbell") and service.pipelines["doorbell"].finished, 60)
        probe.wait_for(lambda m: len(probe.on(f"{base}/bananas/result")) > 10)
        assert len(service.sinks) == 1 and service.sinks[0].connects == 1  # one connection for both
    assert [p.decode() for p in probe.on(f"{base}/doorbell/label")] == ["low", "high"]
    results = probe.json(f"{base}/doorbell/result")
    assert [r["frame"] for r in results] == list(range(11))
    assert set(results[0]) == {"t_start", "t_end", "label", "score", "top", "dbfs", "latency_ms", "timestamp",
                               "pipeline", "model", "source", "frame", "smoothed_label"}
    entity = probe.json("homeassistant/device/edgetm_testdev_doorbell/config")[0]["components"][
        "edgetm_testdev_doorbell"]
    assert entity["options"] == ["low", "high", "none"]  # background noise is no event
    probe.close()


def test_an_export_zip_and_per_frame_scores(tmp_path: Path):
    import zipfile

    folder = tm_sound_tflite(tmp_path / "export").parent
    with zipfile.ZipFile(tmp_path / "sound.zip", "w") as archive:
        for name in ("soundclassifier_with_metadata.tflite", "labels.txt"):
            archive.write(folder / name, name)
    zipped = load_model(tmp_path / "sound.zip")
    assert zipped.task is TaskKind.SOUND and zipped.family is Family.TEACHABLE_MACHINE and zipped.labels == LABELS

    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    # Four frames of 4000 samples; each frame says "up" when its mean is above zero, else "down".
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["samples", "frames_shape"], ["frames"]),
         helper.make_node("ReduceMean", ["frames"], ["mean"], axes=[1], keepdims=1),
         helper.make_node("Neg", ["mean"], ["negative"]),
         helper.make_node("Concat", ["negative", "mean"], ["logits"], axis=1),
         helper.make_node("Mul", ["logits", "gain"], ["scaled"]),
         helper.make_node("Softmax", ["scaled"], ["scores"], axis=1)],
        "frames", [helper.make_tensor_value_info("samples", TensorProto.FLOAT, [1, 16000])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [4, 2])],
        [numpy_helper.from_array(np.array([4, 4000], np.int64), "frames_shape"),
         numpy_helper.from_array(np.array(100.0, np.float32), "gain")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "frames.onnx")
    (tmp_path / "labels.txt").write_text("down\nup\n")
    classifier = SoundClassifier(load_model(tmp_path / "frames.onnx"))
    window = np.concatenate([np.full(12000, 0.5), np.full(4000, -0.5)]).astype(np.float32)
    result = classifier.infer(classifier.sound.prepare(window), 0.0, -6.0)
    assert result.label == "up" and result.score == pytest.approx(0.75, abs=1e-3)  # three frames of four


def test_quiet_windows_are_gated_and_a_short_file_can_be_padded(tmp_path: Path):
    model = load_model(tm_sound_onnx(tmp_path / "m"))
    path = tones(tmp_path / "quiet.wav", [(0, 1.5, 0.0), (500, 1.0, 0.3)], rate=44100)
    import edgetm

    seen = list(edgetm.Pipeline(model, f"wav:{path}", SoundOptions(gate_dbfs=-40.0, partial="pad")))
    assert [s.result.gated for s in seen] == [True, True, False, False, False]
    assert seen[0].result.dbfs == -120.0 and seen[0].result.top == []
    assert seen[-1].result.t_start == pytest.approx(4 * HOP, abs=1e-4)  # the padded last window
    assert len(list(edgetm.Pipeline(model, f"wav:{path}", SoundOptions()))) == 4


def stateful_onnx(folder: Path) -> Path:
    """out = mean(input) + state; stateN = state + 1: what it says depends on every call before."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["input"], ["mean"], keepdims=1),
         helper.make_node("Add", ["mean", "state"], ["output"]),
         helper.make_node("Add", ["state", "one"], ["stateN"])],
        "counter",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 512]),
         helper.make_tensor_value_info("state", TensorProto.FLOAT, [1, 1]),
         helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1]),
         helper.make_tensor_value_info("stateN", TensorProto.FLOAT, [1, 1])],
        [numpy_helper.from_array(np.ones((1, 1), np.float32), "one")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, folder / "counter.onnx")
    return folder / "counter.onnx"


def test_a_streaming_model_gets_its_state_back(tmp_path: Path):
    model = load_model(stateful_onnx(tmp_path))
    classifier = SoundClassifier(model, SoundOptions(hop_samples=512))
    assert classifier.rate == 16000 and classifier.sound.labels == ["event"]
    window = np.full(512, -10.0, np.float32)  # mean -10: the state lifts it by one a call
    logits = [np.log(r.score / (1 - r.score)) for r in
              (classifier.infer(classifier.sound.prepare(window), 0.0, -20.0) for _ in range(4))]
    assert np.allclose(logits, [-10, -9, -8, -7], atol=1e-3)
    classifier.sound.reset()
    first = classifier.infer(classifier.sound.prepare(window), 0.0, -20.0).score
    assert np.log(first / (1 - first)) == pytest.approx(-10, abs=1e-3)
    with pytest.raises(ConfigError, match="has no output 'nowhere' for input 'state'"):
        SoundClassifier(model, SoundOptions(state={"state": "nowhere"}))


def test_a_spectrogram_model_gets_log_mel_features(tmp_path: Path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    weights = np.zeros((64, 2), np.float32)
    weights[8:14, 0] = 1.0  # around 500 Hz on YAMNet's bands
    weights[40:46, 1] = 1.0  # around 2.5 kHz
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["mel"], ["mean"], axes=[1], keepdims=0),
         helper.make_node("MatMul", ["mean", "weights"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["scores"], axis=1)],
        "bands", [helper.make_tensor_value_info("mel", TensorProto.FLOAT, [1, 96, 64])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 2])],
        [numpy_helper.from_array(weights, "weights")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "bands.onnx")
    (tmp_path / "labels.txt").write_text("hum\nwhistle\n")
    loaded = load_model(tmp_path / "bands.onnx")
    assert loaded.task is not TaskKind.SOUND  # a spectrogram could be anything: name the task
    import edgetm

    path = tones(tmp_path / "two.wav", [(500, 2.0, 0.3), (2500, 2.0, 0.3)], rate=48000)
    seen = list(edgetm.Pipeline(loaded, f"wav:{path}", SoundOptions(overlap=0.0)))
    assert [s.result.label for s in seen] == ["hum", "hum", "whistle", "whistle"]
    assert seen[0].result.t_end == pytest.approx(0.975)  # 96 frames of YAMNet's front-end


def test_models_that_cannot_listen_are_refused(tmp_path: Path):
    from tests.conftest import DEMO

    with pytest.raises(ConfigError, match="an image or other tensor, not sound"):
        build_task(load_model(DEMO / "model_unquant.tflite"), SoundOptions())
    flex = write(tmp_path, "flex.tflite", custom_op_tflite("FlexRFFT"))
    with pytest.raises(ModelError, match=r"needs TensorFlow select ops \(FlexRFFT\)"):
        load_model(flex)
    out = subprocess.run([sys.executable, "-m", "edgetm", "listen", str(flex), "--source", "wav:x.wav"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1 and "select ops" in out.stderr


def test_select_ops_run_through_tensorflow_when_it_is_there(tmp_path: Path, monkeypatch):
    """TensorFlow is not installed here: a stand-in for its tf.lite, at the import boundary, that runs
    a same-shaped model through LiteRT, shows that edgetm turns to it for a Flex model."""
    import types

    from ai_edge_litert.interpreter import Interpreter

    from edgetm.train.export_tflite import FlatbufferGraph

    g = FlatbufferGraph()
    x = g.tensor("input", (1, 4), np.float32)
    zero = g.tensor("zero", (1, 4), np.float32, np.zeros((1, 4), np.float32))
    y = g.tensor("output", (1, 4), np.float32)
    g.op(g.S.BuiltinOperator.ADD, [x, zero], [y], g.S.BuiltinOptions.AddOptions, g.S.AddOptionsT())
    plain = g.finish([x], [y])
    used = []

    def flex_interpreter(model_content=None, **kwargs):
        used.append(len(model_content))
        return Interpreter(model_content=plain, **kwargs)

    lite = types.ModuleType("tensorflow.lite")
    lite.Interpreter = flex_interpreter
    tensorflow = types.ModuleType("tensorflow")
    tensorflow.lite = lite
    monkeypatch.setitem(sys.modules, "tensorflow", tensorflow)
    model = load_model(write(tmp_path, "flex.tflite", custom_op_tflite("FlexRFFT")))
    assert used and model.backend.name == "tensorflow"


def test_devices_are_listed_or_said_to_be_missing(monkeypatch, capsys):
    import types

    import sounddevice

    from edgetm.cli import main

    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert "cameras" in out and "audio inputs" in out and "none (no input PortAudio can open" in out
    monkeypatch.setattr(sounddevice, "query_devices", lambda: [
        {"name": "USB Audio Device", "default_samplerate": 48000.0, "max_input_channels": 2}])
    monkeypatch.setattr(sounddevice, "default", types.SimpleNamespace(device=[0, 0]))
    assert main(["devices"]) == 0
    assert "0  USB Audio Device  48000 Hz, 2 channels  (source: mic:0)" in capsys.readouterr().out


def test_sound_options_that_do_not_apply_are_refused(tmp_path: Path):
    model = load_model(tm_sound_onnx(tmp_path / "m"))
    for options, message in (
        (SoundOptions(spectrogram={"mels": 32}), "takes samples, not a spectrogram"),
        (SoundOptions(state={"memory": "memoryN"}), "has no state input named 'memory'"),
        (SoundOptions(background=("Silence",)), "has no label 'Silence'"),
    ):
        with pytest.raises(ConfigError, match=message):
            build_task(model, options)
    with pytest.raises(ValueError, match="give overlap or hop_samples, not both"):
        SoundOptions(overlap=0.3, hop_samples=1000)


def test_a_file_through_ffmpeg_is_heard_once(tmp_path: Path, tone_change: Path):
    import shutil

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed (scripts/install.sh installs it)")
    model = tm_sound_tflite(tmp_path / "m").parent
    counts = set()
    for _ in range(3):  # its end is the file's end, never a reason to read it again
        out = subprocess.run([sys.executable, "-m", "edgetm", "listen", str(model), "--source",
                              f"audio:{tone_change}", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        counts.add(len(out.stdout.splitlines()))
    assert counts == {(264600 - 44032) // 22016 + 1}
    silent = tmp_path / "silent.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=black:s=64x64:d=1", str(silent)],
                   check=True, timeout=60)
    out = subprocess.run([sys.executable, "-m", "edgetm", "listen", str(model), "--source", f"audio:{silent}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and out.stderr.strip().splitlines() == [
        f"edgetm: error: ffmpeg could not read {silent}: Output file #0 does not contain any stream"]
