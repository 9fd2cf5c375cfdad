"""The pose feature vector a pose classifier reads, and head retraining trains on.

Fixed length and order, from COCO's 17 keypoints:

- 34 values: each keypoint's (x, y), centred on the hip centre and divided by the torso length
  (shoulder centre to hip centre), so that where the person stands and how far from the camera do
  not matter; image y grows downwards;
- 17 values: 1 where the keypoint was seen (score at least the minimum), 0 where not; an unseen
  keypoint's coordinates are 0, never a guess;
- 8 values (``angles``): the angle at the left and right elbow, shoulder, hip and knee, divided by
  pi (0 folded, 1 straight), 0 where a point of it was not seen.

``mirror`` flips the pose left to right first (x negated, left and right keypoints swapped), for a
camera that shows users their mirror image. When the hips are not seen, the shoulder centre (else
the mean of the points seen) is the centre; when the torso is not seen, half the extent of the
points seen is the length.
"""

from __future__ import annotations

import numpy as np

from edgetm.pose.base import PoseFeatureOptions
from edgetm.pose.skeleton import COCO, MIRROR
from edgetm.results import Person

_I = {name: i for i, name in enumerate(COCO)}
# (a, joint, b): the angle at the joint between its two limbs.
ANGLES = tuple((_I[a], _I[j], _I[b]) for a, j, b in (
    ("left_shoulder", "left_elbow", "left_wrist"), ("right_shoulder", "right_elbow", "right_wrist"),
    ("left_hip", "left_shoulder", "left_elbow"), ("right_hip", "right_shoulder", "right_elbow"),
    ("left_shoulder", "left_hip", "left_knee"), ("right_shoulder", "right_hip", "right_knee"),
    ("left_hip", "left_knee", "left_ankle"), ("right_hip", "right_knee", "right_ankle")))
HIPS = (_I["left_hip"], _I["right_hip"])
SHOULDERS = (_I["left_shoulder"], _I["right_shoulder"])


def feature_length(options: PoseFeatureOptions) -> int:
    return 17 * 3 + (len(ANGLES) if options.angles else 0)


def _centre(points: np.ndarray, seen: np.ndarray, pair: tuple[int, int]) -> np.ndarray | None:
    chosen = [i for i in pair if seen[i]]
    return points[chosen].mean(axis=0) if chosen else None


def pose_features(points: np.ndarray, seen: np.ndarray, options: PoseFeatureOptions) -> np.ndarray:
    """The vector for [17, 2] points (any pixel scale) and a [17] mask of the points seen."""
    points = np.asarray(points, np.float64).copy()
    seen = np.asarray(seen, bool).copy()
    if options.mirror:
        points = points[list(MIRROR)] * np.array([-1.0, 1.0])
        seen = seen[list(MIRROR)]
    if not seen.any():
        return np.zeros(feature_length(options), np.float32)
    hips, shoulders = _centre(points, seen, HIPS), _centre(points, seen, SHOULDERS)
    centre = hips if hips is not None else shoulders if shoulders is not None else points[seen].mean(axis=0)
    if hips is not None and shoulders is not None and np.linalg.norm(shoulders - hips) > 1e-9:
        length = float(np.linalg.norm(shoulders - hips))
    else:
        extent = points[seen].max(axis=0) - points[seen].min(axis=0)
        length = max(float(extent.max()) / 2, 1e-9)
    normal = (points - centre) / length
    normal[~seen] = 0.0
    parts = [normal.reshape(-1), seen.astype(np.float64)]
    if options.angles:
        angles = np.zeros(len(ANGLES))
        for n, (a, j, b) in enumerate(ANGLES):
            if seen[a] and seen[j] and seen[b]:
                u, v = points[a] - points[j], points[b] - points[j]
                denominator = np.linalg.norm(u) * np.linalg.norm(v)
                if denominator > 1e-12:
                    angles[n] = np.arccos(np.clip(np.dot(u, v) / denominator, -1.0, 1.0)) / np.pi
        parts.append(angles)
    return np.concatenate(parts).astype(np.float32)


def person_features(found: Person, options: PoseFeatureOptions) -> np.ndarray:
    points = np.array([[k.x, k.y] for k in found.keypoints])
    seen = np.array([k.visible for k in found.keypoints])
    return pose_features(points, seen, options)
