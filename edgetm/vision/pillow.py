"""Resampling by Pillow itself, for answers identical to Teachable Machine's Python snippet.

The snippet prepares a photo with ``ImageOps.fit(image, size, Image.Resampling.LANCZOS)``.
Pillow's antialiased resampler changes between releases (Pillow 13 resizes some shapes
vertically first), so only Pillow itself reproduces the snippet with the Pillow a user has. It
is an optional extra (``pip install 'edgetm[pil]'``), imported on first use.

Resampling works per channel, so BGR frames go through as they are: no colour swap is needed.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from edgetm.errors import ConfigError

INSTALL_HINT = "pip install 'edgetm[pil]' (Pillow)"


def _pillow() -> tuple[ModuleType, ModuleType]:
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise ConfigError("interpolation 'pil' resamples with Pillow, which is not installed", INSTALL_HINT) from None
    return Image, ImageOps


def available() -> bool:
    try:
        _pillow()
    except ConfigError:
        return False
    return True


def check() -> None:
    """Raise the install hint now, at set-up, rather than on the first frame."""
    _pillow()


def fit_box(width: int, height: int, out_w: int, out_h: int) -> tuple[float, float, float, float]:
    """The centred crop box ``ImageOps.fit`` resamples from (no bleed, centring 0.5), fractional
    as there: where the model's pixels came from."""
    live_ratio = width / height
    out_ratio = out_w / out_h
    if live_ratio == out_ratio:
        crop_w, crop_h = float(width), float(height)
    elif live_ratio >= out_ratio:
        crop_w, crop_h = out_ratio * height, float(height)
    else:
        crop_w, crop_h = float(width), width / out_ratio
    left, top = (width - crop_w) * 0.5, (height - crop_h) * 0.5
    return left, top, left + crop_w, top + crop_h


def fit(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``ImageOps.fit(image, size, LANCZOS)`` of an HxWx3 uint8 array."""
    Image, ImageOps = _pillow()
    return np.asarray(ImageOps.fit(Image.fromarray(image), size, Image.Resampling.LANCZOS))


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``Image.resize(size, LANCZOS)`` of an HxWx3 uint8 array."""
    Image, _ = _pillow()
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))
