"""Same pixels as the exporters' own code: Teachable Machine's snippets and YOLOX's preprocessing."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgetm.errors import ConfigError, ImageError
from edgetm.model import load_model
from edgetm.model.model import Family
from edgetm.train.export_tflite import to_tflite
from edgetm.vision import preprocess_options
from edgetm.vision.classify import Classifier
from edgetm.vision.detect import Detector
from edgetm.vision.preprocess import Interpolation, PreprocessOptions, Preprocessor, Preset
from tests.modelkit import constant_output_onnx, identity_net, int8_tflite, small_cnn, uint8_tflite, write

Image = pytest.importorskip("PIL.Image", reason="Pillow (the snippet's library) is not installed")
ImageOps = pytest.importorskip("PIL.ImageOps")

SIZE = (224, 224)


def noise(height: int, width: int, seed: int) -> np.ndarray:
    """Noise: every pixel counts, so any difference in resampling shows."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def keras_snippet(rgb: np.ndarray) -> np.ndarray:
    """Teachable Machine's Keras snippet, line for line, from an RGB array."""
    image = Image.fromarray(rgb).convert("RGB")
    image = ImageOps.fit(image, SIZE, Image.Resampling.LANCZOS)
    return (np.asarray(image).astype(np.float32) / 127.5) - 1


def opencv_snippet(bgr: np.ndarray) -> np.ndarray:
    """Teachable Machine's OpenCV snippet: the camera's BGR frame, squashed with INTER_AREA."""
    image = cv2.resize(bgr, SIZE, interpolation=cv2.INTER_AREA)
    image = np.asarray(image, dtype=np.float32).reshape(1, *SIZE, 3)
    return (image / 127.5) - 1


@pytest.fixture
def tm_export(tmp_path: Path):
    """A Teachable Machine export's file names around a model that outputs its input."""
    write(tmp_path, "model_unquant.tflite", to_tflite(identity_net(SIZE)))
    (tmp_path / "labels.txt").write_text("0 Class 1\n1 Class 2\n")
    model = load_model(tmp_path)
    assert model.family is Family.TEACHABLE_MACHINE
    return model


# Taller than wide is where Pillow 13 may resample vertically first.
SHAPES = [(763, 352), (712, 266), (350, 242), (1366, 482), (480, 640), (300, 451), (224, 224), (100, 80)]


@pytest.mark.parametrize("height, width", SHAPES)
def test_pil_interpolation_is_the_keras_snippet_exactly(tm_export, height, width):
    bgr = noise(height, width, seed=height * width)
    ours, _ = Preprocessor(tm_export, PreprocessOptions(interpolation=Interpolation.PIL))(bgr)
    assert np.array_equal(ours[0], keras_snippet(bgr[:, :, ::-1]))


@pytest.mark.parametrize("height, width", SHAPES[:4])
def test_the_tm_keras_preset_is_the_keras_snippet(tm_export, height, width):
    bgr = noise(height, width, seed=height)
    ours, _ = Preprocessor(tm_export, PreprocessOptions(preset=Preset.TM_KERAS))(bgr)
    assert np.array_equal(ours[0], keras_snippet(bgr[:, :, ::-1]))


@pytest.mark.parametrize("height, width", [(480, 640), (763, 352), (200, 200), (120, 100)])
def test_the_tm_opencv_preset_is_the_opencv_snippet(tm_export, height, width):
    bgr = noise(height, width, seed=width)
    ours, transform = Preprocessor(tm_export, PreprocessOptions(preset=Preset.TM_OPENCV))(bgr)
    assert np.allclose(ours, opencv_snippet(bgr), atol=1e-6, rtol=0)
    assert transform.offset_x == 0 and transform.offset_y == 0  # a squash: nothing cut away


def test_squash_alone_is_not_the_opencv_snippet(tm_export):
    """The snippet feeds BGR: a squash in RGB gives the model other numbers."""
    bgr = noise(480, 640, seed=3)
    ours, _ = Preprocessor(tm_export, PreprocessOptions(resize="squash", interpolation="area"))(bgr)
    assert not np.allclose(ours, opencv_snippet(bgr), atol=1e-3)


def test_explicit_settings_win_over_a_preset(tm_export):
    options = PreprocessOptions(preset=Preset.TM_OPENCV, color="rgb", interpolation="linear")
    described = Preprocessor(tm_export, options).describe()
    assert (described["resize"], described["interpolation"], described["color"]) == ("squash", "linear", "rgb")


def test_still_images_of_a_tm_export_get_the_exporters_resampling(tm_export):
    assert Preprocessor(tm_export, still=True).describe()["interpolation"] == "pil"
    live = Preprocessor(tm_export).describe()
    assert live["interpolation"] == "linear" and live["still_interpolation"] == "pil"
    chosen = Preprocessor(tm_export, PreprocessOptions(interpolation="area"), still=True).describe()
    assert chosen["interpolation"] == "area" and "still_interpolation" not in chosen


def test_other_models_keep_the_fast_path_for_still_images(tmp_path: Path):
    model = load_model(write(tmp_path, "id.tflite", to_tflite(identity_net(SIZE))))
    assert model.family is Family.GENERIC
    described = Preprocessor(model, still=True).describe()
    assert described["interpolation"] == "linear" and "still_interpolation" not in described


def test_the_bundled_export_classifies_photos_as_the_snippet_does():
    """The demo export's quantized model, a photo: the scores of the snippet's pixels, exactly."""
    model = load_model("models/banana/model.tflite", labels="models/banana/labels.txt")
    photo = cv2.imread("models/banana/samples/ripe-1.jpg")
    pixels = np.asarray(ImageOps.fit(Image.open("models/banana/samples/ripe-1.jpg").convert("RGB"), SIZE,
                                     Image.Resampling.LANCZOS))
    expected = Classifier(model).postprocess(model.run(pixels[None].copy())[0])
    result = Classifier(model, preprocess=PreprocessOptions(interpolation="pil"))(photo)
    assert result.top[0].score == pytest.approx(float(expected.max()), abs=1e-6)


@pytest.fixture
def no_pillow(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setattr(preprocess_options, "_said_no_pillow", False)


def test_pil_without_pillow_says_how_to_install_it(tm_export, no_pillow):
    with pytest.raises(ConfigError, match="Pillow") as error:
        Preprocessor(tm_export, PreprocessOptions(interpolation="pil"))
    assert "edgetm[pil]" in error.value.hint


def test_still_images_without_pillow_fall_back_and_say_so_once(tm_export, no_pillow, caplog):
    with caplog.at_level(logging.WARNING):
        first = Preprocessor(tm_export, still=True)
        Preprocessor(tm_export, still=True)
    assert first.describe()["interpolation"] == "linear"
    said = [r.getMessage() for r in caplog.records if "Pillow" in r.getMessage()]
    assert len(said) == 1 and "edgetm[pil]" in said[0]


# -- YOLOX --------------------------------------------------------------------------------------
def yolox_preproc(img: np.ndarray, input_size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """YOLOX's own ``preproc`` (yolox/data/data_augment.py), for comparison."""
    padded_img = np.ones((input_size[0], input_size[1], 3), dtype=np.uint8) * 114
    r = min(input_size[0] / img.shape[0], input_size[1] / img.shape[1])
    resized_img = cv2.resize(img, (int(img.shape[1] * r), int(img.shape[0] * r)),
                             interpolation=cv2.INTER_LINEAR).astype(np.uint8)
    padded_img[: int(img.shape[0] * r), : int(img.shape[1] * r)] = resized_img
    padded_img = padded_img.transpose((2, 0, 1))
    return np.ascontiguousarray(padded_img, dtype=np.float32), r


@pytest.fixture
def yolox(tmp_path: Path):
    cells = 8 * 8 + 4 * 4 + 2 * 2
    raw = np.zeros((1, cells, 5 + 3), np.float32)
    raw[0, 2 * 8 + 3] = [0.5, 0.5, np.log(2), np.log(2), 0.9, 0.0, 0.9, 0.0]  # stride 8, cell (3, 2): a dog
    (tmp_path / "labels.txt").write_text("cat\ndog\nbird\n")
    return load_model(write(tmp_path, "yolox.onnx", constant_output_onnx(raw, size=(64, 64))))


@pytest.mark.parametrize("height, width", [(427, 640), (1080, 810), (100, 333), (300, 451), (64, 64)])
def test_yolox_input_is_its_own_preproc_exactly(yolox, height, width):
    """Sizes truncated as ``int(h * r)``: rounding made some pictures a pixel taller."""
    image = noise(height, width, seed=height + width)
    detector = Detector(yolox)
    tensor, transform = detector.preprocessor(image)
    expected, ratio = yolox_preproc(image, (64, 64))
    assert np.array_equal(tensor[0], expected)
    assert transform.scale_x == transform.scale_y == ratio  # boxes map back as YOLOX's demo: divided by r


def test_yolox_boxes_map_back_by_the_ratio(yolox):
    """The dog: cell (3, 2) at stride 8 -> centre (28, 20), 16x16 in the input; YOLOX divides by r."""
    image = noise(159, 333, seed=1)  # r = 64/333: the picture is 64x30 (int), not 64x31 (round)
    [dog] = Detector(yolox)(image).detections
    r = 64 / 333
    assert np.allclose(dog.box, np.array([20, 12, 36, 28]) / r, atol=1e-3)


def test_info_describes_what_runs_for_yolox(yolox):
    described = Detector(yolox).preprocessor.describe()
    assert described["color"] == "bgr"
    assert described["normalize"] == {"mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}
    assert described["letterbox"] == "top-left, sizes truncated"


# -- quantization that cannot hold what is fed ------------------------------------------------------
def test_an_input_that_saturates_is_warned_about_once(tmp_path: Path, caplog):
    model = load_model(write(tmp_path, "int8.tflite", int8_tflite(small_cnn(size=(16, 16)))))
    low, high = model.input.quantization.real_range(np.dtype(model.input.dtype))
    assert low < -0.5 and high < 2  # trained on [-1, 1]
    with caplog.at_level(logging.WARNING):
        Preprocessor(model, PreprocessOptions(normalize="raw"))
    [said] = [r.getMessage() for r in caplog.records if "saturate" in r.getMessage()]
    assert "--normalize pixels" in said and f"{low:.3g}" in said
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        Preprocessor(model)  # raw pixels, read by the tensor's own quantization: fine
        Preprocessor(model, PreprocessOptions(normalize="tm"))
    assert not [r for r in caplog.records if "saturate" in r.getMessage()]


def test_a_uint8_input_for_unit_range_fed_minus_one_to_one_is_warned_about(tmp_path: Path, caplog):
    model = load_model(write(tmp_path, "u8.tflite", uint8_tflite(small_cnn(size=(16, 16)), (1 / 255, 0))))
    with caplog.at_level(logging.WARNING):
        Preprocessor(model, PreprocessOptions(normalize="tm"))
    assert [r for r in caplog.records if "saturate" in r.getMessage()]


# -- the Python API -------------------------------------------------------------------------------
def test_a_path_given_to_a_classifier_says_to_read_it():
    classifier = Classifier(load_model("models/banana"))
    with pytest.raises(ImageError, match="not an image") as error:
        classifier("models/banana/samples/ripe-1.jpg")  # type: ignore[arg-type]
    assert "edgetm.read_image" in error.value.hint


# -- the command line ---------------------------------------------------------------------------
def test_edgetm_classify_gives_a_tm_export_the_snippets_scores(tmp_path: Path, capsys):
    import json

    from edgetm.cli import main

    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), cv2.GaussianBlur(noise(451, 300, seed=5), (0, 0), 3))  # taller than wide
    model = load_model("models/banana")
    snippet = model.run(keras_snippet(cv2.imread(str(photo))[:, :, ::-1])[None].copy())[0][0]
    fast = Classifier(model)(cv2.imread(str(photo)))
    assert main(["classify", "models/banana", str(photo), "--json", "--top-k", "4"]) == 0
    scores = {p["label"]: p["score"] for p in json.loads(capsys.readouterr().out)["top"]}
    expected = {label: float(s) for label, s in zip(model.labels, snippet, strict=True)}
    assert scores == pytest.approx(expected, abs=1e-5)  # the JSON keeps six digits
    # The live path would not have given these.
    assert {p.label: p.score for p in fast.top} != pytest.approx(expected, abs=1e-3)


def test_info_says_which_resampling_still_images_get(capsys):
    from edgetm.cli import main

    assert main(["info", "models/banana"]) == 0
    assert "edgetm classify (still images): pil, the exporter's own resampling; edgetm run: linear" in \
        capsys.readouterr().out


def test_info_describes_the_layout_it_is_given(yolox, capsys):
    from edgetm.cli import main

    assert main(["info", yolox.source, "--layout", "yolov5"]) == 0
    out = capsys.readouterr().out
    assert "letterbox centre, sizes rounded" in out and "rgb" in out and "layout      yolov5" in out
    assert main(["info", yolox.source]) == 0
    out = capsys.readouterr().out
    assert "bgr, letterbox top-left, sizes truncated" in out and "std [1.0, 1.0, 1.0]" in out


def test_photos_are_turned_upright_by_their_exif_orientation(tmp_path: Path):
    """The one deliberate difference from the snippet, which reads a photo as stored."""
    from edgetm.vision.image import read_image

    stored = noise(40, 60, seed=2)  # 60 wide, 40 high as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    Image.fromarray(stored).save(tmp_path / "sideways.jpg", exif=exif.tobytes())
    assert read_image(tmp_path / "sideways.jpg").shape[:2] == (60, 40)
    assert np.asarray(Image.open(tmp_path / "sideways.jpg").convert("RGB")).shape[:2] == (40, 60)


def test_the_opencv_snippets_colour_mix_up_is_reproduced_too():
    """Teachable Machine trains on RGB; its OpenCV snippet feeds BGR. The preset gives the snippet's
    answers, so a model that tells colours apart answers worse through it, as README warns."""
    samples = sorted(Path("models/banana/samples").glob("*.jpg"))
    expected = {"unripe": "Unripe", "ripe": "Ripe", "overripe": "Overripe", "no-banana": "No banana"}
    model = load_model("models/banana")

    def right(options: PreprocessOptions | None) -> int:
        classifier = Classifier(model, preprocess=options, still=True)
        return sum(classifier(cv2.imread(str(p))).label == expected[p.stem.rsplit("-", 1)[0]] for p in samples)

    assert right(None) == len(samples)
    assert right(PreprocessOptions(preset=Preset.TM_OPENCV)) < len(samples) // 2


def test_info_refuses_a_layout_its_model_cannot_run(capsys):
    """Flags given to info describe what they would run; on a classifier a detector's layout runs nothing."""
    from edgetm.cli import main

    assert main(["info", "models/banana", "--layout", "yolov8"]) == 1
    assert "do not fit the yolov8 layout" in capsys.readouterr().err
