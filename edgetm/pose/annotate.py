"""Skeletons drawn onto a frame, for ``edgetm pose --save-annotated``."""

from __future__ import annotations

import numpy as np

from edgetm.pose.skeleton import EDGES
from edgetm.results import Person

# BGR: left limbs orange, right limbs blue, the middle (face, shoulders, hips) green.
_LEFT, _RIGHT, _MIDDLE = (0, 140, 255), (255, 128, 0), (0, 200, 0)


def _colour(a: int, b: int) -> tuple[int, int, int]:
    odd = {a % 2, b % 2}  # COCO numbers left points odd and right points even (nose: 0)
    if a == 0 or b == 0 or odd == {0, 1}:
        return _MIDDLE
    return _LEFT if odd == {1} else _RIGHT


def draw_skeletons(image: np.ndarray, persons: list[Person]) -> np.ndarray:
    """A copy of ``image`` with each person's visible keypoints and the bones between them, and the
    person's pose label (when a classifier gave one) above their box."""
    import cv2

    out = image.copy()
    thickness = max(1, round(sum(out.shape[:2]) / 500))
    for found in persons:
        points = [(round(k.x), round(k.y)) for k in found.keypoints]
        for a, b in EDGES:
            if found.keypoints[a].visible and found.keypoints[b].visible:
                cv2.line(out, points[a], points[b], _colour(a, b), thickness, cv2.LINE_AA)
        for point, keypoint in zip(points, found.keypoints, strict=True):
            if keypoint.visible:
                cv2.circle(out, point, thickness + 1, (255, 255, 255), -1, cv2.LINE_AA)
        if found.label is not None:
            x1, y1 = round(found.box[0]), round(found.box[1])
            cv2.putText(out, f"{found.label} {found.label_score:.2f}", (x1, max(y1 - 6, 12)),
                        cv2.FONT_HERSHEY_SIMPLEX, thickness / 3, (255, 255, 255), max(1, thickness - 1), cv2.LINE_AA)
    return out
