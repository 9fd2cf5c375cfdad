"""Flags on the command line are applied or refused, never silently ignored."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edgetm.cli import build_parser
from edgetm.cli_flags import Choices, options_class
from tests.conftest import DEMO, ROOT, write_video
from tests.test_cli import run_cli


def subcommands() -> dict:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


def minimal_arguments(name: str) -> list[str]:
    """Enough for each subcommand to parse."""
    return {"info": ["m"], "classify": ["m", "x.jpg"], "detect": ["m", "x.jpg"], "pose": ["m", "x.jpg"],
            "listen": ["m"], "collect": ["--source", "s", "--label", "l", "--out", "o"],
            "train": ["--data", "d", "--out", "o"], "run": ["m"], "config": ["schema"], "bench": ["m"]}.get(name, [])


def test_every_subcommand_takes_v_and_q_before_or_after_its_name():
    names = list(subcommands())
    assert {"info", "classify", "detect", "pose", "listen", "devices", "collect", "train", "run",
            "config"} <= set(names)
    parser = build_parser()
    for name in names:
        rest = minimal_arguments(name)
        assert parser.parse_args(["-v", name, *rest]).verbosity == "debug", name
        assert parser.parse_args([name, *rest, "-v"]).verbosity == "debug", name
        assert parser.parse_args([name, "--quiet", *rest]).verbosity == "error", name
        assert parser.parse_args(["-q", name, *rest]).verbosity == "error", name
        assert parser.parse_args([name, *rest]).verbosity is None, name


def test_every_flag_names_an_options_field_that_exists_and_its_help_is_made_from_it():
    """Flags name their options class by place, imported when given or when help is shown: a
    misspelt place or field would only show then, so every one is resolved here."""
    for name, sub in subcommands().items():
        assert "LazyHelp" not in sub.format_help(), name
        for action in sub._actions:
            assert isinstance(action.help, str | None), (name, action.dest)
            if hasattr(action.type, "field"):
                assert action.type.field in options_class(action.type.options).model_fields, (name, action.dest)
            if isinstance(action.choices, Choices):
                assert list(action.choices) and all(isinstance(c, str) for c in action.choices), (name, action.dest)
    run = subcommands()["run"]
    text = run.format_help()
    help_of = {max(a.option_strings, key=len): a.help for a in run._actions if a.option_strings}
    assert help_of["--conf"].endswith("(default: 0.25)") and "{yolov8," in text


def test_a_bad_value_for_a_flag_is_refused_as_its_field_refuses_it():
    result = run_cli("run", str(DEMO), "--conf", "2")
    assert result.returncode == 2 and "--conf" in result.stderr and "less than or equal to 1" in result.stderr
    result = run_cli("run", str(DEMO), "--layout", "yolov9")
    assert result.returncode == 2 and "--layout: must be one of 'yolov8'" in result.stderr


def test_v_and_q_together_are_an_error():
    result = run_cli("info", str(DEMO), "-v", "-q")
    assert result.returncode == 2 and "not allowed with argument" in result.stderr


def images_config(tmp_path: Path) -> Path:
    file = tmp_path / "edgetm.yaml"
    file.write_text(f"log_level: info\npipelines:\n  - model: {DEMO}\n    source: {DEMO / 'samples'}\n")
    return file


def test_v_shows_debug_lines_and_q_hides_info_lines(tmp_path: Path):
    plain = run_cli("run", str(DEMO), "--source", str(DEMO / "samples"))
    assert plain.returncode == 0 and " INFO " in plain.stderr and " DEBUG " not in plain.stderr
    loud = run_cli("-v", "run", str(DEMO), "--source", str(DEMO / "samples"))
    assert loud.returncode == 0 and " DEBUG " in loud.stderr
    quiet = run_cli("run", str(DEMO), "--source", str(DEMO / "samples"), "-q")
    assert quiet.returncode == 0 and quiet.stderr == ""
    # With --config, -v and -q apply on top of the file's log_level.
    config = images_config(tmp_path)
    assert " DEBUG " in run_cli("run", "--config", str(config), "-v").stderr
    assert run_cli("run", "--config", str(config), "--quiet").stderr == ""


def test_v_with_log_level_is_an_error():
    result = run_cli("run", str(DEMO), "-v", "--log-level", "info")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "-v and --log-level" in lines[0], result.stderr


@pytest.mark.parametrize("flags, named", [
    (["--threshold", "0.3"], "--threshold"),
    (["--source", "camera:1", "--max-fps", "5"], "--max-fps, --source"),
    (["--stdout"], "--stdout"),
    (["--mqtt", "mqtt://localhost", "--device-id", "x"], "--device-id, --mqtt"),
    (["--conf", "0.5"], "--conf"),
])
def test_flags_beside_config_are_errors_that_name_them(tmp_path: Path, flags, named):
    result = run_cli("run", "--config", str(images_config(tmp_path)), *flags)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("edgetm: error: ") and f"{named} would be ignored with --config" in lines[0], lines[0]
    assert "Traceback" not in result.stderr


def test_log_level_beside_config_applies(tmp_path: Path):
    result = run_cli("run", "--config", str(images_config(tmp_path)), "--log-level", "error")
    assert result.returncode == 0 and result.stderr == ""


def test_a_bare_number_is_a_camera():
    from edgetm.capture import parse_source
    from edgetm.config import parse_config

    assert parse_source("0").type == "camera" and parse_source("0").device == 0
    assert parse_source("2").device == 2
    config = parse_config({"pipelines": [{"model": "m", "source": 1}]})
    assert config.pipelines[0].source.type == "camera" and config.pipelines[0].source.device == 1


def test_source_0_on_the_command_line_opens_camera_0():
    process = subprocess.Popen([sys.executable, "-m", "edgetm", "run", str(DEMO), "--source", "0", "-v"], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        import time

        time.sleep(3)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert "unknown source" not in stderr and "camera:0" in stderr, stderr


def test_loop_without_realtime_is_applied_and_said(tmp_path: Path):
    """--loop alone plays the file again and again, every frame as fast as possible."""
    video = write_video(tmp_path / "clip.avi", ["ripe-1.jpg"], repeat=5)
    process = subprocess.Popen([sys.executable, "-m", "edgetm", "run", str(DEMO), "--source", str(video), "--loop"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline() for _ in range(12)]  # type: ignore[union-attr]
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert all(lines), stderr
    assert [json.loads(line)["frame"] for line in lines] == list(range(12))  # past the file's 5 frames
    help_text = run_cli("run", "--help").stdout
    assert "without --realtime" in " ".join(help_text.split())


def test_loop_on_a_camera_is_an_error():
    result = run_cli("run", str(DEMO), "--source", "camera:0", "--loop")
    assert result.returncode == 1 and "--loop does not apply to the source camera:0" in result.stderr


def test_a_flag_is_taken_only_as_spelled_in_full():
    done = run_cli("run", str(DEMO), "--json")  # --jsonl exists; --json is not it
    assert done.returncode == 2 and "unrecognized arguments: --json" in done.stderr
