"""MQTT output and commands (paho-mqtt 2.x, callback API version 2).

Topics, with ``base = {prefix}/{device}``:

    base/status                  online / offline, retained; the last will is offline
    base/{pipeline}/result       JSON per inference (rate-limited by the pipeline)
    base/{pipeline}/label        the smoothed label, retained, on change
    base/{pipeline}/source       online / offline / stale, retained
    base/{pipeline}/count/{label}  a detector's smoothed object count, retained, on change
    base/{pipeline}/snapshot     annotated JPEG when the counts change (optional)
    base/{pipeline}/paused       true / false, retained
    base/{pipeline}/attributes   a label's score and top, retained (Home Assistant only; ha_link.py)
    base/{pipeline}/{key}        whatever other state a pipeline's task declares, retained, on change
    base/stats                   JSON every stats interval
    base/error                   JSON for rejected commands and runtime errors
    base/{pipeline}/set          commands in: {"threshold", "paused", "max_rate_hz", "model"}
    base/reload                  command in: reload the configuration file

Connection policy: paho's network thread connects in the background and reconnects after 1 s,
doubling to 4 s, so that a broker that comes back is reconnected to within 5 s however long it was
away (an attempt is one TCP handshake). A broker that refuses our login is asked again after 1 s
doubling to 60 s; one that keeps giving our client id to someone else, every 30 to 300 s
(mqtt_link.py says why each failure happened). On every connect edgetm resubscribes and republishes its retained state
(status, labels, source states, Home Assistant discovery). While disconnected, results are
held in a queue of ``queue_size`` (the oldest dropped and counted) and sent after reconnecting;
nothing here blocks the caller. MQTT 5 is tried first; a broker that answers "unsupported
protocol version" is spoken to in 3.1.1 from then on. A pipeline that goes away (or an entity a
model swap removed) has its retained topics and Home Assistant configs deleted, at once or on the
next connection.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from edgetm.errors import MAX_PREFIX_LENGTH, NAME_PATTERN, PREFIX_PATTERN, missing_dependency
from edgetm.events import Observation, SourceState, StateChange
from edgetm.options import Field, field_validator, model_validator
from edgetm.plugins import LocalPath, Options
from edgetm.publish import homeassistant as ha
from edgetm.publish import mqtt_link
from edgetm.publish.base import CommandHandler, PipelineInfo, Sink, SinkContext, SinkOptions
from edgetm.publish.ha_link import HomeAssistantLink
from edgetm.publish.mqtt_commands import CommandInbox
from edgetm.secrets import read_secret, reject_inline_password

log = logging.getLogger(__name__)


class _CallbackFailures(logging.Filter):
    """paho says at error level what edgetm already says once in its own words (a connection that
    failed, a socket that is gone), at every attempt: only its report of an exception raised in one
    of our callbacks gets through, since nothing else would tell of it."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Its debug lines (each packet sent and received) are what -v asks for.
        return record.levelno == logging.DEBUG or record.getMessage().startswith("Caught exception")


PAHO_LOG = logging.getLogger("edgetm.publish.mqtt.paho")
PAHO_LOG.addFilter(_CallbackFailures())

RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 4
REFUSED_MAX_S = 60
NAME = re.compile(NAME_PATTERN)


class TlsOptions(Options):
    ca_file: LocalPath | None = Field(None, description="CA bundle to verify the broker (default: system CAs)")
    cert_file: LocalPath | None = Field(None, description="client certificate, for brokers that require one")
    key_file: LocalPath | None = Field(None, description="client key")
    insecure: bool = Field(False, description="skip certificate verification (testing only)")


class MqttOptions(SinkOptions):
    type: Literal["mqtt"] = "mqtt"
    unique: ClassVar[str | None] = "pipelines share its connection"
    publishes_state: ClassVar[bool] = True
    url: str = Field("mqtt://localhost", description="mqtt://[user@]host[:port] or mqtts:// for TLS")
    password_env: str | None = Field(None, description="environment variable holding the password")
    password_file: str | None = Field(None, description="file holding the password")
    client_id: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$",
                                  description="default: edgetm-{device}-{8 hex digits from this machine's id}, "
                                  "so that no two installations share one")
    keepalive_s: int = Field(30, ge=5, le=3600)
    qos: Literal[0, 1, 2] = Field(1, description="QoS of results, labels and status")
    retain: bool = Field(True, description="retain status, labels and source states")
    prefix: str = Field("edgetm", pattern=PREFIX_PATTERN, max_length=MAX_PREFIX_LENGTH,
                        description="the first levels of every topic: {prefix}/{device}/...")
    protocol: Literal["auto", "5", "3.1.1"] = Field("auto", description="auto: MQTT 5, falling back to 3.1.1")
    queue_size: int = Field(1000, ge=0, le=1_000_000, description="results held while disconnected")
    tls: TlsOptions = Field(default_factory=TlsOptions)
    homeassistant: ha.HomeAssistantOptions = Field(default_factory=ha.HomeAssistantOptions)

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError("must start with mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError("names no host")
        reject_inline_password(url, "mqtt url")
        return url

    @model_validator(mode="after")
    def _tls_needs_mqtts(self) -> MqttOptions:
        # TLS settings on a plain connection would be ignored, and the user believes the link is encrypted.
        if urlsplit(self.url).scheme in ("mqtt", "tcp") and self.tls != TlsOptions():
            raise ValueError("tls settings are given but the url starts with mqtt://; use mqtts:// for TLS")
        return self

    def open(self, context: SinkContext) -> MqttSink:
        return MqttSink(self, context.device_id, context.on_command, context.stats_interval_s)


class MqttSink(Sink):
    def __init__(self, config: MqttOptions, device: str, on_command: CommandHandler | None = None,
                 stats_interval_s: float | None = None) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError:
            raise missing_dependency("paho-mqtt") from None
        self._mqtt = mqtt
        self.config = config
        self.device = device
        self.base = f"{config.prefix}/{device}"
        parts = urlsplit(config.url)
        self._tls = parts.scheme in ("mqtts", "ssl")
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (8883 if self._tls else 1883)
        self._username = parts.username
        self._password = read_secret(config.password_env, config.password_file, "mqtt")
        self._protocol = mqtt.MQTTv311 if config.protocol == "3.1.1" else mqtt.MQTTv5
        self._lock = threading.Lock()
        self._connected = False
        self._closing = False
        self._pending: deque[tuple[str, str, int]] = deque(maxlen=max(config.queue_size, 1))
        self._retained: dict[str, str | bytes] = {}  # topic -> payload, republished on every connect
        self._deleted: set[str] = set()  # retained topics to empty on the next connect (made while away)
        self._pipelines: dict[str, PipelineInfo] = {}
        self.dropped = 0
        self.connects = 0
        self.client_id = config.client_id or mqtt_link.default_client_id(device)
        self.link = mqtt_link.Link(f"{self._host}:{self._port}", self.client_id)
        self._accepted = False  # whether the broker answered the current attempt (refused or not)
        self.commands = CommandInbox(self.base, self._pipelines, on_command, self.error)
        self.homeassistant = HomeAssistantLink(
            config.homeassistant, self.base, config.prefix, device, stats_interval_s, self._pipelines, self._lock,
            self._publish_retained, self._keep, self._delete, lambda topics: self._client.unsubscribe(topics),
        ) if config.homeassistant.enabled else None
        self._client = self._make_client()
        self._client.connect_async(self._host, self._port, config.keepalive_s)
        self._client.loop_start()

    # -- connection -----------------------------------------------------------------------------
    def _make_client(self):
        mqtt = self._mqtt
        client = mqtt_link.client_class(mqtt)(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                              protocol=self._protocol)
        client.will_set(f"{self.base}/status", "offline", qos=1, retain=True)
        if self._username:
            client.username_pw_set(self._username, self._password)
        if self._tls:
            mqtt_link.set_tls(client, self.config.tls)
        self._delays = (RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.reconnect_delay_set(*self._delays)
        # An exception in one of our callbacks would end paho's network thread, and with it every
        # reconnect: paho logs it instead (as an error, through our logger) and carries on.
        client.suppress_exceptions = True
        client.enable_logger(PAHO_LOG)
        client.on_connect = self._handle_connect
        client.on_connect_fail = self._handle_connect_fail
        client.on_pre_connect = lambda client, userdata: log.debug("MQTT: connecting to %s as %s", self.link.where,
                                                                   self.client_id)
        client.on_disconnect = self._handle_disconnect
        client.on_message = self._handle_message
        return client

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def queued(self) -> int:
        return len(self._pending)

    @property
    def problem(self) -> str | None:
        return self.link.problem

    @property
    def failed_attempts(self) -> int:
        return self.link.failed_attempts

    def health(self) -> dict:
        """The connection as stats show it."""
        return {"connected": self._connected, "problem": self.link.problem,
                "failed_attempts": self.link.failed_attempts, "queued": self.queued, "dropped": self.dropped,
                "reconnects": max(self.connects - 1, 0), "rejected_commands": self.commands.rejected}

    def _set_delays(self, client, delays: tuple[int, int]) -> None:
        """Change paho's reconnect delays (which starts their doubling again) only when they change."""
        if delays != self._delays:
            self._delays = delays
            client.reconnect_delay_set(*delays)

    def _handle_connect_fail(self, client, userdata) -> None:
        self.link.failed(mqtt_link.cause(client.connect_error, self._host, self._port, self._tls))

    def _handle_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self._accepted = True
        if self._closing:  # a connection that completed after close() gave up on it
            client.disconnect()
            return
        if reason_code.is_failure:
            if (str(reason_code) == "Unsupported protocol version" and self._protocol == self._mqtt.MQTTv5
                    and self.config.protocol == "auto"):
                log.info("broker does not speak MQTT 5; using 3.1.1")
                threading.Thread(target=self._downgrade, name="edgetm-mqtt-downgrade", daemon=True).start()
            else:
                self.link.failed(mqtt_link.refused(str(reason_code)))
                self._set_delays(client, (RECONNECT_MIN_S, REFUSED_MAX_S))
            return
        self.connects += 1
        self.link.up()
        if not self.link.taken_over:
            self._set_delays(client, (RECONNECT_MIN_S, RECONNECT_MAX_S))
        client.subscribe([(f"{self.base}/+/set", 1), (f"{self.base}/reload", 1)])
        if self.homeassistant is not None:
            client.subscribe(self.homeassistant.subscriptions())
        with self._lock:
            self._connected = True
            client.publish(f"{self.base}/status", "online", qos=1, retain=True)
            for topic in self._deleted:
                client.publish(topic, b"", qos=1, retain=True)
            self._deleted.clear()
            for topic, payload in self._retained.items():
                client.publish(topic, payload, qos=self.config.qos, retain=self.config.retain)
            if self.homeassistant is not None:
                self.homeassistant.connected()
            while self._pending:
                topic, payload, qos = self._pending.popleft()
                client.publish(topic, payload, qos=qos)

    def _downgrade(self) -> None:
        old = self._client
        old.loop_stop()
        self._protocol = self._mqtt.MQTTv311
        self._client = self._make_client()
        self._client.connect_async(self._host, self._port, self.config.keepalive_s)
        self._client.loop_start()

    def _handle_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._lock:
            was_connected, self._connected = self._connected, False
        answered, self._accepted = self._accepted, False
        if self._closing:
            return
        if was_connected:
            if self.link.down(str(reason_code)):
                self._set_delays(client, mqtt_link.TAKEOVER_DELAYS_S)
            elif not self.link.taken_over:
                self._set_delays(client, (RECONNECT_MIN_S, RECONNECT_MAX_S))
        elif not answered and str(reason_code) == "Keep alive timeout":
            self.link.failed(f"{self._host}:{self._port} took the connection but no MQTT broker answered within "
                             f"{self.config.keepalive_s} s; is it the broker's port?")
        elif not answered:  # closed before any CONNACK: not an MQTT listener, or a TLS one spoken to in plain
            hint = "; if it is a TLS port, use mqtts://" if not self._tls else ""
            self.link.failed(f"{self._host}:{self._port} closed the connection before the broker answered{hint}")
        # else: the broker refused this attempt, and _handle_connect said why

    # -- publishing -----------------------------------------------------------------------------
    def _send(self, topic: str, payload: str | bytes, qos: int, retain: bool = False):
        return self._client.publish(topic, payload, qos=qos, retain=retain)

    def _publish_retained(self, topic: str, payload: str | bytes) -> None:
        """Send a retained message that is made again on every connect (discovery); the lock is held."""
        if self._connected:
            self._send(topic, payload, 1, retain=True)

    def _delete(self, topic: str) -> None:
        """Empty a retained topic now, or on the next connect; the lock is held."""
        self._retained.pop(topic, None)
        if self._connected:
            self._send(topic, b"", 1, retain=True)
        else:
            self._deleted.add(topic)

    def _retain(self, topic: str, payload: str | bytes) -> None:
        with self._lock:
            self._keep(topic, payload)

    def _keep(self, topic: str, payload: str | bytes) -> None:
        """Retain state, republished on every connect and deleted with its pipeline; the lock is held."""
        self._retained[topic] = payload
        self._deleted.discard(topic)
        if self._connected:
            self._send(topic, payload, self.config.qos, retain=self.config.retain)

    def add_pipeline(self, info: PipelineInfo) -> None:
        with self._lock:
            self._pipelines[info.name] = info
            if self.homeassistant is not None:
                self.homeassistant.add_pipeline(info)

    def remove_pipeline(self, name: str) -> None:
        prefix = f"{self.base}/{name}/"
        with self._lock:
            self._pipelines.pop(name, None)
            if self.homeassistant is not None:
                self.homeassistant.remove_pipeline(name)
            for topic in [t for t in self._retained if t.startswith(prefix)]:
                self._delete(topic)

    def result(self, observation: Observation) -> None:
        topic = f"{self.base}/{observation.pipeline}/result"
        content = observation.to_dict()
        payload = json.dumps(content, allow_nan=False)  # the pipeline let no NaN through
        qos = self.config.qos
        with self._lock:
            if self.homeassistant is not None:
                self.homeassistant.result(observation, content)
            if self._connected:
                self._send(topic, payload, qos)
            elif qos > 0 and self.config.queue_size > 0:
                if len(self._pending) == self._pending.maxlen:
                    self.dropped += 1  # the deque drops the oldest
                self._pending.append((topic, payload, qos))
            else:
                self.dropped += 1

    def state(self, pipeline: str, changes: Sequence[StateChange]) -> None:
        if self.homeassistant is not None:
            with self._lock:
                self.homeassistant.state(pipeline, list(changes))
        for change in changes:
            topic = f"{self.base}/{pipeline}/{change.key}"
            if not change.retain:
                with self._lock:
                    if self._connected:  # events are not queued: a stale one is worth little and may weigh a lot
                        self._send(topic, change.payload or b"", 0)
            elif change.payload is None:
                with self._lock:
                    self._delete(topic)
            else:
                self._retain(topic, change.payload)

    def source_state(self, pipeline: str, state: SourceState) -> None:
        self._retain(f"{self.base}/{pipeline}/source", state.value)

    def stats(self, payload: dict) -> None:
        payload = {**payload, "mqtt": self.health()}
        with self._lock:
            if self.homeassistant is not None:
                self.homeassistant.stats(payload)
            if self._connected:
                self._send(f"{self.base}/stats", json.dumps(payload, allow_nan=False), 0)

    def error(self, message: str, detail: dict | None = None) -> None:
        payload = json.dumps({"error": message, **(detail or {}), "timestamp": time.time()}, allow_nan=False)
        with self._lock:
            if self._connected:
                self._send(f"{self.base}/error", payload, 1)

    # -- commands -------------------------------------------------------------------------------
    def _handle_message(self, client, userdata, message) -> None:
        """Runs in paho's network thread: validate, hand over, never raise."""
        topic = message.topic
        if self.homeassistant is not None and self.homeassistant.message(topic, bytes(message.payload),
                                                                         bool(message.retain)):
            return
        self.commands.receive(topic, bytes(message.payload), bool(message.retain))

    def ready(self) -> None:
        """Every pipeline is registered: hand over the commands that came before, and let Home
        Assistant's configs from earlier runs that are not announced now be deleted."""
        self.commands.ready()
        if self.homeassistant is not None:
            self.homeassistant.ready()

    # -- shutdown -------------------------------------------------------------------------------
    def close(self, timeout_s: float = 1.0) -> None:
        """Send what is queued and ``offline`` (retained), then disconnect, all within ``timeout_s``.

        paho's ``loop_stop`` waits for its network thread without a limit, and that thread may be
        stuck connecting to a broker that does not answer (paho's connect timeout is 5 s): it is
        stopped from a helper thread that is given only what is left of ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        self._closing = True
        if self.link.problem is not None:  # the exit summary: what was not delivered, and why
            log.warning("MQTT: %s at exit, with %d result(s) held that were not delivered (%d dropped in all). "
                        "Why: %s", "never connected" if self.connects == 0 else "disconnected", len(self._pending),
                        self.dropped, self.link.problem)
        with self._lock:
            connected = self._connected
            info = self._send(f"{self.base}/status", "offline", 1, retain=True) if connected else None
        if info is not None:
            remaining = deadline - time.monotonic()
            try:
                info.wait_for_publish(max(remaining, 0.05))
            except (RuntimeError, ValueError):
                pass  # not delivered in time: the broker sends the will instead of our offline
        if self._protocol == self._mqtt.MQTTv5:
            # MQTT 5 lets us ask the broker to send the will ("offline") even on a clean disconnect,
            # so subscribers see offline whether or not our own publish made it in time.
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.reasoncodes import ReasonCode

            self._client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, "Disconnect with will message"))
        else:
            self._client.disconnect()
        stopper = threading.Thread(target=self._client.loop_stop, name="edgetm-mqtt-stop", daemon=True)
        stopper.start()
        stopper.join(max(0.0, deadline - time.monotonic()))
        if stopper.is_alive():
            log.warning("MQTT network thread did not stop within %.1f s; leaving it behind", timeout_s)


