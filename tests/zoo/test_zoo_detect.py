"""Real YOLO exports: Ultralytics' TFLite (int8 in and out, int8 inside) and an ONNX YOLOv8."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgetm.model import load_model
from edgetm.vision.detect import DetectLayout, DetectOptions, Detector, output_layout
from edgetm.vision.image import read_image
from tests.conftest import ROOT

YOLO = ["yolov8n_full_integer_quant.tflite", "yolov8n_integer_quant.tflite", "yolov8n_int8.tflite"]


def iou(a, b) -> float:
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def results(zoo: Path) -> dict:
    out = {}
    for name in YOLO:
        model = load_model(zoo / "yolov8n-tflite" / name)
        assert output_layout(model) is DetectLayout.YOLOV8
        detector = Detector(model)
        out[name] = {image: detector(read_image(zoo / "images" / image)) for image in ("bus.jpg", "zidane.jpg")}
    return out


@pytest.mark.parametrize("name", YOLO)
def test_expected_objects(results, name):
    assert results[name]["bus.jpg"].counts() == {"person": 4, "bus": 1}
    zidane = results[name]["zidane.jpg"].counts()
    assert zidane.get("person") == 2 and set(zidane) <= {"person", "tie"}


@pytest.mark.parametrize("image", ["bus.jpg", "zidane.jpg"])
def test_the_three_exports_agree_on_boxes(results, image):
    reference = [d for d in results[YOLO[0]][image].detections if d.label != "tie"]
    for name in YOLO[1:]:
        others = [d for d in results[name][image].detections if d.label != "tie"]
        for detection in reference:
            best = max(iou(detection.box, o.box) for o in others if o.label == detection.label)
            assert best > 0.85, (name, detection)
    bus = next(d.box for d in results[YOLO[0]]["bus.jpg"].detections if d.label == "bus")
    for name in YOLO[1:]:
        other = next(d.box for d in results[name]["bus.jpg"].detections if d.label == "bus")
        assert np.abs(np.array(bus) - np.array(other)).max() < 30


@pytest.mark.parametrize("size, conf", [(320, 0.2), (640, 0.25)])
def test_onnx_yolov8_with_dynamic_input(zoo: Path, size, conf):
    model = load_model(zoo / "nudenet-yolov8n-320" / "320n.onnx", input_size=(size, size))
    assert model.input.shape == (1, 3, size, size) and model.input.is_dynamic
    result = Detector(model, DetectOptions(conf=conf))(read_image(zoo / "images" / "zidane.jpg"))
    faces = [d for d in result.detections if d.label == "FACE_MALE"]
    assert len(faces) == 1
    assert iou(faces[0].box, (900, 130, 1065, 290)) > 0.7


def test_detect_cli(zoo: Path, tmp_path: Path):
    model = zoo / "yolov8n-tflite" / "yolov8n_full_integer_quant.tflite"
    result = subprocess.run([sys.executable, "-m", "edgetm", "detect", str(model), str(zoo / "images" / "bus.jpg"),
                             "--json", "--classes", "person", "--save-annotated", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout)
    assert line["image_size"] == [810, 1080]
    assert [d["label"] for d in line["detections"]] == ["person"] * 4
    assert (tmp_path / "bus.jpg").stat().st_size > 10_000


def test_counting_people_in_a_zone(zoo: Path, tmp_path: Path):
    """bus.jpg then zidane.jpg, 8 frames each, through a pipeline counting people in the left half."""
    import cv2

    import edgetm

    video = tmp_path / "street.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    for name in ("bus.jpg", "zidane.jpg"):
        frame = cv2.resize(read_image(zoo / "images" / name), (640, 480))
        for _ in range(8):
            writer.write(frame)
    writer.release()
    model = zoo / "yolov8n-tflite" / "yolov8n_full_integer_quant.tflite"
    half = edgetm.ZoneOptions(points=[(0, 0), (0.5, 0), (0.5, 1), (0, 1)])
    everywhere = [seen.state.counts.get("person", 0) for seen in edgetm.Pipeline(model, str(video))]
    assert everywhere[:8] == [4] * 8 and everywhere[8:] == [2] * 8
    seen = list(edgetm.Pipeline(model, str(video), DetectOptions(classes=("person",), zone=half)))
    assert [s.state.counts.get("person", 0) for s in seen] == [3] * 8 + [1] * 8
    changes = [[(c.key, c.payload) for c in s.changes] for s in seen if s.changes]
    # The total from the first frame; the counts after three frames each, as smoothing asks.
    assert changes == [[("total", "0")], [("count/person", "3"), ("total", "3")],
                       [("count/person", "1"), ("total", "1")]]


def test_dynamic_input_is_stride_aligned(zoo: Path):
    model = load_model(zoo / "nudenet-yolov8n-320" / "320n.onnx", input_size=(300, 250))
    detector = Detector(model)
    assert model.input.shape == (1, 3, 256, 320)
    assert detector.preprocessor.describe()["size"] == [320, 256]
    assert detector(read_image(zoo / "images" / "zidane.jpg")).image_size == (1280, 720)
