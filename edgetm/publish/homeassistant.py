"""Home Assistant MQTT discovery: one sensor per pipeline, its state the smoothed label.

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


def discovery(config: HomeAssistantConfig, base: str, device: str, info: PipelineInfo) -> tuple[str, str]:
    """(topic, retained payload) announcing one pipeline's label sensor."""
    object_id = f"edgetm_{device}_{info.name}".replace("-", "_").replace(".", "_")
    payload = {
        "name": info.name,
        "unique_id": object_id,
        "object_id": object_id,
        "state_topic": f"{base}/{info.name}/label",
        "json_attributes_topic": f"{base}/{info.name}/result",
        "json_attributes_template": "{{ {'score': value_json.score, 'top': value_json.top} | tojson }}",
        "availability_topic": f"{base}/status",
        "payload_available": "online",
        "payload_not_available": "offline",
        "icon": "mdi:eye",
        "device": {
            "identifiers": [f"edgetm_{device}"],
            "name": f"edgetm {device}",
            "manufacturer": "edgetm",
            "model": info.model,
            "sw_version": __version__,
        },
    }
    if info.labels:
        payload["device_class"] = "enum"
        payload["options"] = [*info.labels, info.none_label]
    return f"{config.prefix}/sensor/{object_id}/config", json.dumps(payload)
