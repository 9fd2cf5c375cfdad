"""Image classification: preprocess, run, turn scores into labelled predictions."""

from __future__ import annotations

import time

import numpy as np

from edgetm.errors import ConfigError
from edgetm.model.model import Model, Task
from edgetm.model.spec import TensorSpec
from edgetm.results import Classification, Prediction
from edgetm.vision.preprocess import PreprocessOptions, Preprocessor

# A quantized softmax output has scale 1/256 (TFLite's fixed softmax quantization).
_SOFTMAX_SCALE = 1.0 / 256.0
# How far a float output may stray from summing to one and still be taken as probabilities.
_SUM_TOLERANCE = 0.01


def _is_quantized_softmax(spec: TensorSpec) -> bool:
    q = spec.quantization
    return spec.is_quantized and q is not None and abs(q.scale - _SOFTMAX_SCALE) < 1e-9


def to_probabilities(scores: np.ndarray, already: bool = False) -> np.ndarray:
    """Scores as a distribution: softmax only when they are not one already."""
    if already or (scores.min() >= -1e-6 and scores.max() <= 1 + 1e-6 and abs(scores.sum() - 1) <= _SUM_TOLERANCE):
        return scores
    shifted = np.exp(scores - scores.max())
    return shifted / shifted.sum()


def top_k(probabilities: np.ndarray, k: int, threshold: float, model: Model) -> list[Prediction]:
    """The k best classes with score >= threshold; ties keep class order."""
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [
        Prediction(model.label(int(i)), int(i), float(probabilities[i]))
        for i in order
        if probabilities[i] >= threshold
    ]


class Classifier:
    """Classifies BGR frames with a loaded model.

    ``threshold`` hides predictions scoring below it; when the best does, ``label`` is None.
    """

    def __init__(
        self,
        model: Model,
        *,
        top_k: int = 5,
        threshold: float = 0.0,
        preprocess: PreprocessOptions | None = None,
    ) -> None:
        if model.task not in (Task.CLASSIFY, Task.UNKNOWN) or len(model.outputs) != 1:
            raise ConfigError(f"{model.source} is a {model.task.value} model, not a classifier",
                              "use the command for its task")
        if sum(d > 1 for d in model.outputs[0].shape) > 1:
            raise ConfigError(f"{model.source} outputs shape {list(model.outputs[0].shape)}, not a score vector",
                              "a classifier has one output of one score per class")
        if top_k < 1:
            raise ConfigError(f"top_k must be at least 1 (got {top_k})")
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"threshold must be between 0 and 1 (got {threshold})")
        self.model = model
        self.k = top_k
        self.threshold = threshold
        self.preprocessor = Preprocessor(model, preprocess)
        self._output = model.outputs[0]
        self._softmaxed = _is_quantized_softmax(self._output)

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        """Raw output tensor -> class probabilities."""
        scores = self._output.dequantize(raw).reshape(-1)
        return to_probabilities(scores, self._softmaxed)

    def classify(self, image: np.ndarray, source: str | None = None) -> Classification:
        t0 = time.perf_counter()
        tensor, _ = self.preprocessor(image)
        t1 = time.perf_counter()
        raw = self.model.run(tensor)[0]
        t2 = time.perf_counter()
        probabilities = self.postprocess(raw)
        top = top_k(probabilities, self.k, self.threshold, self.model)
        t3 = time.perf_counter()
        best = top[0] if top else None
        return Classification(
            label=best.label if best else None,
            index=best.index if best else None,
            score=best.score if best else float(probabilities.max()),
            top=top,
            latency_ms={"preprocess": (t1 - t0) * 1e3, "inference": (t2 - t1) * 1e3, "postprocess": (t3 - t2) * 1e3},
            source=source,
        )

    __call__ = classify
