"""Pose classification: a small model on the pose feature vector ([1, F] in, scores out)."""

from __future__ import annotations

import numpy as np

from edgetm.errors import ConfigError
from edgetm.model.labels import class_name
from edgetm.model.model import Model
from edgetm.pose.base import PoseFeatureOptions
from edgetm.pose.features import feature_length
from edgetm.results import Prediction
from edgetm.scores import ranking, to_probabilities


class PoseClassifier:
    def __init__(self, model: Model, features: PoseFeatureOptions, top_k: int = 3) -> None:
        spec = model.input
        expected = feature_length(features)
        if spec.shape[-1] != expected or int(np.prod(spec.shape)) != expected:
            raise ConfigError(f"{model.source} takes {list(spec.shape)}, not the {expected}-value pose feature vector",
                              "a pose classifier takes edgetm's pose features: 59 values, or 51 without the joint "
                              "angles (--no-angles, or features: {angles: false})")
        self.model = model
        self.top_k = top_k
        self.labels = list(model.labels or [])

    def __call__(self, features: np.ndarray) -> list[Prediction]:
        spec = self.model.input
        raw = self.model.run(features.reshape(spec.shape).astype(spec.dtype))[0]
        scores = to_probabilities(self.model.outputs[0].dequantize(raw).reshape(-1).astype(np.float32))
        return [Prediction(self.labels[i] if i < len(self.labels) else class_name(i), i, float(scores[i]))
                for i in ranking(scores, self.top_k)]
