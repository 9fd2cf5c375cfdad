"""edgetm: run Teachable Machine and YOLO exports on a Raspberry Pi or Jetson as a real-time ML sensor.

The public API is small and loads heavy modules only when used::

    import edgetm
    model = edgetm.load_model("models/banana")
    classifier = edgetm.Classifier(model)
    print(classifier(edgetm.read_image("models/banana/samples/ripe-1.jpg")).label)
    report = edgetm.train("dataset/", "retrained/", edgetm.TrainOptions(base="models/banana"))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# name -> module that defines it; imported on first use so that `import edgetm` stays light.
_EXPORTS = {
    "load_model": "edgetm.model.load",
    "Model": "edgetm.model.model",
    "ModelOptions": "edgetm.model.options",
    "read_image": "edgetm.vision.image",
    "PreprocessOptions": "edgetm.vision.preprocess",
    "Classifier": "edgetm.vision.classify",
    "ClassifyOptions": "edgetm.vision.classify",
    "Detector": "edgetm.vision.detect",
    "DetectOptions": "edgetm.vision.detect",
    "ZoneOptions": "edgetm.vision.detect",
    "Classification": "edgetm.results",
    "Prediction": "edgetm.results",
    "Detection": "edgetm.results",
    "Detections": "edgetm.results",
    "Poses": "edgetm.results",
    "Person": "edgetm.results",
    "Keypoint": "edgetm.results",
    "PoseOptions": "edgetm.pose.base",
    "Observation": "edgetm.events",
    "SmoothingOptions": "edgetm.tasks.smoothing",
    "PipelineOptions": "edgetm.config",
    "Pipeline": "edgetm.runtime.pipeline",
    "TrainOptions": "edgetm.train.retrain",
    "CollectOptions": "edgetm.train.collect",
}

if TYPE_CHECKING:
    from edgetm.config import PipelineOptions
    from edgetm.events import Observation
    from edgetm.model.load import load_model
    from edgetm.model.model import Model
    from edgetm.model.options import ModelOptions
    from edgetm.pose.base import PoseOptions
    from edgetm.results import Classification, Detection, Detections, Keypoint, Person, Poses, Prediction
    from edgetm.runtime.pipeline import Pipeline
    from edgetm.tasks.smoothing import SmoothingOptions
    from edgetm.train.collect import CollectOptions
    from edgetm.train.retrain import TrainOptions
    from edgetm.vision.classify import Classifier, ClassifyOptions
    from edgetm.vision.detect import DetectOptions, Detector, ZoneOptions
    from edgetm.vision.image import read_image
    from edgetm.vision.preprocess import PreprocessOptions

__all__ = ["Classification", "Classifier", "ClassifyOptions", "CollectOptions", "DetectOptions", "Detection",
           "Detections", "Detector", "Keypoint", "Model", "ModelOptions", "Observation", "Person", "Pipeline",
           "PipelineOptions", "PoseOptions", "Poses", "Prediction", "PreprocessOptions", "SmoothingOptions",
           "TrainOptions", "ZoneOptions", "load_model", "read_image", "train"]


def __getattr__(name: str):
    if name == "train":  # the package, callable: edgetm.train(data, out, options) (see edgetm/train)
        return importlib.import_module("edgetm.train")
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'edgetm' has no attribute {name!r}")
