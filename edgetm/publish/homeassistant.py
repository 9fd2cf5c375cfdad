"""Home Assistant MQTT discovery, derived from the entities each pipeline's task declares: a
label becomes an enum sensor (its result as attributes), a count a measurement.

Home Assistant reads retained configs under ``homeassistant/sensor/<object>/config`` and, when it
restarts, announces ``online`` on ``homeassistant/status``; edgetm then sends them again. An empty
retained config deletes an entity.
"""

from __future__ import annotations

import json

from pydantic import Field

from edgetm import __version__
from edgetm.errors import PREFIX_PATTERN
from edgetm.events import Entity, EntityKind
from edgetm.plugins import Options
from edgetm.publish.base import PipelineInfo


class HomeAssistantOptions(Options):
    enabled: bool = Field(False, description="announce each pipeline's state as Home Assistant sensors")
    prefix: str = Field("homeassistant", pattern=PREFIX_PATTERN, max_length=100,
                        description="discovery prefix")


def status_topic(options: HomeAssistantOptions) -> str:
    return f"{options.prefix}/status"


def _object_id(*parts: str) -> str:
    return "_".join(parts).replace("-", "_").replace(".", "_").replace(" ", "_").replace("/", "_").lower()


def _ids(device: str, pipeline: str, entity: Entity) -> str:
    return _object_id("edgetm", device, pipeline, *([entity.suffix] if entity.suffix else []))


def config_topic(options: HomeAssistantOptions, device: str, pipeline: str, entity: Entity) -> str:
    return f"{options.prefix}/sensor/{_ids(device, pipeline, entity)}/config"


def discovery(options: HomeAssistantOptions, base: str, device: str, info: PipelineInfo) -> list[tuple[str, str]]:
    """(topic, retained payload) pairs announcing a pipeline's entities."""
    common = {
        "availability_topic": f"{base}/status",
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": {
            "identifiers": [f"edgetm_{device}"],
            "name": f"edgetm {device}",
            "manufacturer": "edgetm",
            "model": info.model,
            "sw_version": __version__,
        },
    }
    announcements = []
    for entity in info.entities:
        object_id = _ids(device, info.name, entity)
        payload: dict = {
            "name": f"{info.name} {entity.suffix}" if entity.suffix else info.name,
            "unique_id": object_id,
            "object_id": object_id,
            "state_topic": f"{base}/{info.name}/{entity.key}",
        }
        if entity.kind is EntityKind.LABEL:
            payload.update({
                "json_attributes_topic": f"{base}/{info.name}/result",
                "json_attributes_template": "{{ {'score': value_json.score, 'top': value_json.top} | tojson }}",
                "icon": entity.icon or "mdi:eye",
            })
            if entity.options:
                payload.update({"device_class": "enum", "options": list(entity.options)})
        else:
            payload.update({"state_class": "measurement", "icon": entity.icon or "mdi:counter"})
        payload.update(common)
        announcements.append((config_topic(options, device, info.name, entity), json.dumps(payload, allow_nan=False)))
    return announcements
