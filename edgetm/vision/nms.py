"""Exact greedy non-maximum suppression, vectorised with numpy.

Semantics are torchvision.ops.nms's: take the highest-scoring box (ties: the lower index first),
drop every remaining box whose IoU with it is greater than the threshold, repeat. IoU is
``inter / (area_a + area_b - inter)`` in the boxes' own dtype; a 0/0 (two zero-area boxes) is
not greater than anything, so such boxes survive, as in torchvision. Each round is one numpy
pass over the boxes still in play, so the cost grows with the number of boxes *kept*, not the
square of the candidates.
"""

from __future__ import annotations

import numpy as np


def descending(scores: np.ndarray) -> np.ndarray:
    """Indices by score, highest first; equal scores keep index order."""
    return np.argsort(-scores, kind="stable")


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes ([N, 4] x1, y1, x2, y2) that survive, highest score first."""
    if len(boxes) == 0:
        return np.empty(0, np.intp)
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1) * (y2 - y1)
    order = descending(scores)
    keep = []
    with np.errstate(divide="ignore", invalid="ignore"):
        while order.size:
            best, rest = order[0], order[1:]
            keep.append(best)
            if not rest.size:
                break
            width = np.maximum(np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]), 0)
            height = np.maximum(np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]), 0)
            inter = width * height
            iou = inter / (areas[best] + areas[rest] - inter)
            order = rest[~(iou > iou_threshold)]  # NaN (0/0) is not greater: kept
    return np.asarray(keep, dtype=np.intp)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Class-aware NMS: boxes only suppress boxes of their own class. Highest score first."""
    if len(boxes) == 0:
        return np.empty(0, np.intp)
    kept = [members[nms(boxes[members], scores[members], iou_threshold)]
            for members in (np.flatnonzero(classes == c) for c in np.unique(classes))]
    keep = np.concatenate(kept)
    return keep[np.lexsort((keep, -scores[keep]))]
