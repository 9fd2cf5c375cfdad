from pathlib import Path

import cv2
import numpy as np
import pytest

from edgetm.errors import ConfigError, ImageError
from edgetm.model import Layout, load_model
from edgetm.model.spec import Quantization, TensorSpec
from edgetm.train.export_tflite import to_tflite
from edgetm.vision.preprocess import (
    ColorOrder,
    Interpolation,
    PreprocessOptions,
    Preprocessor,
    ResizeMode,
    as_bgr,
)
from edgetm.vision.values import Normalization, value_table
from tests.modelkit import identity_net, onnx_model, uint8_tflite, write


@pytest.fixture
def identity(tmp_path: Path):
    """A float NHWC model that outputs its input, 8 wide and 6 high."""
    return load_model(write(tmp_path, "id.tflite", to_tflite(identity_net((8, 6)))))


def solid(bgr, size=(64, 48)) -> np.ndarray:
    image = np.empty((size[1], size[0], 3), np.uint8)
    image[:] = bgr
    return image


def test_rgb_order_and_teachable_machine_normalisation(identity):
    tensor, _ = Preprocessor(identity)(solid((10, 20, 30)))
    assert tensor.shape == (1, 6, 8, 3) and tensor.dtype == np.float32
    expected = (np.array([30, 20, 10]) - 127.5) / 127.5  # R, G, B
    assert np.allclose(tensor[0, 3, 4], expected, atol=1e-6)
    bgr, _ = Preprocessor(identity, PreprocessOptions(color=ColorOrder.BGR))(solid((10, 20, 30)))
    assert np.allclose(bgr[0, 3, 4], expected[::-1], atol=1e-6)


@pytest.mark.parametrize("name, mean, std", [
    ("unit", (0, 0, 0), (255, 255, 255)),
    ("imagenet", (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)),
    ("raw", (0, 0, 0), (1, 1, 1)),
])
def test_named_normalisations(identity, name, mean, std):
    tensor, _ = Preprocessor(identity, PreprocessOptions(normalize=name))(solid((10, 20, 30)))
    expected = (np.array([30, 20, 10]) - np.array(mean)) / np.array(std)
    assert np.allclose(tensor[0, 0, 0], expected, atol=1e-5)


def test_custom_mean_std(identity):
    options = PreprocessOptions(mean=(100.0, 110.0, 120.0), std=(2.0, 4.0, 8.0))
    tensor, _ = Preprocessor(identity, options)(solid((200, 150, 100)))
    assert np.allclose(tensor[0, 0, 0], [(100 - 100) / 2, (150 - 110) / 4, (200 - 120) / 8])


def test_bad_normalisations_are_refused_where_they_are_written():
    with pytest.raises(ValueError, match="normalize"):
        PreprocessOptions(normalize="weird")
    with pytest.raises(ValueError, match="mean and std go together"):
        PreprocessOptions(mean=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match=r"greater than or equal to 0\.001"):
        PreprocessOptions(mean=(1.0, 2.0, 3.0), std=(1.0, 0.0, 1.0))


def test_centre_crop_keeps_the_middle(identity):
    # 640x480 frame: left and right bands of another colour lie outside the centre 4:3 crop of an 8x6 model.
    image = solid((0, 0, 0), (800, 480))
    image[:, :80] = 255
    image[:, -80:] = 255
    tensor, transform = Preprocessor(identity)(image)
    assert np.allclose(tensor, -1.0)  # only black reached the model
    corners = transform.to_source(np.array([[0, 0, 8, 6]], np.float32))
    assert np.allclose(corners, [[80, 0, 720, 480]])


def test_squash_uses_the_whole_frame(identity):
    image = solid((0, 0, 0), (800, 480))
    image[:, :200] = 255
    tensor, transform = Preprocessor(identity, PreprocessOptions(resize=ResizeMode.SQUASH))(image)
    assert tensor[0, :, 0].min() > 0.9  # the white band is in view on the left
    assert np.allclose(transform.to_source(np.array([[0, 0, 8, 6]], np.float32)), [[0, 0, 800, 480]])


def test_letterbox_pads_with_grey_and_maps_boxes_back(tmp_path: Path):
    model = load_model(write(tmp_path, "sq.tflite", to_tflite(identity_net((16, 16)))))
    pre = Preprocessor(model, PreprocessOptions(resize=ResizeMode.LETTERBOX, normalize="raw"))
    tensor, transform = pre(solid((0, 0, 255), (32, 16)))  # wide red frame: 16x8 inside, padded top and bottom
    assert np.allclose(tensor[0, 0, :, :], 114)  # top padding row, grey
    assert np.allclose(tensor[0, 8, 8], [255, 0, 0])  # the frame, in RGB
    assert np.allclose(tensor[0, -1], 114)
    assert (transform.pad_x, transform.pad_y) == (0, 4)
    box = transform.to_source(np.array([[0, 4, 16, 12]], np.float32))
    assert np.allclose(box, [[0, 0, 32, 16]])
    clipped = transform.to_source(np.array([[-5, 0, 30, 16]], np.float32))
    assert np.allclose(clipped, [[0, 0, 32, 16]])


def test_fast_path_matches_a_float_reference(identity):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    image = cv2.GaussianBlur(image, (0, 0), 3)
    tensor, _ = Preprocessor(identity)(image)
    # Reference: crop 640x480 to 8:6 (it already is), resize in float, then normalise.
    reference = cv2.resize(image.astype(np.float32), (8, 6), interpolation=cv2.INTER_LINEAR)[:, :, ::-1]
    reference = (reference - 127.5) / 127.5
    assert np.abs(tensor[0] - reference).max() <= 0.5 / 127.5 + 1e-5


def test_nchw_models_get_planar_tensors(tmp_path: Path):
    model = load_model(write(tmp_path, "id.onnx", onnx_model(identity_net((8, 6)), Layout.NCHW, dynamic=False)))
    tensor, _ = Preprocessor(model)(solid((10, 20, 30)))
    assert tensor.shape == (1, 3, 6, 8)
    assert np.allclose(tensor[0, :, 2, 2], (np.array([30, 20, 10]) - 127.5) / 127.5, atol=1e-6)
    output = model.run(tensor)[0]
    assert np.allclose(output, tensor, atol=1e-6)


def test_dynamic_model_takes_the_requested_size(tmp_path: Path):
    path = write(tmp_path, "id.onnx", onnx_model(identity_net((8, 6)), Layout.NCHW, dynamic=True))
    model = load_model(path, input_size=(20, 10))
    pre = Preprocessor(model)
    tensor, _ = pre(solid((1, 2, 3)))
    assert tensor.shape == (1, 3, 10, 20)
    assert model.run(tensor)[0].shape == (1, 3, 10, 20)


def test_uint8_inputs_take_raw_pixels(tmp_path: Path):
    model = load_model(write(tmp_path, "q.tflite", uint8_tflite(identity_net((8, 6)))))
    tensor, _ = Preprocessor(model)(solid((10, 20, 30)))
    assert tensor.dtype == np.uint8
    assert tensor[0, 0, 0].tolist() == [30, 20, 10]


def test_integer_tables():
    pixels = np.arange(256)
    int8 = TensorSpec("x", (1, 4, 4, 3), np.dtype(np.int8), Quantization((0.0078,), (0,)))
    table = value_table("pixels", int8, 3).view(np.int8)
    assert np.array_equal(table[0, :, 0], pixels - 128)
    # An Ultralytics full-integer input: [0, 1] values quantized with the tensor's own parameters.
    yolo = TensorSpec("x", (1, 4, 4, 3), np.dtype(np.int8), Quantization((0.018658,), (-14,)))
    table = value_table(Normalization((0.0,) * 3, (255.0,) * 3), yolo, 3).view(np.int8)
    expected = np.clip(np.round(pixels / 255 / 0.018658) - 14, -128, 127)
    assert np.array_equal(table[0, :, 1], expected)
    no_params = TensorSpec("x", (1, 4, 4, 3), np.dtype(np.int8), None)
    with pytest.raises(ConfigError, match="without quantization parameters"):
        value_table(Normalization((0.0,) * 3, (255.0,) * 3), no_params, 3)


def test_interpolations_all_work(identity):
    image = np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    outputs = [Preprocessor(identity, PreprocessOptions(interpolation=i))(image)[0].copy() for i in Interpolation]
    assert all(o.shape == (1, 6, 8, 3) for o in outputs)


def test_frames_of_other_kinds():
    grey = np.full((4, 4), 7, np.uint8)
    assert as_bgr(grey).shape == (4, 4, 3)
    bgra = np.zeros((4, 4, 4), np.uint8)
    assert as_bgr(bgra).shape == (4, 4, 3)
    assert as_bgr(np.full((2, 2, 3), 65535, np.uint16)).max() == 255
    with pytest.raises(ImageError, match="empty"):
        as_bgr(np.zeros((0, 0, 3), np.uint8))
    with pytest.raises(ImageError, match="uint8"):
        as_bgr(np.zeros((2, 2, 3), np.float32))


def test_letterbox_padding_follows_the_frame_shape(tmp_path: Path):
    model = load_model(write(tmp_path, "sq.tflite", to_tflite(identity_net((16, 16)))))
    pre = Preprocessor(model, PreprocessOptions(resize=ResizeMode.LETTERBOX, normalize="raw"))
    wide, tall = solid((0, 0, 255), (32, 16)), solid((255, 0, 0), (16, 32))
    for image in (wide, wide, tall, tall, wide):  # buffers are reused in turn: each shape change repaints
        tensor, _ = pre(image)
        red = np.array([255, 0, 0]) if image is wide else np.array([0, 0, 255])
        band = tensor[0, 4:12, :] if image is wide else tensor[0, :, 4:12]
        edge = tensor[0, :4, :] if image is wide else tensor[0, :, :4]
        assert np.allclose(band, red) and np.allclose(edge, 114)
