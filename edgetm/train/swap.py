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


def swap_into(url: str, device: str, pipeline: str, model: Path, prefix: str = "edgetm",
              password_env: str | None = None, password_file: str | None = None,
              timeout_s: float = ANSWER_TIMEOUT_S) -> str:
    """Ask the pipeline to swap ``model`` in; the source of the model now running there."""
    try:
        import paho.mqtt.client as mqtt
    except ImportError:
        raise missing_dependency("paho-mqtt") from None
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ConfigError(f"{url} is not an MQTT URL", "give mqtt://host[:port] or mqtts://host[:port]")
    base, target = f"{prefix}/{device}", str(model.expanduser().resolve())
    answers: list[tuple[str, bytes]] = []
    ready = threading.Event()
    changed = threading.Condition()
    sent = [False]

    def on_connect(client, userdata, flags, reason_code, properties) -> None:
        client.subscribe([(f"{base}/{pipeline}/model", 1), (f"{base}/error", 1)])

    def on_subscribe(client, userdata, mid, reason_codes, properties) -> None:
        ready.set()

    def on_message(client, userdata, message) -> None:
        with changed:
            if sent[0]:  # the retained model from before the request says nothing about it
                answers.append((message.topic, bytes(message.payload)))
                changed.notify_all()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"edgetm-train-{time.time_ns()}")
    if parts.username:
        client.username_pw_set(parts.username, read_secret(password_env, password_file, "mqtt"))
    if parts.scheme == "mqtts":
        client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
    client.on_connect, client.on_subscribe, client.on_message = on_connect, on_subscribe, on_message
    try:
        client.connect(parts.hostname or "localhost", parts.port or (8883 if parts.scheme == "mqtts" else 1883), 30)
    except (OSError, ssl.SSLError) as error:
        raise ConfigError(f"cannot reach the broker at {url}: {error}", "is edgetm run's broker running?") from None
    client.loop_start()
    try:
        if not ready.wait(CONNECT_TIMEOUT_S):
            raise ConfigError(f"the broker at {url} did not answer within {CONNECT_TIMEOUT_S:.0f} s")
        time.sleep(0.2)  # let the retained message from before the request arrive and be ignored
        with changed:
            sent[0] = True
        client.publish(f"{base}/{pipeline}/set", json.dumps({"model": target}), qos=1).wait_for_publish(
            CONNECT_TIMEOUT_S)
        deadline = time.monotonic() + timeout_s
        with changed:
            while True:
                for topic, payload in answers:
                    if topic.endswith("/model") and payload.decode(errors="replace").startswith(target):
                        return payload.decode()
                    if topic.endswith("/error"):
                        error = json.loads(payload)
                        if error.get("pipeline") == pipeline:
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
