"""Image classification: preprocess, run, turn scores into labelled predictions."""


import time
from typing import Literal

import numpy as np

from edgetm.errors import ConfigError
from edgetm.model.labels import class_name
from edgetm.model.metadata import BuiltinFeatures
from edgetm.model.model import Model, TaskKind
from edgetm.model.spec import TensorSpec
from edgetm.options import Field
from edgetm.plugins import Options
from edgetm.results import Classification, Prediction
from edgetm.scores import ranking, to_probabilities
from edgetm.vision.descriptor import DescriptorInput
from edgetm.vision.preprocess import Prepared, PreprocessOptions, Preprocessor

# A quantized softmax output has scale 1/256 (TFLite's fixed softmax quantization).
_SOFTMAX_SCALE = 1.0 / 256.0


def _is_quantized_softmax(spec: TensorSpec) -> bool:
    q = spec.quantization
    return spec.is_quantized and q is not None and abs(q.scale - _SOFTMAX_SCALE) < 1e-9


class ClassifyOptions(Options):
    """What a classifier reports of each image."""

    type: Literal["classify"] = "classify"
    top_k: int = Field(3, ge=1, le=1000, description="predictions to report, best first")
    threshold: float = Field(0.0, ge=0.0, le=1.0, description="hide predictions scoring below this; when the best "
                             "one does, there is no label")


def _image_input(model: Model, preprocess: PreprocessOptions | None, still: bool) -> Preprocessor | DescriptorInput:
    """What turns frames into the model's input: preprocessing, or for a head trained on the
    built-in image descriptor, that descriptor."""
    features = model.metadata.get("features")
    if features is None:
        return Preprocessor(model, preprocess, still)
    if features["features"] != BuiltinFeatures.IMAGE:
        command = "edgetm pose POSE_MODEL IMAGES --classifier" if features["features"] == BuiltinFeatures.POSE \
            else "edgetm listen" if model.task is TaskKind.SOUND else "the command for its kind of input"
        raise ConfigError(f"{model.source} classifies {features['features']} features, not images", f"use {command}")
    given = preprocess.model_fields_set if preprocess is not None else set()
    if given:
        raise ConfigError(f"{model.source} takes edgetm's built-in image descriptor: preprocessing options "
                          f"({', '.join(sorted(given))}) do not apply", "leave them out")
    return DescriptorInput()


class Classifier:
    """Classifies BGR frames with a loaded model.

    ``still``: the frames are photos, not live video: a Teachable Machine export then gets the
    exporter's own resampling (Pillow's), for the snippet's exact answers, unless ``preprocess``
    names another.
    """

    def __init__(self, model: Model, options: ClassifyOptions | None = None,
                 preprocess: PreprocessOptions | None = None, still: bool = False) -> None:
        if model.task not in (TaskKind.CLASSIFY, TaskKind.UNKNOWN) or len(model.outputs) != 1:
            command = {TaskKind.DETECT: "edgetm detect", TaskKind.SOUND: "edgetm listen"}.get(model.task, "edgetm run")
            raise ConfigError(f"{model.source} is a {model.task.value} model, not a classifier", f"use {command}")
        if sum(d > 1 for d in model.outputs[0].shape) > 1:
            raise ConfigError(f"{model.source} outputs shape {list(model.outputs[0].shape)}, not a score vector",
                              "a classifier has one output of one score per class")
        self.model = model
        self.options = options = options or ClassifyOptions()
        self.k = options.top_k
        self.threshold = options.threshold
        self.preprocessor = _image_input(model, preprocess, still)
        self._output = model.outputs[0]
        self._softmaxed = _is_quantized_softmax(self._output)

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        """Raw output tensor -> class probabilities."""
        scores = self._output.dequantize(raw).reshape(-1)
        return to_probabilities(scores, self._softmaxed)

    def _top(self, raw: np.ndarray) -> tuple[list[Prediction], float]:
        """Top-k predictions above the threshold, and the best score.

        Runs right after inference, when the caches hold the network rather than us: every numpy
        call costs ten times its warm price here, so this makes as few as it can.
        """
        flat = raw.reshape(-1)
        if self._softmaxed:
            # Dequantizing is monotonic: rank the integers (``ranking``'s order, in three numpy calls:
            # ~x reverses unsigned and signed integers alike), convert only the winners, in Python.
            top = np.argsort(~flat, kind="stable")[:self.k]
            scale, zero = self._output.quantization.scale, self._output.quantization.zero_point  # type: ignore[union-attr]
            scores = [(q - zero) * scale for q in flat[top].tolist()]
            order = top.tolist()
        else:
            probabilities = self.postprocess(raw)
            order = ranking(probabilities, self.k)
            scores = probabilities[order].tolist()
        labels = self.model.labels
        top = [
            Prediction(labels[i] if labels else class_name(i), i, score)
            for i, score in zip(order, scores, strict=True)
            if score >= self.threshold
        ]
        return top, scores[0]

    def prepare(self, image: np.ndarray) -> Prepared:
        """The preprocessing stage alone; safe to run in another thread one frame ahead of ``infer``."""
        return self.preprocessor.prepare(image)

    def infer(self, prepared: Prepared, source: str | None = None) -> Classification:
        """Inference and postprocessing of a prepared frame."""
        t0 = time.perf_counter()
        raw = self.model.run(prepared.tensor)[0]
        t1 = time.perf_counter()
        top, best_score = self._top(raw)
        t2 = time.perf_counter()
        best = top[0] if top else None
        return Classification(
            label=best.label if best else None,
            index=best.index if best else None,
            score=best_score,
            top=top,
            latency_ms={"preprocess": prepared.preprocess_ms, "inference": (t1 - t0) * 1e3,
                        "postprocess": (t2 - t1) * 1e3},
            source=source,
        )

    def classify(self, image: np.ndarray, source: str | None = None) -> Classification:
        return self.infer(self.prepare(image), source)

    __call__ = classify
