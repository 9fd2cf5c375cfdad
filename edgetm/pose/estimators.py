"""Which estimator runs a model: the one named, or the one its shapes and metadata call for."""

from __future__ import annotations

from pathlib import Path

from edgetm.errors import ConfigError
from edgetm.model.model import Model
from edgetm.pose.base import PoseEstimator, PoseOptions


def is_blazepose_detector(model: Model) -> bool:
    shapes = sorted(tuple(o.shape[-2:]) for o in model.outputs)
    return len(shapes) == 2 and shapes[0][1] == 1 and shapes[1][1] == 12 and shapes[0][0] == shapes[1][0]


def estimator_for(model: Model, options: PoseOptions) -> PoseEstimator:
    from edgetm.pose.yolo import keypoint_count

    name = options.estimator
    if name == "auto":
        if tuple(model.outputs[0].shape[-2:]) == (17, 3) and len(model.outputs) == 1:
            name = "movenet"
        elif is_blazepose_detector(model):
            name = "blazepose"
        elif keypoint_count(model) == 17:
            name = "yolo-pose"
        else:
            raise ConfigError(f"{model.source} is not a pose model edgetm knows",
                              "MoveNet, BlazePose's detector or YOLO-pose; or name the estimator")
    if name == "movenet":
        from edgetm.pose.movenet import MoveNet

        return MoveNet(model, options)
    if name == "yolo-pose":
        from edgetm.pose.yolo import YoloPose

        return YoloPose(model, options)
    if name == "blazepose":
        from edgetm.model.load import load_model
        from edgetm.pose.blazepose import BlazePose, landmarks_beside

        landmarks = Path(options.landmarks) if options.landmarks else landmarks_beside(Path(model.source))
        if landmarks is None:
            raise ConfigError(f"BlazePose needs its landmark model beside {model.source}",
                              "put pose_landmark_full.tflite there, or give landmarks")
        return BlazePose(model, options, load_model(landmarks, threads=model.backend.describe().get("threads")))
    from edgetm.pose.mediapipe_tasks import MediaPipePose

    return MediaPipePose(model.source, options)
