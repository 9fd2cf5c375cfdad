"""Estimators on generated models with known raw outputs: YOLO-pose decoding, MoveNet's crop
region, MediaPipe Tasks bundles, and the errors for models that are not what they are said to be."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from edgetm.capture.base import Frame
from edgetm.errors import ConfigError, ModelError
from edgetm.model import load_model
from edgetm.model.model import TaskKind
from edgetm.pose.base import PoseOptions
from edgetm.pose.movenet import Region, next_region
from edgetm.pose.skeleton import COCO
from edgetm.tasks import build_task, choose
from tests.modelkit import constant_outputs_tflite, write
from tests.pose.posekit import ARMS_UP, STANDING, pose_raw, yolo_pose_onnx, yolo_pose_tflite

# A 640 x 480 frame in a 320 x 320 model: scaled by 0.5 and padded by 40 rows at the top.
FRAME = np.full((480, 640, 3), 0, np.uint8)
ELSEWHERE = STANDING + np.array([100, 20], np.float32)
WEAK_ANKLES = np.full(17, 0.95)
WEAK_ANKLES[[COCO.index("left_ankle"), COCO.index("right_ankle")]] = 0.1
PEOPLE = [(STANDING, 0.9, None),
          (STANDING + 2, 0.8, None),  # the same person again: suppressed
          (ELSEWHERE, 0.7, WEAK_ANKLES),
          (ARMS_UP + np.array([-120, 0], np.float32), 0.3, None)]  # below the confidence


def to_source(points: np.ndarray) -> np.ndarray:
    return (points - np.array([0, 40], np.float32)) * 2


def poses(model, **options):
    task = build_task(model, PoseOptions(**options))
    return task.probe(Frame(image=FRAME, index=0, captured=0.0, wall=0.0, name="f.jpg"))


def check_people(result) -> None:
    assert [round(p.score, 2) for p in result.persons] == [0.9, 0.7]
    first, second = result.persons
    assert np.allclose([[k.x, k.y] for k in first.keypoints], to_source(STANDING), atol=0.01)
    assert np.allclose([[k.x, k.y] for k in second.keypoints], to_source(ELSEWHERE), atol=0.01)
    assert [k.name for k in first.keypoints] == list(COCO)
    x1, y1 = to_source(STANDING).min(axis=0)
    x2, y2 = to_source(STANDING).max(axis=0)
    assert np.allclose(first.box, (x1, y1, x2, y2), atol=0.01)
    # Keypoints the model is unsure of are kept, flagged not visible.
    ankles = [k for k in second.keypoints if k.name.endswith("ankle")]
    assert [(k.visible, round(k.score, 2)) for k in ankles] == [(False, 0.1), (False, 0.1)]
    assert sum(k.visible for k in second.keypoints) == 15


def test_yolo_pose_onnx_decodes_people(tmp_path: Path):
    model = load_model(write(tmp_path, "yolov8n-pose.onnx", yolo_pose_onnx(pose_raw(PEOPLE))))
    assert model.task is TaskKind.POSE and isinstance(choose(model), PoseOptions)
    result = poses(model)
    check_people(result)
    assert build_task(model, PoseOptions()).describe()["pose"]["estimator"] == "yolo-pose"
    assert [round(p.score, 2) for p in poses(model, conf=0.2).persons] == [0.9, 0.7, 0.3]
    assert len(poses(model, max_persons=1).persons) == 1
    payload = result.to_dict()
    assert payload["persons"][0]["keypoints"][0] == {"name": "nose", "x": 320.0, "y": 40.0, "score": 0.95,
                                                     "visible": True}
    assert "keypoints" not in poses(model, include_keypoints=False).to_dict()["persons"][0]


def test_yolo_pose_tflite_decodes_people(tmp_path: Path):
    model = load_model(yolo_pose_tflite(tmp_path, pose_raw(PEOPLE)))
    assert model.task is TaskKind.POSE
    check_people(poses(model))


def test_yolo_pose_without_metadata_runs_when_named(tmp_path: Path):
    from onnx import helper, load_from_string

    exported = load_from_string(yolo_pose_onnx(pose_raw(PEOPLE)))
    helper.set_model_props(exported, {})
    del exported.metadata_props[:]
    model = load_model(write(tmp_path, "bare.onnx", exported.SerializeToString()))
    assert model.task is TaskKind.DETECT  # 56 rows could as well be 52 classes
    result = build_task(model, choose(model, "pose")).probe(Frame(image=FRAME, index=0, captured=0.0, wall=0.0))
    assert len(result.persons) == 2


def test_movenet_thunder_maps_keypoints_back_to_the_frame(tmp_path: Path):
    raw = np.zeros((1, 1, 17, 3), np.float32)
    raw[0, 0, :, 0] = np.linspace(0.2, 0.8, 17)  # y
    raw[0, 0, :, 1] = 0.5  # x
    raw[0, 0, :, 2] = 0.9
    model = load_model(write(tmp_path, "movenet_thunder.tflite", constant_outputs_tflite([raw], size=(256, 256))))
    task = build_task(model, choose(model))
    assert task.describe()["pose"] == {"estimator": "movenet", "input": 256, "tracking": True}
    [found] = task.probe(Frame(image=FRAME, index=0, captured=0.0, wall=0.0, name="f.jpg")).persons
    # The first frame is the whole image padded to a 640 x 640 square: 80 rows above and below.
    assert np.allclose([[k.x, k.y] for k in found.keypoints],
                       np.stack([np.full(17, 320.0), np.linspace(0.2, 0.8, 17) * 640 - 80], axis=1), atol=0.01)


def test_movenet_follows_the_body_and_falls_back_to_the_whole_image():
    points = to_source(STANDING)
    scores = np.full(17, 0.9)
    region = next_region(points, scores, 640, 480)
    hips = points[[COCO.index("left_hip"), COCO.index("right_hip")]].mean(axis=0)
    assert np.allclose((region.x + region.side / 2, region.y + region.side / 2), hips)
    assert (points >= (region.x, region.y)).all() and (points <= (region.x + region.side,) * 2).all()
    unseen = scores.copy()
    unseen[[COCO.index("left_hip"), COCO.index("right_hip")]] = 0.05
    assert next_region(points, unseen, 640, 480) == Region.whole(640, 480) == Region(0, -80, 640)


def bundle(folder: Path, members: dict[str, bytes]) -> Path:
    path = folder / "pose_landmarker.task"
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def test_the_mediapipe_estimator_needs_its_extra_and_a_bundle(tmp_path: Path):
    pytest.importorskip("onnx", reason="onnx not installed")
    detector = constant_outputs_tflite([np.zeros((1, 2254, 12)), np.zeros((1, 2254, 1))], size=(224, 224))
    task = bundle(tmp_path, {"pose_detector.tflite": detector, "pose_landmarks_detector.tflite": b"later"})
    model = load_model(task)
    assert model.source == f"{task}:pose_detector.tflite" and model.task is TaskKind.POSE
    try:
        import mediapipe  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match=r"'mediapipe' is not installed.*pip install 'edgetm\[pose\]'"):
            build_task(model, PoseOptions(estimator="mediapipe"))
    onnx = load_model(write(tmp_path, "pose.onnx", yolo_pose_onnx(pose_raw(PEOPLE))))
    with pytest.raises(ConfigError, match="runs a MediaPipe Tasks bundle"):
        build_task(onnx, PoseOptions(estimator="mediapipe"))
    (tmp_path / "other").mkdir()
    with pytest.raises(ModelError, match=r"holds no pose_detector\.tflite"):
        load_model(bundle(tmp_path / "other", {"readme.txt": b"no models"}))


def test_models_that_are_not_what_they_are_said_to_be(tmp_path: Path):
    yolo = load_model(write(tmp_path, "pose.onnx", yolo_pose_onnx(pose_raw(PEOPLE))))
    with pytest.raises(ConfigError, match="not a MoveNet SinglePose model"):
        build_task(yolo, PoseOptions(estimator="movenet"))
    with pytest.raises(ConfigError, match="not BlazePose's pose detector"):
        build_task(yolo, PoseOptions(estimator="blazepose", landmarks=str(tmp_path / "pose.onnx")))
    detector = write(tmp_path / "alone", "pose_detection.tflite", constant_outputs_tflite(
        [np.zeros((1, 2254, 12)), np.zeros((1, 2254, 1))], size=(224, 224)))
    with pytest.raises(ConfigError, match="BlazePose needs its landmark model beside"):
        build_task(load_model(detector), PoseOptions())
