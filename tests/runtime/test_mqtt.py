"""edgetm against a real mosquitto: topics, retained state, commands, outages."""

import itertools
import json
import time
from pathlib import Path

import cv2
import pytest

from tests.broker import Probe
from tests.conftest import DEMO
from tests.runtime.service_helpers import looping_video, mqtt_sink, pipeline, running
from tests.runtime.test_capture import FakeCamera

BASE = "edgetm/testdev"
RESULT_KEYS = {"timestamp", "pipeline", "source", "model", "frame", "label", "index", "score", "top", "latency_ms",
               "smoothed_label"}


def service_config(broker, source, **extra) -> dict:
    return {"device_id": "testdev", "stats_interval_s": 1, "pipelines": [pipeline(source)],
            "sinks": [mqtt_sink(broker, **extra)]}


def test_topics_schema_and_retained_state(broker, banana_video: Path):
    probe = Probe(broker.port, [f"{BASE}/#"])
    with running(service_config(broker, looping_video(banana_video))):
        probe.wait_for(lambda m: len([1 for t, *_ in m if t == f"{BASE}/bananas/label"]) >= 3)
        probe.wait_for(lambda m: any(t == f"{BASE}/stats" for t, *_ in m))
        results = probe.json(f"{BASE}/bananas/result")
        assert len(results) >= 10
        for result in results:
            assert set(result) == RESULT_KEYS
            assert set(result["latency_ms"]) == {"preprocess", "inference", "postprocess", "capture_to_result"}
            assert result["pipeline"] == "bananas" and result["model"] == "model_unquant.tflite"
        assert {r["label"] for r in results} == {"Ripe", "Unripe"}
        # The retained label changes only when the smoothed label does: never the same twice in a row.
        labels = [p.decode() for p in probe.on(f"{BASE}/bananas/label")]
        assert all(a != b for a, b in itertools.pairwise(labels))
        assert set(labels) <= {"Ripe", "Unripe"}
        assert len(labels) < len(results) / 5
        assert probe.on(f"{BASE}/status")[-1] == b"online"
        assert probe.on(f"{BASE}/bananas/source")[-1] == b"online"
        stats = probe.json(f"{BASE}/stats")[-1]
        assert stats["pipelines"]["bananas"]["fps"] > 0
        assert {"cpu_percent", "rss_mb", "mqtt"} <= set(stats)
        # CPU per result: all the process's threads, over the results made since the last stats.
        probe.wait_for(lambda m: any("cpu_ms_per_result" in s for s in probe.json(f"{BASE}/stats")))
        per_result = next(s for s in probe.json(f"{BASE}/stats") if "cpu_ms_per_result" in s)["cpu_ms_per_result"]
        assert 0 < per_result < 1000
        assert set(stats["pipelines"]["bananas"]["latency_ms"]["inference"]) == {"p50", "p95"}
        # A client arriving later finds the retained state waiting.
        late = Probe(broker.port, [f"{BASE}/status", f"{BASE}/bananas/label", f"{BASE}/bananas/source"])
        late.wait_for(lambda m: len(m) >= 3)
        assert all(retain for _, _, retain in late.messages)
        late.close()
    probe.wait_for(lambda m: probe.on(f"{BASE}/status")[-1:] == [b"offline"], 5)
    probe.close()


def test_hostile_commands_are_rejected_and_reported(broker, banana_video: Path):
    probe = Probe(broker.port, [f"{BASE}/#"])
    with running(service_config(broker, looping_video(banana_video))):
        probe.wait_for(lambda m: len(probe.on(f"{BASE}/bananas/result")) >= 3)
        hostile = [
            (f"{BASE}/bananas/set", b"not json"),
            (f"{BASE}/bananas/set", b'{"threshold": 5}'),
            (f"{BASE}/bananas/set", b'{"threshold": "high"}'),
            (f"{BASE}/bananas/set", b'{"bogus": 1}'),
            (f"{BASE}/bananas/set", b"[1, 2, 3]"),
            (f"{BASE}/bananas/set", b'{"paused": "yes"}'),
            (f"{BASE}/bananas/set", b"\xff\xfe\x00"),
            (f"{BASE}/bananas/set", b"{" * 100_000),
            (f"{BASE}/bananas/set", b'{"max_rate_hz": -3}'),
            (f"{BASE}/nobody/set", b'{"threshold": 0.5}'),
            (f"{BASE}/reload", b""),  # started without a configuration file
        ]
        for topic, payload in hostile:
            probe.publish(topic, payload)
        errors = probe.wait_for(lambda m: len(probe.json(f"{BASE}/error")) >= len(hostile) and probe.json(
            f"{BASE}/error"))
        text = " | ".join(e["error"] for e in errors)
        for expected in ("not valid JSON", "threshold: Input should be less than or equal to 1", "bogus: unknown key",
                         "must be a JSON object", "larger than 4096", "no pipeline named 'nobody'",
                         "nothing to reload"):
            assert expected in text
        # Still running.
        before = len(probe.on(f"{BASE}/bananas/result"))
        probe.wait_for(lambda m: len(probe.on(f"{BASE}/bananas/result")) > before + 5)


def test_set_commands_change_the_running_pipeline(broker, banana_video: Path):
    probe = Probe(broker.port, [f"{BASE}/#"])
    with running(service_config(broker, looping_video(banana_video))) as service:
        probe.wait_for(lambda m: len(probe.on(f"{BASE}/bananas/result")) >= 3)
        probe.publish(f"{BASE}/bananas/set", json.dumps({"paused": True}))
        probe.wait_for(lambda m: service.pipelines["bananas"].paused)
        time.sleep(0.3)
        paused_at = len(probe.on(f"{BASE}/bananas/result"))
        time.sleep(1.0)
        assert len(probe.on(f"{BASE}/bananas/result")) == paused_at
        probe.publish(f"{BASE}/bananas/set", json.dumps({"paused": False, "max_rate_hz": 2, "threshold": 0.8}))
        probe.wait_for(lambda m: len(probe.on(f"{BASE}/bananas/result")) > paused_at + 2)
        start = len(probe.on(f"{BASE}/bananas/result"))
        time.sleep(2.0)
        assert len(probe.on(f"{BASE}/bananas/result")) - start <= 6  # about 2 per second
        assert service.pipelines["bananas"].threshold == 0.8


def test_broker_outage(broker, banana_video: Path):
    """Kill the broker mid-stream: edgetm keeps inferring, reconnects by itself, republishes its
    retained state and delivers the QoS 1 results it produced meanwhile."""
    result_topic = f"{BASE}/bananas/result"
    probe = Probe(broker.port, [result_topic, f"{BASE}/status", f"{BASE}/bananas/label"], client_id="outage-probe",
                  persistent=True)
    with running(service_config(broker, looping_video(banana_video))) as service:
        probe.wait_for(lambda m: len(probe.on(result_topic)) >= 5)
        time.sleep(1.5)  # the broker saves the probe's session every second
        pipeline_stats = service.pipelines["bananas"].stats
        online_before = probe.on(f"{BASE}/status").count(b"online")
        broker.kill()
        killed_at = time.time()
        results_at_kill = pipeline_stats.results
        time.sleep(2.0)
        assert pipeline_stats.results > results_at_kill + 20  # the loop did not stall
        mqtt = service.sinks[0]
        assert not mqtt.connected and mqtt.queued > 0
        restarted_at = time.time()
        broker.start()
        probe.wait_for(lambda m: probe.on(f"{BASE}/status").count(b"online") > online_before, 20)
        probe.wait_for(lambda m: len([p for p in probe.on(result_topic)
                                      if _between(p, killed_at + 0.3, restarted_at - 0.3)]) >= 20, 20)
        time.sleep(0.5)
        during = [p for p in probe.on(result_topic) if _between(p, killed_at + 0.3, restarted_at - 0.3)]
        assert len(during) >= 20
        frames = sorted(json.loads(p)["frame"] for p in during)
        assert frames == list(range(frames[0], frames[0] + len(frames)))  # none lost in between
        assert mqtt.connected and mqtt.connects >= 2
    probe.close()


def _between(payload: bytes, start: float, end: float) -> bool:
    from datetime import datetime

    stamp = datetime.fromisoformat(json.loads(payload)["timestamp"]).timestamp()
    return start <= stamp <= end


def test_a_camera_that_fails_is_reported(broker, monkeypatch):
    fake = FakeCamera(frame_interval_s=0.02)
    monkeypatch.setattr(cv2, "VideoCapture", fake.capture)
    source = {"type": "camera", "device": 0, "reconnect_initial_s": 0.1, "reconnect_max_s": 0.4}
    probe = Probe(broker.port, [f"{BASE}/#"])
    with running(service_config(broker, source)):
        probe.wait_for(lambda m: probe.on(f"{BASE}/bananas/source")[-1:] == [b"online"])
        probe.wait_for(lambda m: len(probe.on(f"{BASE}/bananas/result")) >= 3)
        fake.plugged = False
        probe.wait_for(lambda m: probe.on(f"{BASE}/bananas/source")[-1:] == [b"offline"])
        time.sleep(1.0)
        fake.plugged = True
        probe.wait_for(lambda m: probe.on(f"{BASE}/bananas/source")[-1:] == [b"online"])
        count = len(probe.on(f"{BASE}/bananas/result"))
        probe.wait_for(lambda m: len(probe.on(f"{BASE}/bananas/result")) > count + 3)
    # ... and offline again once edgetm stops reading it
    probe.wait_for(lambda m: len(probe.on(f"{BASE}/bananas/source")) >= 4)
    assert probe.on(f"{BASE}/bananas/source") == [b"online", b"offline", b"online", b"offline"]
    probe.close()


def test_home_assistant_discovery(broker, banana_video: Path):
    probe = Probe(broker.port, ["homeassistant/#"])
    config = service_config(broker, looping_video(banana_video), homeassistant={"enabled": True})
    with running(config):
        topic = "homeassistant/device/edgetm_testdev_bananas/config"
        probe.wait_for(lambda m: probe.on(topic))
        message = probe.json(topic)[0]
        announcement = message["components"]["edgetm_testdev_bananas"]
        assert announcement["state_topic"] == f"{BASE}/bananas/label"
        assert announcement["availability"][0]["topic"] == f"{BASE}/status"
        assert announcement["options"] == ["Unripe", "Ripe", "Overripe", "No banana", "none"]
        assert message["device"]["identifiers"] == ["edgetm_testdev"]
        probe.publish("homeassistant/status", "online")  # Home Assistant restarted
        probe.wait_for(lambda m: len(probe.on(topic)) >= 2)
    probe.close()


@pytest.mark.parametrize("queue_size, sent, held", [(5, 20, 5), (0, 10, 0)])
def test_results_held_while_disconnected_are_bounded(queue_size, sent, held):
    from edgetm.events import Observation
    from edgetm.publish.mqtt import MqttOptions, MqttSink
    from edgetm.results import Classification
    from tests.broker import free_port

    sink = MqttSink(MqttOptions(url=f"mqtt://127.0.0.1:{free_port()}", queue_size=queue_size), "lonely")
    observation = Observation("p", "m", "s", 0, time.time(), Classification("a", 0, 1.0, []))
    start = time.monotonic()
    for _ in range(sent):
        sink.result(observation)
    assert time.monotonic() - start < 0.5  # never blocks
    assert sink.queued == held and sink.dropped == sent - held
    sink.close(0.2)


def test_reload_applies_a_new_config_and_refuses_a_bad_one(broker, banana_video: Path, tmp_path: Path):
    import yaml

    from edgetm.config import load_config

    def write(threshold) -> None:
        config_file.write_text(yaml.safe_dump({
            "device_id": "testdev",
            "pipelines": [{"name": "bananas", "model": str(DEMO), "smoothing": {"threshold": threshold},
                           "source": looping_video(banana_video)}],
            "sinks": [mqtt_sink(broker)],
        }))

    config_file = tmp_path / "edgetm.yaml"
    write(0.5)
    probe = Probe(broker.port, [f"{BASE}/#"])
    with running(load_config(config_file).model_dump(mode="json"), config_file) as service:
        probe.wait_for(lambda m: len(probe.on(f"{BASE}/bananas/result")) >= 3)
        write(0.9)
        probe.publish(f"{BASE}/reload", b"")
        probe.wait_for(lambda m: service.pipelines["bananas"].threshold == 0.9)
        count = len(probe.on(f"{BASE}/bananas/result"))
        probe.wait_for(lambda m: len(probe.on(f"{BASE}/bananas/result")) > count + 3)
        write("very high")
        probe.publish(f"{BASE}/reload", b"{}")
        errors = probe.wait_for(lambda m: probe.json(f"{BASE}/error"))
        assert "reload refused" in errors[0]["error"] and "threshold" in errors[0]["error"]
        assert service.pipelines["bananas"].threshold == 0.9
        count = len(probe.on(f"{BASE}/bananas/result"))
        probe.wait_for(lambda m: len(probe.on(f"{BASE}/bananas/result")) > count + 3)
    probe.close()


def test_pipelines_share_one_connection(broker, banana_video: Path):
    config = {
        "device_id": "testdev",
        "pipelines": [pipeline(looping_video(banana_video), name="kitchen"),
                      pipeline(looping_video(banana_video), name="garage", smoothing={"threshold": 0.9})],
        "sinks": [mqtt_sink(broker)],
    }
    probe = Probe(broker.port, [f"{BASE}/#"])
    with running(config) as service:
        for name in ("kitchen", "garage"):
            probe.wait_for(lambda m, name=name: len(probe.on(f"{BASE}/{name}/result")) >= 5)
            probe.wait_for(lambda m, name=name: probe.on(f"{BASE}/{name}/label"))
        assert len(service.sinks) == 1 and service.sinks[0].connects == 1
        probe.publish(f"{BASE}/garage/set", json.dumps({"paused": True}))
        probe.wait_for(lambda m: service.pipelines["garage"].paused)
        assert not service.pipelines["kitchen"].paused
    probe.close()


def test_detector_counts_snapshots_and_discovery(broker, banana_video: Path, tmp_path: Path):
    """A detector whose raw output is fixed: 2 dogs and a bird in every frame (see the layout tests)."""
    from tests.modelkit import constant_output_onnx, write
    from tests.vision.test_detect import NAMES, v8_raw

    raw = v8_raw([(60, 200, 40, 40, 1, 0.9), (200, 200, 40, 40, 1, 0.8), (160, 120, 64, 32, 2, 0.7)])
    model = write(tmp_path, "detector.onnx", constant_output_onnx(raw, names=NAMES))
    config = {
        "device_id": "testdev",
        "pipelines": [{"name": "yard", "model": str(model), "source": looping_video(banana_video),
                       "detect": {"classes": ["dog", "cat"], "snapshot": True,
                                  "zone": {"points": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}}}],
        "sinks": [mqtt_sink(broker, homeassistant={"enabled": True})],
    }
    probe = Probe(broker.port, [f"{BASE}/#", "homeassistant/#"])
    with running(config):
        probe.wait_for(lambda m: len(probe.on(f"{BASE}/yard/result")) >= 10)
        probe.wait_for(lambda m: probe.on(f"{BASE}/yard/snapshot"))
        results = probe.json(f"{BASE}/yard/result")
    assert [d["label"] for d in results[-1]["detections"]] == ["dog", "dog"]  # the bird is not asked for
    assert results[-1]["counts"] == {"dog": 1}  # only one dog is in the left half
    assert results[-1]["smoothed_counts"] == {"dog": 1, "cat": 0}
    assert probe.on(f"{BASE}/yard/count/dog") == [b"1"]  # published once: it never changed
    assert probe.on(f"{BASE}/yard/count/cat") == [b"0"]
    snapshot = probe.on(f"{BASE}/yard/snapshot")[0]
    assert snapshot[:3] == b"\xff\xd8\xff" and len(probe.on(f"{BASE}/yard/snapshot")) == 1
    components = probe.json("homeassistant/device/edgetm_testdev_yard/config")[0]["components"]
    sensors = sorted(cid for cid, c in components.items() if "count/" in c.get("state_topic", ""))
    assert sensors == ["edgetm_testdev_yard_cat", "edgetm_testdev_yard_dog"]
    assert components["edgetm_testdev_yard_dog"]["state_topic"] == f"{BASE}/yard/count/dog"
    probe.close()
