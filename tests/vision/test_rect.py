"""Rectangular inference: a detector with dynamic sides gets the smallest stride-aligned letterbox
that holds the frame, as Ultralytics' ``LetterBox(auto=True)`` gives it, and boxes map back exactly."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from edgetm.cli import main
from edgetm.model import load_model
from edgetm.runtime.prefetch import prefetch
from edgetm.vision.detect import DetectOptions, Detector
from edgetm.vision.image import read_image
from edgetm.vision.preprocess import RECT_SIZES
from tests.modelkit import constant_output_onnx, constant_outputs_tflite, write
from tests.vision.test_detect import NAMES, boxes_of, v8_raw

RECT = DetectOptions(rect=True)

# Frames of every common shape, and awkward ones whose scaled sides round both ways.
FRAMES = [(640, 480), (1280, 720), (810, 1080), (1920, 1080), (1000, 1000), (333, 777), (777, 333), (100, 31)]


def ultralytics_letterbox(image: np.ndarray, new_shape=(640, 640), stride: int = 32) -> np.ndarray:
    """Ultralytics' ``LetterBox(auto=True, scaleup=True, center=True)`` for inference
    (ultralytics/data/augment.py), line for line; ``new_shape`` is (height, width)."""
    shape = image.shape[:2]
    r = min(new_shape[0] / shape[0], new_shape[1] / shape[1])
    new_unpad = int(round(shape[1] * r)), int(round(shape[0] * r))  # noqa: RUF046
    dw, dh = new_shape[1] - new_unpad[0], new_shape[0] - new_unpad[1]
    dw, dh = np.mod(dw, stride), np.mod(dh, stride)
    dw /= 2
    dh /= 2
    if shape[::-1] != new_unpad:
        image = cv2.resize(image, new_unpad, interpolation=cv2.INTER_LINEAR)
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))  # noqa: RUF046
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))  # noqa: RUF046
    return cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114))


def noise(width: int, height: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)


@pytest.fixture
def dynamic(tmp_path: Path):
    """A YOLOv8-layout ONNX detector with dynamic sides, loaded at 640x640, whose output is known."""
    raw = v8_raw([(320, 192, 64, 32, 0, 0.9), (100, 100, 40, 40, 1, 0.8)])
    return load_model(write(tmp_path, "dyn.onnx", constant_output_onnx(raw, (640, 640), NAMES, dynamic=True)))


@pytest.mark.parametrize("size", FRAMES)
def test_the_input_is_ultralytics_rect_letterbox(dynamic, size):
    frame = noise(*size)
    tensor = Detector(dynamic, RECT).prepare(frame).tensor
    reference = cv2.cvtColor(ultralytics_letterbox(frame), cv2.COLOR_BGR2RGB).transpose(2, 0, 1)[None] / 255.0
    assert tensor.shape == reference.shape
    assert np.allclose(tensor, reference, atol=1e-6)


def test_wide_and_4_3_frames_take_the_sizes_ultralytics_gives(dynamic):
    detector = Detector(dynamic, RECT)
    assert detector.prepare(noise(640, 480)).tensor.shape == (1, 3, 480, 640)
    assert detector.prepare(noise(1280, 720)).tensor.shape == (1, 3, 384, 640)  # 360 + 24 rows of grey
    assert detector.prepare(noise(810, 1080)).tensor.shape == (1, 3, 640, 480)
    assert dynamic.input.shape == (1, 3, 640, 640)  # the model still says the size it was loaded at


def test_boxes_map_back_exactly(dynamic):
    """The model's boxes are in input pixels: at 640x480 the input is the frame itself; a 1280x720
    frame is halved and has 12 rows of grey above it."""
    detector = Detector(dynamic, RECT)
    assert boxes_of(detector(noise(640, 480))) == [("cat", 0.9, [288.0, 176.0, 352.0, 208.0]),
                                                   ("dog", 0.8, [80.0, 80.0, 120.0, 120.0])]
    assert boxes_of(detector(noise(1280, 720))) == [("cat", 0.9, [576.0, 328.0, 704.0, 392.0]),
                                                    ("dog", 0.8, [160.0, 136.0, 240.0, 216.0])]
    # The square would have put 140 rows of grey above the picture, and the boxes elsewhere.
    square = Detector(dynamic, DetectOptions(rect=False))
    assert square.prepare(noise(1280, 720)).tensor.shape == (1, 3, 640, 640)
    assert boxes_of(square(noise(1280, 720)))[0] == ("cat", 0.9, [576.0, 72.0, 704.0, 136.0])


def test_a_fixed_shape_model_keeps_its_square(tmp_path: Path):
    raw = v8_raw([(320, 320, 64, 32, 0, 0.9)])
    model = load_model(write(tmp_path, "fixed.onnx", constant_output_onnx(raw, (640, 640), NAMES)))
    detector = Detector(model, RECT)
    assert not detector.rect
    assert detector.prepare(noise(1280, 720)).tensor.shape == (1, 3, 640, 640)
    assert boxes_of(detector(noise(1280, 720))) == [("cat", 0.9, [576.0, 328.0, 704.0, 392.0])]


def test_info_says_what_rect_does_and_what_a_square_export_needs(dynamic, tmp_path: Path, capsys):
    raw = v8_raw([(320, 320, 64, 32, 0, 0.9)])
    fixed = write(tmp_path, "fixed.onnx", constant_output_onnx(raw, (640, 640), NAMES))
    assert main(["info", str(fixed)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("rect"))
    assert "fixed at 640x640" in line and "dynamic=True" in line
    assert main(["info", dynamic.source]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("rect"))
    assert line.startswith("rect        on:") and "640x384 for a 1280x720 frame" in line
    assert main(["info", dynamic.source, "--input-size", "640x640"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("rect"))
    assert line.startswith("rect        off (input_size fixes the sides):") and "rect: true" in line
    assert "1280x720 at 640x384" in line
    assert "rect: false" in (Detector(dynamic, DetectOptions(rect=False)).describe_rect() or "")


def test_on_by_default_for_dynamic_sides_unless_input_size_fixes_them(dynamic, tmp_path: Path):
    """A dynamic export runs rectangular as Ultralytics runs it; a size the caller fixed is kept,
    unless rect is asked for too."""
    wide = noise(1280, 720)
    assert Detector(dynamic).prepare(wide).tensor.shape == (1, 3, 384, 640)
    assert Detector(dynamic, DetectOptions(rect=False)).prepare(wide).tensor.shape == (1, 3, 640, 640)
    sized = load_model(dynamic.source, input_size=(640, 640))
    assert sized.input.is_dynamic and Detector(sized).prepare(wide).tensor.shape == (1, 3, 640, 640)
    assert Detector(sized, RECT).prepare(wide).tensor.shape == (1, 3, 384, 640)


def test_buffers_per_geometry_survive_the_next_frame_and_are_bounded(dynamic):
    """A tensor stays valid while the next frame, of another size, is prepared (prefetch does
    that), and only the last few input sizes keep buffers."""
    preprocessor = Detector(dynamic, RECT).preprocessor
    wide, tall = noise(1280, 720, 1), noise(810, 1080, 2)
    first = preprocessor(wide)[0]
    expected = first.copy()
    preprocessor(tall)
    assert np.array_equal(first, expected)
    for width in range(200, 200 + 64 * (RECT_SIZES + 2), 64):
        preprocessor(noise(width, 100))
    assert len(preprocessor._buffers) == RECT_SIZES


def test_litert_reallocates_only_when_the_geometry_changes(tmp_path: Path):
    """Ultralytics' TFLite boxes are fractions of the input, so they scale by each frame's input
    size; LiteRT's interpreter is resized once per change of geometry, not once per frame."""
    raw = v8_raw([(0.5, 0.5, 0.1, 0.125, 0, 0.9)])  # the input's centre
    model = load_model(write(tmp_path, "dyn.tflite", constant_outputs_tflite([raw], dynamic=True)),
                       input_size=(640, 640))
    assert model.input.has_dynamic_sides
    detector = Detector(model, RECT)
    interpreter = model.backend._interp
    allocations = []
    allocate = interpreter.allocate_tensors
    interpreter.allocate_tensors = lambda: allocations.append(1) or allocate()
    wide, four_three = noise(1280, 720), noise(640, 480)
    results = [detector(frame) for frame in (wide, wide, four_three, four_three, wide)]
    assert len(allocations) == 3
    assert interpreter.get_input_details()[0]["shape"].tolist() == [1, 384, 640, 3]
    # 640x384 input: the box is 64x48 input pixels around (320, 192); halved back to the frame.
    assert boxes_of(results[0]) == [("class 0", 0.9, [576.0, 312.0, 704.0, 408.0])]
    assert boxes_of(results[2]) == [("class 0", 0.9, [288.0, 210.0, 352.0, 270.0])]
    assert boxes_of(results[4]) == boxes_of(results[0])
    # Prepared one frame ahead in another thread, as a pipeline runs, the answers are the same.
    ahead = [detector.infer(p) for _, p in prefetch([wide, four_three] * 3, detector.prepare)]
    assert [boxes_of(r) for r in ahead] == [boxes_of(results[0]), boxes_of(results[2])] * 3


def test_zoo_yolov8_onnx_runs_rectangular(zoo: Path):
    model = load_model(zoo / "nudenet-yolov8n-320" / "320n.onnx", input_size=(640, 640))
    detector = Detector(model, RECT)
    zidane = read_image(zoo / "images" / "zidane.jpg")
    assert detector.prepare(zidane).tensor.shape == (1, 3, 384, 640)
    assert detector.prepare(read_image(zoo / "images" / "bus.jpg")).tensor.shape == (1, 3, 640, 480)
    faces = [d for d in detector(zidane).detections if d.label == "FACE_MALE"]
    assert len(faces) == 1 and faces[0].score > 0.5
    x1, y1, x2, y2 = faces[0].box
    assert 860 < x1 < 940 and 100 < y1 < 160 and 1030 < x2 < 1100 and 260 < y2 < 320


def test_zoo_square_yolov8_tflite_says_it_needs_dynamic_axes(zoo: Path):
    detector = Detector(load_model(zoo / "yolov8n-tflite" / "yolov8n_full_integer_quant.tflite"))
    assert not detector.rect and "dynamic=True" in (detector.describe_rect() or "")


def test_the_command_line_turns_it_off_with_no_rect(dynamic, tmp_path: Path):
    import json

    from tests.test_cli import run_cli

    photo = tmp_path / "wide.png"
    cv2.imwrite(str(photo), noise(1280, 720))
    with_rect = run_cli("detect", dynamic.source, str(photo), "--json")
    square = run_cli("detect", dynamic.source, str(photo), "--no-rect", "--json")
    assert with_rect.returncode == 0 and square.returncode == 0, with_rect.stderr + square.stderr
    boxes = [[d["box"] for d in json.loads(done.stdout)["detections"]] for done in (with_rect, square)]
    assert boxes[0][0] == [576.0, 328.0, 704.0, 392.0] and boxes[1][0] == [576.0, 72.0, 704.0, 136.0]


def test_rect_asked_of_a_fixed_shape_model_is_said(tmp_path: Path, caplog):
    import logging

    raw = v8_raw([(320, 192, 64, 32, 0, 0.9)])
    fixed = load_model(write(tmp_path, "fixed.onnx", constant_output_onnx(raw, (640, 640), NAMES)))
    with caplog.at_level(logging.WARNING):
        Detector(fixed)
        assert not caplog.records  # not asked for: nothing to say
        Detector(fixed, RECT)
    [said] = [r.getMessage() for r in caplog.records]
    assert "rect does not apply" in said and "[1, 3, 640, 640]" in said and "dynamic axes" in said
