import numpy as np
import pytest

from edgetm.vision.resample import fit_box, resize_lanczos

Image = pytest.importorskip("PIL.Image", reason="Pillow (the reference) is not installed")
ImageOps = pytest.importorskip("PIL.ImageOps")


def photo_like(height: int, width: int, seed: int) -> np.ndarray:
    """Smooth gradients with sharp edges, the cases where resamplers differ most."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x * 255 / width, y * 255 / height, (x + y) % 64 * 4], -1)
    image[height // 3: height // 2, width // 4: width // 2] = rng.integers(0, 256, 3)
    return np.clip(image + rng.normal(0, 10, image.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("height, width, size", [
    (480, 640, (224, 224)), (600, 512, (224, 224)), (300, 451, (224, 224)), (1080, 810, (192, 192)),
    (224, 224, (224, 224)), (100, 80, (224, 224)), (400, 600, (96, 64)),
])
def test_matches_pillow_image_ops_fit(height, width, size):
    rgb = photo_like(height, width, seed=height + width)
    reference = np.asarray(ImageOps.fit(Image.fromarray(rgb), size, Image.LANCZOS))
    ours = resize_lanczos(rgb, size, fit_box(width, height, *size))
    assert ours.shape == reference.shape
    assert np.abs(ours.astype(int) - reference.astype(int)).max() <= 1


def test_plain_resize_without_a_box():
    rgb = photo_like(120, 160, seed=1)
    reference = np.asarray(Image.fromarray(rgb).resize((50, 40), Image.LANCZOS))
    assert np.abs(resize_lanczos(rgb, (50, 40)).astype(int) - reference.astype(int)).max() <= 1


def test_fit_box_is_centred():
    assert fit_box(640, 480, 224, 224) == (80.0, 0.0, 560.0, 480.0)
    assert fit_box(480, 640, 224, 224) == (0.0, 80.0, 480.0, 560.0)
    assert fit_box(300, 300, 224, 224) == (0.0, 0.0, 300.0, 300.0)
