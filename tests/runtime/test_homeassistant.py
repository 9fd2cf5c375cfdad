"""Home Assistant discovery against a real mosquitto, checked against the keys Home Assistant's MQTT
documentation lists for device-based discovery, sensors and switches."""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

import pytest

from edgetm import __version__
from edgetm.events import Entity, EntityKind
from edgetm.publish import homeassistant as ha
from edgetm.publish.base import PipelineInfo
from edgetm.publish.ha_components import MAX_ENUM_OPTIONS, object_id
from edgetm.publish.mqtt_link import installation_id
from tests.broker import Probe
from tests.conftest import DEMO
from tests.runtime.service_helpers import looping_video, mqtt_sink, pipeline, running

BASE = "edgetm/testdev"
HA = {"homeassistant": {"enabled": True}}

# From home-assistant.io/integrations/mqtt (device-based discovery: "dev", "o", "cmps" and the shared
# options), /integrations/sensor.mqtt and /integrations/switch.mqtt. Full names only: edgetm sends
# no abbreviations, so an abbreviated key ("uniq_id", "stat_t", "p", ...) fails the check too.
ROOT_KEYS = {"device", "origin", "components", "availability", "availability_mode", "availability_template",
             "availability_topic", "payload_available", "payload_not_available", "command_topic", "state_topic",
             "qos", "encoding"}
DEVICE_KEYS = {"configuration_url", "connections", "hw_version", "identifiers", "manufacturer", "model", "model_id",
               "name", "serial_number", "suggested_area", "sw_version", "via_device"}
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
AVAILABILITY_KEYS = {"topic", "payload_available", "payload_not_available", "value_template"}
ENTITY_KEYS = {"platform", "unique_id", "default_entity_id", "name", "availability", "availability_mode",
               "availability_template", "availability_topic", "payload_available", "payload_not_available",
               "enabled_by_default", "encoding", "entity_category", "entity_picture", "icon",
               "json_attributes_template", "json_attributes_topic", "qos"}
PLATFORM_KEYS = {
    "sensor": ENTITY_KEYS | {"state_topic", "value_template", "device_class", "state_class", "unit_of_measurement",
                             "expire_after", "force_update", "options", "suggested_display_precision",
                             "last_reset_value_template"},
    "switch": ENTITY_KEYS | {"command_topic", "command_template", "state_topic", "state_on", "state_off",
                             "payload_on", "payload_off", "optimistic", "retain", "value_template", "device_class"},
}
REQUIRED = {"sensor": {"platform", "unique_id", "state_topic"}, "switch": {"platform", "unique_id", "command_topic"}}


def check_message(message: dict) -> dict[str, dict]:
    """Every key documented, required ones present, values of the documented kinds; the components."""
    assert set(message) <= ROOT_KEYS and {"device", "origin", "components"} <= set(message)
    assert set(message["device"]) <= DEVICE_KEYS and message["device"]["identifiers"]
    assert set(message["origin"]) <= ORIGIN_KEYS and message["origin"]["name"] == "edgetm"
    for cid, component in message["components"].items():
        assert re.fullmatch(r"[a-zA-Z0-9_-]+", cid)
        platform = component["platform"]
        if set(component) == {"platform"}:  # a component being removed
            continue
        assert set(component) <= PLATFORM_KEYS[platform], set(component) - PLATFORM_KEYS[platform]
        assert REQUIRED[platform] <= set(component)
        assert "object_id" not in component  # gone in Home Assistant 2026.4
        assert re.fullmatch(rf"{platform}\.[a-z0-9_]+", component["default_entity_id"])
        assert component["default_entity_id"] == f"{platform}.{component['unique_id']}"
        assert component.get("availability_mode", "all") in ("all", "any", "latest")
        for entry in component.get("availability", []):
            assert set(entry) <= AVAILABILITY_KEYS and "topic" in entry
        assert component.get("entity_category", "config") in ("config", "diagnostic")
        if "expire_after" in component:
            assert isinstance(component["expire_after"], int) and component["expire_after"] > 0
        if "options" in component:
            assert component["device_class"] == "enum" and len(set(component["options"])) == len(component["options"])
    return message["components"]


def announcer(stats_interval_s: float | None = 30.0) -> ha.Announcer:
    return ha.Announcer(ha.HomeAssistantOptions(enabled=True), BASE, "testdev", "0123abcd", stats_interval_s)


def test_messages_hold_only_documented_keys_and_share_one_device_block():
    label = PipelineInfo("bananas", "m.tflite", "camera:0",
                         (Entity("label", EntityKind.LABEL, options=("Unripe", "Ripe", "none")),))
    counts = PipelineInfo("yard", "y.onnx", "rtsp://x", tuple(Entity(f"count/{c}", EntityKind.COUNT, suffix=c)
                                                              for c in ("dog", "cat")))
    maker = announcer()
    maker.stats({"cpu_percent": 12.5, "temperature_c": 48.2})
    messages = dict(maker.messages([label, counts]))
    assert set(messages) == {"homeassistant/device/edgetm_testdev_bananas/config",
                             "homeassistant/device/edgetm_testdev_yard/config",
                             "homeassistant/device/edgetm_testdev/config"}
    parsed = [json.loads(m) for m in messages.values()]
    for message in parsed:
        check_message(message)
    assert all(m["device"] == parsed[0]["device"] for m in parsed)  # two pipelines never disagree on it
    assert parsed[0]["device"]["serial_number"] == "0123abcd" and parsed[0]["origin"]["sw_version"] == __version__
    bananas = json.loads(messages["homeassistant/device/edgetm_testdev_bananas/config"])["components"]
    main = bananas["edgetm_testdev_bananas"]
    assert main["default_entity_id"] == "sensor.edgetm_testdev_bananas"
    assert main["state_topic"] == f"{BASE}/bananas/label" and main["options"] == ["Unripe", "Ripe", "none"]
    assert main["json_attributes_topic"] == f"{BASE}/bananas/attributes"  # not the per-frame result
    assert main["availability_mode"] == "all"
    assert [a["topic"] for a in main["availability"]] == [f"{BASE}/status", f"{BASE}/bananas/source"]
    assert "expire_after" not in main  # a label that holds for hours is not stale: availability says when it is
    switch = bananas["edgetm_testdev_bananas__paused"]
    assert (switch["command_topic"], switch["state_topic"]) == (f"{BASE}/bananas/set", f"{BASE}/bananas/paused")
    assert json.loads(switch["payload_on"]) == {"paused": True}
    assert json.loads(switch["payload_off"]) == {"paused": False}
    fps = bananas["edgetm_testdev_bananas__fps"]
    assert fps["entity_category"] == "diagnostic" and fps["expire_after"] == 90
    assert fps["state_topic"] == f"{BASE}/stats"
    device = json.loads(messages["homeassistant/device/edgetm_testdev/config"])["components"]
    assert set(device) == {"edgetm_testdev__cpu", "edgetm_testdev__temperature"}


def test_no_temperature_sensor_where_none_is_readable_and_no_diagnostics_without_stats():
    maker = announcer()
    maker.stats({"cpu_percent": 3.0})
    device = dict(maker.messages([]))["homeassistant/device/edgetm_testdev/config"]
    assert set(json.loads(device)["components"]) == {"edgetm_testdev__cpu"}
    _, components = announcer(None).pipeline(PipelineInfo("p", "m", "s", ()))
    assert set(components) == {"edgetm_testdev_p__paused"}


@pytest.mark.parametrize("labels, enum", [(MAX_ENUM_OPTIONS, True), (1000, False)])
def test_an_enum_with_hundreds_of_labels_becomes_a_text_sensor(labels: int, enum: bool):
    options = (*(f"class {n}" for n in range(labels - 1)), "none")
    _, components = announcer().pipeline(PipelineInfo("net", "m", "s", (Entity("label", EntityKind.LABEL,
                                                                                options=options),)))
    sensor = components["edgetm_testdev_net"]
    assert ("options" in sensor, sensor.get("device_class")) == (enum, "enum" if enum else None)


def test_a_component_a_swap_dropped_is_removed_once():
    maker = announcer(None)
    before = PipelineInfo("yard", "a", "s", (Entity("count/dog", EntityKind.COUNT, suffix="dog"),
                                             Entity("count/cat", EntityKind.COUNT, suffix="cat")))
    after = PipelineInfo("yard", "b", "s", (Entity("count/dog", EntityKind.COUNT, suffix="dog"),))
    maker.messages([before])
    [(_, first)] = maker.messages([after])
    [(_, second)] = maker.messages([after])
    assert json.loads(first)["components"]["edgetm_testdev_yard_cat"] == {"platform": "sensor"}
    assert "edgetm_testdev_yard_cat" not in json.loads(second)["components"]
    check_message(json.loads(first))


def test_ids_stay_valid_and_apart_for_any_label():
    assert object_id("edgetm", "kitchen-pi", "bananas", "No banana") == "edgetm_kitchen_pi_bananas_no_banana"
    odd = [object_id("edgetm", "d", "p", label) for label in ("\U0001F34C", "\U0001F34E", "Class 1 (2)", "x" * 500)]
    assert len(set(odd)) == 4 and all(re.fullmatch(r"[a-z0-9_]{1,120}", i) for i in odd)


def test_device_messages_from_a_running_service_are_valid_and_diagnostics_read_real_stats(
        broker, banana_video: Path, tmp_path: Path, monkeypatch):
    thermal = tmp_path / "temp"
    thermal.write_text("48250\n")
    monkeypatch.setattr("edgetm.runtime.stats.THERMAL_ZONE", thermal)
    probe = Probe(broker.port, ["homeassistant/#", f"{BASE}/#"])
    config = {"device_id": "testdev", "stats_interval_s": 1, "pipelines": [pipeline(looping_video(banana_video))],
              "sinks": [mqtt_sink(broker, **HA)]}
    device_topic = "homeassistant/device/edgetm_testdev/config"
    with running(config):
        probe.wait_for(lambda m: probe.on(device_topic) and probe.json(f"{BASE}/stats"))
        stats = probe.json(f"{BASE}/stats")[-1]
    messages = [json.loads(p) for t, p, _ in probe.messages if t.startswith("homeassistant/device/") and p]
    components = {cid: c for m in messages for cid, c in check_message(m).items()}
    assert stats["temperature_c"] == 48.2
    templates = {cid: c["value_template"] for cid, c in components.items() if "value_template" in c
                 and c["state_topic"] == f"{BASE}/stats"}
    assert set(templates) == {"edgetm_testdev__cpu", "edgetm_testdev__temperature", "edgetm_testdev_bananas__fps",
                              "edgetm_testdev_bananas__dropped_frames"}
    for template in templates.values():  # each names a number the stats really carry
        value = _resolve(template, stats)
        assert isinstance(value, int | float), template
    assert all(components[cid]["expire_after"] == 3 for cid in templates)
    probe.close()


def _resolve(template: str, payload: dict):
    """The value a ``{{ value_json.a['b'].c }}`` template reads from ``payload``."""
    path = re.fullmatch(r"\{\{ value_json((?:\.\w+|\['[\w.-]+'\])+) \}\}", template)
    assert path, template
    value = payload
    for dotted, quoted in re.findall(r"\.(\w+)|\['([\w.-]+)'\]", path.group(1)):
        value = value[dotted or quoted]
    return value


def test_attributes_are_retained_and_sent_on_label_change_not_every_frame(broker, banana_video: Path):
    probe = Probe(broker.port, [f"{BASE}/#"])
    with running({"device_id": "testdev", "pipelines": [pipeline(looping_video(banana_video))],
                  "sinks": [mqtt_sink(broker, **HA)]}):
        probe.wait_for(lambda m: len(probe.on(f"{BASE}/bananas/label")) >= 3 and
                       len(probe.on(f"{BASE}/bananas/result")) >= 60, 30)
        results, labels = len(probe.on(f"{BASE}/bananas/result")), len(probe.on(f"{BASE}/bananas/label"))
        attributes = probe.json(f"{BASE}/bananas/attributes")
    assert all(set(a) == {"score", "top"} for a in attributes)
    # One per label change (and the first result), within a minute: far fewer than results.
    assert 1 <= len(attributes) <= labels + 2 and len(attributes) < results / 5
    late = Probe(broker.port, [f"{BASE}/bananas/attributes"])
    late.wait_for(lambda m: m and m[0][2])  # retained, for a Home Assistant that starts later
    late.close()
    assert {"score", "top", "frame"} <= set(probe.json(f"{BASE}/bananas/result")[-1])  # result keeps its role
    probe.close()


def test_a_file_source_is_online_while_read_and_offline_after(broker, banana_video: Path):
    """Entities are available while the device AND the source are online: a source that never said
    its state would leave them unavailable."""
    probe = Probe(broker.port, [f"{BASE}/#"])
    config = {"device_id": "testdev", "pipelines": [pipeline({"type": "video", "path": str(banana_video)})],
              "sinks": [mqtt_sink(broker, **HA)]}
    with running(config) as service:
        probe.wait_for(lambda m: service.pipelines.get("bananas") and service.pipelines["bananas"].finished, 30)
    probe.wait_for(lambda m: probe.on(f"{BASE}/bananas/source") == [b"online", b"offline"])
    probe.close()


def test_paused_is_a_switch_whose_state_follows_the_pipeline(broker, banana_video: Path):
    probe = Probe(broker.port, [f"{BASE}/#", "homeassistant/#"])
    with running({"device_id": "testdev", "pipelines": [pipeline(looping_video(banana_video))],
                  "sinks": [mqtt_sink(broker, **HA)]}) as service:
        topic = "homeassistant/device/edgetm_testdev_bananas/config"
        probe.wait_for(lambda m: probe.on(topic) and probe.on(f"{BASE}/bananas/paused") == [b"false"])
        switch = probe.json(topic)[0]["components"]["edgetm_testdev_bananas__paused"]
        probe.publish(switch["command_topic"], switch["payload_on"])  # what Home Assistant sends
        probe.wait_for(lambda m: probe.on(switch["state_topic"])[-1:] == [switch["state_on"].encode()])
        assert service.pipelines["bananas"].paused
        late = Probe(broker.port, [switch["state_topic"]])  # retained: Home Assistant starting now sees it
        late.wait_for(lambda m: m and m[0][1:] == (b"true", True))
        late.close()
        probe.publish(switch["command_topic"], switch["payload_off"])
        probe.wait_for(lambda m: probe.on(switch["state_topic"])[-1:] == [switch["state_off"].encode()])
        assert not service.pipelines["bananas"].paused
    probe.close()


def test_duplicate_labels_become_unique_options_and_the_label_matches_them(broker, banana_video: Path,
                                                                            tmp_path: Path, caplog):
    labels = tmp_path / "labels.txt"
    labels.write_text("0 Ripe\n1 Ripe\n2 Overripe\n3 No banana\n")
    probe = Probe(broker.port, [f"{BASE}/#", "homeassistant/#"])
    config = {"device_id": "testdev", "sinks": [mqtt_sink(broker, **HA)],
              "pipelines": [{"name": "bananas", "model": {"path": str(DEMO), "labels": str(labels)},
                             "source": looping_video(banana_video)}]}
    with caplog.at_level(logging.WARNING), running(config):
        probe.wait_for(lambda m: set(probe.on(f"{BASE}/bananas/label")) >= {b"Ripe", b"Ripe (2)"}, 30)
        topic = "homeassistant/device/edgetm_testdev_bananas/config"
        options = probe.json(topic)[0]["components"]["edgetm_testdev_bananas"]["options"]
    assert options == ["Ripe", "Ripe (2)", "Overripe", "No banana", "none"]
    assert {p.decode() for p in probe.on(f"{BASE}/bananas/label")} <= set(options)
    assert [r.getMessage() for r in caplog.records if "more than once" in r.getMessage()] == [
        f"{labels} names a class more than once; told apart as 'Ripe' -> 'Ripe (2)'"]
    probe.close()


def test_a_detector_without_classes_announces_its_total_and_says_which_classes_to_name(
        broker, banana_video: Path, tmp_path: Path, caplog):
    from tests.modelkit import constant_output_onnx, write
    from tests.vision.test_detect import NAMES, v8_raw

    raw = v8_raw([(60, 200, 40, 40, 1, 0.9), (200, 200, 40, 40, 1, 0.8), (160, 120, 64, 32, 2, 0.7)])
    model = write(tmp_path, "detector.onnx", constant_output_onnx(raw, names=NAMES))
    config = {"device_id": "testdev", "sinks": [mqtt_sink(broker, **HA)],
              "pipelines": [{"name": "yard", "model": str(model), "source": looping_video(banana_video)}]}
    probe = Probe(broker.port, [f"{BASE}/#", "homeassistant/#"])
    with caplog.at_level(logging.INFO, "edgetm.publish.mqtt"), running(config):
        probe.wait_for(lambda m: probe.on(f"{BASE}/yard/total")[-1:] == [b"3"], 30)
        probe.publish("homeassistant/status", "online")  # announced again: the hint is still said once
        topic = "homeassistant/device/edgetm_testdev_yard/config"
        probe.wait_for(lambda m: len(probe.on(topic)) >= 2)
    components = check_message(probe.json(topic)[0])
    total = components["edgetm_testdev_yard_objects"]
    assert total["state_topic"] == f"{BASE}/yard/total" and total["state_class"] == "measurement"
    hints = [r.getMessage() for r in caplog.records if "name the classes" in r.getMessage()]
    assert len(hints) == 1 and "--classes" in hints[0] and ", ".join(NAMES[:3]) in hints[0]
    probe.close()


def _retained(port: int, pattern: str) -> dict[str, bytes]:
    """What the broker holds now, retained, on ``pattern``."""
    probe = Probe(port, [pattern])
    time.sleep(1.0)
    held = {t: p for t, p, retain in probe.messages if retain}
    probe.close()
    return held


def test_configs_of_a_renamed_pipeline_and_of_a_changed_device_id_are_deleted(broker, banana_video: Path):
    def config(device: str, name: str) -> dict:
        return {"device_id": device, "stats_interval_s": 1, "sinks": [mqtt_sink(broker, **HA)],
                "pipelines": [pipeline(looping_video(banana_video), name=name)]}

    def run_until_announced(device: str, name: str) -> None:
        probe = Probe(broker.port, ["homeassistant/#"])
        with running(config(device, name)):
            probe.wait_for(lambda m: probe.on(f"homeassistant/device/edgetm_{device}/config") and
                           probe.on(f"homeassistant/device/edgetm_{device}_{name}/config"), 20)
            time.sleep(3.0)  # the sweep reads for 2 s after connecting
        probe.close()

    # Left by others: an older edgetm's one-config-per-sensor message for this device, a config of
    # another machine, and one of another edgetm on this machine that is running.
    seed = Probe(broker.port, ["seed/nothing"])
    legacy = {"name": "a", "unique_id": "edgetm_testdev_a", "state_topic": f"{BASE}/a/label",
              "device": {"identifiers": ["edgetm_testdev"], "manufacturer": "edgetm", "name": "edgetm testdev"}}
    other = json.loads(ha.message("elsewhere", "ffffffff", {}))
    sibling = json.loads(ha.message("sibling", installation_id(), {"x": {
        "platform": "sensor", "unique_id": "x", "state_topic": "edgetm/sibling/p/label",
        "availability": [{"topic": "edgetm/sibling/status"}]}}))
    for topic, payload in [("homeassistant/sensor/edgetm_testdev_a/config", legacy),
                           ("homeassistant/device/edgetm_elsewhere_p/config", other),
                           ("homeassistant/device/edgetm_sibling_p/config", sibling),
                           ("edgetm/sibling/status", "online")]:
        seed.client.publish(topic, json.dumps(payload) if isinstance(payload, dict) else payload, 1,
                            retain=True).wait_for_publish(5)
    seed.close()

    run_until_announced("testdev", "a")
    assert "homeassistant/sensor/edgetm_testdev_a/config" not in _retained(broker.port, "homeassistant/#")
    run_until_announced("testdev", "b")  # renamed
    held = _retained(broker.port, "homeassistant/#")
    assert "homeassistant/device/edgetm_testdev_a/config" not in held
    assert {"homeassistant/device/edgetm_testdev_b/config", "homeassistant/device/edgetm_testdev/config"} <= set(held)
    run_until_announced("kitchen", "b")  # a new device_id
    held = _retained(broker.port, "homeassistant/#")
    assert sorted(held) == [f"homeassistant/device/edgetm_{name}/config" for name in
                            ("elsewhere_p", "kitchen", "kitchen_b", "sibling_p")]


def test_a_component_an_earlier_run_announced_is_removed_on_the_next(broker, banana_video: Path, tmp_path: Path):
    from tests.modelkit import constant_output_onnx, write
    from tests.vision.test_detect import NAMES, v8_raw

    model = write(tmp_path, "detector.onnx", constant_output_onnx(v8_raw([(60, 200, 40, 40, 1, 0.9)]), names=NAMES))

    def run(classes: list[str]) -> list[dict]:
        probe = Probe(broker.port, ["homeassistant/#"])
        config = {"device_id": "testdev", "sinks": [mqtt_sink(broker, **HA)],
                  "pipelines": [{"name": "yard", "model": str(model), "source": looping_video(banana_video),
                                 "detect": {"classes": classes}}]}
        with running(config):
            probe.wait_for(lambda m: probe.on("homeassistant/device/edgetm_testdev_yard/config"), 20)
            time.sleep(3.0)
        probe.close()
        return probe.json("homeassistant/device/edgetm_testdev_yard/config")

    run(["dog", "cat"])
    sent = run(["dog"])
    assert sent[-1]["components"]["edgetm_testdev_yard_cat"] == {"platform": "sensor"}


def test_attributes_follow_the_label_at_once_and_otherwise_come_at_most_every_interval(broker):
    from edgetm.events import Observation, StateChange
    from edgetm.publish.mqtt import MqttOptions, MqttSink
    from edgetm.results import Classification

    sink = MqttSink(MqttOptions(url=broker.url, homeassistant={"enabled": True, "attributes_interval_s": 1}),
                    "testdev")
    probe = Probe(broker.port, [f"{BASE}/p/attributes"])
    try:
        sink.add_pipeline(PipelineInfo("p", "m", "s", (Entity("label", EntityKind.LABEL, options=("a", "b")),)))
        deadline = time.monotonic() + 10
        while not sink.connected:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        start = time.monotonic()
        while time.monotonic() - start < 2.5:  # 50 results, the label steady
            sink.result(Observation("p", "m", "s", 0, time.time(), Classification("a", 0, 0.9, [])))
            time.sleep(0.05)
        probe.wait_for(lambda m: len(m) >= 3)
        steady = len(probe.messages)
        sink.state("p", [StateChange("label", "b")])
        sink.result(Observation("p", "m", "s", 0, time.time(), Classification("b", 1, 0.8, [])))
        probe.wait_for(lambda m: len(m) > steady)
        assert steady == 3  # at 0, 1 and 2 s
        assert json.loads(probe.messages[-1][1])["score"] == 0.8  # at once on the change
        # As a pipeline emits: the result that changes the label first, then the change itself. The
        # attributes go with that result, not with the next one, and only once.
        changed = steady + 1
        back = (StateChange("label", "a"),)
        sink.result(Observation("p", "m", "s", 1, time.time(), Classification("a", 0, 0.7, []), changes=back))
        probe.wait_for(lambda m: len(m) > changed)
        assert json.loads(probe.messages[-1][1])["score"] == 0.7
        sink.state("p", list(back))
        sink.result(Observation("p", "m", "s", 2, time.time(), Classification("a", 0, 0.6, [])))
        time.sleep(0.3)
        assert len(probe.messages) == changed + 1
    finally:
        probe.close()
        sink.close(0.5)
