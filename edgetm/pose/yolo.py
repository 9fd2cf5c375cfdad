"""YOLO-pose (Ultralytics yolov8n-pose, yolo11n-pose; ONNX or TFLite): many persons per image.

Output [1, 5 + 3K, N]: per candidate a box (cx, cy, w, h), the person score and K keypoints
(x, y, visibility). Candidates above the confidence pass NMS (one class), and boxes and keypoints
are mapped back from the letterboxed input to the image. As for detectors, TFLite exports give
coordinates as fractions of the input and ONNX exports give pixels.
"""

from __future__ import annotations

import time

import numpy as np

from edgetm.errors import ConfigError
from edgetm.model.model import Family, Model, ModelFormat
from edgetm.pose.base import PoseEstimator, PoseOptions, person
from edgetm.results import Person
from edgetm.vision.nms import nms
from edgetm.vision.preprocess import PreprocessOptions, Preprocessor, ResizeMode


def keypoint_count(model: Model) -> int | None:
    """K, from Ultralytics' kpt_shape metadata or else the output's rows (5 + 3K)."""
    shape = model.metadata.get("kpt_shape")
    if isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], int):
        return shape[0]
    output = model.outputs[0].shape
    if len(model.outputs) == 1 and len(output) == 3 and (output[1] - 5) % 3 == 0 and output[1] > 5:
        return (output[1] - 5) // 3
    return None


class YoloPose(PoseEstimator):
    name = "yolo-pose"

    def __init__(self, model: Model, options: PoseOptions) -> None:
        k = keypoint_count(model)
        if k != 17:
            raise ConfigError(f"{model.source}: outputs {[list(o.shape) for o in model.outputs]} are not YOLO-pose "
                              "with COCO's 17 keypoints")
        self.model, self.options = model, options
        normalize = None if model.family is Family.ULTRALYTICS else "unit"
        self.preprocessor = Preprocessor(model, PreprocessOptions(resize=ResizeMode.LETTERBOX, normalize=normalize))
        width, height = self.preprocessor.width, self.preprocessor.height
        normalized = model.format is ModelFormat.TFLITE
        self.scale = np.array([width, height], np.float32) if normalized else np.ones(2, np.float32)

    def estimate(self, image: np.ndarray) -> tuple[list[Person], dict[str, float]]:
        prepared = self.preprocessor.prepare(image)
        t1 = time.perf_counter()
        raw = self.model.outputs[0].dequantize(self.model.run(prepared.tensor)[0])[0]  # [56, N]
        t2 = time.perf_counter()
        keep = np.flatnonzero(raw[4] > self.options.conf)
        rows = raw[:, keep].T  # [n, 56]
        centres, sizes = rows[:, 0:2] * self.scale, rows[:, 2:4] * self.scale
        boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)
        order = nms(boxes, rows[:, 4].astype(np.float32), self.options.iou)[: self.options.max_persons]
        transform = prepared.transform
        persons = []
        for i in order.tolist():
            keypoints = rows[i, 5:].reshape(17, 3)
            xy = keypoints[:, :2] * self.scale
            mapped = transform.points_to_source(xy)
            box = transform.to_source(boxes[i:i + 1])[0]
            persons.append(person(mapped, keypoints[:, 2].astype(np.float64), self.options.min_keypoint_score,
                                  float(rows[i, 4]), tuple(float(v) for v in box)))
        t3 = time.perf_counter()
        return persons, {"preprocess": prepared.preprocess_ms, "inference": (t2 - t1) * 1e3,
                         "postprocess": (t3 - t2) * 1e3}

    def describe(self) -> dict:
        return {"estimator": self.name, "preprocess": self.preprocessor.describe()}
