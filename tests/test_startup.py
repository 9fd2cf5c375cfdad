"""Start-up: each command imports what it runs and no more, seen in the process a user starts.

What a command imports is most of how long it takes to start (a photo's classification spends
a few milliseconds on the photo and the rest on imports), so it is pinned here, by name: a module
imported at the top of another, or a handler's import moved back to its module's top, shows up
as a failure naming it. Timings are not asserted: they are measured, not tested.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import DEMO, ROOT, write_video

# Runs ``python -m edgetm ARGS`` as the program runs (its own command line, its own garbage
# collector settings) and writes, once everything else has finished at exit, which modules it
# imported and what became of the collector.
PROBE = """
import atexit, gc, json, runpy, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(json.dumps(
    {"modules": sorted(sys.modules), "gc_enabled": gc.isenabled(), "frozen": gc.get_freeze_count()})))
runpy.run_module("edgetm", run_name="__main__", alter_sys=True)
"""
# What only some commands use: the MQTT client and its TLS, the YAML of configuration files, the
# generated reader of LiteRT's whole flatbuffer schema, the other runtime.
SERVICE_ONLY = ("paho", "ssl", "yaml")
NEVER_AT_START = ("ai_edge_litert.schema_py_generated", "onnxruntime", "edgetm.train")
# Handlers of the commands not run.
OTHER_COMMANDS = ("edgetm.commands.bench", "edgetm.commands.describe", "edgetm.commands.sound",
                  "edgetm.commands.training", "edgetm.commands.config_files")


def probe(tmp_path: Path, *args: str, status: int = 0) -> dict:
    out = tmp_path / "probe.json"
    done = subprocess.run([sys.executable, "-c", PROBE, str(out), *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == status, done.stderr
    return {"stdout": done.stdout, "stderr": done.stderr, **json.loads(out.read_text())}


def among(modules: list[str], names: tuple[str, ...]) -> list[str]:
    """``names`` (packages with their submodules) that are in ``modules``."""
    return sorted(m for m in modules if any(m == name or m.startswith(name + ".") for name in names))


def test_classifying_a_photo_imports_neither_the_service_nor_the_other_sources(tmp_path: Path):
    seen = probe(tmp_path, "classify", str(DEMO), str(DEMO / "samples" / "ripe-1.jpg"))
    assert "Ripe" in seen["stdout"]
    assert "edgetm.vision.classify" in seen["modules"] and "ai_edge_litert.interpreter" in seen["modules"]
    unwanted = (*SERVICE_ONLY, *NEVER_AT_START, *OTHER_COMMANDS, "edgetm.commands.running", "edgetm.config",
                "edgetm.runtime.service", "edgetm.runtime.pipeline", "edgetm.publish", "edgetm.tasks",
                "edgetm.audio", "edgetm.pose", "edgetm.capture.sources", "edgetm.capture.camera",
                "edgetm.capture.microphone", "edgetm.capture.network", "edgetm.capture.ffmpeg")
    assert among(seen["modules"], unwanted) == []


def test_a_photo_pillow_resamples_is_classified_without_importing_opencv(tmp_path: Path):
    """The demo is a Teachable Machine export: its photos are decoded and resampled by Pillow,
    as the snippet does, and OpenCV (a tenth of the start) is never needed."""
    seen = probe(tmp_path, "classify", str(DEMO), str(DEMO / "samples" / "ripe-1.jpg"), "--json")
    assert json.loads(seen["stdout"].splitlines()[0])["label"] == "Ripe"
    assert "PIL.Image" in seen["modules"] and among(seen["modules"], ("cv2",)) == []


def test_more_photos_than_pillow_decodes_are_decoded_by_opencv(tmp_path: Path):
    """Beyond 32 photos, OpenCV's faster value lookup pays for its import."""
    import shutil

    from edgetm.commands.images import PILLOW_PHOTOS

    photos = tmp_path / "photos"
    photos.mkdir()
    for index in range(PILLOW_PHOTOS + 1):
        shutil.copy(DEMO / "samples" / "ripe-1.jpg", photos / f"{index:02d}.jpg")
    seen = probe(tmp_path, "classify", str(DEMO), str(photos), "--json")
    assert len(seen["stdout"].splitlines()) == PILLOW_PHOTOS + 1 and "cv2" in seen["modules"]


# Plugins a run of a classifier on a video file does not use: every other source, task and sink is
# imported only when a configuration or a flag names it.
OTHER_PLUGINS = ("edgetm.capture.camera", "edgetm.capture.picamera", "edgetm.capture.network",
                 "edgetm.capture.images", "edgetm.capture.microphone", "edgetm.capture.sound_file",
                 "edgetm.capture.ffmpeg", "edgetm.tasks.detect", "edgetm.tasks.sound", "edgetm.tasks.pose",
                 "edgetm.vision.detect", "edgetm.audio", "edgetm.pose", "edgetm.publish.mqtt",
                 "edgetm.publish.homeassistant", "edgetm.results.boxes", "edgetm.results.sound",
                 "edgetm.results.poses")


def test_running_a_model_on_a_video_without_mqtt_imports_no_mqtt_client_nor_yaml(tmp_path: Path):
    video = write_video(tmp_path / "clip.avi", ["ripe-1.jpg"], repeat=3)
    seen = probe(tmp_path, "run", str(DEMO), "--source", str(video))
    assert json.loads(seen["stdout"].splitlines()[0])["label"] == "Ripe"
    assert "edgetm.runtime.service" in seen["modules"]
    assert among(seen["modules"], (*SERVICE_ONLY, *NEVER_AT_START, *OTHER_COMMANDS, "edgetm.commands.images")) == []
    assert among(seen["modules"], OTHER_PLUGINS) == []
    assert "dataclasses" not in seen["modules"]  # edgetm's records are made without it


def test_a_flag_of_another_plugin_imports_that_plugin_alone(tmp_path: Path):
    video = write_video(tmp_path / "clip.avi", ["ripe-1.jpg"], repeat=3)
    seen = probe(tmp_path, "run", str(DEMO), "--source", str(video), "--conf", "0.4", status=1)
    assert "detect options are given" in seen["stderr"]
    detect = ("edgetm.vision.detect", "edgetm.tasks.detect", "edgetm.results.boxes")
    assert "edgetm.vision.detect" in seen["modules"]  # --conf is checked as DetectOptions checks it
    assert among(seen["modules"], tuple(m for m in OTHER_PLUGINS if m not in detect)) == []


def test_writing_the_example_configuration_and_the_version_import_no_options(tmp_path: Path):
    heavy = ("pydantic", "numpy", "cv2", "yaml", "paho", "edgetm.config", "edgetm.capture", "edgetm.model")
    seen = probe(tmp_path, "config", "init", str(tmp_path / "edgetm.yaml"))
    assert (tmp_path / "edgetm.yaml").is_file()
    assert among(seen["modules"], heavy) == []
    seen = probe(tmp_path, "--version")
    assert seen["stdout"].startswith("edgetm ")
    assert among(seen["modules"], heavy) == []


def test_the_collector_is_back_on_after_start_up_with_start_up_s_objects_frozen(tmp_path: Path):
    seen = probe(tmp_path, "classify", str(DEMO), str(DEMO / "samples" / "ripe-1.jpg"))
    assert seen["gc_enabled"] and seen["frozen"] > 0


def test_a_caller_from_python_keeps_its_own_collector_settings():
    code = ("import gc, io, contextlib\nfrom edgetm.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    main(['classify', {str(DEMO)!r}, {str(DEMO / 'samples' / 'ripe-1.jpg')!r}])\n"
            "print(gc.isenabled(), gc.get_freeze_count())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "0"]


def test_a_one_shot_command_ends_without_teardown_but_with_its_output_status_and_exit_handlers(tmp_path: Path):
    """classify ends its process as soon as its output is out (Python's teardown only delays the
    prompt): every line and the status still arrive, and what was registered to run at exit runs
    (the probe's own report is written by such a handler)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for sample in sorted((DEMO / "samples").glob("*.jpg")):
        (photos / sample.name).write_bytes(sample.read_bytes())
    (photos / "broken.jpg").write_bytes(b"not a picture")
    seen = probe(tmp_path, "classify", str(DEMO), str(photos), "--json", status=1)
    lines = seen["stdout"].splitlines()
    assert len(lines) == 8 and all(json.loads(line)["label"] for line in lines)
    assert "broken.jpg" in seen["stderr"] and "Traceback" not in seen["stderr"]
    assert "edgetm.vision.classify" in seen["modules"]  # the report of the exit handler
    # Its reader gone after one line (head -1): no traceback, and the status of a pipe closed early.
    reader = subprocess.Popen([sys.executable, "-m", "edgetm", "classify", str(DEMO), str(photos)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert reader.stdout.readline().startswith("IMAGE")
    reader.stdout.close()
    assert reader.wait(timeout=60) in (0, 1) and "Traceback" not in reader.stderr.read()
