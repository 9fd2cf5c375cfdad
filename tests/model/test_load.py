import zipfile
from pathlib import Path

import numpy as np
import pytest

from edgetm.errors import LabelsError, ModelError
from edgetm.model import Family, Layout, ModelFormat, TaskKind, load_model
from edgetm.train.export_tflite import to_tflite
from tests.conftest import DEMO
from tests.modelkit import (
    custom_op_tflite,
    int8_tflite,
    mean_colour_net,
    onnx_model,
    small_cnn,
    uint8_tflite,
    write,
)

LABELS_TXT = "0 Unripe\n1 Ripe\n2 Overripe\n3 No banana\n"


@pytest.fixture
def net():
    return small_cnn(classes=4)


@pytest.fixture
def tm_folder(tmp_path: Path, net) -> Path:
    """A Teachable Machine-style export folder: float and uint8 models, labels.txt."""
    folder = tmp_path / "export"
    write(folder, "model_unquant.tflite", to_tflite(net))
    write(folder, "model.tflite", uint8_tflite(net))
    (folder / "labels.txt").write_text(LABELS_TXT)
    return folder


def test_float_tflite_specs(tm_folder: Path):
    model = load_model(tm_folder / "model_unquant.tflite")
    assert model.format is ModelFormat.TFLITE
    assert model.family is Family.TEACHABLE_MACHINE
    assert model.task is TaskKind.CLASSIFY
    assert model.labels == ["Unripe", "Ripe", "Overripe", "No banana"]
    spec = model.input
    assert spec.dtype == np.float32 and spec.layout is Layout.NHWC
    assert spec.signature == (-1, 32, 32, 3) and spec.shape == (1, 32, 32, 3)
    assert model.outputs[0].shape == (1, 4)
    info = model.info()
    assert info["inputs"][0]["shape"] == [-1, 32, 32, 3]
    assert info["labels"]["count"] == 4


def test_uint8_tflite_specs(tm_folder: Path):
    model = load_model(tm_folder / "model.tflite")
    spec = model.input
    assert spec.dtype == np.uint8 and spec.is_quantized
    assert spec.quantization.scale == pytest.approx(1 / 128) and spec.quantization.zero_point == 128
    out = model.outputs[0]
    assert out.dtype == np.uint8 and out.quantization.scale == pytest.approx(1 / 256)


def test_export_folder_prefers_the_float_model(tm_folder: Path):
    assert load_model(tm_folder).source.endswith("model_unquant.tflite")
    (tm_folder / "model_unquant.tflite").unlink()
    assert load_model(tm_folder).source.endswith("model.tflite")


@pytest.mark.parametrize("zip_name, members, chosen", [
    ("converted_tflite.zip", ["model_unquant.tflite", "labels.txt"], "model_unquant.tflite"),
    ("converted_tflite_quantized.zip", ["model.tflite", "labels.txt"], "model.tflite"),
    ("converted_tflite_quantized.zip", ["converted_tflite_quantized/model.tflite",
                                        "converted_tflite_quantized/labels.txt"], "model.tflite"),
])
def test_teachable_machine_zips(tmp_path: Path, tm_folder: Path, zip_name, members, chosen):
    archive = tmp_path / zip_name
    with zipfile.ZipFile(archive, "w") as z:
        for member in members:
            z.write(tm_folder / Path(member).name, member)
    model = load_model(archive)
    assert model.source.endswith(chosen)
    assert model.labels == ["Unripe", "Ripe", "Overripe", "No banana"]
    assert model.family is Family.TEACHABLE_MACHINE
    # The folder the zip sits in works too.
    assert load_model(tmp_path).source.endswith(chosen)


def test_edgetpu_zip_without_a_coral(tmp_path: Path):
    archive = tmp_path / "converted_edgetpu.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("model_edgetpu.tflite", custom_op_tflite("edgetpu-custom-op"))
        z.writestr("labels.txt", "0 a\n1 b\n2 c\n3 d\n")
    with pytest.raises(ModelError, match=r"compiled for the Coral Edge TPU.*--delegate edgetpu"):
        load_model(archive)
    with pytest.raises(ModelError, match="Edge TPU delegate was requested but libedgetpu"):
        load_model(archive, delegate="edgetpu")


def test_onnx_nchw_and_nhwc_with_embedded_labels(tmp_path: Path, net):
    for layout in (Layout.NCHW, Layout.NHWC):
        model = load_model(write(tmp_path / layout.value, "model.onnx", onnx_model(net, layout)))
        assert model.format is ModelFormat.ONNX
        assert model.input.layout is layout
        assert model.input.is_dynamic
        assert model.labels == net.labels and model.labels_source == "embedded"
        assert model.task is TaskKind.CLASSIFY


def test_dynamic_onnx_input_size(tmp_path: Path, net):
    path = write(tmp_path, "model.onnx", onnx_model(net, Layout.NCHW, dynamic=True))
    assert load_model(path).input.shape == (1, 3, 224, 224)  # dynamic sides default to 224
    model = load_model(path, input_size=(64, 48))
    assert model.input.shape == (1, 3, 48, 64)
    assert model.input.signature == (-1, 3, -1, -1)
    assert model.run(np.zeros((1, 3, 48, 64), np.float32))[0].shape == (1, 4)


def test_dynamic_tflite_input_is_resized_before_allocation(tmp_path: Path, net):
    path = write(tmp_path, "dyn.tflite", to_tflite(net, dynamic_size=True))
    model = load_model(path, input_size=(40, 24))
    assert model.input.signature == (-1, -1, -1, 3)
    assert model.input.shape == (1, 24, 40, 3)
    assert model.run(np.zeros((1, 24, 40, 3), np.float32))[0].shape == (1, 4)
    model.resize((1, 16, 16, 3))
    assert model.input.shape == (1, 16, 16, 3)


def test_int8_tflite_from_ai_edge_quantizer(tmp_path: Path, net):
    model = load_model(write(tmp_path, "int8.tflite", int8_tflite(net)))
    assert model.input.dtype == np.int8 and model.outputs[0].dtype == np.int8
    assert model.input.quantization is not None
    assert model.task is TaskKind.CLASSIFY


def test_label_preference_and_mismatch(tmp_path: Path, net):
    path = write(tmp_path, "model.onnx", onnx_model(net))
    (tmp_path / "labels.txt").write_text("a\nb\nc\nd\n")
    assert load_model(path).labels == ["a", "b", "c", "d"]  # beside beats embedded
    explicit = tmp_path / "mine.txt"
    explicit.write_text("0 w\n1 x\n2 y\n3 z\n")
    assert load_model(path, labels=explicit).labels == ["w", "x", "y", "z"]  # explicit beats beside
    explicit.write_text("0 w\n1 x\n")
    with pytest.raises(LabelsError, match="has 2 labels but the model outputs 4 classes"):
        load_model(path, labels=explicit)
    (tmp_path / "labels.txt").write_text("just one\n")
    with pytest.raises(LabelsError, match="1 labels but the model outputs 4"):
        load_model(path)


def test_runtime_options(tmp_path: Path, net):
    path = write(tmp_path, "m.tflite", to_tflite(net))
    assert load_model(path, threads=1).backend.describe()["threads"] == 1
    onnx_path = write(tmp_path, "m.onnx", onnx_model(net))
    assert load_model(onnx_path, providers=["CPUExecutionProvider"]).backend.describe()["providers"] == [
        "CPUExecutionProvider"]
    with pytest.raises(ModelError, match="provider NopeExecutionProvider is not available"):
        load_model(onnx_path, providers=["NopeExecutionProvider"])


@pytest.mark.parametrize("name, content, message", [
    ("empty.tflite", b"", "is empty"),
    ("junk.tflite", b"hello world" * 50, "not a valid TensorFlow Lite model"),
    ("junk.onnx", b"\x08\x07garbage" * 20, "not a valid ONNX model|could not be loaded by ONNX Runtime"),
    ("keras_model.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 100, "Keras model.*export the project from Teachable Machine"),
    ("notes.txt", b"just some text", "not a model edgetm can run"),
    ("photo.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 100, "not a model edgetm can run"),
])
def test_bad_model_files(tmp_path: Path, name, content, message):
    with pytest.raises(ModelError, match=message):
        load_model(write(tmp_path, name, content))


def test_truncated_models(tmp_path: Path, net):
    content = to_tflite(net)
    with pytest.raises(ModelError, match="corrupt or truncated"):
        load_model(write(tmp_path, "cut.tflite", content[: len(content) // 2]))
    onnx_bytes = onnx_model(net)
    with pytest.raises(ModelError):
        load_model(write(tmp_path, "cut.onnx", onnx_bytes[: len(onnx_bytes) // 2]))


def test_custom_op_is_named(tmp_path: Path):
    with pytest.raises(ModelError, match="needs the custom op 'MyCustomOp'"):
        load_model(write(tmp_path, "custom.tflite", custom_op_tflite("MyCustomOp")))


def test_folders_and_zips_without_a_model(tmp_path: Path):
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "missing.tflite")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match=r"holds no .tflite or .onnx model"):
        load_model(tmp_path / "empty")
    tfjs = tmp_path / "tfjs"
    tfjs.mkdir()
    (tfjs / "model.json").write_text("{}")
    (tfjs / "metadata.json").write_text("{}")
    with pytest.raises(ModelError, match=r"TensorFlow.js model"):
        load_model(tfjs)
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("readme.txt", "hi")
    with pytest.raises(ModelError, match=r"holds no .tflite or .onnx model"):
        load_model(archive)


def test_folder_with_several_models_asks_which(tmp_path: Path, net):
    write(tmp_path, "a.tflite", to_tflite(net))
    write(tmp_path, "b.tflite", to_tflite(net))
    with pytest.raises(ModelError, match=r"several models: a.tflite, b.tflite"):
        load_model(tmp_path)


def test_keras_export_folder(tmp_path: Path):
    write(tmp_path, "keras_model.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 10)
    (tmp_path / "labels.txt").write_text("0 a\n")
    with pytest.raises(ModelError, match="Keras model"):
        load_model(tmp_path)


def test_mean_colour_net_is_loadable_without_labels(tmp_path: Path):
    net = mean_colour_net(np.eye(3), np.zeros(3))
    net.labels = []
    model = load_model(write(tmp_path, "m.tflite", to_tflite(net)))
    assert model.labels is None
    assert model.label(2) == "class 2"  # a name, in counts and tables alike


def test_ultralytics_metadata_yaml_beside_a_tflite_model(tmp_path: Path, net):
    net.labels = []
    write(tmp_path, "best_float32.tflite", to_tflite(net))
    (tmp_path / "metadata.yaml").write_text(
        "author: Ultralytics\ntask: classify\nimgsz:\n- 32\n- 32\nnames:\n  0: apple\n  1: pear\n  2: plum\n  3: fig\n")
    model = load_model(tmp_path / "best_float32.tflite")
    assert model.labels == ["apple", "pear", "plum", "fig"]
    assert model.family is Family.ULTRALYTICS and model.task is TaskKind.CLASSIFY


def test_an_input_size_for_a_fixed_model_is_an_error_not_ignored(tmp_path: Path):
    from edgetm.errors import ConfigError

    with pytest.raises(ConfigError, match="takes a fixed input of 224x224; input_size applies only"):
        load_model(DEMO / "model.tflite", input_size=(100, 100))
    assert load_model(DEMO / "model.tflite", input_size=(224, 224)).input.image_size() == (224, 224)
