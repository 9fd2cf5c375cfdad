"""Reading images from disk and expanding image arguments (files, folders, globs)."""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from edgetm.errors import ImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm")


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file to BGR uint8 (EXIF orientation applied, alpha dropped, 16-bit scaled)."""
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
        elif not path.exists() and glob.has_magic(argument):
            matches = sorted(Path(p) for p in glob.glob(str(path)) if Path(p).is_file())
            if not matches:
                raise ImageError(f"no files match {argument}")
            found.extend(matches)
        else:
            found.append(path)
    return found
