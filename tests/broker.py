"""A real mosquitto broker for tests: its own process on a free port, stopped by its PID."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

START_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


class Broker:
    """mosquitto with persistence (saved every second) so sessions survive a kill and restart."""

    def __init__(self, folder: Path, tls: Certificates | None = None, users: dict[str, str] | None = None) -> None:
        """``tls``: listen with TLS only, on a server certificate signed by ``tls.ca``; ``users``:
        refuse anyone but these (name -> password)."""
        self.executable = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(self.executable).exists():
            pytest.skip("mosquitto is not installed (scripts/install.sh installs it)")
        self.folder = folder
        self.port = free_port()
        self.tls = tls
        self.config = folder / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "persistence true", f"persistence_location {folder}/",
                 "autosave_interval 1", f"log_dest file {folder}/mosquitto.log", "max_queued_messages 10000"]
        if os.geteuid() == 0:  # mosquitto would drop to its own user, who cannot read pytest's private folders
            lines.append("user root")
        if tls is not None:
            lines += [f"cafile {tls.ca}", f"certfile {tls.server_cert}", f"keyfile {tls.server_key}"]
        if users:
            passwords = folder / "passwords"
            passwords.write_text("".join(f"{name}:{password}\n" for name, password in users.items()))
            subprocess.run(["mosquitto_passwd", "-U", str(passwords)], check=True, timeout=30)
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        self.config.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([self.executable, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def kill(self) -> None:
        """SIGKILL: the broker dies without saying goodbye to anyone."""
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None

    def pause(self) -> None:
        """SIGSTOP: the broker's socket stays open, and nothing answers."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class Certificates:
    """A private CA and a server certificate it signed, for the names given."""

    ca: Path
    server_cert: Path
    server_key: Path

    @classmethod
    def make(cls, folder: Path, names: tuple[str, ...] = ("localhost",), ips: tuple[str, ...] = ("127.0.0.1",)):
        openssl = shutil.which("openssl")
        if openssl is None:
            pytest.skip("openssl is not installed (scripts/install.sh installs it)")
        folder.mkdir(parents=True, exist_ok=True)
        ca, ca_key = folder / "ca.pem", folder / "ca.key"
        cert, key, request = folder / "server.pem", folder / "server.key", folder / "server.csr"
        extensions = folder / "san.ext"
        extensions.write_text("subjectAltName=" + ",".join([*(f"DNS:{n}" for n in names), *(f"IP:{i}" for i in ips)])
                              + "\n")

        def run(*args: str) -> None:
            subprocess.run([openssl, *args], check=True, timeout=60, capture_output=True)

        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=edgetm test CA",
            "-keyout", str(ca_key), "-out", str(ca))
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={names[0] if names else 'server'}",
            "-keyout", str(key), "-out", str(request))
        run("x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
            "-days", "2", "-extfile", str(extensions), "-out", str(cert))
        return cls(ca, cert, key)


class Probe:
    """A test client that records every message on the topics it subscribes to."""

    def __init__(self, port: int, topics: list[str], client_id: str | None = None, persistent: bool = False) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Condition()
        self._topics = topics
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"probe-{time.time_ns()}",
                                  protocol=mqtt.MQTTv311, clean_session=not persistent)
        self.client.on_connect = lambda c, *a: c.subscribe([(t, 1) for t in self._topics])
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect("127.0.0.1", port, 10)
        self.client.loop_start()

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))
            self._lock.notify_all()

    def wait_for(self, predicate, timeout_s: float = 15.0):
        """Wait until ``predicate(messages)`` is truthy; return its value."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while True:
                value = predicate(self.messages)
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met; got {[(t, p[:80]) for t, p, _ in self.messages[-10:]]}")
                self._lock.wait(remaining)

    def on(self, topic: str) -> list[bytes]:
        with self._lock:
            return [p for t, p, _ in self.messages if t == topic]

    def json(self, topic: str) -> list[dict]:
        return [json.loads(p) for p in self.on(topic)]

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        self.client.publish(topic, payload, qos=qos).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
