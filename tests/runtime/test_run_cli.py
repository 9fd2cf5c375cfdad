"""`edgetm run` as a process: signals, the last will, file sources end to end, bad configs."""

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.broker import Probe
from tests.conftest import DEMO, ROOT


def start(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "edgetm", "run", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})


def live_args(broker, video: Path, device: str) -> list[str]:
    return [str(DEMO), "--source", str(video), "--realtime", "--loop", "--mqtt", broker.url, "--device-id", device]


def test_kill_9_leaves_the_last_will(broker, banana_video: Path):
    probe = Probe(broker.port, ["edgetm/victim/status"])
    process = start(*live_args(broker, banana_video, "victim"))
    try:
        probe.wait_for(lambda m: probe.on("edgetm/victim/status")[-1:] == [b"online"], 30)
        os.kill(process.pid, signal.SIGKILL)
        probe.wait_for(lambda m: probe.on("edgetm/victim/status")[-1:] == [b"offline"], 10)
    finally:
        process.kill()
        process.wait(10)
        probe.close()
    late = Probe(broker.port, ["edgetm/victim/status"])  # and it stays offline, retained
    late.wait_for(lambda m: late.on("edgetm/victim/status") == [b"offline"])
    late.close()


def test_sigterm_exits_cleanly_within_two_seconds(broker, banana_video: Path):
    probe = Probe(broker.port, ["edgetm/polite/#"])
    process = start(*live_args(broker, banana_video, "polite"))
    try:
        probe.wait_for(lambda m: len(probe.on("edgetm/polite/default/result")) >= 3, 30)
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(10)
        elapsed = time.monotonic() - sent
    finally:
        process.kill()
    assert code == 0, process.stderr.read()
    assert elapsed < 2.0
    probe.wait_for(lambda m: probe.on("edgetm/polite/status")[-1:] == [b"offline"], 5)
    probe.close()


def test_a_video_file_end_to_end(banana_video: Path):
    result = subprocess.run([sys.executable, "-m", "edgetm", "run", str(DEMO), "--source", str(banana_video)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["frame"] for line in lines] == list(range(30))  # every frame, in order
    assert [line["label"] for line in lines] == ["Ripe"] * 15 + ["Unripe"] * 15
    assert lines[-1]["smoothed_label"] == "Unripe"


def test_an_image_folder_end_to_end(tmp_path: Path):
    for sample in (DEMO / "samples").glob("*.jpg"):
        (tmp_path / sample.name).write_bytes(sample.read_bytes())
    (tmp_path / "zz-broken.jpg").write_bytes(b"broken")
    out = tmp_path / "results.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "edgetm", "run", str(DEMO / "model.tflite"), "--source", str(tmp_path), "--jsonl",
         str(out), "--smoothing", "off"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 8
    for line in lines:
        expected = Path(line["source"]).stem.rsplit("-", 1)[0].replace("-", " ").capitalize()
        assert line["label"] == expected
    assert result.stderr.count("zz-broken.jpg") == 1  # reported once, not fatal
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("text, message", [
    ("pipelines:\n  - model: models/banana\n    source: camera:0\n    treshold: 0.5\n",
     "pipelines.0.treshold: unknown key"),
    ("pipelines:\n  - model: models/banana\n    source: camera:0\n    threshold: 2\n", "pipelines.0.threshold"),
    ("pipelines:\n  - model: models/banana\n    source: nowhere\n", "unknown source 'nowhere'"),
    ("pipelines: []\n", "pipelines"),
    ("sinks:\n  - type: carrier-pigeon\npipelines:\n  - model: m\n    source: camera:0\n", "sinks.0"),
    ("pipelines:\n  - model: m\n    source: camera:0\nsinks:\n  - type: mqtt\n    url: mqtt://u:secret@host\n",
     "contains a password"),
    ("pipelines: [\n", "not valid YAML at line"),
    ("- just\n- a list\n", "must be a mapping"),
])
def test_a_bad_config_is_one_line_naming_the_key(tmp_path: Path, text, message):
    config = tmp_path / "edgetm.yaml"
    config.write_text(text)
    result = subprocess.run([sys.executable, "-m", "edgetm", "run", "--config", str(config)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("edgetm: error:") and message in lines[0]
    assert "secret" not in result.stderr


def test_systemd_notify_and_watchdog(tmp_path: Path, banana_video: Path):
    address = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(20)
    process = start(str(DEMO), "--source", str(banana_video), "--realtime", "--loop",
                    env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000"})
    received: list[str] = []
    try:
        while not any("READY=1" in r for r in received) or sum("WATCHDOG=1" in r for r in received) < 3:
            received.append(listener.recv(4096).decode())
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        while not any("STOPPING=1" in r for r in received):
            received.append(listener.recv(4096).decode())
    finally:
        process.kill()
        listener.close()
    assert any(r.startswith("READY=1") and "STATUS=running 1 pipeline" in r for r in received)


@pytest.mark.parametrize("extra, message", [
    (["--width", "320"], "--width does not apply to the source"),  # a camera setting, for image files
    (["--conf", "0.3"], "detect options are given, but"),  # a detector setting, for a classifier
    (["--conf", "0.3"], "or the flags that set it (such as --conf)"),
    (["--smoothing", "average", "--k", "5"], "k does nothing in average mode"),
    (["--window", "8"], "window does nothing in consecutive mode"),
    (["--ca-file", "ca.pem"], "MQTT settings are given without a broker (add --mqtt URL)"),
    (["--task", "detect"], "is a classify model, not a detector"),
    (["--config", "edgetm.example.yaml"], "give a model or --config, not both"),
])
def test_flags_that_would_be_ignored_are_errors(extra, message):
    result = subprocess.run([sys.executable, "-m", "edgetm", "run", str(DEMO), "--source", str(DEMO / "samples"),
                             *extra], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_settings_beside_a_config_file_are_errors(tmp_path: Path):
    result = subprocess.run([sys.executable, "-m", "edgetm", "run", "--config", "edgetm.example.yaml",
                             "--threshold", "0.7"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "--threshold would be ignored with --config" in result.stderr and result.stderr.count("\n") == 1


def test_a_reader_that_goes_away_is_no_error(banana_video: Path):
    """edgetm run ... | head -1: the results have nowhere to go; edgetm stops, without a traceback."""
    process = start(str(DEMO), "--source", str(banana_video), "--realtime", "--loop")
    first = process.stdout.readline()
    process.stdout.close()
    assert process.wait(60) == 0
    stderr = process.stderr.read()
    assert json.loads(first)["pipeline"] == "default"
    assert "Traceback" not in stderr and "no longer written" in stderr and "stopping" in stderr


def test_a_folder_where_no_image_decodes_fails(tmp_path: Path):
    """Every file is named once, the run ends with one line saying nothing could be decoded, and the
    exit status says it failed."""
    for name in ("a.jpg", "b.jpg", "c.png"):
        (tmp_path / name).write_bytes(b"broken")
    result = subprocess.run([sys.executable, "-m", "edgetm", "run", str(DEMO), "--source", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    for name in ("a.jpg", "b.jpg", "c.png"):
        assert result.stderr.count(name) == 1, result.stderr
    assert result.stderr.count(f"none of the 3 images in {tmp_path} could be decoded") == 1, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_video_that_cannot_be_decoded_is_one_line(tmp_path: Path, banana_video: Path):
    from tests.runtime.test_capture import undecodable_videos

    for video in undecodable_videos(tmp_path, banana_video):
        for flags in ([], ["--realtime", "--loop"]):
            result = subprocess.run([sys.executable, "-m", "edgetm", "run", str(DEMO), "--source", str(video), *flags],
                                    cwd=ROOT, capture_output=True, text=True, timeout=60)
            assert result.returncode == 1
            assert result.stderr.strip().splitlines() == [
                f"edgetm: error: pipeline default: {video} has no frame OpenCV can decode"]


def result_times(probe: Probe, topic: str) -> dict[int, float]:
    import datetime

    return {r["frame"]: datetime.datetime.fromisoformat(r["timestamp"]).timestamp() for r in probe.json(topic)}


def test_a_looping_file_never_goes_offline(broker, banana_video: Path):
    """The end of a looping file: no offline, no second of reconnect backoff (30 frames a loop, 30 fps)."""
    probe = Probe(broker.port, ["edgetm/looper/#"])
    process = start(*live_args(broker, banana_video, "looper"))
    try:
        probe.wait_for(lambda m: len(probe.on("edgetm/looper/default/result")) >= 75, 60)
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        probe.wait_for(lambda m: probe.on("edgetm/looper/default/source")[-1:] == [b"offline"], 10)
    finally:
        process.kill()
        probe.close()
    times = result_times(probe, "edgetm/looper/default/result")
    for last, first in ((29, 30), (59, 60)):
        if last in times and first in times:  # a frame inference missed is dropped (latest frame wins)
            assert times[first] - times[last] < 1 / 30 + 0.03
    assert max(times[b] - times[a] for a, b in itertools.pairwise(sorted(times))) < 0.2
    assert probe.on("edgetm/looper/default/source") == [b"online", b"offline"]  # offline only at exit


def test_a_looping_file_read_as_fast_as_possible_runs_on(banana_video: Path):
    process = start(str(DEMO), "--source", str(banana_video), "--loop")
    try:
        lines = [json.loads(process.stdout.readline()) for _ in range(95)]
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        process.kill()
    assert [line["frame"] for line in lines] == list(range(95))
    assert [line["label"] for line in lines[25:35]] == ["Unripe"] * 5 + ["Ripe"] * 5  # the file started again


@pytest.mark.parametrize("source", ["/dev/video63", "rtsp://127.0.0.1:{port}/stream"])
def test_a_source_missing_from_the_start_is_published_offline(broker, source: str):
    from tests.broker import free_port

    source = source.format(port=free_port())
    probe = Probe(broker.port, ["edgetm/absent/#"])
    process = start(str(DEMO), "--source", source, "--mqtt", broker.url, "--device-id", "absent")
    try:
        probe.wait_for(lambda m: probe.on("edgetm/absent/default/source") == [b"offline"], 30)
        time.sleep(1.5)  # the first reopening attempt fails too
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        process.kill()
        probe.close()
    late = Probe(broker.port, ["edgetm/absent/default/source"])  # retained for those who come later
    late.wait_for(lambda m: late.on("edgetm/absent/default/source") == [b"offline"])
    late.close()
    stderr = process.stderr.read()
    assert stderr.count("cannot open") == 1 and source in stderr, stderr  # said once, not at every attempt
    assert "Traceback" not in stderr


def test_a_reload_never_ends_the_run(tmp_path: Path, banana_video: Path, monkeypatch):
    """A rebuilt pipeline's predecessor is stopped before the new one takes its place: for that moment
    every pipeline has finished, which must not read as every source having ended. Releasing a device
    can take a while (here 0.5 s, two of the main loop's looks), which made the moment long enough."""
    import threading

    import yaml

    from edgetm.config import load_config
    from edgetm.runtime.pipeline import Pipeline
    from edgetm.runtime.service import Service
    from tests.runtime.service_helpers import looping_video

    stop = Pipeline.stop

    def slow_stop(self, timeout_s: float = 1.0) -> None:
        stop(self, timeout_s)
        time.sleep(0.5)

    monkeypatch.setattr(Pipeline, "stop", slow_stop)
    config = tmp_path / "edgetm.yaml"

    def write(threshold: float) -> None:
        config.write_text(yaml.safe_dump({"pipelines": [{"name": "bananas", "model": str(DEMO),
                                                         "smoothing": {"threshold": threshold},
                                                         "source": looping_video(banana_video)}],
                                          "sinks": [{"type": "jsonl", "path": str(tmp_path / "out.jsonl")}]}))

    write(0.5)
    service = Service(load_config(config), config)
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        time.sleep(0.5)
        write(0.9)
        service._reload()
        time.sleep(0.3)
        assert thread.is_alive(), "the run ended at a reload"
        assert service.pipelines["bananas"].threshold == 0.9
    finally:
        service.stop_requested.set()
        thread.join(10)


def test_the_flags_a_task_error_names_exist():
    from edgetm.tasks import FLAG_HINTS, TASKS

    assert set(FLAG_HINTS) == set(TASKS)
    result = subprocess.run([sys.executable, "-m", "edgetm", "run", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    for flag in FLAG_HINTS.values():
        assert f"{flag} " in result.stdout, flag
