"""Commands and other clients on a real mosquitto: retained commands, commands that arrive before the
pipelines exist, floods of bad commands and birth messages, and a second client with our id."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from edgetm.publish.base import PipelineInfo
from edgetm.publish.mqtt import MqttOptions, MqttSink
from tests.broker import Probe
from tests.runtime.service_helpers import looping_video, mqtt_sink, pipeline, running

BASE = "edgetm/testdev"


def config(broker, source, **sink) -> dict:
    return {"device_id": "testdev", "stats_interval_s": 1, "pipelines": [pipeline(source)],
            "sinks": [mqtt_sink(broker, **sink)]}


def warnings_about(caplog, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and text in r.getMessage()]


def test_a_retained_command_is_ignored_and_said_once(broker, banana_video: Path, caplog):
    """A retained {"paused": true} would pause the pipeline again at every reconnect."""
    probe = Probe(broker.port, [f"{BASE}/#"])
    probe.client.publish(f"{BASE}/bananas/set", json.dumps({"paused": True}), qos=1, retain=True).wait_for_publish(5)
    probe.client.publish(f"{BASE}/reload", b"{}", qos=1, retain=True).wait_for_publish(5)
    with running(config(broker, looping_video(banana_video))) as service:
        probe.wait_for(lambda m: len(probe.on(f"{BASE}/bananas/result")) >= 5)
        errors = probe.wait_for(lambda m: len(probe.json(f"{BASE}/error")) >= 2 and probe.json(f"{BASE}/error"))
        assert all("retained" in e["error"] for e in errors)
        assert not service.pipelines["bananas"].paused
        broker.stop()
        broker.start()  # a reconnect brings the retained commands again
        results = len(probe.on(f"{BASE}/bananas/result"))
        probe.wait_for(lambda m: len(probe.on(f"{BASE}/bananas/result")) > results + 5, 20)
        assert not service.pipelines["bananas"].paused
    assert len(warnings_about(caplog, "retained command")) == 2  # one per topic, not one per connection
    probe.close()


def test_commands_before_the_pipelines_exist_wait_for_them(broker):
    """The broker may deliver a command as soon as edgetm subscribes, before its pipelines are registered."""
    handled: list[tuple[str | None, bytes]] = []
    sink = MqttSink(MqttOptions(url=broker.url), "testdev", lambda p, payload: handled.append((p, payload)))
    probe = Probe(broker.port, [f"{BASE}/#"])
    try:
        probe.wait_for(lambda m: probe.on(f"{BASE}/status") == [b"online"])
        probe.publish(f"{BASE}/bananas/set", json.dumps({"threshold": 0.6}))
        time.sleep(0.5)
        assert handled == [] and probe.on(f"{BASE}/error") == []
        sink.add_pipeline(PipelineInfo("bananas", "m", "s"))
        sink.ready()
        assert handled == [("bananas", b'{"threshold": 0.6}')]
        probe.publish(f"{BASE}/nobody/set", json.dumps({"threshold": 0.6}))
        probe.wait_for(lambda m: any("no pipeline named 'nobody'" in e["error"] for e in probe.json(f"{BASE}/error")))
    finally:
        sink.close()
        probe.close()


def test_a_flood_of_bad_commands_is_reported_at_a_bounded_rate(broker, banana_video: Path, caplog):
    probe = Probe(broker.port, [f"{BASE}/#"])
    with running(config(broker, looping_video(banana_video))) as service:
        probe.wait_for(lambda m: len(probe.on(f"{BASE}/bananas/result")) >= 3)
        started = time.monotonic()
        for n in range(2000):
            probe.client.publish(f"{BASE}/bananas/set", b"not json %d" % n, qos=0)
        probe.publish(f"{BASE}/bananas/set", b"the last one")
        time.sleep(3.0)  # the tail of the flood is said after it has passed
        elapsed = time.monotonic() - started
        errors = probe.json(f"{BASE}/error")
        logged = warnings_about(caplog, "rejected command")
        rejected = service.sinks[0].health()["rejected_commands"]
    assert 1 <= len(errors) <= elapsed + 21, len(errors)  # 20 at once, then one a second
    assert 1 <= len(logged) <= elapsed + 21, len(logged)
    assert rejected == 2001  # every one counted, in stats
    shown = len([e for e in errors if "topic" in e]) + sum(e.get("suppressed", 0) for e in errors)
    assert shown == 2001  # and every one said, one way or the other
    probe.close()


def test_a_flood_of_birth_messages_sends_discovery_a_bounded_number_of_times(broker, banana_video: Path):
    probe = Probe(broker.port, ["homeassistant/#"])
    with running(config(broker, looping_video(banana_video), homeassistant={"enabled": True})):
        def configs() -> list[str]:
            return [t for t, *_ in probe.messages if t.endswith("/config")]

        probe.wait_for(lambda m: configs())
        time.sleep(0.5)
        entities = len(configs())  # every config topic once per announcement
        for _ in range(200):
            probe.client.publish("homeassistant/status", b"online", qos=0)
        time.sleep(3.0)
        sent = len(configs()) - entities
    assert entities <= sent <= 2 * entities, (entities, sent)  # the first birth, then one after the interval
    probe.close()


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_a_second_client_with_our_id_is_named_and_we_back_off(broker, protocol: str):
    twins = [MqttSink(MqttOptions(url=broker.url, client_id="twin", protocol=protocol), name) for name in ("a", "b")]
    try:
        deadline = time.monotonic() + 20
        while not any("another client uses the id 'twin'" in (s.problem or "") for s in twins):
            assert time.monotonic() < deadline, [s.problem for s in twins]
            time.sleep(0.1)
        connects = sum(s.connects for s in twins)
        time.sleep(6)
        assert sum(s.connects for s in twins) - connects <= 2  # not one takeover a second any more
    finally:
        for sink in twins:
            sink.close(0.5)


def test_a_flood_of_swaps_is_done_one_at_a_time_and_every_one_counted(broker, banana_video: Path):
    """Each swap tries the model in a child first (about 0.3 s): 50 at once must not queue for 15 s."""
    from tests.conftest import DEMO

    probe = Probe(broker.port, [f"{BASE}/#"])
    with running(config(broker, looping_video(banana_video))) as service:
        probe.wait_for(lambda m: len(probe.on(f"{BASE}/bananas/result")) >= 3)
        for _ in range(50):
            probe.client.publish(f"{BASE}/bananas/set", json.dumps({"model": str(DEMO / "labels.txt")}), qos=1)
        deadline = time.monotonic() + 20
        while service.refused + service.sinks[0].health()["rejected_commands"] < 50:
            assert time.monotonic() < deadline, (service.refused, service.sinks[0].health())
            time.sleep(0.1)
        time.sleep(1.0)
        refused, rejected = service.refused, service.sinks[0].health()["rejected_commands"]
        assert service.stats()["control_refused"] == refused
    assert refused + rejected == 50
    assert refused <= 10  # the rest came while one was under way
    probe.close()
