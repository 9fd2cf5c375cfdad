"""Home Assistant MQTT discovery: a sensor per classifier pipeline (its smoothed label) and per
counted class of a detector pipeline (its smoothed count).

Home Assistant reads retained configs under ``homeassistant/sensor/<object>/config`` and, when it
restarts, announces ``online`` on ``homeassistant/status``; edgetm then sends them again.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field

from edgetm import __version__
from edgetm.publish.base import PipelineInfo


class HomeAssistantConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(False, description="announce a sensor per pipeline to Home Assistant")
    prefix: str = Field("homeassistant", pattern=r"^[A-Za-z0-9_\-/]+$", description="discovery prefix")


def status_topic(config: HomeAssistantConfig) -> str:
    return f"{config.prefix}/status"


def _object_id(*parts: str) -> str:
    return "_".join(parts).replace("-", "_").replace(".", "_").replace(" ", "_").replace("/", "_").lower()


def discovery(config: HomeAssistantConfig, base: str, device: str, info: PipelineInfo) -> list[tuple[str, str]]:
    """(topic, retained payload) pairs announcing a pipeline's sensors: a classifier's label, or one
    object count per class a detector is told to count."""
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
    if info.detector:
        from edgetm.publish.mqtt import topic_part

        for label in info.counted:
            object_id = _object_id("edgetm", device, info.name, label)
            payload = {"name": f"{info.name} {label}", "unique_id": object_id, "object_id": object_id,
                       "state_topic": f"{base}/{info.name}/count/{topic_part(label)}", "state_class": "measurement",
                       "icon": "mdi:counter", **common}
            announcements.append((f"{config.prefix}/sensor/{object_id}/config", json.dumps(payload)))
        return announcements
    object_id = _object_id("edgetm", device, info.name)
    payload = {
        "name": info.name,
        "unique_id": object_id,
        "object_id": object_id,
        "state_topic": f"{base}/{info.name}/label",
        "json_attributes_topic": f"{base}/{info.name}/result",
        "json_attributes_template": "{{ {'score': value_json.score, 'top': value_json.top} | tojson }}",
        "icon": "mdi:eye",
        **common,
    }
    if info.labels:
        payload["device_class"] = "enum"
        payload["options"] = [*info.labels, info.none_label]
    announcements.append((f"{config.prefix}/sensor/{object_id}/config", json.dumps(payload)))
    return announcements
