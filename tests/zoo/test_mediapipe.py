"""BlazePose through edgetm against a live MediaPipe 0.10.21, which lives in its own environment
(never an edgetm dependency): its pose solution on the zoo's photos, and edgetm's MediaPipe Tasks
estimator on a .task bundle. Skipped, saying why, where that environment has not been made
(``benchmarks/pose.py`` makes it); ``pytest -m mediapipe`` runs only these."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from benchmarks.mediapipe_reference import (
    ReferenceUnavailable,
    make_task_bundle,
    reference_python,
    solution_landmarks,
)
from edgetm.capture.base import Frame
from edgetm.model import load_model
from edgetm.pose.base import PoseOptions
from edgetm.tasks import build_task
from tests.conftest import ROOT

pytestmark = pytest.mark.mediapipe
RECORDED = Path(__file__).parent / "mediapipe_landmarks.json"


@pytest.fixture(scope="module")
def mediapipe() -> Path:
    try:
        return reference_python(create=False)
    except ReferenceUnavailable as error:
        pytest.skip(str(error))


def ours(zoo: Path, photo: Path, **options) -> np.ndarray | None:
    model = load_model(zoo / "mediapipe-pose" / "pose_detection.tflite")
    task = build_task(model, PoseOptions(tracking=False, max_persons=1, **options))
    persons = task.probe(Frame(image=cv2.imread(str(photo)), index=0, captured=0.0, wall=0.0, name=photo.name)).persons
    return np.array([[k.x, k.y, k.score] for k in persons[0].extra]) if persons else None


def test_landmarks_match_mediapipes_own_solution(zoo: Path, mediapipe: Path):
    photos = sorted(p for p in (zoo / "images").iterdir() if p.suffix in (".png", ".jpg", ".bmp"))
    live = {Path(entry["path"]).name: entry["landmarks"] for entry in solution_landmarks(mediapipe, photos)["images"]}
    recorded = json.loads(RECORDED.read_text())["landmarks"]
    assert {name for name, found in live.items() if found} == {name for name, found in recorded.items() if found}
    for photo in photos:
        expected, found = live[photo.name], ours(zoo, photo)
        assert (found is None) == (expected is None), photo.name
        if expected is None:
            continue
        expected = np.array(expected)
        assert np.median(np.linalg.norm(found[:, :2] - expected[:, :2], axis=1)) < 4, photo.name
        assert np.abs(expected - np.array(recorded[photo.name])).max() < 0.05  # the recording still holds


def test_the_mediapipe_estimator_runs_a_task_bundle(zoo: Path, mediapipe: Path, tmp_path: Path):
    folder = zoo / "mediapipe-pose"
    bundle = make_task_bundle(mediapipe, folder / "pose_detection.tflite", folder / "pose_landmark_full.tflite",
                              tmp_path / "pose_landmarker_full.task")
    photo = zoo / "images" / "astronaut.png"
    # edgetm's MediaPipe Tasks estimator, inside MediaPipe's environment.
    script = (
        "import json, sys, cv2\n"
        "from edgetm.pose.base import PoseOptions\n"
        "from edgetm.pose.mediapipe_tasks import MediaPipePose\n"
        "persons, _ = MediaPipePose(sys.argv[1], PoseOptions(tracking=False)).estimate(cv2.imread(sys.argv[2]))\n"
        "print(json.dumps([[k.x, k.y, k.score] for k in persons[0].extra]))\n")
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([str(mediapipe), "-c", script, str(bundle), str(photo)], capture_output=True, text=True,
                          timeout=300, env=environment)
    assert done.returncode == 0, done.stderr[-2000:]
    tasks = np.array(json.loads(done.stdout.strip().splitlines()[-1]))
    assert tasks.shape == (33, 3)
    found = ours(zoo, photo)
    assert np.median(np.linalg.norm(found[:, :2] - tasks[:, :2], axis=1)) < 4
    # And the bundle MediaPipe made runs through LiteRT here, without mediapipe.
    model = load_model(bundle)
    persons = build_task(model, PoseOptions(tracking=False)).probe(
        Frame(image=cv2.imread(str(photo)), index=0, captured=0.0, wall=0.0, name="a")).persons
    assert len(persons) == 1
