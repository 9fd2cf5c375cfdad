"""The Home Assistant components (entities) of one pipeline, and of the device itself, as the
mappings a device-based discovery message carries under ``components``.

Entity ids: Home Assistant takes ``default_entity_id`` (``sensor.<id>``) only as the id a new entity
is given; ``unique_id`` is what ties a config to the entity it made, so both stay what they were
for the same pipeline and label (history and automations keep working across restarts).
"""

from __future__ import annotations

import re

from edgetm.events import PAUSED_KEY, Entity, EntityKind
from edgetm.records import Record

# An enum sensor lists every option in Home Assistant's UI (history, automation editor); past a
# hundred labels (ImageNet's 1,000) that list is no help, so such a label is a plain text sensor.
MAX_ENUM_OPTIONS = 100
# Longest id kept readable; longer ones are cut and end in a hash of the whole, so two stay two.
MAX_ID_LENGTH = 120
# Stats that have not come for this many stats intervals are stale: the diagnostic sensors expire.
STATS_MISSED = 3
ATTRIBUTES_KEY = "attributes"
# Characters that old releases turned into "_" in ids; anything else would make an invalid entity id.
_PLAIN = re.compile(r"^[A-Za-z0-9_ .\-/]*$")


def object_id(*parts: str) -> str:
    """An id of ``[a-z0-9_]`` from names and labels. Labels with other characters (accents, emoji,
    brackets) get a hash of the original, so that two such labels never share an id."""
    text = "_".join(parts)
    clean = re.sub(r"[^a-z0-9_]+", "_", text.lower())
    import hashlib

    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    if not _PLAIN.match(text):
        clean = f"{clean}_{digest}"
    if len(clean) > MAX_ID_LENGTH:
        clean = f"{clean[:MAX_ID_LENGTH - 9]}_{digest}"
    return clean


class Topics(Record):
    """Where one pipeline's state lives (``base = {prefix}/{device}``)."""

    base: str
    pipeline: str

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    @property
    def stats(self) -> str:
        return f"{self.base}/stats"

    def of(self, key: str) -> str:
        return f"{self.base}/{self.pipeline}/{key}"


def device_available(topics: Topics) -> list[dict]:
    return [{"topic": topics.status, "payload_available": "online", "payload_not_available": "offline"}]


def source_available(topics: Topics) -> list[dict]:
    """The device is online AND the pipeline's source is: a camera that is offline or stale (or a
    silent microphone) makes its entities unavailable instead of showing a frozen value."""
    return [*device_available(topics),
            {"topic": topics.of("source"), "value_template": "{{ 'online' if value == 'online' else 'offline' }}",
             "payload_available": "online", "payload_not_available": "offline"}]


def unique_options(options: tuple[str, ...]) -> list[str]:
    """Options as Home Assistant needs them, each once (labels are made unique when a model loads;
    this keeps a repeated ``none`` label from breaking the sensor)."""
    return list(dict.fromkeys(options))


def _entity(entity: Entity, topics: Topics, device: str) -> tuple[str, dict]:
    uid = object_id("edgetm", device, topics.pipeline, *([entity.suffix] if entity.suffix else []))
    name = f"{topics.pipeline} {entity.suffix}" if entity.suffix else topics.pipeline
    config: dict = {"platform": "sensor", "unique_id": uid, "default_entity_id": f"sensor.{uid}", "name": name,
                    "state_topic": topics.of(entity.key), "availability": source_available(topics),
                    "availability_mode": "all"}
    if entity.kind is EntityKind.LABEL:
        config.update({"json_attributes_topic": topics.of(ATTRIBUTES_KEY), "icon": entity.icon or "mdi:eye"})
        options = unique_options(entity.options)
        if options and len(options) <= MAX_ENUM_OPTIONS:
            config.update({"device_class": "enum", "options": options})
    else:
        config.update({"state_class": "measurement", "icon": entity.icon or "mdi:counter"})
    return uid, config


def _paused(topics: Topics, device: str) -> tuple[str, dict]:
    """A switch whose commands go the way every command does (``set``, validated there) and whose
    state is the pipeline's own retained ``paused``: what the pipeline does, not what was asked."""
    uid = object_id("edgetm", device, topics.pipeline) + "__paused"
    return uid, {"platform": "switch", "unique_id": uid, "default_entity_id": f"switch.{uid}",
                 "name": f"{topics.pipeline} paused", "command_topic": topics.of("set"),
                 "payload_on": '{"paused": true}', "payload_off": '{"paused": false}',
                 "state_topic": topics.of(PAUSED_KEY), "state_on": "true", "state_off": "false",
                 "entity_category": "config", "icon": "mdi:pause", "availability": device_available(topics)}


def _diagnostic(uid: str, name: str, topics: Topics, template: str, expire_after_s: int, **extra) -> tuple[str, dict]:
    return uid, {"platform": "sensor", "unique_id": uid, "default_entity_id": f"sensor.{uid}", "name": name,
                 "state_topic": topics.stats, "value_template": template, "entity_category": "diagnostic",
                 "expire_after": expire_after_s, "availability": device_available(topics), **extra}


def expire_after(stats_interval_s: float) -> int:
    return max(1, round(stats_interval_s * STATS_MISSED))


def pipeline_components(entities: tuple[Entity, ...], topics: Topics, device: str,
                        stats_interval_s: float | None) -> dict[str, dict]:
    """Component id -> config: the task's entities, the ``paused`` switch and (when stats are
    published) the pipeline's frame rate and dropped frames."""
    components = dict(_entity(entity, topics, device) for entity in entities)
    components.update([_paused(topics, device)])
    if stats_interval_s is not None:
        uid = object_id("edgetm", device, topics.pipeline)
        path = f"value_json.pipelines['{topics.pipeline}']"
        expiry = expire_after(stats_interval_s)
        components.update([
            _diagnostic(f"{uid}__fps", f"{topics.pipeline} fps", topics, f"{{{{ {path}.fps }}}}", expiry,
                        unit_of_measurement="fps", state_class="measurement", icon="mdi:speedometer"),
            _diagnostic(f"{uid}__dropped_frames", f"{topics.pipeline} dropped frames", topics,
                        f"{{{{ {path}.dropped_frames }}}}", expiry, state_class="total_increasing",
                        icon="mdi:image-off"),
        ])
    return components


def device_components(stats: dict, topics: Topics, device: str, stats_interval_s: float) -> dict[str, dict]:
    """The device's own diagnostics, from what its stats carry: CPU, and the temperature where the
    machine lets it be read (no sensor is announced for a value that never comes)."""
    uid = object_id("edgetm", device)
    expiry = expire_after(stats_interval_s)
    components = dict([_diagnostic(f"{uid}__cpu", "CPU", topics, "{{ value_json.cpu_percent }}", expiry,
                                   unit_of_measurement="%", state_class="measurement", icon="mdi:cpu-64-bit")])
    if stats.get("temperature_c") is not None:
        components.update([_diagnostic(f"{uid}__temperature", "Temperature", topics,
                                       "{{ value_json.temperature_c }}", expiry, device_class="temperature",
                                       unit_of_measurement="°C", state_class="measurement")])
    return components
