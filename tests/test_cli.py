"""The command line, run as users run it: a real process for the import and error paths."""

import json
import subprocess
import sys
import time
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


def strict_json(text: str | bytes):
    """JSON as the standard has it: NaN, Infinity and -Infinity are refused."""
    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def nan_model(folder: Path) -> Path:
    """An image classifier (a folder with labels) whose four scores are NaN on dark pictures and
    fixed, finite ones on bright pictures."""
    onnx = pytest.importorskip("onnx", reason="onnx not installed")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Sub", ["mean", "middle"], ["centred"]),
        helper.make_node("Sqrt", ["centred"], ["root"]),  # NaN below the middle
        helper.make_node("Mul", ["root", "zero"], ["nothing"]),
        helper.make_node("Add", ["nothing", "scores"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes, "nan", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(np.float32(0.25), "middle"), numpy_helper.from_array(np.float32(0.0), "zero"),
         numpy_helper.from_array(np.array([[0.1, 0.7, 0.1, 0.1]], np.float32), "scores")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    (folder / "nan-model").mkdir()
    (folder / "nan-model" / "model.onnx").write_bytes(model.SerializeToString())
    (folder / "nan-model" / "labels.txt").write_text("0 a\n1 b\n2 c\n3 d\n")
    return folder / "nan-model"


def bright_and_dark(folder: Path, count: int = 6) -> Path:
    """Pictures alternately white (even numbers) and black (odd)."""
    import cv2
    import numpy as np

    (folder / "frames").mkdir()
    for n in range(count):
        cv2.imwrite(str(folder / "frames" / f"{n}.png"), np.full((48, 64, 3), 0 if n % 2 else 255, np.uint8))
    return folder / "frames"


def test_a_model_that_gives_nan_is_an_error_and_no_nan_is_written(tmp_path: Path):
    model, frames = nan_model(tmp_path), bright_and_dark(tmp_path)
    out = tmp_path / "results.jsonl"
    result = run_cli("run", str(model), "--source", str(frames), "--smoothing", "off", "--jsonl", str(out),
                     "--log-level", "info")
    assert result.returncode == 0, result.stderr
    for lines in (result.stdout.splitlines(), out.read_text().splitlines()):
        assert [strict_json(line)["frame"] for line in lines] == [0, 2, 4]  # nothing for the NaN frames
    said = [line for line in result.stderr.splitlines() if "NaN" in line]
    assert 1 <= len(said) <= 2  # at most once a second, and the rest counted at the end
    assert "3 results" in result.stderr and "3 errors" in result.stderr
    assert "Traceback" not in result.stderr
    # Image by image, the first NaN is a one-line error.
    classified = run_cli("classify", str(model), str(frames), "--json")
    assert classified.returncode == 1
    assert [strict_json(line)["source"] for line in classified.stdout.splitlines()] == [str(frames / "0.png")]
    lines = classified.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgetm: error: ") and "NaN" in lines[0], classified.stderr


def test_nan_over_mqtt_is_an_error_in_stats_and_never_a_payload(tmp_path: Path, broker):
    import signal

    import cv2
    import numpy as np

    from tests.broker import Probe

    model = nan_model(tmp_path)
    video = tmp_path / "flicker.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    for n in range(30):
        writer.write(np.full((48, 64, 3), 0 if n % 2 else 255, np.uint8))
    writer.release()
    probe = Probe(broker.port, ["edgetm/nan/#"])
    process = subprocess.Popen([sys.executable, "-m", "edgetm", "run", str(model), "--source", str(video), "--loop",
                                "--realtime", "--smoothing", "off", "--mqtt", broker.url, "--device-id", "nan",
                                "--stdout", "--stats-interval", "1"], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        stats = probe.wait_for(lambda m: [s for s in map(strict_json, probe.on("edgetm/nan/stats"))
                                          if s["pipelines"]["default"]["errors"] > 0], 60)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
        probe.close()
    assert process.returncode == 0, stderr
    pipeline = stats[-1]["pipelines"]["default"]
    assert pipeline["results"] > 0 and pipeline["errors"] > 0
    payloads = [(topic, payload) for topic, payload, _ in probe.messages if payload[:1] in (b"{", b"[")]
    assert {topic for topic, _ in payloads} >= {"edgetm/nan/default/result", "edgetm/nan/stats", "edgetm/nan/error"}
    for topic, payload in payloads:
        assert strict_json(payload) is not None, topic  # every JSON payload is standard JSON
    assert all(strict_json(p)["score"] == 0.7 for p in probe.on("edgetm/nan/default/result"))
    assert "NaN" in strict_json(probe.on("edgetm/nan/error")[0])["error"]
    assert [strict_json(line)["score"] for line in stdout.splitlines()] == [0.7] * len(stdout.splitlines())


def test_every_json_writer_is_strict():
    """json.dumps writes NaN and Infinity, which are no JSON: every call in edgetm refuses them."""
    import ast

    loose = []
    for path in sorted((ROOT / "edgetm").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("dump", "dumps") and getattr(node.func.value, "id", None) == "json"):
                strict = any(k.arg == "allow_nan" and getattr(k.value, "value", True) is False for k in node.keywords)
                if not strict:
                    loose.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert loose == []


STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} "


def test_log_lines_carry_the_time_except_in_the_journal(tmp_path: Path):
    """journald stamps each line itself; anywhere else a log line says when it happened."""
    import os
    import re

    def log_lines(env: dict | None = None, journal: bool = False) -> list[str]:
        with open(tmp_path / "stderr", "w") as stderr:
            status = os.fstat(stderr.fileno())
            extra = {"JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino}"} if journal else {}
            subprocess.run([sys.executable, "-m", "edgetm", "run", str(DEMO), "--source", str(DEMO / "samples"),
                            "--log-level", "info"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr, timeout=120,
                           env={**os.environ, **extra, **(env or {})}, check=True)
        return (tmp_path / "stderr").read_text().splitlines()

    outside = log_lines(env={"JOURNAL_STREAM": "1:1"})  # the journal is not where stderr goes
    assert outside and all(re.match(STAMP + "edgetm: (INFO|WARNING) ", line) for line in outside), outside
    inside = log_lines(journal=True)
    assert inside and all(line.startswith("edgetm: ") for line in inside), inside


def test_native_libraries_add_nothing_to_a_one_line_error(tmp_path: Path):
    """OpenCV, FFmpeg and OpenCV's own AVI reader print their complaints about a broken file or a
    missing camera on stderr; the command line says what failed, in one line."""
    broken_avi = tmp_path / "broken.avi"
    broken_avi.write_bytes(b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(range(256)) * 20)
    broken_mp4 = tmp_path / "broken.mp4"
    broken_mp4.write_bytes(bytes(range(256)) * 80)
    broken_png = tmp_path / "broken.png"
    broken_png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00xx")
    for args, message in [
        (["run", str(DEMO), "--source", str(broken_avi)], "is not a video OpenCV can decode"),
        (["run", str(DEMO), "--source", str(broken_mp4), "--realtime"], "is not a video OpenCV can decode"),
        (["classify", str(DEMO), str(broken_png)], "is not an image OpenCV can decode"),
        (["collect", "--source", "camera:7", "--label", "x", "--out", str(tmp_path / "data"), "--wait-s", "1"],
         "camera:7 gave nothing"),
    ]:
        result = run_cli(*args)
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.stderr


def test_a_missing_camera_is_said_in_edgetm_s_words_only():
    import re
    import signal

    process = subprocess.Popen([sys.executable, "-m", "edgetm", "run", str(DEMO), "--source", "camera:7"], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(4)  # two attempts to open it, a second apart
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    lines = stderr.strip().splitlines()
    assert lines and all(re.match(STAMP + "edgetm: ", line) for line in lines), stderr
    assert "camera:7" in stderr


def test_a_subcommand_imports_only_what_its_own_flags_need():
    """Building every subcommand would import MQTT, cameras and training for one photo's classification."""
    probe = ("import sys\nfrom edgetm.cli import build_parser\nparser = build_parser('classify')\n"
             "parser.parse_args(['classify', 'm', 'x.jpg'])\n"
             "print(sorted(m for m in ('paho', 'edgetm.publish.mqtt', 'edgetm.train.collect', 'edgetm.config',"
             " 'edgetm.capture.camera') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    full = subprocess.run([sys.executable, "-m", "edgetm", "run", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert "--mqtt" in full.stdout  # the subcommand named is built in full
