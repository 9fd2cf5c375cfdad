"""What every pose estimator is, and the geometry they share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Literal

import numpy as np

from edgetm.model.options import ModelOptions
from edgetm.options import Field, field_validator
from edgetm.plugins import LocalPath, Options
from edgetm.pose.skeleton import COCO
from edgetm.results import Keypoint, Person

Estimator = Literal["auto", "movenet", "blazepose", "yolo-pose", "mediapipe"]


class PoseFeatureOptions(Options):
    mirror: bool = Field(False, description="mirror every pose left to right before the classifier reads it, for a "
                         "camera that shows users their mirror image (the keypoints reported stay as seen)")
    angles: bool = Field(True, description="add the eight limb joint angles (elbows, shoulders, hips, knees)")


class PoseOptions(Options):
    """How poses are found, and what is published of them."""

    type: Literal["pose"] = "pose"
    estimator: Estimator = Field("auto", description="movenet, blazepose, yolo-pose or mediapipe (default: from the "
                                 "model: MoveNet's [1, 1, 17, 3] output, BlazePose's detector, YOLO-pose metadata, "
                                 "a .task file)")
    landmarks: LocalPath | None = Field(None, description="BlazePose: the landmark model (default: "
                                        "pose_landmark_full.tflite, else _heavy or _lite, beside the detector)")
    classifier: ModelOptions | None = Field(None, description="a model mapping the pose feature vector to labels "
                                            "([1, 59] in, its labels beside it); without one a pipeline publishes "
                                            "the number of persons")
    min_keypoint_score: float = Field(0.3, ge=0.0, le=1.0, description="keypoints scoring lower are kept but "
                                      "marked not visible, and left out of the features")
    tracking: bool = Field(True, description="find the person where the previous frame had them (MoveNet's crop "
                           "region, BlazePose's landmark region), running a detector only when they are lost")
    min_keypoints: int = Field(5, ge=0, le=17, description="a person needs this many keypoints seen (single-"
                               "person estimators always return someone: on an empty scene, a few stray points)")
    conf: float = Field(0.5, ge=0.0, le=1.0, description="YOLO-pose and BlazePose: person confidence threshold")
    iou: float = Field(0.45, ge=0.0, le=1.0, description="YOLO-pose: NMS IoU threshold")
    max_persons: int = Field(10, ge=1, le=100, description="most persons per image")
    include_keypoints: bool = Field(True, description="put every person's keypoints in each result")
    features: PoseFeatureOptions = Field(default_factory=PoseFeatureOptions, description="the feature vector a "
                                         "classifier reads")
    top_k: int = Field(3, ge=1, le=100, description="pose labels reported per person")

    @field_validator("classifier", mode="before")
    @classmethod
    def _path_shorthand(cls, value):
        return {"path": value} if isinstance(value, str) else value


class PoseEstimator(ABC):
    """Finds people and their keypoints in BGR frames. Estimators that track keep what they found
    in the previous frame; ``reset`` forgets it."""

    name: str

    @abstractmethod
    def estimate(self, image: np.ndarray) -> tuple[list[Person], dict[str, float]]:
        """Persons (keypoints in the image's pixels), most confident first, and stage timings."""

    def reset(self) -> None:  # noqa: B027 - optional
        """Forget the previous frame (a new stream)."""

    def describe(self) -> dict:
        return {"estimator": self.name}


def person(points: np.ndarray, scores: np.ndarray, min_score: float, score: float | None = None,
           box: tuple[float, float, float, float] | None = None, names=COCO) -> Person:
    """A Person from [17, 2] pixel coordinates and [17] scores; the box covers the visible keypoints
    unless given."""
    visible = scores >= min_score
    keypoints = [Keypoint(name, float(x), float(y), float(s), bool(v))
                 for name, (x, y), s, v in zip(names, points.tolist(), scores.tolist(), visible.tolist(), strict=True)]
    if box is None:
        shown = points[visible] if visible.any() else points
        box = (float(shown[:, 0].min()), float(shown[:, 1].min()), float(shown[:, 0].max()), float(shown[:, 1].max()))
    return Person(keypoints, float(np.mean(scores) if score is None else score), box)
