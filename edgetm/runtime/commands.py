"""Commands that arrive over MQTT, validated strictly before anything changes."""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edgetm.errors import ConfigError, from_validation


class SetCommand(BaseModel):
    """``{prefix}/{device}/{pipeline}/set``: any of these keys, nothing else."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    threshold: float | None = Field(None, ge=0.0, le=1.0, description="classification threshold")
    paused: bool | None = Field(None, description="stop inferring (the source keeps running)")
    max_rate_hz: float | None = Field(None, gt=0.0, le=1000.0, description="most results published per second")

    @model_validator(mode="after")
    def _not_empty(self) -> SetCommand:
        if self.threshold is None and self.paused is None and self.max_rate_hz is None:
            raise ValueError("give at least one of threshold, paused, max_rate_hz")
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
    if isinstance(data.get("threshold"), int) and not isinstance(data.get("threshold"), bool):
        data["threshold"] = float(data["threshold"])  # 1 means 1.0; strict mode would refuse it
    if isinstance(data.get("max_rate_hz"), int) and not isinstance(data.get("max_rate_hz"), bool):
        data["max_rate_hz"] = float(data["max_rate_hz"])
    try:
        return SetCommand.model_validate(data)
    except ValidationError as error:
        raise from_validation(error, "set command") from None


def parse_reload(payload: bytes) -> None:
    """``{prefix}/{device}/reload`` takes an empty payload or ``{}``."""
    if payload.strip() and _json(payload) != {}:
        raise ConfigError("reload takes an empty payload or {}")
