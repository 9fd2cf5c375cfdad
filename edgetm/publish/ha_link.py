"""Home Assistant on the MQTT sink's connection: when discovery messages are sent, the retained
attributes of label sensors, Home Assistant's birth messages, and the sweep of stale configs.

Everything here runs under the sink's lock (``lock``) except ``message``, which paho's network
thread calls, and the timers, which take the lock themselves.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping

from edgetm.events import EntityKind, Observation, StateChange
from edgetm.publish import homeassistant as ha
from edgetm.publish.base import PipelineInfo
from edgetm.publish.ha_components import ATTRIBUTES_KEY
from edgetm.publish.ha_sweep import SWEEP_WINDOW_S, Sweep
from edgetm.publish.mqtt_link import installation_id

# Home Assistant's birth message asks for every discovery config again; a flood of them must not become one.
BIRTH_INTERVAL_S = 10.0
# What of a result a label sensor shows as its attributes.
ATTRIBUTE_KEYS = ("score", "top")


class HomeAssistantLink:
    def __init__(self, options: ha.HomeAssistantOptions, base: str, mqtt_prefix: str, device: str,
                 stats_interval_s: float | None, pipelines: Mapping[str, PipelineInfo], lock: threading.Lock,
                 publish: Callable[[str, str | bytes], None], keep: Callable[[str, str | bytes], None],
                 delete: Callable[[str], None], unsubscribe: Callable[[list[str]], None]) -> None:
        """``publish`` sends a retained message if connected (discovery, made again on each connect);
        ``keep`` retains pipeline state (sent again on each connect, deleted with the pipeline);
        ``delete`` empties a retained topic now or on the next connection; all with ``lock`` held."""
        self.options = options
        self.base = base
        self.announcer = ha.Announcer(options, base, device, installation_id(), stats_interval_s)
        self.sweep = Sweep(options.prefix, mqtt_prefix, device, installation_id())
        self._pipelines = pipelines
        self._lock = lock
        self._publish = publish
        self._keep = keep
        self._delete = delete
        self._unsubscribe = unsubscribe
        self._sweep_started = self._window_over = self._ready = self._swept = False
        self._attributes_at: dict[str, float] = {}  # pipeline -> when its attributes were last sent
        self._label_changed: set[str] = set()
        self._sent_with: dict[str, StateChange] = {}  # pipeline -> the label change its attributes went with
        self._last_birth = -BIRTH_INTERVAL_S
        self._birth_timer: threading.Timer | None = None

    def subscriptions(self) -> list[tuple[str, int]]:
        subscriptions = [(ha.status_topic(self.options), 1)]
        if not self._sweep_started:
            subscriptions += [(topic, 1) for topic in self.sweep.subscriptions()]
        return subscriptions

    # -- announcing (the lock is held) ----------------------------------------------------------------
    def announce(self, only: str | None = None) -> None:
        pipelines = [info for name, info in self._pipelines.items() if only is None or name == only]
        for topic, payload in self.announcer.messages(pipelines, device=only is None):
            self._publish(topic, payload)

    def connected(self) -> None:
        """Just connected (after the subscriptions): announce everything; the first time, sweep too."""
        self.announce()
        if not self._sweep_started:
            self._sweep_started = True
            timer = threading.Timer(SWEEP_WINDOW_S, self._window_ended)
            timer.daemon = True
            timer.start()

    def add_pipeline(self, info: PipelineInfo) -> None:
        self.announce(only=info.name)

    def remove_pipeline(self, name: str) -> None:
        topic = ha.pipeline_topic(self.options, self.announcer.device, name)
        self.announcer.forget(topic)
        self._delete(topic)
        self._attributes_at.pop(name, None)
        self._sent_with.pop(name, None)

    def stats(self, payload: dict) -> None:
        if self.announcer.stats(payload):
            topic = ha.device_topic(self.options, self.announcer.device)
            self._publish(topic, self.announcer.payload(topic, self.announcer.device_components))

    # -- attributes (the lock is held) ----------------------------------------------------------------
    def state(self, pipeline: str, changes: list[StateChange]) -> None:
        """A label change whose result was not published (``max_rate_hz``) sends the attributes
        with the next result; one whose result was, sent them with it already."""
        if any(change.key == "label" and change is not self._sent_with.get(pipeline) for change in changes):
            self._label_changed.add(pipeline)

    def result(self, observation: Observation, payload: dict) -> None:
        """A label sensor's attributes, retained: with the result that changes the label (so the
        new state never shows the old top), else at most every ``attributes_interval_s`` (Home
        Assistant records every attribute update)."""
        name = observation.pipeline
        info = self._pipelines.get(name)
        if info is None or not any(e.kind is EntityKind.LABEL for e in info.entities):
            return
        now = time.monotonic()
        due = now - self._attributes_at.get(name, -float("inf")) >= self.options.attributes_interval_s
        change = next((c for c in observation.changes if c.key == "label"), None)
        if change is not None:
            self._sent_with[name] = change
        if name not in self._label_changed and change is None and not due:
            return
        attributes = {key: payload[key] for key in ATTRIBUTE_KEYS if key in payload}
        if attributes:
            self._label_changed.discard(name)
            self._attributes_at[name] = now
            self._keep(f"{self.base}/{name}/{ATTRIBUTES_KEY}", json.dumps(attributes, allow_nan=False))

    # -- messages (paho's network thread) -------------------------------------------------------------
    def message(self, topic: str, payload: bytes, retained: bool) -> bool:
        """True when the message was Home Assistant's (its birth) or the sweep's."""
        if topic == ha.status_topic(self.options):
            if payload == b"online":
                self._birth()
            return True
        return self.sweep.offer(topic, payload, retained)

    def _birth(self) -> None:
        """Home Assistant came (back) online: announce everything again, at most once per
        ``BIRTH_INTERVAL_S``; a birth within that interval is answered when it ends."""
        with self._lock:
            now = time.monotonic()
            wait = self._last_birth + BIRTH_INTERVAL_S - now
            if wait <= 0:
                self._last_birth = now
                self.announce()
            elif self._birth_timer is None:
                self._birth_timer = threading.Timer(wait, self._birth_due)
                self._birth_timer.daemon = True
                self._birth_timer.start()

    def _birth_due(self) -> None:
        with self._lock:
            self._birth_timer = None
        self._birth()

    # -- the sweep ------------------------------------------------------------------------------------
    def _window_ended(self) -> None:
        self._unsubscribe(self.sweep.subscriptions())
        with self._lock:
            self._window_over = True
            self._finish_sweep()

    def ready(self) -> None:
        """Every pipeline is registered: what is not announced now is stale."""
        with self._lock:
            self._ready = True
            self._finish_sweep()

    def _finish_sweep(self) -> None:
        if not (self._window_over and self._ready) or self._swept:
            return
        self._swept = True
        expected: dict[str, dict[str, str] | None] = dict(self.announcer.announced)
        for info in self._pipelines.values():  # added while disconnected: announced on the next connection
            expected.setdefault(ha.pipeline_topic(self.options, self.announcer.device, info.name), None)
        if self.announcer.stats_interval_s is not None:
            expected.setdefault(ha.device_topic(self.options, self.announcer.device), None)
        verdict = self.sweep.finish(expected)
        for topic in verdict.delete:
            self._delete(topic)
        for topic, components in verdict.stale_components.items():
            self.announcer.remove_later(topic, components)
        if verdict.legacy or verdict.stale_components:
            self.announce()
