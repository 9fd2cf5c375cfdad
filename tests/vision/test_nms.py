"""NMS against a plain greedy reference written here: identical indices, in the same order."""

import numpy as np
import pytest

from edgetm.vision import nms as nms_module
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


def crowd(rng, n: int, clusters: int, classes: int):
    """Clusters of heavily overlapping boxes, as a YOLO output over a crowd: boxes, scores, classes."""
    centres = rng.uniform(40, 600, (clusters, 2))[np.arange(n) % clusters] + rng.normal(0, 6, (n, 2))
    half = rng.uniform(15, 45, (n, 2))
    boxes = np.concatenate([centres - half, centres + half], 1).astype(np.float32)
    return boxes, rng.uniform(0.3, 1.0, n).astype(np.float32), rng.integers(0, classes, n)


def test_crowded_2000_boxes_in_3_classes():
    boxes, scores, labels = crowd(np.random.default_rng(0), 2000, 100, 3)
    assert batched_nms(boxes, scores, labels, 0.45).tolist() == reference_batched(boxes, scores, labels, 0.45)


@pytest.mark.parametrize("pairs_per_box", [0, 10**9])
def test_both_strategies_match_the_reference(monkeypatch, pairs_per_box):
    """0 always takes the rounds over all remaining boxes, 10**9 always the candidate pairs."""
    monkeypatch.setattr(nms_module, "_PAIRS_PER_BOX", pairs_per_box)
    rng = np.random.default_rng(7)
    for threshold in (0.0, 0.45, 0.9):
        boxes, scores, labels = crowd(rng, 300, 10, 3)
        scores = (scores * 8).round() / 8  # ties
        assert nms(boxes, scores, threshold).tolist() == reference_nms(boxes, scores, threshold)
        assert batched_nms(boxes, scores, labels, threshold).tolist() == reference_batched(boxes, scores, labels,
                                                                                           threshold)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pairs_at_the_edge_of_the_threshold(dtype):
    """Shifts around the one at which IoU crosses the threshold: the candidate search must not lose any."""
    threshold = 0.45
    edge = 100 * (1 - threshold) / (1 + threshold)  # a 100-wide box shifted this far has IoU = threshold
    shifts = edge + np.linspace(-1e-3, 1e-3, 401)
    boxes = np.concatenate([[[0, 0, 100, 50]], np.stack([shifts, 0 * shifts, shifts + 100, 50 + 0 * shifts], 1)])
    boxes = boxes.astype(dtype)
    for k in range(1, len(boxes)):
        pair, scores = boxes[[0, k]], np.array([1.0, 0.5], dtype)
        assert nms(pair, scores, threshold).tolist() == reference_nms(pair, scores, threshold)
    # and in the y direction, many at once, each in its own class so none suppresses another
    swapped = boxes[:, [1, 0, 3, 2]]
    labels = np.concatenate([[0], np.arange(1, len(boxes))])
    scores = np.linspace(1, 0.5, len(boxes)).astype(dtype)
    for k in (0, 1):
        pair_labels = labels.copy()
        pair_labels[0] = k  # box 0 shares a class with box k only
        assert batched_nms(swapped, scores, pair_labels, threshold).tolist() == reference_batched(
            swapped, scores, pair_labels, threshold)


def test_outside_the_candidate_bound():
    """Negative thresholds, infinite coordinates and integer boxes: still the reference's answers."""
    rng = np.random.default_rng(3)
    boxes = random_boxes(rng, 60, np.float32, size=200)
    scores = rng.random(60).astype(np.float32)
    assert nms(boxes, scores, -0.1).tolist() == reference_nms(boxes, scores, -0.1)
    boxes[5] = [0, 0, np.inf, 50]
    assert nms(boxes, scores, 0.45).tolist() == reference_nms(boxes, scores, 0.45)
    whole = random_boxes(rng, 60, np.float64, size=200).round().astype(np.int32)
    assert nms(whole, scores, 0.45).tolist() == reference_nms(whole, scores, 0.45)
