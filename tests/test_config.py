from pathlib import Path

import pytest

from edgetm.config import load_config, parse_config
from edgetm.errors import ConfigError
from edgetm.publish.mqtt import MqttOptions, MqttSink
from edgetm.secrets import read_secret, redact, with_password
from tests.conftest import DEMO, ROOT

EXAMPLE = ROOT / "edgetm.example.yaml"


def test_the_example_config_is_valid():
    config = load_config(EXAMPLE)
    assert config.pipelines[0].model.path.endswith("models/banana")
    assert config.sink("mqtt") is not None and config.sink("mqtt").homeassistant.enabled


def test_the_example_config_documents_every_key():
    """Every key of the schema (every registered source, task and sink) appears in the example."""
    import re
    from typing import get_args

    from pydantic import BaseModel

    from edgetm.config import schema

    def models(annotation):
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield annotation
        for arg in get_args(annotation):
            yield from models(arg)

    def keys(model, seen: set) -> set[str]:
        if model in seen:
            return set()
        seen.add(model)
        found = set(model.model_fields)
        for field in model.model_fields.values():
            for inner in models(field.annotation):
                found |= keys(inner, seen)
        return found

    text = EXAMPLE.read_text()
    assert sorted(k for k in keys(schema(), set()) if not re.search(rf"\b{k}:", text)) == []


def test_shorthands_and_defaults(tmp_path: Path):
    config = parse_config({"pipelines": [{"model": "models/banana", "source": "camera:1"}]})
    pipeline = config.pipelines[0]
    assert pipeline.model.path == "models/banana" and pipeline.source.type == "camera"
    assert pipeline.source.device == 1 and pipeline.task == "auto" and pipeline.task_options() == {
        "classify": None, "detect": None, "sound": None, "pose": None}
    assert [s.type for s in config.sinks] == ["stdout"]
    assert config.device_id


def test_relative_paths_follow_the_config_file(tmp_path: Path):
    (tmp_path / "shots").mkdir()
    (tmp_path / "shots" / "a.jpg").write_bytes((DEMO / "samples" / "ripe-1.jpg").read_bytes())
    file = tmp_path / "edgetm.yaml"
    file.write_text("pipelines:\n  - model: mymodel\n    source: shots\nsinks:\n  - type: jsonl\n    path: out.jsonl\n")
    config = load_config(file)
    assert config.pipelines[0].model.path == str(tmp_path / "mymodel")
    assert config.pipelines[0].source.paths == [str(tmp_path / "shots")]
    assert config.sinks[0].path == str(tmp_path / "out.jsonl")


def test_paths_are_absolute_whatever_the_working_directory(tmp_path: Path, monkeypatch):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "edgetm.yaml").write_text("pipelines:\n  - model: {path: models/m.tflite, watch: true}\n"
                                                  "    source: camera:0\n")
    monkeypatch.chdir(tmp_path)
    config = load_config("cfg/edgetm.yaml")
    assert config.pipelines[0].model.path == str(tmp_path / "cfg" / "models" / "m.tflite")


@pytest.mark.parametrize("data, message", [
    ({"pipelines": [{"model": "m", "source": "camera:0", "smoothing": {"mode": "median"}}]},
     "pipelines.0.smoothing.mode"),
    ({"pipelines": [{"model": "m", "source": {"type": "camera", "exposure": 3}}]}, "exposure: unknown key"),
    ({"pipelines": [{"model": "m", "source": "camera:0", "name": "a/b"}]}, "pipelines.0.name"),
    ({"pipelines": [{"model": "m", "source": "camera:0"}, {"model": "m", "source": "camera:1"}]},
     "two pipelines are named 'default'"),
    ({"pipelines": [{"model": "m", "source": "camera:0"}], "sinks": [{"type": "mqtt"}, {"type": "mqtt"}]},
     "only one mqtt sink"),
    ({"pipelines": [{"model": "m", "source": "camera:0"}], "sinks": [{"type": "mqtt", "password": "x"}]},
     "sinks.0.mqtt.password: unknown key"),
    ({"pipelines": [{"model": "m", "source": "camera:0", "preprocess": {"mean": [1, 2, 3]}}]},
     "mean and std go together"),
    ({"pipelines": [{"model": "m", "source": "camera:0", "threshold": 0.6}]},
     r"pipelines.0.threshold: unknown key \(it is now smoothing.threshold\)"),
    ({"pipelines": [{"model": "m", "source": {"type": "video", "path": "a.mp4", "width": 9}}]},
     "pipelines.0.source.video.width: unknown key"),
    ({"pipelines": [{"model": "m", "source": {"type": "vidoe"}}]}, "type must be one of 'camera'"),
    ({"device_id": "my pi", "pipelines": [{"model": "m", "source": "camera:0"}]},
     "device_id: may hold only letters, digits and . _ -"),
    ({"pipelines": [{"model": "m", "source": "camera:0", "detect": {"snapshot": True}}]},
     "takes snapshots, but no sink publishes them"),
])
def test_bad_values_name_their_key(data, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_secrets_from_environment_and_files(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("EDGETM_TEST_PASSWORD", "s3cret")
    assert read_secret("EDGETM_TEST_PASSWORD", None, "mqtt") == "s3cret"
    secret = tmp_path / "pass"
    secret.write_text("from-file\n")
    secret.chmod(0o600)
    assert read_secret(None, secret, "mqtt") == "from-file"
    with pytest.raises(ConfigError, match="EDGETM_NOT_SET is not set"):
        read_secret("EDGETM_NOT_SET", None, "mqtt")
    with pytest.raises(ConfigError, match="cannot read"):
        read_secret(None, tmp_path / "missing", "mqtt")


def test_urls_never_show_passwords():
    assert redact("rtsp://admin:hunter2@cam:554/s") == "rtsp://admin:***@cam:554/s"
    assert with_password("rtsp://admin@cam:554/s", "p@ss") == "rtsp://admin:p%40ss@cam:554/s"
    with pytest.raises(ConfigError, match="contains a password"):
        MqttOptions(url="mqtt://user:pw@host")


def test_tls_verifies_certificates_by_default(tmp_path: Path):
    config = MqttOptions(url="mqtts://127.0.0.1:1")
    assert config.tls.insecure is False
    sink = MqttSink(config, "tls")
    import ssl

    context = sink._client._ssl_context
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    sink.close(0.1)
