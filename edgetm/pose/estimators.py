"""Which estimator runs a model: the one named, or the one its shapes and metadata call for."""

from __future__ import annotations

from edgetm.errors import ConfigError
from edgetm.model.locate import TASK_BUNDLE
from edgetm.model.model import Model
from edgetm.pose.base import PoseEstimator, PoseOptions


def is_blazepose_detector(model: Model) -> bool:
    shapes = sorted(tuple(o.shape[-2:]) for o in model.outputs)
    return len(shapes) == 2 and shapes[0][1] == 1 and shapes[1][1] == 12 and shapes[0][0] == shapes[1][0]


# Options that mean nothing to an estimator: given for it, they are errors rather than ignored.
NOT_FOR = {"movenet": ("landmarks", "conf", "iou", "max_persons"), "blazepose": ("iou",),
           "yolo-pose": ("landmarks",), "mediapipe": ("landmarks", "iou")}


def is_blazepose_landmarks(model: Model) -> bool:
    return tuple(model.input.shape[1:3]) == (256, 256) and model.outputs[0].shape[-1] == 195


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
        elif is_blazepose_landmarks(model):
            raise ConfigError(f"{model.source} is BlazePose's landmark model, which runs after its detector",
                              "give the detector, pose_detection.tflite: the landmark model beside it is found")
        else:
            raise ConfigError(f"{model.source} is not a pose model edgetm knows",
                              "MoveNet, BlazePose's detector or YOLO-pose; or name the estimator")
    inapplicable = options.off_default(NOT_FOR[name])
    if inapplicable:
        raise ConfigError(f"{' and '.join(inapplicable)} {'does' if len(inapplicable) == 1 else 'do'} not apply to "
                          f"the {name} estimator ({model.source})", "remove it")
    estimator = _build(name, model, options)
    if name not in ("yolo-pose", "mediapipe") and model.labels:
        raise ConfigError(f"{model.source} finds keypoints and takes no labels",
                          "a pose classifier's labels go beside it (labels.txt), or classifier: {labels: FILE}")
    return estimator


def _build(name: str, model: Model, options: PoseOptions) -> PoseEstimator:
    if name == "movenet":
        from edgetm.pose.movenet import MoveNet

        return MoveNet(model, options)
    if name == "yolo-pose":
        from edgetm.pose.yolo import YoloPose

        return YoloPose(model, options)
    if name == "blazepose":
        from edgetm.pose.blazepose import BlazePose, open_landmarks

        if not is_blazepose_detector(model):
            raise ConfigError(f"{model.source} is not BlazePose's pose detector",
                              "it takes [1, 224, 224, 3] and gives [1, 2254, 12] and [1, 2254, 1]")
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
