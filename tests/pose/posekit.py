"""Synthetic people for pose tests: known keypoints, YOLO-pose models that output them, and a pose
classifier on the feature vector, all written by the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgetm.pose.skeleton import COCO
from tests.modelkit import constant_outputs_tflite, write

K = len(COCO)
# A person standing with arms down, in a 320 x 320 model input (x, y pixels), COCO order.
STANDING = np.array([
    (160, 60), (165, 55), (155, 55), (170, 58), (150, 58), (180, 90), (140, 90), (185, 130), (135, 130),
    (187, 165), (133, 165), (175, 170), (145, 170), (177, 220), (143, 220), (178, 270), (142, 270)], np.float32)
ARMS_UP = STANDING.copy()
ARMS_UP[[COCO.index("left_elbow"), COCO.index("right_elbow")], 1] = 55
ARMS_UP[[COCO.index("left_wrist"), COCO.index("right_wrist")], 1] = 20
LABELS = ["arms down", "arms up"]


def box_of(points: np.ndarray) -> tuple[float, float, float, float]:
    (x1, y1), (x2, y2) = points.min(axis=0), points.max(axis=0)
    return (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1


def pose_raw(persons: list[tuple[np.ndarray, float, np.ndarray | None]], n: int = 40) -> np.ndarray:
    """[1, 56, n] YOLO-pose output: per (keypoints [17, 2], person score, visibilities or None) a
    candidate; the other candidates score 0."""
    raw = np.zeros((1, 5 + 3 * K, n), np.float32)
    for i, (points, score, visibility) in enumerate(persons):
        raw[0, :4, i] = box_of(points)
        raw[0, 4, i] = score
        keypoints = np.concatenate([points, (np.full(K, 0.95) if visibility is None else visibility)[:, None]], 1)
        raw[0, 5:, i] = keypoints.reshape(-1)
    return raw


def ultralytics_metadata(size: int) -> dict[str, str]:
    return {"author": "Ultralytics", "task": "pose", "names": repr({0: "person"}), "kpt_shape": repr([K, 3]),
            "imgsz": repr([size, size]), "stride": "32"}


def yolo_pose_onnx(base: np.ndarray, lifted: np.ndarray | None = None, size: int = 320) -> bytes:
    """A YOLO-pose ONNX export whose output is ``base``, moved towards ``lifted`` as the input's mean
    brightness goes from 0 to 1 (black frames give ``base``, white frames ``lifted``)."""
    pytest.importorskip("onnx", reason="onnx not installed")
    from onnx import TensorProto, helper, numpy_helper

    delta = (lifted - base) if lifted is not None else np.zeros_like(base)
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
         helper.make_node("Mul", ["mean", "delta"], ["moved"]),
         helper.make_node("Add", ["base", "moved"], ["output0"])],
        "yolo-pose",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(base.shape))],
        [numpy_helper.from_array(base.astype(np.float32), "base"),
         numpy_helper.from_array(delta.astype(np.float32), "delta")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    helper.set_model_props(model, ultralytics_metadata(size))
    return model.SerializeToString()


def yolo_pose_tflite(folder: Path, base: np.ndarray, size: int = 320) -> Path:
    """A YOLO-pose TFLite export (coordinates as fractions of the input) with Ultralytics'
    metadata.yaml beside it."""
    normalised = base.copy()
    normalised[0, :4] /= size
    normalised[0, 5::3] /= size
    normalised[0, 6::3] /= size
    path = write(folder, "yolo-pose_float32.tflite", constant_outputs_tflite([normalised], size=(size, size)))
    lines = [f"{key}: {value}" for key, value in ultralytics_metadata(size).items() if key != "names"]
    (folder / "metadata.yaml").write_text("\n".join([*lines, "names:", "  0: person", ""]))
    return path


def pose_classifier_onnx(folder: Path, features: int = 59) -> Path:
    """A pose classifier on the feature vector: "arms up" when both wrists are well above the hips
    (their feature y, in torso lengths from the hip centre, below -1), else "arms down"."""
    pytest.importorskip("onnx", reason="onnx not installed")
    from onnx import TensorProto, helper, numpy_helper

    weights = np.zeros((features, 2), np.float32)
    for name in ("left_wrist", "right_wrist"):
        weights[2 * COCO.index(name) + 1, 1] = -4.0  # y of each wrist
    bias = np.array([0.0, -8.0], np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["features", "weights", "bias"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["scores"], axis=1)],
        "pose-head",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, features])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 2])],
        [numpy_helper.from_array(weights, "weights"), numpy_helper.from_array(bias, "bias")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = write(folder / "head", "model.onnx", model.SerializeToString())
    (folder / "head" / "labels.txt").write_text("".join(f"{i} {name}\n" for i, name in enumerate(LABELS)))
    return path
