"""Real exported models nobody on this project made (see the zoo's README for sources and answers)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgetm.errors import ModelError
from edgetm.model import Family, Layout, TaskKind, load_model
from edgetm.vision.classify import Classifier, ClassifyOptions
from edgetm.vision.image import read_image
from edgetm.vision.preprocess import Interpolation, PreprocessOptions

# Expected top-1 (and score, with Pillow's ImageOps.fit Lanczos crop) from the zoo's README.
MOBILENET_V2 = [
    ("coral_grace_hopper.bmp", "military uniform", 0.57),
    ("coral_cat.bmp", "Egyptian cat", 0.83),
    ("coral_parrot.jpg", "macaw", 0.996),
    ("coffee.png", "espresso", 0.98),
    ("chelsea.png", "tiger cat", 0.62),
]


@pytest.fixture(scope="module")
def mobilenet(zoo: Path):
    return load_model(zoo / "coral-mobilenet" / "mobilenet_v2_1.0_224_quant.tflite")


def test_mobilenet_v2_quant_metadata(mobilenet):
    assert mobilenet.labels_source == "embedded" and len(mobilenet.labels) == 1001
    assert mobilenet.labels[0] == "background"
    assert mobilenet.input.dtype == np.uint8 and mobilenet.input.quantization.zero_point == 128
    assert mobilenet.task is TaskKind.CLASSIFY


@pytest.mark.parametrize("image, label, score", MOBILENET_V2)
def test_mobilenet_v2_answers_with_the_fast_default(zoo: Path, mobilenet, image, label, score):
    result = Classifier(mobilenet)(read_image(zoo / "images" / image))
    assert result.label == label
    assert result.score == pytest.approx(score, abs=0.2)


@pytest.mark.parametrize("image, label, score", MOBILENET_V2)
def test_mobilenet_v2_answers_exactly_with_pillow_resampling(zoo: Path, mobilenet, image, label, score):
    classifier = Classifier(mobilenet, preprocess=PreprocessOptions(interpolation=Interpolation.PIL))
    result = classifier(read_image(zoo / "images" / image))
    assert result.label == label
    assert result.score == pytest.approx(score, abs=0.006)


def test_tf2_mobilenet_with_its_labels_file(zoo: Path):
    model = load_model(zoo / "coral-mobilenet" / "tf2_mobilenet_v2_1.0_224_ptq.tflite",
                       labels=zoo / "coral-mobilenet" / "imagenet_labels.txt")
    result = Classifier(model, preprocess=PreprocessOptions(interpolation=Interpolation.PIL))(
        read_image(zoo / "images" / "coral_grace_hopper.bmp"))
    assert result.label == "military uniform"
    assert result.score == pytest.approx(0.26, abs=0.03)


# The zoo's README swaps the two label sets; these are what the folders hold.
@pytest.mark.parametrize("folder, labels, dtype", [
    ("old_tflite_quant", ["Class 1", "Class 2"], np.uint8),
    ("old_tflite_unquant", ["3DTISK", "Petka"], np.float32),
])
def test_teachable_machine_exports(zoo: Path, folder, labels, dtype):
    model = load_model(zoo / "tm-keras-aitoy" / folder)
    assert model.family is Family.TEACHABLE_MACHINE
    assert model.labels == labels
    assert model.input.dtype == dtype
    assert model.input.signature == (-1, 224, 224, 3)
    result = Classifier(model, ClassifyOptions(top_k=2))(read_image(zoo / "tm-keras-aitoy" / "table.jpg"))
    assert result.label in labels
    assert sum(p.score for p in result.top) == pytest.approx(1.0, abs=0.01)
    assert all(0.0 <= p.score <= 1.0 for p in result.top)


def test_keras_h5_is_refused(zoo: Path):
    for path in (zoo / "tm-keras-aitoy" / "converted_keras", zoo / "tm-keras-aitoy" / "converted_keras" /
                 "keras_model.h5"):
        with pytest.raises(ModelError, match=r"Keras model.*TensorFlow Lite"):
            load_model(path)


@pytest.mark.parametrize("path, op", [
    ("coral-invalid/model_invoking_error.tflite", "fake-op-double"),
    ("coral-posenet-customop/posenet_mobilenet_v1_075_353_481_16_quant_decoder.tflite", "PosenetDecoderOp"),
])
def test_custom_op_models_are_refused_naming_the_op(zoo: Path, path, op):
    with pytest.raises(ModelError, match=f"needs the custom op '{op}'"):
        load_model(zoo / path)


def test_dynamic_onnx_classifier(zoo: Path):
    model = load_model(zoo / "rapidocr-mobilenetv3-cls" / "ch_ppocr_mobile_v2.0_cls_infer.onnx",
                       input_size=(192, 48))
    assert model.input.layout is Layout.NCHW
    assert model.input.signature == (-1, 3, -1, -1) and model.input.shape == (1, 3, 48, 192)
    result = Classifier(model, ClassifyOptions(top_k=2))(read_image(zoo / "images" / "rocket.jpg"))
    assert result.index in (0, 1) and sum(p.score for p in result.top) == pytest.approx(1.0, abs=1e-4)


def test_ultralytics_metadata_is_read(zoo: Path):
    tflite = load_model(zoo / "yolov8n-tflite" / "yolov8n_full_integer_quant.tflite")
    assert tflite.family is Family.ULTRALYTICS and tflite.task is TaskKind.DETECT
    assert len(tflite.labels) == 80 and tflite.labels[5] == "bus"
    onnx = load_model(zoo / "nudenet-yolov8n-320" / "320n.onnx")
    assert onnx.family is Family.ULTRALYTICS and onnx.input.shape == (1, 3, 320, 320)
    assert len(onnx.labels) == 18


def test_a_running_model_survives_its_file_being_overwritten(zoo: Path, tmp_path: Path):
    """cp and scp write over a file in place; a model read through a memory map would then fault
    (SIGBUS) on its next inference. Run in a child process, so that a fault fails the test."""
    script = (
        "import shutil, sys, numpy as np\n"
        "from pathlib import Path\n"
        "from edgetm.model import load_model\n"
        "path = Path(sys.argv[2]); shutil.copy(sys.argv[1], path)\n"
        "model = load_model(path); x = np.zeros(model.input.shape, model.input.dtype); model.run(x)\n"
        "path.write_bytes(b''); model.run(x)\n"
        "path.write_bytes(b'TFL3' * 1000); model.run(x)\n"
        "print('ok')\n"
    )
    model = zoo / "yolov8n-tflite" / "yolov8n_full_integer_quant.tflite"
    out = subprocess.run([sys.executable, "-c", script, str(model), str(tmp_path / "copy.tflite")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", (out.returncode, out.stderr[-500:])
