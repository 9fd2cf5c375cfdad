"""A freshly trained model swapped into a running edgetm run over a real mosquitto, while it keeps
publishing; a corrupt export is refused and the old model keeps running."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import pytest

from edgetm.errors import ConfigError
from edgetm.train.swap import swap_into
from tests.broker import Probe
from tests.conftest import DEMO, ROOT
from tests.train.test_retrain import image_dataset

BASE = "edgetm/trainer"


def test_a_trained_model_is_swapped_in_under_load(broker, banana_video: Path, tmp_path: Path):
    models = tmp_path / "models"
    shutil.copytree(DEMO, models / "banana", ignore=shutil.ignore_patterns("samples"))
    data = image_dataset(tmp_path / "data", per_class=6)
    probe = Probe(broker.port, [f"{BASE}/#"])
    running = subprocess.Popen(
        [sys.executable, "-m", "edgetm", "run", str(models / "banana"), "--source", str(banana_video), "--realtime",
         "--loop", "--mqtt", broker.url, "--device-id", "trainer"], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        probe.wait_for(lambda m: len(probe.on(f"{BASE}/default/result")) >= 5, 30)
        assert probe.on(f"{BASE}/default/model")[-1].decode() == str(models / "banana" / "model_unquant.tflite")
        trained = subprocess.run(
            [sys.executable, "-m", "edgetm", "train", "--base", str(models / "banana"), "--data", str(data), "--out",
             str(models / "colours"), "--epochs", "10", "--swap-into", broker.url, "--device-id", "trainer"],
            cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert trained.returncode == 0, trained.stderr
        new = str((models / "colours" / "model_unquant.tflite").resolve())
        assert f"swapped     trainer/default now runs {new}" in trained.stdout
        probe.wait_for(lambda m: any(json.loads(p)["top"][0]["label"] in ("blue", "green", "red")
                                     for p in probe.on(f"{BASE}/default/result")), 15)
        # A corrupt export is refused; the trained model keeps running.
        (models / "broken").mkdir()
        (models / "broken" / "model_unquant.tflite").write_bytes(b"TFL3 but not really a model")
        with pytest.raises(ConfigError, match="trainer/default kept its model: swap in pipeline default refused"):
            swap_into(broker.url, "trainer", "default", models / "broken", timeout_s=15)
        started = time.monotonic()
        with pytest.raises(ConfigError, match="trainer/elsewhere kept its model: no pipeline named 'elsewhere'"):
            swap_into(broker.url, "trainer", "elsewhere", models / "colours", timeout_s=15)
        with pytest.raises(ConfigError, match="no edgetm runs as someone-else: edgetm/someone-else/status has never"):
            swap_into(broker.url, "someone-else", "default", models / "colours", timeout_s=15)
        assert time.monotonic() - started < 5  # said at once, not after the wait for an answer
        seen = len(probe.on(f"{BASE}/default/result"))
        probe.wait_for(lambda m: len(probe.on(f"{BASE}/default/result")) >= seen + 5, 15)
        assert json.loads(probe.on(f"{BASE}/default/result")[-1])["top"][0]["label"] in ("blue", "green", "red")
    finally:
        running.terminate()
        running.wait(10)
        probe.close()
    results = [json.loads(p) for p in probe.on(f"{BASE}/default/result")]
    stamps = [datetime.fromisoformat(r["timestamp"]).timestamp() for r in results]
    # Between consecutive frames the longest gap stays that of a frame or two, through both swaps
    # (the looping 30-frame video's restart is a pause of its own).
    gaps = [b - a for (a, b), (x, y) in zip(pairwise(stamps), pairwise(r["frame"] for r in results), strict=True)
            if y == x + 1 and y % 30]
    assert len(gaps) > 20 and max(gaps) < 0.5


def test_swapping_into_nothing_says_so(tmp_path: Path):
    from tests.broker import free_port

    with pytest.raises(ConfigError, match="cannot reach the broker"):
        swap_into(f"mqtt://127.0.0.1:{free_port()}", "nobody", "default", tmp_path)
    done = subprocess.run([sys.executable, "-m", "edgetm", "train", "--data", str(tmp_path), "--out", str(tmp_path),
                           "--pipeline", "x"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "--pipeline without --swap-into would be ignored" in done.stderr



@pytest.mark.parametrize("flags, message", [
    (["--swap-into", "http://127.0.0.1"], "http://127.0.0.1 is not an MQTT URL"),
    (["--swap-into", "mqtt://127.0.0.1", "--password-env", "EDGETM_TEST_UNSET"], "a password is given but "
     "mqtt://127.0.0.1 names no user"),
    (["--swap-into", "mqtt://me@127.0.0.1", "--password-file", "/nonexistent/secret"], "/nonexistent/secret"),
])
def test_swap_settings_are_checked_before_training(tmp_path: Path, flags: list[str], message: str):
    data = image_dataset(tmp_path / "data", per_class=2)
    done = subprocess.run([sys.executable, "-m", "edgetm", "train", "--data", str(data), "--out",
                           str(tmp_path / "out"), *flags], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists() and "training" not in done.stderr
