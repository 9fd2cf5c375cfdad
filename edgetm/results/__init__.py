"""Result types. Each ``to_dict`` defines the JSON / MQTT payload in one place.

The types live in a module per kind of task (``labels``, ``boxes``, ``sound``, ``poses``) and are
imported from here on first use: classifying a photo does not wait for the pose types to be made.
"""

from __future__ import annotations

import importlib
import json
import math
from typing import TYPE_CHECKING

from edgetm.errors import ModelError

if TYPE_CHECKING:
    from edgetm.results.boxes import Detection, Detections
    from edgetm.results.labels import Classification, Prediction
    from edgetm.results.poses import Keypoint, Person, Poses
    from edgetm.results.sound import SoundResult

_TYPES = {"Prediction": "labels", "Classification": "labels", "Detection": "boxes", "Detections": "boxes",
          "SoundResult": "sound", "Keypoint": "poses", "Person": "poses", "Poses": "poses"}

__all__ = ["Classification", "Detection", "Detections", "Keypoint", "Person", "Poses", "Prediction", "SoundResult",
           "check_finite", "non_finite", "round_ms", "to_json"]


def __getattr__(name: str):
    if name in _TYPES:
        return getattr(importlib.import_module(f"edgetm.results.{_TYPES[name]}"), name)
    raise AttributeError(f"module 'edgetm.results' has no attribute {name!r}")


def non_finite(payload: object) -> str | None:
    """The key path of the first number in a payload that JSON cannot carry (NaN or infinity:
    ``json.dumps`` would write them as ``NaN``, which standard parsers refuse), or None."""
    if isinstance(payload, float):
        return None if math.isfinite(payload) else ""
    if isinstance(payload, dict):
        items = payload.items()
    elif isinstance(payload, list | tuple):
        items = enumerate(payload)
    else:
        return None
    for key, value in items:
        found = non_finite(value)
        if found is not None:
            return f"{key}.{found}" if found else str(key)
    return None


def check_finite(payload: dict, what: str) -> None:
    """A ``ModelError`` naming where ``payload`` holds NaN or infinity, which no JSON may carry."""
    where = non_finite(payload)
    if where is not None:
        raise ModelError(f"{what} gave a number that is not finite ({where}), so nothing is published for it",
                         "a broken or wrongly converted model, or an input it was not made for")


def to_json(payload: dict, what: str, **options) -> str:
    """``payload`` as standard JSON; NaN or infinity in it is a ``ModelError`` saying where."""
    try:
        return json.dumps(payload, allow_nan=False, **options)
    except ValueError:
        check_finite(payload, what)
        raise


def round_ms(latency_ms: dict[str, float]) -> dict[str, float]:
    """Stage timings as published: to the microsecond."""
    return {stage: round(value, 3) for stage, value in latency_ms.items()}
