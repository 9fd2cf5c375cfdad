"""Sinks: where results and state go. A new sink is one file (its ``Sink`` and options with a
literal ``type`` and an ``open`` method) and one ``SINKS.register`` line here."""

from __future__ import annotations

from edgetm.plugins import Registry
from edgetm.publish.base import PipelineInfo, Sink, SinkContext, SinkOptions
from edgetm.publish.fanout import Sinks
from edgetm.publish.mqtt import MqttOptions
from edgetm.publish.stdout import JsonlOptions, StdoutOptions

SINKS: Registry[type[SinkOptions]] = Registry("sink")
for _options in (MqttOptions, StdoutOptions, JsonlOptions):
    SINKS.register(_options)

__all__ = ["SINKS", "PipelineInfo", "Sink", "SinkContext", "SinkOptions", "Sinks"]
