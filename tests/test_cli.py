"""The command line, run as users run it: a real process for the import and error paths."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgetm.cli import main
from tests.conftest import DEMO, ROOT

HEAVY = ("cv2", "onnxruntime", "ai_edge_litert", "tflite_runtime", "tensorflow", "sounddevice", "mediapipe",
         "picamera2")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgetm", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def test_import_and_help_load_no_heavy_modules():
    code = ("import sys, edgetm, edgetm.cli\n"
            "edgetm.cli.build_parser().format_help()\n"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    help_run = run_cli("--help")
    assert help_run.returncode == 0 and "classify" in help_run.stdout and "info" in help_run.stdout


def test_classify_demo_json(capsys):
    assert main(["classify", str(DEMO), str(DEMO / "samples"), "--json", "--top-k", "2"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == len(list((DEMO / "samples").glob("*.jpg")))
    for line in lines:
        assert set(line) == {"source", "label", "index", "score", "top", "latency_ms"}
        assert len(line["top"]) == 2 and set(line["top"][0]) == {"label", "index", "score"}
        assert set(line["latency_ms"]) == {"preprocess", "inference", "postprocess"}
        assert line["label"] == line["top"][0]["label"]
        assert 0.0 <= line["score"] <= 1.0


def test_classify_table_and_threshold(capsys):
    assert main(["classify", str(DEMO / "model.tflite"), str(DEMO / "samples" / "ripe-1.jpg")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["IMAGE", "LABEL", "SCORE"]
    assert "Ripe" in out[1]
    assert main(["classify", str(DEMO), str(DEMO / "samples" / "no-banana-1.jpg"), "--threshold", "0.999",
                 "--json"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["label"] is None and line["top"] == []


def test_info_json(capsys):
    assert main(["info", str(DEMO / "model.tflite"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "tflite" and info["task"] == "classify"
    assert info["family"] == "teachable-machine"
    assert info["inputs"][0]["dtype"] == "uint8"
    assert info["inputs"][0]["quantization"] == {"scale": 0.0078125, "zero_point": 128}
    assert info["labels"]["count"] == 4 and info["labels"]["first"][3] == "No banana"
    assert info["preprocess"]["normalize"] == "pixels"


def test_info_text(capsys):
    assert main(["info", str(DEMO / "model.onnx")]) == 0
    out = capsys.readouterr().out
    assert "onnxruntime" in out and "NCHW" in out and "[-1, 3, -1, -1]" in out and "No banana" in out


def test_a_bad_image_in_a_folder_loses_nothing(tmp_path: Path):
    for name in ("ripe-1.jpg", "unripe-1.jpg"):
        (tmp_path / name).write_bytes((DEMO / "samples" / name).read_bytes())
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (tmp_path / "empty.png").write_bytes(b"")
    result = run_cli("classify", str(DEMO), str(tmp_path), str(tmp_path / "missing.jpg"), "--json")
    assert result.returncode == 1
    assert [json.loads(line)["label"] for line in result.stdout.splitlines()] == ["Ripe", "Unripe"]
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 3
    assert all(line.startswith("edgetm: ") for line in errors)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [
    (["info", "no/such/model.tflite"], "does not exist"),
    (["classify", "README.md", "x.jpg"], "is not a model edgetm can run"),
    (["classify", str(DEMO), "x.jpg", "--labels", "pyproject.toml"], "pyproject.toml has an empty line"),
    (["classify", str(DEMO), "x.jpg", "--labels", "models/banana/samples"], "is a folder, not a labels file"),
    (["classify", str(DEMO), "nothing-here-*.jpg"], "no files match"),
    (["classify", str(DEMO), "x.jpg", "--mean", "1,2,3"], "mean and std go together"),
])
def test_user_errors_are_one_line(args, message):
    result = run_cli(*args)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("edgetm: error: ") and message in lines[0]


def test_bad_arguments_are_usage_errors():
    result = run_cli("classify", str(DEMO), "x.jpg", "--threshold", "2")
    assert result.returncode == 2 and "--threshold: Input should be less than or equal to 1" in result.stderr


LONG = "a" * 65_600
TRAIN = ["train", "--data", "no-data", "--out", "no-out", "--swap-into", "mqtt://localhost"]


@pytest.mark.parametrize("args, message", [
    (["run", str(DEMO), "--device-id", LONG], "argument --device-id: String should have at most 64 characters"),
    (["run", str(DEMO), "--device-id", "my pi"], "argument --device-id: may hold only letters, digits and . _ -"),
    (["run", str(DEMO), "--name", "a+b"], "argument --name: may hold only letters, digits and . _ -"),
    (["run", str(DEMO), "--name", LONG], "argument --name: String should have at most 64 characters"),
    (["run", str(DEMO), "--mqtt", "mqtt://localhost", "--prefix", "home//edgetm"],
     "argument --prefix: must be topic levels of letters, digits, _ and - joined by single /"),
    (["run", str(DEMO), "--mqtt", "mqtt://localhost", "--prefix", LONG],
     "argument --prefix: String should have at most 128 characters"),
    ([*TRAIN, "--prefix", "edgetm/#"], "argument --prefix: must be topic levels"),
    ([*TRAIN, "--device-id", LONG], "argument --device-id: String should have at most 64 characters"),
    ([*TRAIN, "--pipeline", "a/b"], "argument --pipeline: may hold only letters, digits and . _ -"),
    (["run", str(DEMO), "--input-size=-5x0"], "argument --input-size: Input should be greater than or equal to 1"),
    (["run", str(DEMO), "--max-rate", "5e-324"], "argument --max-rate: Input should be greater than or equal to 0.001"),
    (["run", str(DEMO), "--threshold", "nan"], "argument --threshold: Input should be a finite number"),
    (["run", str(DEMO), "--top-k", "9" * 5000], "argument --top-k:"),
])
def test_names_and_numbers_on_the_command_line_are_one_line_errors(args, message):
    """Flags go through the same checks as the configuration, and a mistake is one short line (not
    the usage, not the value again), exit status 2."""
    result = run_cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[:2000]
    assert lines[0].startswith(f"edgetm {args[0]}: error: ") and message in lines[0], lines[0][:500]
    assert len(lines[0]) < 300
