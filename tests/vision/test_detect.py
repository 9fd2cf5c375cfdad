"""Detector output layouts, on models built here whose raw outputs are known."""

import math
from pathlib import Path

import numpy as np
import pytest

from edgetm.errors import ConfigError, LabelsError
from edgetm.model import TaskKind, load_model
from edgetm.vision.detect import DetectLayout, DetectOptions, Detector, output_layout
from tests.modelkit import constant_output_onnx, constant_outputs_tflite, write

NAMES = ["cat", "dog", "bird"]


def frame(width: int = 640, height: int = 480) -> np.ndarray:
    return np.full((height, width, 3), 90, np.uint8)


def boxes_of(result) -> list[tuple[str, float, list[float]]]:
    return [(d.label, round(d.score, 3), [round(v, 1) for v in d.box]) for d in result.detections]


def v8_raw(rows: list[tuple[float, float, float, float, int, float]], classes: int = 3, n: int = 50) -> np.ndarray:
    """[1, 4 + nc, N]: rows of (cx, cy, w, h, class, score), the rest empty."""
    raw = np.zeros((1, 4 + classes, n), np.float32)
    for i, (cx, cy, w, h, c, score) in enumerate(rows):
        raw[0, :4, i] = (cx, cy, w, h)
        raw[0, 4 + c, i] = score
    return raw


# In a 320x320 model a 640x480 frame is scaled by 0.5 and padded by 40 rows at the top.
OBJECTS = [
    (160, 120, 64, 32, 2, 0.9),  # a bird: source box [256, 128, 384, 192]
    (162, 121, 64, 32, 2, 0.8),  # the same bird again: suppressed
    (160, 120, 64, 32, 0, 0.7),  # a cat in the same place: kept per class, gone with --agnostic
    (60, 200, 40, 40, 1, 0.6),  # a dog: [80, 280, 160, 360]
    (250, 250, 20, 20, 0, 0.1),  # below the confidence threshold
]


def test_yolov8_onnx(tmp_path: Path):
    model = load_model(write(tmp_path, "v8.onnx", constant_output_onnx(v8_raw(OBJECTS), names=NAMES)))
    assert model.task is TaskKind.DETECT and output_layout(model) is DetectLayout.YOLOV8
    detector = Detector(model)
    assert detector.preprocessor.describe()["resize"] == "letterbox"
    result = detector(frame(), source="f.jpg")
    assert boxes_of(result) == [("bird", 0.9, [256.0, 128.0, 384.0, 192.0]), ("cat", 0.7, [256.0, 128.0, 384.0, 192.0]),
                                ("dog", 0.6, [80.0, 280.0, 160.0, 360.0])]
    assert result.image_size == (640, 480) and result.counts() == {"bird": 1, "cat": 1, "dog": 1}
    payload = result.to_dict()
    assert set(payload) == {"source", "image_size", "detections", "latency_ms"}
    assert set(payload["detections"][0]) == {"label", "class_id", "score", "box"}
    agnostic = Detector(model, DetectOptions(agnostic=True))(frame())
    assert [d.label for d in agnostic.detections] == ["bird", "dog"]
    only_dogs = Detector(model, DetectOptions(classes=("dog",)))(frame())
    assert boxes_of(only_dogs) == [("dog", 0.6, [80.0, 280.0, 160.0, 360.0])]
    assert len(Detector(model, DetectOptions(max_det=1))(frame()).detections) == 1
    assert len(Detector(model, DetectOptions(conf=0.05))(frame()).detections) == 4


def test_a_dynamic_detector_is_sized_when_loaded_not_when_used(tmp_path: Path):
    """Loading decides the input size (rounded up to the stride); building a detector on a model
    never changes the model under other users' feet."""
    path = write(tmp_path, "dyn.onnx", constant_output_onnx(v8_raw(OBJECTS), names=NAMES, dynamic=True))
    model = load_model(path, input_size=(300, 200))
    assert model.input.shape == (1, 3, 224, 320)  # 200 and 300 rounded up to multiples of 32
    Detector(model)
    assert model.input.shape == (1, 3, 224, 320)
    assert boxes_of(Detector(model)(frame()))[0][0] == "bird"


def test_boxes_are_clipped_to_the_image(tmp_path: Path):
    raw = v8_raw([(10, 60, 60, 60, 0, 0.9)])  # spills over the left edge and into the padding
    result = Detector(load_model(write(tmp_path, "m.onnx", constant_output_onnx(raw, names=NAMES))))(frame())
    assert boxes_of(result) == [("cat", 0.9, [0.0, 0.0, 80.0, 100.0])]


def test_yolov5_onnx(tmp_path: Path):
    raw = np.zeros((1, 30, 5 + 3), np.float32)
    raw[0, 0] = [160, 120, 64, 32, 0.9, 0.1, 0.2, 0.8]  # bird, 0.9 x 0.8
    raw[0, 1] = [161, 121, 64, 32, 0.85, 0.0, 0.0, 0.8]  # same bird, 0.68: suppressed
    raw[0, 2] = [60, 200, 40, 40, 0.2, 0.0, 1.0, 0.0]  # objectness too low
    model = load_model(write(tmp_path, "v5.onnx", constant_output_onnx(raw, names=NAMES)))
    assert output_layout(model) is DetectLayout.YOLOV5
    assert boxes_of(Detector(model)(frame())) == [("bird", 0.72, [256.0, 128.0, 384.0, 192.0])]


def test_yolox_onnx(tmp_path: Path):
    """Undecoded YOLOX: grid offsets and log sizes; raw BGR input letterboxed to the top left."""
    cells = 8 * 8 + 4 * 4 + 2 * 2
    raw = np.zeros((1, cells, 5 + 3), np.float32)
    raw[0, 2 * 8 + 3] = [0.5, 0.5, math.log(2), math.log(2), 0.9, 0.0, 0.9, 0.0]  # stride 8, cell (3, 2): dog
    raw[0, 64 + 1 * 4 + 2] = [0.0, 0.0, 0.0, 0.0, 0.8, 1.0, 0.0, 0.0]  # stride 16, cell (2, 1): cat, 16x16
    (tmp_path / "labels.txt").write_text("cat\ndog\nbird\n")
    model = load_model(write(tmp_path, "yolox.onnx", constant_output_onnx(raw, size=(64, 64))))
    assert output_layout(model) is DetectLayout.YOLOX
    detector = Detector(model)
    assert detector.preprocessor.describe()["color"] == "bgr"
    assert detector.preprocessor.describe()["normalize"] == {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}
    # A 128x64 frame is halved into the top 32 rows of the 64x64 input: no offset, boxes double.
    result = detector(frame(128, 64))
    assert boxes_of(result) == [("dog", 0.81, [40.0, 24.0, 72.0, 56.0]), ("cat", 0.8, [48.0, 16.0, 80.0, 48.0])]


def test_end_to_end_onnx(tmp_path: Path):
    raw = np.zeros((1, 300, 6), np.float32)
    raw[0, 0] = [128, 104, 192, 136, 0.9, 2]
    raw[0, 1] = [130, 106, 190, 134, 0.85, 2]  # overlapping: NMS was the graph's business, both stay
    raw[0, 2] = [30, 180, 80, 220, 0.2, 1]
    model = load_model(write(tmp_path, "e2e.onnx", constant_output_onnx(raw, names=NAMES)))
    assert output_layout(model) is DetectLayout.END_TO_END
    result = Detector(model)(frame())
    assert [d.label for d in result.detections] == ["bird", "bird"]
    assert boxes_of(result)[0] == ("bird", 0.9, [256.0, 128.0, 384.0, 192.0])


def test_int8_tflite_detector(tmp_path: Path):
    """Full-integer int8 (ai-edge-quantizer): int8 output, boxes normalised to 0..1 as Ultralytics' TFLite."""
    raw = v8_raw([(0.5, 0.375, 0.2, 0.1, 2, 0.9), (0.2, 0.6, 0.125, 0.125, 1, 0.6), (0.5, 0.5, 0.1, 0.1, 0, 0.1)])
    model = load_model(write(tmp_path, "int8.tflite", constant_outputs_tflite([raw], int8=True)),
                       labels=_labels(tmp_path))
    assert model.outputs[0].dtype == np.int8 and model.input.dtype == np.int8
    result = Detector(model)(frame())
    # 64x64 input, 640x480 frame: scale 0.1, 8 rows of padding. Quantization moves boxes by a pixel or so.
    labels = [d.label for d in result.detections]
    assert labels == ["bird", "dog"]
    bird, dog = (np.array(d.box) for d in result.detections)
    assert np.abs(bird - [256, 128, 384, 192]).max() < 8
    assert np.abs(dog - [88, 264, 168, 344]).max() < 8
    assert result.detections[0].score == pytest.approx(0.9, abs=0.02)


def _labels(folder: Path) -> Path:
    path = folder / "names.txt"
    path.write_text("cat\ndog\nbird\n")
    return path


def test_label_count_and_class_filter_errors(tmp_path: Path):
    path = write(tmp_path, "v8.onnx", constant_output_onnx(v8_raw(OBJECTS), names=NAMES))
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("a\nb\n")
    with pytest.raises(LabelsError, match="2 labels but the model detects 3 classes"):
        Detector(load_model(path, labels=wrong))
    with pytest.raises(ConfigError, match="no class named 'horse'"):
        Detector(load_model(path), DetectOptions(classes=("horse",)))
    with pytest.raises(ConfigError, match="do not fit the ssd layout"):
        Detector(load_model(path), DetectOptions(layout=DetectLayout.SSD))


@pytest.mark.parametrize("order", [(0, 1, 2, 3), (2, 0, 3, 1)])
def test_tflite_ssd(tmp_path: Path, order):
    """Four outputs in either order exports use: boxes (ymin, xmin, ymax, xmax in 0..1), classes, scores, count."""
    boxes = np.zeros((1, 10, 4), np.float32)
    boxes[0, 0] = [0.25, 0.5, 0.75, 1.0]
    boxes[0, 1] = [0.0, 0.0, 0.5, 0.5]
    classes = np.zeros((1, 10), np.float32)
    classes[0, :2] = [16, 2]
    scores = np.zeros((1, 10), np.float32)
    scores[0, :3] = [0.75, 0.5, 0.2]
    count = np.array([3], np.float32)
    raws = [boxes, classes, scores, count]
    (tmp_path / "labels.txt").write_text((Path(__file__).parents[2] / "models" / "coco.txt").read_text())
    model = load_model(write(tmp_path, "ssd.tflite", constant_outputs_tflite([raws[i] for i in order], (32, 32))))
    assert output_layout(model) is DetectLayout.SSD
    detector = Detector(model)
    assert detector.preprocessor.describe()["resize"] == "squash"
    result = detector(frame(640, 480))
    assert boxes_of(result) == [("dog", 0.75, [320.0, 120.0, 640.0, 360.0]), ("car", 0.5, [0.0, 0.0, 320.0, 240.0])]
