"""Sinks: where results and state go. A new sink is one file (its ``Sink`` and options with a
literal ``type`` and an ``open`` method) and one ``SINKS.register_at`` line here; each is imported
when a configuration names it."""

from __future__ import annotations

from edgetm.plugins import Registry
from edgetm.publish.base import PipelineInfo, Sink, SinkContext, SinkOptions
from edgetm.publish.fanout import Sinks

SINKS: Registry[type[SinkOptions]] = Registry("sink")
SINKS.register_at("mqtt", "edgetm.publish.mqtt:MqttOptions")
SINKS.register_at("stdout", "edgetm.publish.stdout:StdoutOptions")
SINKS.register_at("jsonl", "edgetm.publish.stdout:JsonlOptions")

__all__ = ["SINKS", "PipelineInfo", "Sink", "SinkContext", "SinkOptions", "Sinks"]
