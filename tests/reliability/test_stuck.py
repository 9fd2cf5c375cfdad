"""A pipeline whose model call never returns: systemd's watchdog stops being fed and edgetm exits
non-zero, so that its service manager restarts it.

A real runtime cannot be made to hang on demand, so the model call is replaced by one that blocks,
the way a wedged accelerator or driver call does (it waits outside Python, holding nothing)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from edgetm.config import parse_config
from edgetm.errors import EdgetmError
from edgetm.runtime.service import EXIT_FAILED, EXIT_STUCK, Service
from tests.runtime.service_helpers import looping_video, pipeline

pytestmark = pytest.mark.reliability


def test_a_hung_model_call_stops_the_watchdog_and_exits_non_zero(tmp_path: Path, banana_video: Path, monkeypatch):
    address = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(0.1)
    pings: list[float] = []
    listening = threading.Event()

    def listen() -> None:
        while not listening.is_set():
            try:
                if b"WATCHDOG=1" in listener.recv(4096):
                    pings.append(time.monotonic())
            except TimeoutError:
                pass

    listener_thread = threading.Thread(target=listen, daemon=True)
    listener_thread.start()
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    monkeypatch.setenv("WATCHDOG_USEC", "400000")
    service = Service(parse_config({"stuck_after_s": 2, "pipelines": [pipeline(looping_video(banana_video))]}))
    status: list[int] = []
    runner = threading.Thread(target=lambda: status.append(service.run()), daemon=True)
    runner.start()
    released = threading.Event()
    try:
        deadline = time.monotonic() + 20
        while len(pings) < 3:
            assert time.monotonic() < deadline, "no watchdog pings"
            time.sleep(0.05)
        def hang(*args, **kwargs):
            released.wait(60)
            raise EdgetmError("the call returned after the test")

        monkeypatch.setattr(service.pipelines["bananas"].task, "infer", hang)
        hung_at = time.monotonic()
        runner.join(15)
        exited_at = time.monotonic()
    finally:
        released.set()
        listening.set()
        listener_thread.join(1)
        listener.close()
    assert status == [EXIT_STUCK]
    assert 2.0 <= exited_at - hung_at <= 6.0
    assert max(pings) < hung_at + 2.0 + 0.5  # not fed once the pipeline was seen to make no progress


def test_a_pipeline_stopped_by_a_bug_makes_edgetm_exit_to_be_restarted(banana_video: Path, monkeypatch):
    """Even while another pipeline runs on: a live pipeline that stopped would be silent for months."""
    service = Service(parse_config({"pipelines": [pipeline(looping_video(banana_video)),
                                                  pipeline(looping_video(banana_video), name="other")]}))
    status: list[int] = []
    runner = threading.Thread(target=lambda: status.append(service.run()), daemon=True)
    runner.start()
    deadline = time.monotonic() + 20
    while not service.pipelines or not service.pipelines["bananas"].stats.results:
        assert time.monotonic() < deadline
        time.sleep(0.05)

    def bug(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(service.pipelines["bananas"].task, "infer", bug)
    runner.join(10)
    assert status == [EXIT_FAILED]
