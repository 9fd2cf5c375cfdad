"""Pose estimators on the zoo's real networks: MoveNet against its reference keypoints, BlazePose
through LiteRT on photos and following a person across a video."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgetm.capture.base import Frame
from edgetm.model import load_model
from edgetm.pose.base import PoseOptions
from edgetm.pose.blazepose import BlazePose
from edgetm.tasks import build_task, choose


def still(image: np.ndarray, name: str = "photo") -> Frame:
    return Frame(image=image, index=0, captured=0.0, wall=0.0, name=name)


def test_movenet_matches_its_reference_keypoints(zoo: Path):
    folder = zoo / "coral-movenet"
    model = load_model(folder / "movenet_single_pose_lightning_ptq.tflite")
    task = build_task(model, choose(model))
    assert task.describe()["pose"]["estimator"] == "movenet"
    image = cv2.imread(str(folder / "squat.bmp"))
    height, width = image.shape[:2]
    [found] = task.probe(still(image)).persons
    with (folder / "movenet_single_pose_lightning_ptq_reference.csv").open() as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: int(row["keypoint_id"]))
    expected = np.array([[float(r["keypoint_x"]), float(r["keypoint_y"])] for r in rows])
    ours = np.array([[k.x / width, k.y / height] for k in found.keypoints])
    assert np.abs(ours - expected).mean() < 0.03


def test_movenet_sees_nobody_in_a_photo_of_a_cat(zoo: Path):
    model = load_model(zoo / "coral-movenet" / "movenet_single_pose_lightning_ptq.tflite")
    for photo in ("chelsea.png", "coral_cat.bmp", "coffee.png"):
        assert build_task(model, PoseOptions()).probe(still(cv2.imread(str(zoo / "images" / photo)))).persons == []


def blazepose(zoo: Path, **options):
    model = load_model(zoo / "mediapipe-pose" / "pose_detection.tflite")
    return build_task(model, choose(model) if not options else PoseOptions(**options))


def test_blazepose_finds_the_astronaut_and_nobody_in_other_photos(zoo: Path):
    task = blazepose(zoo)
    assert task.describe()["pose"]["estimator"] == "blazepose"
    [found] = task.probe(still(cv2.imread(str(zoo / "images" / "astronaut.png")))).persons
    assert found.score > 0.9 and len(found.extra) == 33
    nose, = (k for k in found.keypoints if k.name == "nose")
    assert nose.visible and abs(nose.x - 222.7) < 5 and abs(nose.y - 128.0) < 5  # MediaPipe: (222.7, 128.0)
    for photo in ("chelsea.png", "coffee.png", "coral_owl.jpg"):
        assert task.probe(still(cv2.imread(str(zoo / "images" / photo)))).persons == []


def test_blazepose_matches_mediapipes_own_solution(zoo: Path):
    """Against landmarks MediaPipe's pose solution gave on the same photos (recorded in
    mediapipe_landmarks.json; ``pytest -m mediapipe`` compares with a live MediaPipe)."""
    recorded = json.loads((Path(__file__).parent / "mediapipe_landmarks.json").read_text())["landmarks"]
    task = blazepose(zoo, tracking=False, max_persons=1)
    for photo, expected in recorded.items():
        persons = task.probe(still(cv2.imread(str(zoo / "images" / photo)), photo)).persons
        assert len(persons) == (expected is not None), photo
        if expected is None:
            continue
        ours = np.array([[k.x, k.y] for k in persons[0].extra])
        distance = np.linalg.norm(ours - np.array(expected)[:, :2], axis=1)
        assert np.median(distance) < 4, (photo, np.median(distance))
        visibility = np.abs(np.array([k.score for k in persons[0].extra]) - np.array(expected)[:, 2])
        assert visibility.max() < 0.05, photo


def shifted_crops(image: np.ndarray, frames: int, step: int, size=(384, 448)) -> list[np.ndarray]:
    """A person walking right: crops of the photo whose window moves left by ``step`` a frame."""
    width, height = size
    padded = cv2.copyMakeBorder(image, 0, 0, frames * step, frames * step, cv2.BORDER_REPLICATE)
    left = frames * step + 64
    return [padded[32:32 + height, left - n * step:left - n * step + width].copy() for n in range(frames)]


def test_blazepose_tracks_the_person_across_a_video(zoo: Path, tmp_path: Path):
    photo = cv2.imread(str(zoo / "images" / "astronaut.png"))
    frames = shifted_crops(photo, 24, 4)
    video = tmp_path / "walk.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(frame)
    writer.release()
    from edgetm.runtime.pipeline import Pipeline

    pipeline = Pipeline(zoo / "mediapipe-pose" / "pose_detection.tflite", {"type": "video", "path": str(video)})
    noses = [next(k.x for k in seen.result.persons[0].keypoints if k.name == "nose") for seen in pipeline]
    estimator = pipeline.task.estimator
    assert isinstance(estimator, BlazePose) and estimator.detections == 1  # the region followed the person
    walked = np.array(noses) - noses[0] - 4 * np.arange(24)  # where the nose is, against where it should be
    assert len(noses) == 24 and np.abs(walked).max() < 8
    # Without tracking the detector runs on every frame and finds the same person (on the frames
    # before MJPEG compression: the video's differ by a few pixels).
    untracked = blazepose(zoo, tracking=False)
    lone = [next(k.x for k in untracked.infer(f, Frame(image=f, index=n, captured=0.0, wall=0.0)).persons[0].keypoints
                 if k.name == "nose") for n, f in enumerate(frames)]
    assert untracked.estimator.detections == 24 and np.abs(np.array(lone) - noses).max() < 8


def test_a_mediapipe_tasks_bundle_runs_through_litert(zoo: Path, tmp_path: Path):
    bundle = tmp_path / "pose_landmarker_full.task"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.write(zoo / "mediapipe-pose" / "pose_detection.tflite", "pose_detector.tflite")
        archive.write(zoo / "mediapipe-pose" / "pose_landmark_full.tflite", "pose_landmarks_detector.tflite")
    model = load_model(bundle)
    task = build_task(model, choose(model))
    assert task.describe()["pose"] == {"estimator": "blazepose", "tracking": True,
                                       "landmarks": f"{bundle}:pose_landmarks_detector.tflite"}
    assert len(task.probe(still(cv2.imread(str(zoo / "images" / "astronaut.png")))).persons) == 1


def test_info_describes_a_pose_model(zoo: Path, capsys):
    from edgetm.cli import main

    assert main(["info", str(zoo / "mediapipe-pose" / "pose_detection.tflite")]) == 0
    out = capsys.readouterr().out
    assert "task        pose" in out and "pose        blazepose: landmarks pose_landmark_full.tflite" in out
    assert "labels" not in out


def test_wrong_parts_are_named(zoo: Path):
    from edgetm.errors import ConfigError
    from tests.conftest import DEMO

    landmarks = load_model(zoo / "mediapipe-pose" / "pose_landmark_full.tflite")
    with pytest.raises(ConfigError, match="is BlazePose's landmark model, which runs after its detector"):
        build_task(landmarks, PoseOptions())
    movenet = zoo / "coral-movenet" / "movenet_single_pose_lightning_ptq.tflite"
    with pytest.raises(ConfigError, match="finds keypoints and takes no labels"):
        build_task(load_model(movenet, labels=DEMO / "labels.txt"), PoseOptions())
    with pytest.raises(ConfigError, match="conf and max_persons do not apply to the movenet estimator"):
        build_task(load_model(movenet), PoseOptions(conf=0.3, max_persons=2))
    with pytest.raises(ConfigError, match="is not BlazePose's pose detector"):
        build_task(load_model(movenet), PoseOptions(estimator="blazepose"))
