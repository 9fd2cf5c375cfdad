"""Reading images from disk and expanding image arguments (files, folders, globs)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from edgetm.errors import ImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm")


# Pillow modes whose decoding to 8-bit RGB is OpenCV's too (alpha dropped, greys repeated, palettes
# looked up); anything else (16-bit, CMYK, bilevel) is left to OpenCV.
PILLOW_MODES = ("RGB", "RGBA", "L", "LA", "P", "PA")


def read_image(path: str | Path, with_pillow: bool = False) -> np.ndarray:
    """Decode an image file to BGR uint8 (EXIF orientation applied, alpha dropped, 16-bit scaled).

    ``with_pillow``: decode with Pillow when it is installed and the file is an 8-bit picture,
    as Teachable Machine's snippet reads it, and leave OpenCV unimported: for a photo whose
    resampling is Pillow's anyway. Both bundle libjpeg-turbo with the same settings and give the
    same pixels (tests compare them on every sample photo and the zoo's images); any other file,
    or one Pillow cannot read, goes to OpenCV as without it."""
    if with_pillow:
        image = _pillow_decode(Path(path))
        if image is not None:
            return image
    import cv2

    path = Path(path)
    if not path.exists():
        raise ImageError(f"{path} does not exist")
    if path.is_dir():
        raise ImageError(f"{path} is a folder, not an image")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise ImageError(f"cannot read {path}: {error.strerror or error}") from None
    if data.size == 0:
        raise ImageError(f"{path} is empty")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise ImageError(f"{path} is not an image OpenCV can decode (corrupt or unsupported format)")
    return image


def _pillow_decode(path: Path) -> np.ndarray | None:
    """BGR pixels by Pillow, or None where OpenCV should decode (and report) the file instead."""
    try:
        from PIL import Image, ImageOps
    except ImportError:
        return None
    try:
        with Image.open(path) as image:
            if image.mode not in PILLOW_MODES or getattr(image, "is_animated", False):
                return None
            image.load()
            upright = ImageOps.exif_transpose(image)  # OpenCV turns a photo as its EXIF orientation says
            pixels = np.asarray(upright.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError):
        return None  # unreadable, truncated or too large: OpenCV's reading says what is wrong
    return np.ascontiguousarray(pixels[:, :, ::-1])


def has_magic(text: str) -> bool:
    """Whether ``text`` is a glob pattern (``glob.has_magic``, without importing glob)."""
    return any(character in text for character in "*?[")


def expand_images(arguments: Iterable[str]) -> list[Path]:
    """Files, folders (their images, sorted, not recursive) and glob patterns, in argument order.

    A missing file is kept so that the caller reports it in its place.
    """
    found: list[Path] = []
    for argument in arguments:
        path = Path(argument).expanduser()
        if path.is_dir():
            images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not images:
                raise ImageError(f"no images in {argument}", "put .jpg or .png files there")
            found.extend(images)
        elif not path.exists() and has_magic(argument):
            import glob  # not at import: few lines name a pattern

            matches = sorted(Path(p) for p in glob.glob(str(path)) if Path(p).is_file())
            if not matches:
                raise ImageError(f"no files match {argument}")
            found.extend(matches)
        else:
            found.append(path)
    return found
