"""Home Assistant configs an earlier run left behind: a pipeline since renamed or removed, a changed
``device_id``, a component a new configuration no longer has, or the one-config-per-sensor
messages of earlier edgetm releases. Retained configs outlive the process that sent them, so each
would stay in Home Assistant as an entity that never updates.

On its first connection edgetm reads the retained discovery configs for ``SWEEP_WINDOW_S`` (the
broker sends retained messages right after it grants the subscription), keeping only topics named
like its own, at most ``MAX_CANDIDATES`` of at most ``MAX_CONFIG_BYTES`` each (more is counted and
said, never read). Its own are the configs whose ``origin`` is edgetm and whose device's serial
number is this installation's id (a hash of the machine's id). Once every pipeline is registered,
it deletes (an empty retained config) those it does not announce now, except those of another
device_id on this machine whose status is ``online``: a second edgetm running here, whose configs
are its own business.
"""

from __future__ import annotations

import json
import logging
import threading

from edgetm.records import Record, field

log = logging.getLogger("edgetm.publish.mqtt")

SWEEP_WINDOW_S = 2.0
MAX_CONFIG_BYTES = 256 * 1024
MAX_CANDIDATES = 1000


class Verdict(Record, frozen=False):
    """What to do with the configs found: delete whole topics, remove components from the topics
    still announced, and whether old-style configs were among the deleted (announce again then:
    Home Assistant ignores a config whose unique_id an older config still holds)."""

    delete: list[str] = field(default_factory=list)
    stale_components: dict[str, dict[str, str]] = field(default_factory=dict)
    legacy: bool = False
    kept: list[str] = field(default_factory=list)  # configs of another edgetm on this machine that runs


class Sweep:
    def __init__(self, ha_prefix: str, mqtt_prefix: str, device: str, installation: str) -> None:
        self.ha_prefix = ha_prefix
        self.mqtt_prefix = mqtt_prefix
        self.device = device
        self.installation = installation
        self._lock = threading.Lock()
        self._configs: dict[str, dict] = {}
        self._statuses: dict[str, bytes] = {}
        self.too_large = 0
        self.too_many = 0
        self.unreadable = 0
        self.collecting = True

    def subscriptions(self) -> list[str]:
        return [f"{self.ha_prefix}/device/+/config", f"{self.ha_prefix}/sensor/+/config",
                f"{self.mqtt_prefix}/+/status"]

    def _ours(self, topic: str) -> str | None:
        """``device`` or ``legacy`` for a topic named like one of edgetm's configs, else None."""
        for kind, platform in (("device", "device"), ("legacy", "sensor")):
            start = f"{self.ha_prefix}/{platform}/edgetm_"
            if topic.startswith(start) and topic.endswith("/config") and topic.count("/") == start.count("/") + 1:
                return kind
        return None

    def offer(self, topic: str, payload: bytes, retained: bool) -> bool:
        """Called in paho's network thread with each message; True when its topic is one the sweep
        subscribed to (kept while collecting, dropped after)."""
        if topic.startswith(f"{self.mqtt_prefix}/") and topic.endswith("/status") and topic.count("/") == \
                self.mqtt_prefix.count("/") + 2:
            with self._lock:
                if self.collecting and len(self._statuses) < MAX_CANDIDATES:
                    self._statuses[topic] = payload[:16]
            return True
        kind = self._ours(topic)
        if kind is None:
            return topic.startswith(f"{self.ha_prefix}/") and topic.endswith("/config")
        if not retained or not payload:  # our own configs of this run come back live, not retained
            return True
        with self._lock:
            if not self.collecting:
                pass
            elif len(payload) > MAX_CONFIG_BYTES:
                self.too_large += 1
            elif len(self._configs) >= MAX_CANDIDATES:
                self.too_many += 1
            else:
                try:
                    config = json.loads(payload)
                except (UnicodeDecodeError, ValueError, RecursionError):
                    self.unreadable += 1
                    return True
                if isinstance(config, dict):
                    config["__kind"] = kind
                    self._configs[topic] = config
        return True

    def _mine(self, config: dict) -> tuple[bool, bool]:
        """(ours, same device) for a parsed config."""
        device = config.get("device") if isinstance(config.get("device"), dict) else {}
        same = device.get("identifiers") == [f"edgetm_{self.device}"]
        if config["__kind"] == "legacy":  # carried no installation id: only this device's own are known ours
            return same and device.get("manufacturer") == "edgetm" and "origin" not in config, same
        origin = config.get("origin") if isinstance(config.get("origin"), dict) else {}
        return origin.get("name") == "edgetm" and device.get("serial_number") == self.installation, same

    @staticmethod
    def _status_topic(config: dict) -> str | None:
        for component in (config.get("components") or {}).values():
            for entry in (component.get("availability") or []) if isinstance(component, dict) else []:
                if isinstance(entry, dict) and str(entry.get("topic", "")).endswith("/status"):
                    return str(entry["topic"])
        return None

    def finish(self, expected: dict[str, dict[str, str] | None]) -> Verdict:
        """Decide, once every pipeline is registered. ``expected``: each topic announced now, with its
        components (None: not known yet, such as the device's diagnostics before the first stats)."""
        with self._lock:
            self.collecting = False
            configs, statuses = dict(self._configs), dict(self._statuses)
        verdict = Verdict()
        for topic, config in configs.items():
            ours, same = self._mine(config)
            if not ours:
                continue
            if topic in expected:
                now = expected[topic]
                old = {cid: c.get("platform", "sensor") for cid, c in (config.get("components") or {}).items()
                       if isinstance(c, dict)}
                gone = {cid: platform for cid, platform in old.items() if now is not None and cid not in now}
                if gone:
                    verdict.stale_components[topic] = gone
                continue
            if not same and statuses.get(self._status_topic(config) or "") == b"online":
                verdict.kept.append(topic)
                continue
            verdict.delete.append(topic)
            verdict.legacy = verdict.legacy or config["__kind"] == "legacy"
        self._say(verdict)
        return verdict

    def _say(self, verdict: Verdict) -> None:
        if verdict.delete:
            log.info("Home Assistant: deleted %d config(s) an earlier run left (a renamed or removed pipeline, "
                     "another device_id): %s", len(verdict.delete), ", ".join(sorted(verdict.delete)))
        if verdict.kept:
            log.info("Home Assistant: left %d config(s) of another edgetm running on this machine: %s",
                     len(verdict.kept), ", ".join(sorted(verdict.kept)))
        skipped = {f"larger than {MAX_CONFIG_BYTES} bytes": self.too_large,
                   f"beyond the first {MAX_CANDIDATES}": self.too_many, "not JSON": self.unreadable}
        said = ", ".join(f"{n} {why}" for why, n in skipped.items() if n)
        if said:
            log.warning("Home Assistant: some retained configs named like edgetm's were not checked (%s); "
                        "stale ones among them stay until deleted by hand", said)
