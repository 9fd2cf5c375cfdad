"""Live model swap: from Python, over MQTT under load, by watching the model file, and by reload."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import edgetm
from edgetm.config import load_config
from edgetm.errors import EdgetmError
from tests.broker import Probe
from tests.conftest import DEMO, ROOT
from tests.modelkit import custom_op_tflite, mean_colour_net, write
from tests.runtime.service_helpers import mqtt_sink, running

BASE = "edgetm/testdev"
BANANA_LABELS = ["Unripe", "Ripe", "Overripe", "No banana"]
GREEK = ["alpha", "beta", "gamma"]


def greek_model(folder: Path) -> Path:
    """A classifier with other labels that is sure of 'alpha' whatever it sees."""
    from edgetm.train.export_tflite import to_tflite

    net = mean_colour_net(np.zeros((3, 3)), np.array([6.0, 0.0, 0.0]))
    folder.mkdir(parents=True, exist_ok=True)
    write(folder, "model_unquant.tflite", to_tflite(net))
    (folder / "labels.txt").write_text("".join(f"{i} {name}\n" for i, name in enumerate(GREEK)))
    return folder


def banana_model(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("model_unquant.tflite", "labels.txt"):
        shutil.copy(DEMO / name, folder / name)
    return folder


def not_an_image_model(folder: Path) -> Path:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "flat",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, folder / "flat.onnx")
    return folder / "flat.onnx"


def looping_stream(video: Path) -> dict:
    """Every frame in order, again and again: frame numbers show anything lost or repeated."""
    return {"type": "video", "path": str(video), "loop": True}


def test_swap_from_python(banana_video: Path, tmp_path: Path):
    from edgetm.publish import Sink

    class Results(Sink):
        def __init__(self) -> None:
            self.seen: list = []

        def result(self, observation) -> None:
            self.seen.append(observation)

    results = Results()
    greek = greek_model(tmp_path / "greek")
    options = edgetm.PipelineOptions(max_fps=200, smoothing=edgetm.SmoothingOptions(k=1))
    pipeline = edgetm.Pipeline(DEMO, looping_stream(banana_video), options=options, sinks=[results])
    pipeline.start()
    try:
        while len(results.seen) < 20:
            time.sleep(0.01)
        with pytest.raises(EdgetmError, match="does not exist"):
            pipeline.swap(tmp_path / "missing.tflite")
        pipeline.swap(greek)
        assert pipeline.model_name == "model_unquant.tflite" and pipeline.task.model.labels == GREEK
        count = len(results.seen)
        while len(results.seen) < count + 20:
            time.sleep(0.01)
        pipeline.swap(DEMO)
        count = len(results.seen)
        while len(results.seen) < count + 20:
            time.sleep(0.01)
    finally:
        pipeline.stop()
    frames = [seen.frame for seen in results.seen]
    assert frames == list(range(len(frames)))  # nothing lost or repeated across the swaps
    labels = [seen.state.label for seen in results.seen]
    first_greek = labels.index("alpha")
    assert set(labels[:first_greek]) <= {None, *BANANA_LABELS}
    back = next(i for i in range(first_greek, len(labels)) if labels[i] in BANANA_LABELS)
    assert set(labels[first_greek:back]) == {"alpha"}
    assert pipeline.swaps == 2 and pipeline.status()["swaps"] == 2


def test_swaps_under_load_over_mqtt(broker, banana_video: Path, tmp_path: Path):
    """`edgetm run` publishing every frame of a looping video with QoS 1; ten swaps between two
    models with different labels, then five bad models: every frame number is published exactly
    once, the retained label and the Home Assistant entity follow the labels, bad models are
    refused on the error topic while the running one keeps publishing, and the process stays up."""
    banana = banana_model(tmp_path / "banana")
    greek = greek_model(tmp_path / "greek")
    corrupt = write(tmp_path / "corrupt", "model.tflite", b"TFL3" * 100)
    flat = not_an_image_model(tmp_path / "flat")
    custom = write(tmp_path / "custom", "model.tflite", custom_op_tflite("Madeup"))
    entity = "homeassistant/device/edgetm_testdev_default/config"
    probe = Probe(broker.port, [f"{BASE}/#", "homeassistant/#"])
    process = subprocess.Popen(
        [sys.executable, "-m", "edgetm", "run", str(banana), "--source", str(banana_video), "--loop",
         "--max-fps", "150", "--mqtt", broker.url, "--device-id", "testdev", "--ha-discovery", "--k", "2"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        probe.wait_for(lambda m: probe.on(f"{BASE}/default/label"), 30)

        def label() -> str:
            return probe.on(f"{BASE}/default/label")[-1].decode()

        def options() -> list[str]:
            return json.loads(probe.on(entity)[-1])["components"]["edgetm_testdev_default"].get("options", [])

        for n in range(10):
            target, labels = (greek, GREEK) if n % 2 == 0 else (banana, BANANA_LABELS)
            probe.publish(f"{BASE}/default/set", json.dumps({"model": str(target)}))
            probe.wait_for(lambda m, labels=labels: options() == [*labels, "none"] and label() in labels, 20)
        for bad in (corrupt, flat, custom, tmp_path / "nowhere.tflite", Path("/etc/passwd")):
            errors = len(probe.json(f"{BASE}/error"))
            probe.publish(f"{BASE}/default/set", json.dumps({"model": str(bad)}))
            probe.wait_for(lambda m, errors=errors: len(probe.json(f"{BASE}/error")) > errors, 20)
            count = len(probe.on(f"{BASE}/default/result"))
            probe.wait_for(lambda m, count=count: len(probe.on(f"{BASE}/default/result")) > count + 20, 20)
        assert process.poll() is None  # never restarted, never died
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
    probe.wait_for(lambda m: probe.on(f"{BASE}/status")[-1:] == [b"offline"], 10)
    results = probe.json(f"{BASE}/default/result")
    frames = [r["frame"] for r in results]
    assert frames == list(range(len(frames)))  # every frame number exactly once, across 10 swaps
    assert {r["model"] for r in results} == {"model_unquant.tflite"}
    assert label() in BANANA_LABELS and options() == [*BANANA_LABELS, "none"]  # the last good swap
    errors = " | ".join(e["error"] for e in probe.json(f"{BASE}/error")[-5:])
    for expected in ("not a valid TensorFlow Lite model", "is not an image", "Madeup", "does not exist",
                     "/etc/passwd is outside the folders models are taken from"):
        assert expected in errors
    assert all(e["error"].startswith("swap in pipeline default refused") for e in probe.json(f"{BASE}/error"))
    probe.close()


def test_a_watched_model_is_swapped_in_once_complete(broker, banana_video: Path, tmp_path: Path):
    model = banana_model(tmp_path / "model")
    greek = greek_model(tmp_path / "greek")
    config = {"device_id": "testdev",
              "pipelines": [{"model": {"path": str(model), "watch": True}, "source": looping_stream(banana_video),
                             "max_fps": 100}],
              "sinks": [mqtt_sink(broker)]}
    probe = Probe(broker.port, [f"{BASE}/#"])
    with running(config) as service:
        probe.wait_for(lambda m: probe.on(f"{BASE}/default/label"))
        # Written in two steps a moment apart, as a copy over the network would.
        shutil.copy(greek / "labels.txt", model / "labels.txt")
        time.sleep(0.5)
        shutil.copy(greek / "model_unquant.tflite", model / "model_unquant.tflite")
        changed_at = time.monotonic()
        probe.wait_for(lambda m: probe.on(f"{BASE}/default/label")[-1] == b"alpha", 15)
        assert time.monotonic() - changed_at >= 1.5  # not before the file had settled
        assert service.pipelines["default"].swaps == 1
        assert probe.json(f"{BASE}/error") == []
    probe.close()


def test_a_reload_that_changes_only_the_model_swaps_it_in(broker, banana_video: Path, tmp_path: Path):
    greek = greek_model(tmp_path / "greek")
    config_file = tmp_path / "edgetm.yaml"

    def write_config(model: Path) -> None:
        config_file.write_text(yaml.safe_dump({
            "device_id": "testdev", "sinks": [mqtt_sink(broker)],
            "pipelines": [{"model": str(model), "source": looping_stream(banana_video), "max_fps": 100}]}))

    write_config(DEMO)
    probe = Probe(broker.port, [f"{BASE}/#"])
    with running(load_config(config_file).model_dump(mode="json"), config_file) as service:
        probe.wait_for(lambda m: probe.on(f"{BASE}/default/label"))
        pipeline = service.pipelines["default"]
        write_config(greek)
        probe.publish(f"{BASE}/reload", b"")
        probe.wait_for(lambda m: probe.on(f"{BASE}/default/label")[-1] == b"alpha", 15)
        assert service.pipelines["default"] is pipeline and pipeline.swaps == 1  # the source stayed open
    frames = [r["frame"] for r in probe.json(f"{BASE}/default/result")]
    assert frames == list(range(len(frames)))
    probe.close()
