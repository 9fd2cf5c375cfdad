"""Control messages that arrive over MQTT (``set``, ``reload``), validated strictly before anything
changes."""

from __future__ import annotations

import json

from edgetm.config import MIN_RATE_HZ
from edgetm.errors import ConfigError, from_validation
from edgetm.options import Field, Options, ValidationError, model_validator

MAX_PATH_LENGTH = 4096  # PATH_MAX on Linux


class SetCommand(Options, strict=True):
    """``{prefix}/{device}/{pipeline}/set``: any of these keys, nothing else, each of its own type."""

    threshold: float | None = Field(None, ge=0.0, le=1.0, description="the score a result must reach to count (a "
                                     "label's smoothing threshold, a detector's confidence)")
    paused: bool | None = Field(None, description="stop inferring (the source keeps running)")
    max_rate_hz: float | None = Field(None, ge=MIN_RATE_HZ, le=1000.0, description="most results published per "
                                      "second")
    model: str | None = Field(None, min_length=1, max_length=MAX_PATH_LENGTH, pattern=r"^[^\x00-\x1f]+$",
                              description="a model file or folder on the device to swap in (relative paths are "
                              "taken from the configuration file's folder)")

    @model_validator(mode="after")
    def _not_empty(self) -> SetCommand:
        if all(getattr(self, name) is None for name in type(self).model_fields):
            raise ValueError(f"give at least one of {', '.join(type(self).model_fields)}")
        return self


def _json(payload: bytes) -> object:
    try:
        return json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ConfigError("command is not valid JSON") from None


def parse_set(payload: bytes) -> SetCommand:
    data = _json(payload)
    if not isinstance(data, dict):
        raise ConfigError("command must be a JSON object like {\"threshold\": 0.7}")
    for name in ("threshold", "max_rate_hz"):
        value = data.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            # 1 means 1.0 (strict mode would refuse it); an integer too large for a float is clamped,
            # to be refused as out of range by name.
            data[name] = float(min(max(value, -(2**1023)), 2**1023))
    try:
        return SetCommand.model_validate(data)
    except ValidationError as error:
        raise from_validation(error, "set command") from None


def parse_reload(payload: bytes) -> None:
    """``{prefix}/{device}/reload`` takes an empty payload or ``{}``."""
    if payload.strip() and _json(payload) != {}:
        raise ConfigError("reload takes an empty payload or {}")
