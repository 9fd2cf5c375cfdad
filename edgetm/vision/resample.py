"""Pillow's antialiased Lanczos resampling, reproduced with numpy.

Teachable Machine's Python snippet prepares images with ``ImageOps.fit(image, (224, 224),
Image.LANCZOS)``. OpenCV's Lanczos does not widen its kernel when shrinking, so it answers
differently. This follows Pillow's ``Resample.c``: a Lanczos-3 kernel stretched by the
downscale factor, coefficients in 22-bit fixed point, a horizontal pass then a vertical pass,
each rounded to uint8, so results match Pillow's classic resampler exactly (Pillow 12 and later
may run the vertical pass first for some shapes, which moves edge pixels by a few grey levels).
It costs 10-80 ms per frame; coefficient tables are cached per geometry.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

_PRECISION_BITS = 32 - 8 - 2
_LANCZOS_SUPPORT = 3.0


def _sinc(x: np.ndarray) -> np.ndarray:
    y = x * math.pi
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0.0, 1.0, np.sin(y) / np.where(y == 0.0, 1.0, y))


def _lanczos(x: np.ndarray) -> np.ndarray:
    return np.where((x >= -3.0) & (x < 3.0), _sinc(x) * _sinc(x / 3.0), 0.0)


@lru_cache(maxsize=16)
def _coefficients(in_size: int, in0: float, in1: float, out_size: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(source indices [out, k], fixed-point weights [out, k], first and end source index used)."""
    scale = (in1 - in0) / out_size
    filterscale = max(scale, 1.0)
    support = _LANCZOS_SUPPORT * filterscale
    ksize = math.ceil(support) * 2 + 1
    centre = in0 + (np.arange(out_size) + 0.5) * scale
    # C's (int) cast truncates toward zero.
    low = np.maximum(np.trunc(centre - support + 0.5), 0).astype(np.int64)
    count = np.minimum(np.trunc(centre + support + 0.5).astype(np.int64), in_size) - low
    taps = np.arange(ksize)
    weights = _lanczos((taps[None, :] + low[:, None] - centre[:, None] + 0.5) * (1.0 / filterscale))
    weights[taps[None, :] >= count[:, None]] = 0.0
    total = weights.sum(axis=1, keepdims=True)
    weights = np.divide(weights, total, out=weights, where=total != 0.0)
    fixed = weights * (1 << _PRECISION_BITS)
    fixed = np.trunc(np.where(fixed < 0, fixed - 0.5, fixed + 0.5)).astype(np.int64)
    index = np.minimum(low[:, None] + taps[None, :], in_size - 1)
    return index, fixed, int(low[0]), int((low + count)[-1])


def _pass(image: np.ndarray, index: np.ndarray, weights: np.ndarray, axis: int) -> np.ndarray:
    """One separable pass along ``axis`` (0: rows, 1: columns) with Pillow's rounding and clipping."""
    shape = list(image.shape)
    index = np.minimum(index, shape[axis] - 1)  # taps past the end carry zero weight
    shape[axis] = index.shape[0]
    acc = np.full(shape, 1 << (_PRECISION_BITS - 1), np.int64)
    for tap in range(index.shape[1]):
        if axis == 0:
            acc += image[index[:, tap]].astype(np.int64) * weights[:, tap, None, None]
        else:
            acc += image[:, index[:, tap]].astype(np.int64) * weights[None, :, tap, None]
    return np.clip(acc >> _PRECISION_BITS, 0, 255).astype(np.uint8)


def resize_lanczos(image: np.ndarray, size: tuple[int, int],
                   box: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """Resize an HxWxC uint8 image to ``size`` (width, height) from the region ``box``
    (left, top, right, bottom, may be fractional), as ``PIL.Image.resize(size, LANCZOS, box)``."""
    height, width = image.shape[:2]
    # Pillow keeps the box as C floats: rounding it the same way keeps kernel centres identical.
    left, top, right, bottom = (float(np.float32(v)) for v in (box or (0.0, 0.0, width, height)))
    out_w, out_h = size
    need_h = out_w != width or left != 0 or right != out_w
    need_v = out_h != height or top != 0 or bottom != out_h
    rows, row_weights, first_row, end_row = _coefficients(height, top, bottom, out_h)
    if need_h:
        cols, col_weights, _, _ = _coefficients(width, left, right, out_w)
        image = _pass(image[first_row:end_row], cols, col_weights, axis=1)
        rows = rows - first_row
    if need_v:
        image = _pass(image, rows, row_weights, axis=0)
    return image


def fit_box(width: int, height: int, out_w: int, out_h: int) -> tuple[float, float, float, float]:
    """The centred crop box of ``PIL.ImageOps.fit`` (no bleed, centring 0.5), fractional as there."""
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
