"""An MQTT connection that cannot be made says why: in words a user can act on, logged once (and
at most once a minute while it lasts), and in the sink's stats. Real mosquitto, real TLS."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgetm.errors import ConfigError
from edgetm.publish.mqtt import MqttOptions, MqttSink
from tests.broker import Broker, Certificates, free_port
from tests.conftest import DEMO, ROOT


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> Certificates:
    return Certificates.make(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def foreign_certificates(tmp_path_factory) -> Certificates:
    """A certificate for another host, signed by a CA of its own."""
    return Certificates.make(tmp_path_factory.mktemp("tls-other"), names=("broker.example",), ips=())


@pytest.fixture
def tls_broker(tmp_path: Path, certificates: Certificates):
    broker = Broker(tmp_path, tls=certificates)
    broker.start()
    yield broker
    broker.stop()


def wait_for_problem(sink: MqttSink, timeout_s: float = 15.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sink.problem:
            return sink.problem
        time.sleep(0.05)
    raise AssertionError("no problem reported")


def wait_connected(sink: MqttSink, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not sink.connected:
        assert time.monotonic() < deadline, sink.problem
        time.sleep(0.05)


def warnings_about(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and text in r.getMessage()]


def sink_for(url: str, **options) -> MqttSink:
    return MqttSink(MqttOptions(url=url, **options), "faulty")


def test_a_name_that_does_not_resolve_is_said_once(caplog):
    sink = sink_for("mqtt://no-such-broker.invalid")
    try:
        problem = wait_for_problem(sink)
        assert "cannot resolve" in problem and "no-such-broker.invalid" in problem
        time.sleep(3.5)  # attempts after 1 and 2 s fail the same way
        assert len(warnings_about(caplog, "no-such-broker.invalid")) == 1
        assert [r.getMessage() for r in caplog.records if r.name.endswith(".paho")] == []  # nor paho's own lines
        assert sink.failed_attempts >= 2
        mqtt = sink.health()
        assert mqtt["connected"] is False and "cannot resolve" in mqtt["problem"]
    finally:
        sink.close(0.5)


def test_a_port_where_nothing_listens():
    port = free_port()
    sink = sink_for(f"mqtt://127.0.0.1:{port}")
    try:
        problem = wait_for_problem(sink)
        assert f"127.0.0.1:{port}" in problem and "refused" in problem
    finally:
        sink.close(0.5)


def test_a_certificate_that_cannot_be_verified(tls_broker):
    sink = sink_for(tls_broker.url)  # the system CAs do not know the test CA
    try:
        problem = wait_for_problem(sink)
        assert "certificate" in problem and "not trusted" in problem and "ca_file" in problem
        assert not sink.connected
    finally:
        sink.close(0.5)


def test_a_certificate_for_another_name(tmp_path: Path, foreign_certificates: Certificates):
    broker = Broker(tmp_path, tls=foreign_certificates)
    broker.start()
    try:
        sink = sink_for(broker.url, tls={"ca_file": str(foreign_certificates.ca)})
        try:
            problem = wait_for_problem(sink)
            assert "certificate" in problem and "127.0.0.1" in problem and "name" in problem
        finally:
            sink.close(0.5)
    finally:
        broker.stop()


def test_mqtts_to_a_plain_port(broker, certificates: Certificates):
    sink = sink_for(f"mqtts://127.0.0.1:{broker.port}", tls={"ca_file": str(certificates.ca)})
    try:
        problem = wait_for_problem(sink)
        assert "TLS" in problem and "plain" in problem
    finally:
        sink.close(0.5)


def test_mqtt_to_a_tls_port(tls_broker):
    sink = sink_for(f"mqtt://127.0.0.1:{tls_broker.port}")
    try:
        problem = wait_for_problem(sink)
        assert "mqtts://" in problem
    finally:
        sink.close(0.5)


def test_tls_with_the_right_ca_connects(tls_broker, certificates: Certificates):
    sink = sink_for(tls_broker.url, tls={"ca_file": str(certificates.ca)})
    try:
        wait_connected(sink)
        assert sink.problem is None
    finally:
        sink.close(1.0)


def test_wrong_credentials_say_not_authorized_and_nothing_misleading(tmp_path: Path, monkeypatch, caplog):
    broker = Broker(tmp_path, users={"sensor": "right"})
    broker.start()
    monkeypatch.setenv("EDGETM_TEST_PASSWORD", "wrong")
    try:
        sink = sink_for(f"mqtt://sensor@127.0.0.1:{broker.port}", password_env="EDGETM_TEST_PASSWORD")  # noqa: S106 - a variable name
        try:
            problem = wait_for_problem(sink)
            assert "not authorized" in problem.lower()
            time.sleep(1.5)
            messages = [r.getMessage().lower() for r in caplog.records if r.levelno >= logging.WARNING]
            assert not any("protocol error" in m for m in messages), messages
            assert len([m for m in messages if "not authorized" in m]) == 1
        finally:
            sink.close(0.5)
    finally:
        broker.stop()


def test_a_ca_file_that_does_not_exist_or_is_not_a_certificate(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        sink_for("mqtts://127.0.0.1:8883", tls={"ca_file": str(tmp_path / "missing.pem")})
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="no certificate"):
        sink_for("mqtts://127.0.0.1:8883", tls={"ca_file": str(junk)})


def test_tls_settings_with_a_plain_url_are_an_error(certificates: Certificates):
    with pytest.raises(ValueError, match="mqtts://"):
        MqttOptions(url="mqtt://127.0.0.1", tls={"ca_file": str(certificates.ca)})


def run_cli(*args: str, env: dict | None = None, timeout_s: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgetm", "run", str(DEMO), "--source", str(DEMO / "samples"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout_s,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("extra, message", [
    (["--mqtt", "mqtts://127.0.0.1:8883", "--ca-file", "missing.pem"], "tls.ca_file missing.pem does not exist"),
    (["--mqtt", "mqtts://127.0.0.1:8883", "--ca-file", "README.md"], "no certificate could be read"),
    (["--mqtt", "mqtt://127.0.0.1:1883", "--ca-file", "README.md"], "use mqtts:// for TLS"),
])
def test_ca_file_mistakes_are_one_line(extra, message):
    result = run_cli(*extra)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_an_unreachable_broker_is_in_the_status_line_and_the_exit_summary(tmp_path: Path, banana_video: Path):
    """``edgetm run`` on a finite source, with a broker whose name does not resolve: the cause is
    logged once, systemd's STATUS= carries it, and the exit summary says what was not delivered."""
    address = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(0.2)
    process = subprocess.Popen([sys.executable, "-m", "edgetm", "run", str(DEMO), "--source", str(banana_video),
                                "--realtime", "--loop", "--mqtt", "mqtt://no-such-broker.invalid"], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "NOTIFY_SOCKET": address})
    received: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while not any("mqtt: cannot resolve" in r for r in received) and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                received.append(listener.recv(4096).decode())
        time.sleep(3)  # attempts after 1 and 2 s fail the same way, and are not said again
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    finally:
        process.kill()
        listener.close()
    assert any("STATUS=" in r and "mqtt: cannot resolve the broker's name 'no-such-broker.invalid'" in r
               for r in received), received
    assert process.returncode == 0
    lines = stderr.splitlines()
    assert len([line for line in lines if "cannot resolve" in line and "at exit" not in line]) == 1, stderr
    summary = [line for line in lines if "never connected at exit" in line]
    assert len(summary) == 1 and "were not delivered" in summary[0], stderr
