"""-v says something worth reading: connection attempts, source reopens, stage timings, paho's own lines."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from edgetm.runtime import service
from tests.camerakit import NoCamera
from tests.runtime.service_helpers import looping_video, mqtt_sink, pipeline, running


def wait_for(predicate, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("not in time")


def said(caplog, text: str, level: int = logging.DEBUG) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level and text in r.getMessage()]


def test_stage_timings_are_logged_at_debug_once_an_interval(banana_video: Path, caplog, monkeypatch):
    monkeypatch.setattr(service, "TIMING_LOG_INTERVAL_S", 0.5)
    caplog.set_level(logging.DEBUG)
    with running({"pipelines": [pipeline(looping_video(banana_video))]}):
        wait_for(lambda: len(said(caplog, "median")) >= 2)
    line = said(caplog, "median")[0]
    assert line.startswith("pipeline bananas: median ms: preprocess "), line
    assert "inference " in line and "postprocess " in line and " fps" in line


def test_stage_timings_are_not_computed_without_debug(banana_video: Path, caplog, monkeypatch):
    monkeypatch.setattr(service, "TIMING_LOG_INTERVAL_S", 0.2)
    caplog.set_level(logging.INFO)
    with running({"pipelines": [pipeline(looping_video(banana_video))]}):
        time.sleep(1.0)
    assert not [r for r in caplog.records if "median" in r.getMessage()]


def test_the_default_interval_is_a_minute():
    assert service.TIMING_LOG_INTERVAL_S == 60.0


def test_mqtt_connection_attempts_and_paho_lines_at_debug(banana_video: Path, broker, caplog):
    caplog.set_level(logging.DEBUG)
    with running({"pipelines": [pipeline(looping_video(banana_video))], "sinks": [mqtt_sink(broker)]}):
        wait_for(lambda: said(caplog, "Received CONNACK"))
    assert said(caplog, f"MQTT: connecting to 127.0.0.1:{broker.port}") or \
        said(caplog, f"MQTT: connecting to localhost:{broker.port}"), [r.getMessage() for r in caplog.records]
    paho = [r for r in caplog.records if r.name == "edgetm.publish.mqtt.paho"]
    assert any("Sending CONNECT" in r.getMessage() for r in paho)


def test_a_refused_connection_attempt_is_said_at_debug_each_time(banana_video: Path, caplog):
    import socket

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    caplog.set_level(logging.DEBUG)
    with running({"pipelines": [pipeline(looping_video(banana_video))],
                  "sinks": [{"type": "mqtt", "url": f"mqtt://127.0.0.1:{port}"}]}):
        wait_for(lambda: len(said(caplog, f"MQTT: connecting to 127.0.0.1:{port}")) >= 2)


def test_a_source_reopen_is_said_at_debug(caplog, monkeypatch):
    cv2 = pytest.importorskip("cv2")
    monkeypatch.setattr(cv2, "VideoCapture", NoCamera)
    from edgetm.capture.camera import CameraOptions

    caplog.set_level(logging.DEBUG)
    source = CameraOptions(device=7, reconnect_initial_s=0.1, reconnect_max_s=0.1).open()
    source.start()
    try:
        wait_for(lambda: len(said(caplog, "source camera:7: opening it")) >= 2)
    finally:
        source.stop()
    assert said(caplog, "source camera:7: opening it again (attempt 2)")
