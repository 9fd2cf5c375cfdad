"""Scores as probabilities, and their ranking: shared by every classifier (image, sound, pose)."""

from __future__ import annotations

import math

import numpy as np

from edgetm.errors import ModelError

# How far a float output may stray from summing to one and still be taken as probabilities.
SUM_TOLERANCE = 0.01


def to_probabilities(scores: np.ndarray, already: bool = False) -> np.ndarray:
    """Scores as a distribution: softmax only when they are not one already. Scores that are not
    finite are a ``ModelError``: NaN would rank anywhere and spread through softmax and smoothing."""
    low, high = float(scores.min()), float(scores.max())  # NaN anywhere makes both NaN
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ModelError(f"the model gave {'NaN' if math.isnan(low + high) else 'an infinite number'} as a score",
                         "a broken or wrongly converted model, or an input it was not made for")
    if already or (low >= -1e-6 and high <= 1 + 1e-6 and abs(scores.sum() - 1) <= SUM_TOLERANCE):
        return scores
    shifted = np.exp(scores - high)
    return shifted / shifted.sum()


def ranking(values: np.ndarray, k: int) -> list[int]:
    """Indices of the k largest values, best first; ties keep class order."""
    # ~x reverses the order of integers without overflow (255 - x for uint8, -1 - x for int8).
    descending = ~values if values.dtype.kind in "iu" else -values
    return np.argsort(descending, kind="stable")[:k].tolist()
