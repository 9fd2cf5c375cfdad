"""``edgetm train --swap-into``: hand a freshly trained model to a running ``edgetm run`` over MQTT,
through its validated live swap, and wait to hear how it went.

The model goes in as ``{"model": FOLDER}`` on ``<prefix>/<device>/<pipeline>/set``. Success is
the pipeline's retained ``.../model`` topic naming the new model; a refusal (a model it cannot
load, a folder outside the ones it takes models from) comes on ``.../error`` and is raised here,
with the old model still running there.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from edgetm.errors import ConfigError, missing_dependency
from edgetm.secrets import read_secret

CONNECT_TIMEOUT_S = 10.0
ANSWER_TIMEOUT_S = 30.0  # loading and checking a model on a Pi can take seconds


def broker_settings(url: str, password_env: str | None = None, password_file: str | None = None
                    ) -> tuple[str, int, str | None, str | None, bool]:
    """Host, port, user, password and TLS from ``--swap-into`` and its password options: checked
    before anything is trained, so that a mistake there costs no training run."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ConfigError(f"{url} is not an MQTT URL", "give mqtt://host[:port] or mqtts://host[:port]")
    if (password_env or password_file) and not parts.username:
        raise ConfigError(f"a password is given but {url} names no user", "give mqtt://USER@host[:port]")
    try:
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    except ValueError:
        raise ConfigError(f"{url} has no valid port") from None
    password = read_secret(password_env, password_file, "mqtt") if parts.username else None
    return parts.hostname or "localhost", port, parts.username, password, parts.scheme == "mqtts"


def swap_into(url: str, device: str, pipeline: str, model: Path, prefix: str = "edgetm",
              password_env: str | None = None, password_file: str | None = None,
              timeout_s: float = ANSWER_TIMEOUT_S) -> str:
    """Ask the pipeline to swap ``model`` in; the source of the model now running there."""
    try:
        import paho.mqtt.client as mqtt
    except ImportError:
        raise missing_dependency("paho-mqtt") from None
    host, port, user, password, tls = broker_settings(url, password_env, password_file)
    base, target = f"{prefix}/{device}", str(model.expanduser().resolve())
    status: list[str] = []
    answers: list[tuple[str, bytes]] = []
    ready = threading.Event()
    changed = threading.Condition()
    sent = [False]

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        client.subscribe([(f"{base}/{pipeline}/model", 1), (f"{base}/error", 1), (f"{base}/status", 1)])

    def on_subscribe(client, userdata, mid, reason_codes, properties) -> None:
        ready.set()

    def on_message(client, userdata, message) -> None:
        if message.topic == f"{base}/status":
            status.append(bytes(message.payload).decode(errors="replace"))
            return
        with changed:
            if sent[0]:  # the retained model from before the request says nothing about it
                answers.append((message.topic, bytes(message.payload)))
                changed.notify_all()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"edgetm-train-{time.time_ns()}")
    if user:
        client.username_pw_set(user, password)
    if tls:
        client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    try:
        client.connect(host, port, 30)
    except (OSError, ssl.SSLError) as error:
        raise ConfigError(f"cannot reach the broker at {url}: {error}", "is edgetm run's broker running?") from None
    client.loop_start()
    try:
        if not ready.wait(CONNECT_TIMEOUT_S):
            raise ConfigError(f"the broker at {url} did not answer within {CONNECT_TIMEOUT_S:.0f} s")
        time.sleep(0.2)  # let the retained messages from before the request arrive (the old model is ignored)
        if not status or status[-1] != "online":
            said = f"says {status[-1]!r}" if status else "has never been on this broker"
            raise ConfigError(f"no edgetm runs as {device}: {base}/status {said}",
                              "check --device-id (edgetm run's default is its hostname) and --prefix")
        with changed:
            sent[0] = True
        command = json.dumps({"model": target}, allow_nan=False)
        client.publish(f"{base}/{pipeline}/set", command, qos=1).wait_for_publish(CONNECT_TIMEOUT_S)
        deadline = time.monotonic() + timeout_s
        with changed:
            while True:
                for topic, payload in answers:
                    if topic.endswith("/model") and payload.decode(errors="replace").startswith(target):
                        return payload.decode()
                    if topic.endswith("/error"):
                        error = json.loads(payload)
                        about = error.get("pipeline")
                        if about == pipeline or (about is None and f"'{pipeline}'" in str(error.get("error"))):
                            raise ConfigError(f"{device}/{pipeline} kept its model: {error.get('error')}")
                answers.clear()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ConfigError(f"{device}/{pipeline} did not say within {timeout_s:.0f} s that it runs the new "
                                      "model", f"is edgetm run running there with pipeline '{pipeline}'?")
                changed.wait(remaining)
    finally:
        client.disconnect()
        client.loop_stop()
