"""Reloading a configuration while running: only what changed is rebuilt, and a bad model never
takes the running service down."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import yaml

from edgetm.config import load_config
from tests.broker import Probe
from tests.conftest import DEMO
from tests.runtime.service_helpers import looping_video, mqtt_sink, running

BASE = "edgetm/testdev"


def copy_demo(folder: Path) -> Path:
    folder.mkdir()
    for name in ("model_unquant.tflite", "labels.txt"):
        shutil.copy(DEMO / name, folder / name)
    return folder / "model_unquant.tflite"


def write_config(path: Path, pipelines: list[dict], broker, **sink) -> None:
    path.write_text(yaml.safe_dump({"device_id": "testdev", "pipelines": pipelines,
                                    "sinks": [mqtt_sink(broker, **sink)]}))


def results(probe: Probe, name: str) -> int:
    return len(probe.on(f"{BASE}/{name}/result"))


def break_model(model: Path, how: str) -> None:
    if how == "truncated":
        model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    elif how == "emptied":
        model.write_bytes(b"")
    elif how == "junk":
        model.write_bytes(b"\x00junk" * 1000)
    elif how == "deleted":
        model.unlink()
    elif how == "keras":
        model.unlink()
        model.with_suffix(".h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)
        model.with_suffix(".h5").rename(model)


@pytest.mark.parametrize("how", ["truncated", "emptied", "junk", "deleted", "keras"])
def test_a_reload_after_the_model_broke_keeps_the_running_model(broker, banana_video: Path, tmp_path: Path, how):
    model = copy_demo(tmp_path / "model")
    config_file = tmp_path / "edgetm.yaml"
    pipeline = {"name": "bananas", "model": str(model), "source": looping_video(banana_video)}
    write_config(config_file, [pipeline], broker)
    probe = Probe(broker.port, [f"{BASE}/#"])
    with running(load_config(config_file).model_dump(mode="json"), config_file) as service:
        probe.wait_for(lambda m: results(probe, "bananas") >= 3)
        break_model(model, how)
        # A change to the pipeline, so that the reload must build it again from the broken file.
        write_config(config_file, [{**pipeline, "smoothing": {"k": 2}}], broker)
        probe.publish(f"{BASE}/reload", b"")
        errors = probe.wait_for(lambda m: probe.json(f"{BASE}/error"))
        assert "reload" in errors[0]["error"] and "bananas" in errors[0]["error"]
        count = results(probe, "bananas")
        probe.wait_for(lambda m: results(probe, "bananas") > count + 5)  # the old model keeps publishing
        assert not service.stop_requested.is_set()
        probe.publish(f"{BASE}/reload", b"")  # and again: still refused, still running
        probe.wait_for(lambda m: len(probe.json(f"{BASE}/error")) >= 2)
        count = results(probe, "bananas")
        probe.wait_for(lambda m: results(probe, "bananas") > count + 5)
    probe.close()


def test_a_reload_rebuilds_only_the_pipelines_that_changed(broker, banana_video: Path, tmp_path: Path):
    config_file = tmp_path / "edgetm.yaml"
    kitchen = {"name": "kitchen", "model": str(DEMO), "source": looping_video(banana_video)}
    garage = {"name": "garage", "model": str(DEMO), "source": looping_video(banana_video)}
    write_config(config_file, [kitchen, garage], broker)
    probe = Probe(broker.port, [f"{BASE}/#"])
    with running(load_config(config_file).model_dump(mode="json"), config_file) as service:
        probe.wait_for(lambda m: results(probe, "kitchen") >= 3 and results(probe, "garage") >= 3)
        before = dict(service.pipelines)
        write_config(config_file, [kitchen, {**garage, "smoothing": {"k": 5}}], broker)
        probe.publish(f"{BASE}/reload", b"")
        probe.wait_for(lambda m: service.pipelines["garage"] is not before["garage"])
        assert service.pipelines["kitchen"] is before["kitchen"]
        count = results(probe, "garage")
        probe.wait_for(lambda m: results(probe, "garage") > count + 3)
    probe.close()


def test_a_reload_that_removes_a_pipeline_clears_its_entities_and_retained_state(broker, banana_video: Path,
                                                                               tmp_path: Path):
    config_file = tmp_path / "edgetm.yaml"
    kitchen = {"name": "kitchen", "model": str(DEMO), "source": looping_video(banana_video)}
    garage = {"name": "garage", "model": str(DEMO), "source": looping_video(banana_video)}
    homeassistant = {"homeassistant": {"enabled": True}}
    write_config(config_file, [kitchen, garage], broker, **homeassistant)
    garage_config = "homeassistant/device/edgetm_testdev_garage/config"
    probe = Probe(broker.port, [f"{BASE}/#", "homeassistant/#"])
    with running(load_config(config_file).model_dump(mode="json"), config_file) as service:
        probe.wait_for(lambda m: probe.on(garage_config) and probe.on(f"{BASE}/garage/label"))
        write_config(config_file, [kitchen], broker, **homeassistant)
        probe.publish(f"{BASE}/reload", b"")
        probe.wait_for(lambda m: "garage" not in service.pipelines)
        probe.wait_for(lambda m: probe.on(garage_config)[-1:] == [b""])  # the entity is deleted
        probe.wait_for(lambda m: probe.on(f"{BASE}/garage/label")[-1:] == [b""])
        # The broker restarts: edgetm reconnects and republishes only what still exists.
        time.sleep(1.5)  # the broker saves its retained messages every second
        broker.stop()
        broker.start()
        probe.wait_for(lambda m: len([1 for t, p, _ in m if t == f"{BASE}/status" and p == b"online"]) >= 2, 20)
        time.sleep(1.0)
    probe.close()
    fresh = Probe(broker.port, [f"{BASE}/#", "homeassistant/#"])
    fresh.wait_for(lambda m: fresh.on("homeassistant/device/edgetm_testdev_kitchen/config"))
    time.sleep(0.5)
    left = sorted(t for t, _, retain in fresh.messages if retain and "garage" in t)
    assert left == []
    fresh.close()
