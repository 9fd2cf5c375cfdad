"""Exact greedy non-maximum suppression, vectorised with numpy.

Semantics are torchvision.ops.nms's: take the highest-scoring box (ties: the lower index first),
drop every remaining box whose IoU with it is greater than the threshold, repeat. IoU is
``inter / (area_a + area_b - inter)`` in the boxes' own dtype; a 0/0 (two zero-area boxes) is
not greater than anything, so such boxes survive, as in torchvision.
"""

from __future__ import annotations

import numpy as np


def descending(scores: np.ndarray) -> np.ndarray:
    """Indices by score, highest first; equal scores keep index order."""
    return np.argsort(-scores, kind="stable")


# How many of the best remaining boxes are examined together each round.
_HEAD = 64


def _iou(a: np.ndarray, area_a: np.ndarray, b: np.ndarray, area_b: np.ndarray) -> np.ndarray:
    """[len(a), len(b)] IoU, each pair computed exactly as torchvision does (a the higher-ranked box)."""
    width = np.maximum(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0)
    height = np.maximum(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0)
    inter = width * height
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / (area_a[:, None] + area_b[None, :] - inter)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, classes: np.ndarray | None = None) -> np.ndarray:
    """Indices of the boxes ([N, 4] x1, y1, x2, y2) that survive, highest score first.

    With ``classes``, a box only suppresses boxes of its own class (overlaps across classes are
    masked out, so IoU values are exactly those of per-class NMS).

    Rounds take the best remaining boxes in score order up to the first one that overlaps an
    earlier one among them: none of that run can suppress another, so greedy NMS keeps them all,
    and one matrix step removes every box they suppress. Crowds of separate objects go many
    boxes per round; a run of one is the textbook loop.
    """
    if len(boxes) == 0:
        return np.empty(0, np.intp)
    order = descending(scores)
    remaining = boxes[order]
    areas = (remaining[:, 2] - remaining[:, 0]) * (remaining[:, 3] - remaining[:, 1])
    labels = classes[order] if classes is not None else None

    def overlapping(a: slice, b: slice) -> np.ndarray:
        over = _iou(remaining[a], areas[a], remaining[b], areas[b]) > iou_threshold  # NaN is not greater
        if labels is not None:
            over &= labels[a][:, None] == labels[b][None, :]
        return over

    keep = []
    while order.size:
        head = slice(0, min(_HEAD, order.size))
        conflicted = np.triu(overlapping(head, head), 1).any(axis=0)  # would be suppressed within the head
        run = int(np.argmax(conflicted)) if conflicted.any() else head.stop
        keep.append(order[:run])
        if order.size == run:
            break
        survivors = ~overlapping(slice(0, run), slice(run, None)).any(axis=0)
        order, remaining, areas = order[run:][survivors], remaining[run:][survivors], areas[run:][survivors]
        if labels is not None:
            labels = labels[run:][survivors]
    return np.concatenate(keep).astype(np.intp)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Class-aware NMS: boxes only suppress boxes of their own class. Highest score first."""
    return nms(boxes, scores, iou_threshold, classes)
