"""edgetm: run Teachable Machine and YOLO exports on a Raspberry Pi or Jetson as a real-time ML sensor.

The public API is small and loads heavy modules only when used::

    import edgetm
    model = edgetm.load_model("models/banana")
    classifier = edgetm.Classifier(model)
    print(classifier(edgetm.read_image("models/banana/samples/ripe-1.jpg")).label)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# name -> module that defines it; imported on first use so that `import edgetm` stays light.
_EXPORTS = {
    "load_model": "edgetm.model.load",
    "Model": "edgetm.model.model",
    "Classifier": "edgetm.vision.classify",
    "PreprocessOptions": "edgetm.vision.preprocess",
    "read_image": "edgetm.vision.image",
    "Classification": "edgetm.results",
    "Prediction": "edgetm.results",
    "Observation": "edgetm.results",
    "Pipeline": "edgetm.runtime.pipeline",
}

if TYPE_CHECKING:
    from edgetm.model.load import load_model
    from edgetm.model.model import Model
    from edgetm.results import Classification, Observation, Prediction
    from edgetm.runtime.pipeline import Pipeline
    from edgetm.vision.classify import Classifier
    from edgetm.vision.image import read_image
    from edgetm.vision.preprocess import PreprocessOptions

__all__ = ["Classification", "Classifier", "Model", "Observation", "Pipeline", "Prediction", "PreprocessOptions",
           "load_model", "read_image"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'edgetm' has no attribute {name!r}")
