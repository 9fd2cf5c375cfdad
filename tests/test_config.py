import time
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
    assert config.pipelines[0].model.path == str(ROOT / "models" / "banana")  # from the link's folder
    assert config.sink("mqtt") is not None and config.sink("mqtt").homeassistant.enabled


def schema_paths() -> set[tuple[str, ...]]:
    """Every key path of the configuration: each registered source, task and sink, each options
    model reachable from them (lists and unions are looked through)."""
    from typing import get_args

    from edgetm.config import schema
    from edgetm.options import Options

    def models(annotation):
        if isinstance(annotation, type) and issubclass(annotation, Options):
            yield annotation
        for arg in get_args(annotation):
            yield from models(arg)

    def walk(model, prefix: tuple[str, ...], above: tuple) -> set[tuple[str, ...]]:
        found = set()
        for name, field in model.model_fields.items():
            if name == "type" and prefix and field.default == prefix[-1]:
                continue  # classify: {type: classify}: the key already says it, and nothing else is accepted
            found.add((*prefix, name))
            for inner in models(field.annotation):
                if inner not in above:  # a model that holds itself is walked once
                    found |= walk(inner, (*prefix, name), (*above, inner))
        return found

    return walk(schema(), (), ())


def example_paths(text: str) -> set[tuple[str, ...]]:
    """The key paths the example shows, commented out or not: a line ``# key:`` counts as if the
    ``# `` were not there, ancestors come from indentation, and flow mappings (``{a: 1}``) are read."""
    import re

    import yaml

    found: set[tuple[str, ...]] = set()
    stack: list[tuple[int, str]] = []  # (indentation, key) of the open mappings

    def add(value, path: tuple[str, ...]) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                found.add((*path, str(key)))
                add(inner, (*path, str(key)))
        elif isinstance(value, list):
            for inner in value:
                add(inner, path)

    for raw in text.splitlines():
        line = re.sub(r"^(\s*)# ?", r"\1", raw) if raw.lstrip().startswith("#") else raw
        line = re.sub(r"\s+#.*$", "", line)  # a comment after the value
        match = re.match(r"^(\s*)(- )?(.*)$", line)
        indent = len(match.group(1)) + len(match.group(2) or "")
        content = match.group(3)
        key = re.match(r"^([A-Za-z_][\w]*):(\s|$)", content)
        if not key and not content.startswith("{"):
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parents = tuple(k for _, k in stack)
        try:
            value = yaml.safe_load(content)
        except yaml.YAMLError:
            value = None
        if key:
            found.add((*parents, key.group(1)))
            stack.append((indent, key.group(1)))
        if isinstance(value, dict):
            add(value, parents)
    return found


def test_the_example_config_documents_every_key_path():
    """Every key path of the schema (every registered source, task and sink, and every options model
    they hold) appears in the example, where it belongs: a key under the wrong parent does not count."""
    missing = sorted(".".join(p) for p in schema_paths() - example_paths(EXAMPLE.read_text()))
    assert missing == []


def test_the_key_path_walk_sees_comments_flow_mappings_and_misplaced_keys():
    text = ("a: 1\n"
            "b:\n"
            "  - g: 5\n"
            "    h: 6\n"
            "    # c: 2           # said\n"
            "    #   d: {e: 3, f: [4]}\n"
            "# i: 7\n"
            "j:\n"
            "  k: 1\n")
    assert example_paths(text) == {("a",), ("b",), ("b", "g"), ("b", "h"), ("b", "c"), ("b", "c", "d"),
                                   ("b", "c", "d", "e"), ("b", "c", "d", "f"), ("i",), ("j",), ("j", "k")}


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
    ({"pipelines": [{"model": "m", "source": "camera:0", "pose": {"classifier": {"path": "c", "watch": True}}}]},
     "pose.classifier.watch: only a pipeline's own model is watched"),
    ({"pipelines": [{"model": "m", "source": "mic", "sound": {"gate": {"model": {"path": "v", "watch": True}}}}]},
     "sound.gate.model.watch: only a pipeline's own model is watched"),
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


def _numbers(annotation, metadata=(), where=""):
    """(where, constraints) of every int or float a field's annotation holds, also inside tuples,
    lists and nested options; constraints are those on the number itself."""
    import types
    import typing

    from edgetm.options import FieldInfo, Options

    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        flat = [m for e in extra for m in (e.metadata if isinstance(e, FieldInfo) else [e])]
        yield from _numbers(inner, (*metadata, *flat), where)
    elif origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            yield from _numbers(arg, metadata, where)
    elif origin in (tuple, list, dict):  # the container's constraints (lengths) are not its items'
        for arg in typing.get_args(annotation):
            if arg is not Ellipsis:
                yield from _numbers(arg, (), f"{where}[]")
    elif isinstance(annotation, type) and issubclass(annotation, Options):
        yield from _model_numbers(annotation)
    elif annotation in (int, float):
        yield where, metadata


def _model_numbers(model, seen=None):
    """("Model.field", constraints) of every number in ``model`` and the models it holds."""
    seen = set() if seen is None else seen
    if model in seen:
        return
    seen.add(model)
    for name, field in model.model_fields.items():
        for where, constraints in _numbers(field.annotation, tuple(field.metadata), name):
            yield (where if "." in where else f"{model.__name__}.{where}"), constraints


def _option_classes():
    """Every options model in edgetm, in the configuration or not (training, commands over MQTT)."""
    import importlib
    import pkgutil

    import edgetm
    from edgetm.plugins import Options
    from edgetm.runtime.control import SetCommand

    for module in pkgutil.walk_packages(edgetm.__path__, "edgetm."):
        if module.name not in ("edgetm.__main__",):
            try:
                importlib.import_module(module.name)
            except ImportError:  # an optional extra that is not installed here
                continue
    found, todo = [SetCommand], [Options]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__.startswith("edgetm"):  # not the plugins other tests define
                found.append(sub)
            todo.append(sub)
    return found


def test_every_number_has_bounds():
    """Any int or float a user can set has a lower and an upper bound: a number out of all sense
    (a 4000-digit threshold, a rate of 5e-324) is refused by name, never carried into the runtime."""
    from edgetm.config import schema
    from edgetm.options import Limits

    unbounded = set()
    for model in (schema(), *_option_classes()):
        for where, constraints in _model_numbers(model):
            limits = [c for c in constraints if isinstance(c, Limits)]
            low = any(c.ge is not None or c.gt is not None for c in limits)
            high = any(c.le is not None or c.lt is not None for c in limits)
            if not (low and high):
                unbounded.add(where)
    assert sorted(unbounded) == []


def _pipeline(**extra) -> dict:
    return {"pipelines": [{"model": "m", "source": "camera:0", **extra}]}


@pytest.mark.parametrize("data, message", [
    (_pipeline(model={"path": "m", "input_size": [-5, 0]}), "pipelines.0.model.input_size.0: Input should be greater"),
    (_pipeline(smoothing={"threshold": int("9" * 4000)}), "pipelines.0.smoothing.threshold"),
    (_pipeline(smoothing={"threshold": float("nan")}), "pipelines.0.smoothing.threshold"),
    (_pipeline(max_rate_hz=5e-324), "pipelines.0.max_rate_hz: Input should be greater than or equal to 0.001"),
    (_pipeline(max_fps=1e-300), "pipelines.0.max_fps: Input should be greater than or equal to 0.001"),
    (_pipeline(preprocess={"mean": [0, 0, float("inf")], "std": [1, 1, 1]}), "pipelines.0.preprocess.mean.2"),
    (_pipeline(source={"type": "camera", "reconnect_initial_s": 5e-324}), "reconnect_initial_s"),
    (_pipeline(source={"type": "camera", "width": int("9" * 4000)}), "pipelines.0.source.camera.width"),
    (_pipeline(detect={"zone": {"points": [[0, 0], [1, 0], [1, 1e308]]}}), "zone.points.2.1"),
])
def test_numbers_out_of_all_sense_are_refused_by_name(data, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


@pytest.mark.parametrize("text, message", [
    ("pipelines:\n  - model: m\n    source: camera:0\n    max_rate_hz: 5\n    max_rate_hz: 6\n",
     "at line 5: the key 'max_rate_hz' is given twice (first at line 4)"),
    ("device_id: a\npipelines:\n  - model: m\n    source: camera:0\ndevice_id: b\n",
     "at line 5: the key 'device_id' is given twice (first at line 1)"),
    ("pipelines:\n  - model: m\n    source: camera:0\n    smoothing: {threshold: " + "9" * 5000 + "}\n",
     "at line 4: a number of 5000 characters is longer than any setting takes"),
    ("pipelines:\n  - model: m\n    source: camera:0\n    smoothing: {threshold: " + "9" * 4000 + "}\n",
     "at line 4: a number of 4000 characters"),
])
def test_yaml_mistakes_are_one_line_with_the_line_number(tmp_path: Path, text, message):
    file = tmp_path / "edgetm.yaml"
    file.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(file)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_yaml_merge_keys_may_still_override(tmp_path: Path):
    file = tmp_path / "edgetm.yaml"
    file.write_text("base: &base {model: m, source: 'camera:0', max_fps: 5}\n"
                    "pipelines:\n  - <<: *base\n    max_fps: 2\n")
    with pytest.raises(ConfigError, match="base: unknown key"):  # merging works; the anchor's key is unknown
        load_config(file)
    file.write_text("pipelines:\n  - &one {model: m, source: 'camera:0', max_fps: 5}\n"
                    "  - <<: *one\n    name: second\n    max_fps: 2\n")
    config = load_config(file)
    assert [p.max_fps for p in config.pipelines] == [5, 2] and config.pipelines[1].name == "second"


LONG = "a" * 65_600


@pytest.mark.parametrize("data, message", [
    ({**_pipeline(), "device_id": LONG}, "device_id: String should have at most 64 characters"),
    (_pipeline(name=LONG), "pipelines.0.name: String should have at most 64 characters"),
    (_pipeline(name="a+b"), "pipelines.0.name: may hold only"),
    ({**_pipeline(), "device_id": "pi\x00"}, "device_id: may hold only"),
    ({**_pipeline(), "sinks": [{"type": "mqtt", "prefix": LONG}]}, "sinks.0.mqtt.prefix: String should have at most"),
    *[({**_pipeline(), "sinks": [{"type": "mqtt", "prefix": prefix}]},
       "sinks.0.mqtt.prefix: must be topic levels of letters, digits, _ and - joined by single /")
      for prefix in ("", "/edgetm", "edgetm/", "home//edgetm", "home/+/x", "home/#", "a b", "a\x00b", "a\nb")],
    ({**_pipeline(), "sinks": [{"type": "mqtt", "homeassistant": {"prefix": "ha//x"}}]},
     "sinks.0.mqtt.homeassistant.prefix: must be topic levels"),
    (_pipeline(detect={"classes": ["person", "c" * 200]}), "pipelines.0.detect.classes.1: String should have at most"),
])
def test_names_in_topics_are_checked(data, message):
    with pytest.raises(ConfigError, match=message) as raised:
        parse_config(data)
    assert len(str(raised.value)) < 400  # the error does not repeat what it refuses


def test_prefixes_with_levels_are_fine():
    config = parse_config({**_pipeline(), "sinks": [{"type": "mqtt", "prefix": "home/sensors/edgetm-1"}]})
    assert config.sink("mqtt").prefix == "home/sensors/edgetm-1"


def test_the_longest_topic_is_bounded():
    """The longest names the configuration takes, and the longest label a model may have, still make
    topics far below MQTT's 65,535 bytes."""
    from edgetm.config import MAX_NAME_LENGTH
    from edgetm.errors import MAX_TOPIC_BYTES
    from edgetm.publish import homeassistant as ha
    from edgetm.publish.mqtt import MqttOptions
    from edgetm.tasks.detect import count_key

    prefix = MqttOptions.model_fields["prefix"].metadata
    longest_prefix = next(m.max_length for m in prefix if hasattr(m, "max_length"))
    ha_prefix = next(m.max_length for m in ha.HomeAssistantOptions.model_fields["prefix"].metadata
                     if hasattr(m, "max_length"))
    device = pipeline = "d" * MAX_NAME_LENGTH
    label = "\U0001F34C" * 10_000  # four bytes each
    base = f"{'p' * longest_prefix}/{device}"
    topics = [f"{base}/{pipeline}/{count_key(label)}", f"{base}/{pipeline}/snapshot",
              ha.pipeline_topic(ha.HomeAssistantOptions(prefix="h" * ha_prefix), device, pipeline)]
    assert max(len(t.encode()) for t in topics) <= MAX_TOPIC_BYTES < 65_535
    assert count_key(label) != count_key(label[:-1] + "x")  # long labels stay apart


@pytest.mark.parametrize("payload, message", [
    (b'{"max_rate_hz": 5e-324}', "max_rate_hz: Input should be greater than or equal to 0.001"),
    (b'{"threshold": ' + b"9" * 4000 + b"}", "threshold: Input should be less than or equal to 1"),
    (b'{"max_rate_hz": -' + b"9" * 4000 + b"}", "max_rate_hz: Input should be greater than or equal to 0.001"),
])
def test_set_commands_take_the_same_bounds(payload, message):
    """Over MQTT as in the configuration: a rate that would stop all results, a number too long for
    a float, each refused by name."""
    from edgetm.runtime.control import parse_set

    with pytest.raises(ConfigError, match=message):
        parse_set(payload)


def test_aliases_that_expand_without_end_are_refused(tmp_path: Path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 9)]
    config = tmp_path / "laughs.yaml"
    config.write_text("\n".join(lines) + "\npipelines: *a8\n")
    started = time.monotonic()
    with pytest.raises(ConfigError, match="expands to more than 100000 values"):
        load_config(config)
    assert time.monotonic() - started < 2
