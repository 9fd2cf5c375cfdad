"""The built-in image descriptor: colour and texture as a fixed vector, with no model.

What ``edgetm train --base builtin`` trains image heads on, and what runs in front of such a head
afterwards (a head-only model whose metadata names this descriptor). An 8 x 4 x 4 HSV histogram,
gradient-orientation histograms (16 bins, weighted by strength) at two scales, and the grey level's
mean and spread: 162 values. Histograms are square-rooted (Hellinger) so that a linear head
compares them well.
"""

from __future__ import annotations

import time

import numpy as np

from edgetm.model.metadata import BuiltinFeatures
from edgetm.vision.preprocess import Prepared, Transform, as_bgr

DESCRIPTOR_SIZE = 8 * 4 * 4 + 2 * 16 + 2
_SIDE = 128  # the picture is described at this size, whatever it came in at


def describe_image(image: np.ndarray) -> np.ndarray:
    """The [162] float32 descriptor of one BGR uint8 image."""
    import cv2

    small = cv2.resize(as_bgr(image), (_SIDE, _SIDE), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    colour = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).reshape(-1)
    parts = [np.sqrt(colour / max(colour.sum(), 1.0))]
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0
    for level in (grey, cv2.pyrDown(grey)):
        gx, gy = cv2.Sobel(level, cv2.CV_32F, 1, 0), cv2.Sobel(level, cv2.CV_32F, 0, 1)
        strength, angle = cv2.cartToPolar(gx, gy)
        bins = np.minimum((angle % np.pi) / np.pi * 16, 15).astype(np.int64)  # orientation, not direction
        histogram = np.bincount(bins.reshape(-1), strength.reshape(-1), minlength=16)
        parts.append(np.sqrt(histogram / max(histogram.sum(), 1e-9)))
    parts.append(np.array([grey.mean(), grey.std()]))
    return np.concatenate(parts).astype(np.float32)


class DescriptorInput:
    """Frames -> the descriptor as a [1, 162] input: the preprocessing of a head trained on it."""

    def prepare(self, image: np.ndarray) -> Prepared:
        start = time.perf_counter()
        height, width = image.shape[:2]
        tensor = describe_image(image)[None]
        return Prepared(tensor, Transform(1.0, 1.0, 0, 0, 0, 0, (width, height)), (time.perf_counter() - start) * 1e3)

    def describe(self) -> dict:
        return {"features": BuiltinFeatures.IMAGE.value, "size": [_SIDE, _SIDE], "values": DESCRIPTOR_SIZE}
