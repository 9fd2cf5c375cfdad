"""NMS against a plain greedy reference written here: identical indices, in the same order."""

import numpy as np
import pytest

from edgetm.vision.nms import batched_nms, nms


def reference_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """torchvision's CPU kernel, one pair at a time."""
    order = sorted(range(len(boxes)), key=lambda i: (-scores[i], i))
    suppressed = [False] * len(boxes)
    keep = []
    for position, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        ax1, ay1, ax2, ay2 = boxes[i]
        area_a = (ax2 - ax1) * (ay2 - ay1)
        for j in order[position + 1:]:
            if suppressed[j]:
                continue
            bx1, by1, bx2, by2 = boxes[j]
            area_b = (bx2 - bx1) * (by2 - by1)
            width = max(min(ax2, bx2) - max(ax1, bx1), boxes.dtype.type(0))
            height = max(min(ay2, by2) - max(ay1, by1), boxes.dtype.type(0))
            inter = width * height
            with np.errstate(divide="ignore", invalid="ignore"):
                iou = inter / (area_a + area_b - inter)
            if iou > threshold:
                suppressed[j] = True
    return keep


def reference_batched(boxes, scores, classes, threshold) -> list[int]:
    keep = []
    for c in sorted(set(classes.tolist())):
        members = [i for i in range(len(boxes)) if classes[i] == c]
        keep += [members[k] for k in reference_nms(boxes[members], scores[members], threshold)]
    return sorted(keep, key=lambda i: (-scores[i], i))


def random_boxes(rng, n: int, dtype, size: float = 640.0, degenerate: float = 0.0) -> np.ndarray:
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(1, size / 4, (n, 2))
    wh[rng.random(n) < degenerate] = 0.0  # zero-area boxes
    return np.concatenate([xy, xy + wh], 1).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.45, 0.7, 1.0])
def test_random_boxes(dtype, threshold):
    rng = np.random.default_rng(int(threshold * 100))
    for n in (1, 2, 10, 200, 600):
        boxes = random_boxes(rng, n, dtype, degenerate=0.05)
        scores = rng.random(n).astype(dtype)
        assert nms(boxes, scores, threshold).tolist() == reference_nms(boxes, scores, threshold)


def test_ties_keep_index_order():
    rng = np.random.default_rng(1)
    boxes = random_boxes(rng, 400, np.float32, size=100)
    scores = rng.integers(0, 4, 400).astype(np.float32) / 4  # four distinct scores only
    assert nms(boxes, scores, 0.45).tolist() == reference_nms(boxes, scores, 0.45)


def test_identical_and_zero_area_boxes():
    boxes = np.array([[10, 10, 50, 50]] * 5 + [[20, 20, 20, 20]] * 3 + [[0, 0, 0, 40]], np.float32)
    scores = np.array([0.5, 0.9, 0.9, 0.1, 0.5, 0.3, 0.3, 0.8, 0.7], np.float32)
    kept = nms(boxes, scores, 0.45).tolist()
    assert kept == reference_nms(boxes, scores, 0.45)
    assert kept[0] == 1  # the first of the two best identical boxes; its twins are gone
    assert not {0, 2, 3, 4} & set(kept)
    assert {5, 6, 7, 8} <= set(kept)  # zero-area boxes overlap nothing


def test_empty():
    assert nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 0.5).tolist() == []
    assert batched_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int), 0.5).tolist() == []


@pytest.mark.parametrize("classes", [1, 3, 80])
def test_class_aware(classes):
    rng = np.random.default_rng(classes)
    for n in (5, 300, 800):
        boxes = random_boxes(rng, n, np.float32, size=320, degenerate=0.02)
        scores = (rng.integers(0, 50, n) / 50).astype(np.float32)
        labels = rng.integers(0, classes, n)
        got = batched_nms(boxes, scores, labels, 0.45).tolist()
        assert got == reference_batched(boxes, scores, labels, 0.45)


def test_class_aware_keeps_overlapping_boxes_of_different_classes():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 10, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    assert batched_nms(boxes, scores, np.array([0, 1, 0]), 0.45).tolist() == [0, 1]
    assert nms(boxes, scores, 0.45).tolist() == [0]
