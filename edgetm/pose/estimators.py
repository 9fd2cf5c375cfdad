"""Which estimator runs a model: the one named, or the one its shapes and metadata call for."""

from __future__ import annotations

from edgetm.errors import ConfigError
from edgetm.model.load import TASK_BUNDLE
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
        from edgetm.pose.blazepose import BlazePose, open_landmarks

        return BlazePose(model, options, open_landmarks(model, options))
    from edgetm.pose.mediapipe_tasks import MediaPipePose

    bundle = bundle_of(model.source)
    if bundle is None:
        raise ConfigError(f"the mediapipe estimator runs a MediaPipe Tasks bundle, not {model.source}",
                          "give the pose landmarker's .task file")
    return MediaPipePose(bundle, options)


def bundle_of(source: str) -> str | None:
    """The .task file a model was opened from (its source reads ``bundle.task:member``)."""
    head, found, _ = source.rpartition(TASK_BUNDLE + ":")
    return head + TASK_BUNDLE if found else None
