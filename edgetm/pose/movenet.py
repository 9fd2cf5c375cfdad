"""MoveNet SinglePose (Lightning 192, Thunder 256): one person, 17 COCO keypoints.

Output [1, 1, 17, 3] is (y, x, score), normalised to the square region the model was shown. The
first frame shows the whole image padded to a square; after that the region follows the body
from the previous frame's keypoints (MoveNet's own crop-region tracking: the torso and the body's
reach around the hip centre, enlarged by 1.9 and 1.2), and falls back to the whole image when the
torso is not seen.
"""

from __future__ import annotations

import time

import numpy as np

from edgetm.errors import ConfigError
from edgetm.model.model import Model
from edgetm.pose.base import PoseEstimator, PoseOptions, person
from edgetm.pose.skeleton import COCO
from edgetm.records import Record
from edgetm.results import Person

# MoveNet's tutorial: keypoints scoring this much or more take part in placing the next region.
MIN_CROP_KEYPOINT_SCORE = 0.2
TORSO = tuple(COCO.index(n) for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip"))
HIPS = (COCO.index("left_hip"), COCO.index("right_hip"))
SHOULDERS = (COCO.index("left_shoulder"), COCO.index("right_shoulder"))


class Region(Record):
    """A square of the image in pixels (it may reach past the edges, which read as black)."""

    x: float
    y: float
    side: float

    @staticmethod
    def whole(width: int, height: int) -> Region:
        side = max(width, height)
        return Region((width - side) / 2, (height - side) / 2, side)


def next_region(points: np.ndarray, scores: np.ndarray, width: int, height: int) -> Region:
    """Where to look in the next frame: MoveNet's determine_crop_region, in pixels."""
    torso_seen = scores[list(HIPS)].max() > MIN_CROP_KEYPOINT_SCORE and \
        scores[list(SHOULDERS)].max() > MIN_CROP_KEYPOINT_SCORE
    if not torso_seen:
        return Region.whole(width, height)
    centre = points[list(HIPS)].mean(axis=0)
    torso = np.abs(points[list(TORSO)] - centre).max(axis=0)
    seen = scores >= MIN_CROP_KEYPOINT_SCORE
    body = np.abs(points[seen] - centre).max(axis=0) if seen.any() else np.zeros(2)
    half = max(torso[0] * 1.9, torso[1] * 1.9, body[1] * 1.2, body[0] * 1.2)
    half = min(half, max(centre[0], width - centre[0], centre[1], height - centre[1]))
    if half > max(width, height) / 2:
        return Region.whole(width, height)
    return Region(centre[0] - half, centre[1] - half, 2 * half)


def crop(image: np.ndarray, region: Region, size: int) -> np.ndarray:
    """The region resized to size x size (bilinear); outside the image is black."""
    import cv2

    scale = size / region.side
    matrix = np.array([[scale, 0, -region.x * scale], [0, scale, -region.y * scale]], np.float32)
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


class MoveNet(PoseEstimator):
    name = "movenet"

    def __init__(self, model: Model, options: PoseOptions) -> None:
        spec = model.input
        if len(spec.shape) != 4 or spec.shape[1] != spec.shape[2] or tuple(model.outputs[0].shape[-2:]) != (17, 3):
            raise ConfigError(f"{model.source} is not a MoveNet SinglePose model",
                              "MoveNet takes [1, S, S, 3] and gives [1, 1, 17, 3]")
        self.model = model
        self.size = spec.shape[1]
        self.dtype = spec.dtype
        self.options = options
        self.region: Region | None = None

    def reset(self) -> None:
        self.region = None

    def estimate(self, image: np.ndarray) -> tuple[list[Person], dict[str, float]]:
        import cv2

        t0 = time.perf_counter()
        height, width = image.shape[:2]
        region = self.region or Region.whole(width, height)
        pixels = cv2.cvtColor(crop(image, region, self.size), cv2.COLOR_BGR2RGB)
        tensor = pixels[None].astype(self.dtype, copy=False)
        t1 = time.perf_counter()
        raw = self.model.run(tensor)[0].reshape(17, 3)
        t2 = time.perf_counter()
        points = np.stack([region.x + raw[:, 1] * region.side, region.y + raw[:, 0] * region.side], axis=1)
        scores = raw[:, 2].astype(np.float64)
        if self.options.tracking:
            self.region = next_region(points, scores, width, height)
        found = person(points, scores, self.options.min_keypoint_score)
        t3 = time.perf_counter()
        return [found], {"preprocess": (t1 - t0) * 1e3, "inference": (t2 - t1) * 1e3, "postprocess": (t3 - t2) * 1e3}

    def describe(self) -> dict:
        return {"estimator": self.name, "input": self.size, "tracking": self.options.tracking}
