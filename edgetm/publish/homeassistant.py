"""Home Assistant MQTT discovery, device-based, as Home Assistant's MQTT documentation describes it.

Each pipeline is one retained message on ``{prefix}/device/edgetm_{device}_{pipeline}/config``,
and the device's own diagnostics (CPU, temperature) one on ``{prefix}/device/edgetm_{device}/config``.
Every message carries the same ``device`` block (the edgetm device: two pipelines never disagree on
it), an ``origin`` block naming edgetm, and its entities under ``components`` (ha_components.py):

- a label: an enum sensor whose options are the labels (a text sensor past ``MAX_ENUM_OPTIONS``);
  its attributes (score, top) come from the retained ``base/<pipeline>/attributes``, sent when the
  label changes and otherwise at most every ``attributes_interval_s``, so that Home Assistant does
  not record every frame; ``result`` stays what it is for everyone else;
- a count: a measurement; a detector without ``classes`` announces its total;
- ``paused``: a switch (commands through ``base/<pipeline>/set``, state from ``base/<pipeline>/paused``);
- diagnostics (with stats): fps and dropped frames per pipeline, CPU and temperature per device,
  expiring after ``STATS_MISSED`` stats intervals without stats.

A pipeline's entities are available while the device is online and its source is. A component a
model swap dropped is sent once as ``{"platform": ...}`` alone, which removes it; a whole message
that is gone is emptied (retained). Configs left by an earlier run under another pipeline name or
device_id are found and deleted on connect (ha_sweep.py). Home Assistant announces ``online`` on
``homeassistant/status`` when it starts; edgetm then sends every message again.
"""

from __future__ import annotations

import json
import logging

from edgetm import __version__
from edgetm.errors import PREFIX_PATTERN
from edgetm.options import Field
from edgetm.plugins import Options
from edgetm.publish.base import PipelineInfo
from edgetm.publish.ha_components import Topics, device_components, object_id, pipeline_components

log = logging.getLogger("edgetm.publish.mqtt")

ORIGIN = "edgetm"


class HomeAssistantOptions(Options):
    enabled: bool = Field(False, description="announce each pipeline's state as Home Assistant entities")
    prefix: str = Field("homeassistant", pattern=PREFIX_PATTERN, max_length=100,
                        description="discovery prefix")
    attributes_interval_s: float = Field(60.0, ge=1.0, le=86400.0, description="a label sensor's attributes "
                                         "(score, top) are sent when the label changes and at most this often "
                                         "otherwise")


def status_topic(options: HomeAssistantOptions) -> str:
    return f"{options.prefix}/status"


def device_topic(options: HomeAssistantOptions, device: str) -> str:
    return f"{options.prefix}/device/{object_id('edgetm', device)}/config"


def pipeline_topic(options: HomeAssistantOptions, device: str, pipeline: str) -> str:
    return f"{options.prefix}/device/{object_id('edgetm', device, pipeline)}/config"


def device_block(device: str, installation: str) -> dict:
    """The same for every message of one device. The installation's id (a hash of the machine's id)
    as serial number lets a later run tell its own configs from another machine's."""
    return {"identifiers": [f"edgetm_{device}"], "name": f"edgetm {device}", "manufacturer": "edgetm",
            "model": "edgetm", "sw_version": __version__, "serial_number": installation}


def origin_block() -> dict:
    return {"name": ORIGIN, "sw_version": __version__}


def message(device: str, installation: str, components: dict[str, dict]) -> str:
    return json.dumps({"device": device_block(device, installation), "origin": origin_block(),
                       "components": components}, allow_nan=False, ensure_ascii=False)


class Announcer:
    """What is announced, and what to send to announce it: remembers each topic's components so that
    one a swap dropped is removed, and says each entity's hint once."""

    def __init__(self, options: HomeAssistantOptions, base: str, device: str, installation: str,
                 stats_interval_s: float | None) -> None:
        self.options = options
        self.base = base
        self.device = device
        self.installation = installation
        self.stats_interval_s = stats_interval_s
        self.announced: dict[str, dict[str, str]] = {}  # topic -> component id -> platform
        self._removed: dict[str, dict[str, str]] = {}  # topic -> components to send as removed, once
        self._hinted: set[tuple[str, str]] = set()
        self._stats_keys: frozenset[str] | None = None
        self.device_components: dict[str, dict] = {}

    def _track(self, topic: str, components: dict[str, dict]) -> None:
        now = {cid: config["platform"] for cid, config in components.items()}
        gone = {cid: platform for cid, platform in self.announced.get(topic, {}).items() if cid not in now}
        if gone:
            self._removed.setdefault(topic, {}).update(gone)
        self.announced[topic] = now

    def forget(self, topic: str) -> None:
        self.announced.pop(topic, None)
        self._removed.pop(topic, None)

    def remove_later(self, topic: str, components: dict[str, str]) -> None:
        """Components a retained config from an earlier run holds that are not announced now."""
        self._removed.setdefault(topic, {}).update(components)

    def pipeline(self, info: PipelineInfo) -> tuple[str, dict[str, dict]]:
        topics = Topics(self.base, info.name)
        components = pipeline_components(info.entities, topics, self.device, self.stats_interval_s)
        for entity in info.entities:
            if entity.hint and (info.name, entity.key) not in self._hinted:
                self._hinted.add((info.name, entity.key))
                log.info("Home Assistant: pipeline %s: %s", info.name, entity.hint)
        topic = pipeline_topic(self.options, self.device, info.name)
        self._track(topic, components)
        return topic, components

    def stats(self, payload: dict) -> bool:
        """Take a stats payload; True when the device's diagnostics changed (announce again)."""
        if self.stats_interval_s is None:
            return False
        keys = frozenset(k for k in ("cpu_percent", "temperature_c") if payload.get(k) is not None)
        if keys == self._stats_keys:
            return False
        self._stats_keys = keys
        self.device_components = device_components(payload, Topics(self.base, ""), self.device,
                                                    self.stats_interval_s)
        self._track(device_topic(self.options, self.device), self.device_components)
        return True

    def payload(self, topic: str, components: dict[str, dict]) -> str:
        """The retained message for ``topic``: its components, and those to remove, once."""
        removed = self._removed.pop(topic, {})
        return message(self.device, self.installation,
                       {**{cid: {"platform": platform} for cid, platform in removed.items()}, **components})

    def messages(self, pipelines: list[PipelineInfo], device: bool = True) -> list[tuple[str, str]]:
        """(topic, retained payload) of each pipeline's message, and (``device``) the device's once stats came."""
        found = [self.pipeline(info) for info in pipelines]
        if device and self.device_components:
            found.append((device_topic(self.options, self.device), self.device_components))
        return [(topic, self.payload(topic, components)) for topic, components in found]
