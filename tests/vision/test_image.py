"""Reading photos: Pillow's decoding, used where Pillow resamples anyway, gives OpenCV's pixels."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from edgetm.errors import ImageError
from edgetm.model import load_model
from edgetm.vision.image import read_image
from edgetm.vision.preprocess import Interpolation, PreprocessOptions, Preprocessor
from tests.conftest import DEMO, ZOO


def _photos() -> list[Path]:
    found = sorted((DEMO / "samples").iterdir())
    if (ZOO / "images").is_dir():
        found += sorted(p for p in (ZOO / "images").iterdir() if p.suffix.lower() in (".jpg", ".png", ".bmp"))
    return found


@pytest.mark.parametrize("photo", _photos(), ids=lambda p: p.name)
def test_pillow_decodes_every_sample_photo_as_opencv_does(photo: Path):
    assert np.array_equal(read_image(photo, with_pillow=True), read_image(photo))


def _made(tmp_path: Path) -> dict[str, Path]:
    """Pictures of the modes Pillow decodes here, and of those it leaves to OpenCV."""
    rng = np.random.default_rng(3)
    rgb = Image.fromarray(rng.integers(0, 256, (37, 53, 3), dtype=np.uint8))
    files = {}
    turned = rgb.getexif()
    turned[0x0112] = 6  # EXIF orientation: rotate 90 degrees to show
    rgb.save(files.setdefault("rotated.jpg", tmp_path / "rotated.jpg"), quality=90, exif=turned)
    rgb.convert("L").save(files.setdefault("grey.png", tmp_path / "grey.png"))
    rgb.convert("P").save(files.setdefault("palette.png", tmp_path / "palette.png"))
    Image.fromarray(rng.integers(0, 256, (20, 30, 4), dtype=np.uint8)).save(
        files.setdefault("alpha.png", tmp_path / "alpha.png"))
    Image.fromarray(rng.integers(0, 65536, (20, 30), dtype=np.uint16)).save(
        files.setdefault("deep.png", tmp_path / "deep.png"))  # 16-bit: left to OpenCV
    rgb.convert("CMYK").save(files.setdefault("cmyk.jpg", tmp_path / "cmyk.jpg"))  # left to OpenCV
    return files


def test_turned_grey_palette_alpha_16_bit_and_cmyk_pictures_read_the_same(tmp_path: Path):
    for name, path in _made(tmp_path).items():
        mine, theirs = read_image(path, with_pillow=True), read_image(path)
        assert mine.shape == theirs.shape and np.array_equal(mine, theirs), name
    assert read_image(tmp_path / "rotated.jpg").shape[:2] == (53, 37)  # turned upright


def test_an_unreadable_file_is_reported_as_without_pillow(tmp_path: Path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not a jpeg")
    with pytest.raises(ImageError, match="not an image OpenCV can decode"):
        read_image(bad, with_pillow=True)
    with pytest.raises(ImageError, match="does not exist"):
        read_image(tmp_path / "missing.jpg", with_pillow=True)


@pytest.mark.parametrize("model_file", ["model_unquant.tflite", "model.tflite", "model.onnx"])
def test_pillows_path_maps_values_as_opencvs_lookup_does(model_file: str, monkeypatch):
    """Pillow's path maps colours and values with numpy while OpenCV is not loaded, and with
    cvtColor and LUT once it is: the values are equal."""
    model = load_model(DEMO / model_file)
    preprocessor = Preprocessor(model, PreprocessOptions(interpolation=Interpolation.PIL))
    pixels = np.random.default_rng(5).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    table = preprocessor._table
    expected = cv2.LUT(cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB), table) if table is not None else \
        cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    if model.input.dtype == np.int8:
        expected = expected.view(np.int8)
    monkeypatch.delitem(sys.modules, "cv2")  # as in a process that has not imported it
    tensor, _ = preprocessor(pixels)
    got = tensor[0] if tensor.shape[-1] == 3 else np.moveaxis(tensor[0], 0, -1)
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
