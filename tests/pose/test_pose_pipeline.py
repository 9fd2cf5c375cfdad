"""Poses end to end: a pose classifier labels a sequence of synthetic poses, the smoothed pose label
goes to a real mosquitto from ``edgetm run``, and ``edgetm pose`` reports and draws them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgetm.config import PipelineOptions
from edgetm.pose.base import PoseOptions
from edgetm.runtime.pipeline import Pipeline
from edgetm.tasks.smoothing import SmoothingOptions
from tests.broker import Probe
from tests.conftest import ROOT
from tests.modelkit import write
from tests.pose.posekit import ARMS_UP, LABELS, STANDING, pose_classifier_onnx, pose_raw, yolo_pose_onnx

DOWN, UP = LABELS


def write_solid_video(path: Path, shades: list[int], repeat: int) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (640, 480))
    for shade in shades:
        for _ in range(repeat):
            writer.write(np.full((480, 640, 3), shade, np.uint8))
    writer.release()
    return path


@pytest.fixture
def workout(tmp_path: Path) -> dict[str, Path]:
    """A pose model that sees arms down in dark frames and arms up in bright ones, a classifier
    on the pose features, and a video: dark, bright, dark, 12 frames each."""
    model = write(tmp_path, "yolov8n-pose.onnx", yolo_pose_onnx(pose_raw([(STANDING, 0.9, None)]),
                                                                pose_raw([(ARMS_UP, 0.9, None)])))
    return {"model": model, "classifier": pose_classifier_onnx(tmp_path),
            "video": write_solid_video(tmp_path / "workout.avi", [0, 255, 0], repeat=12)}


def test_a_pose_classifier_labels_a_sequence_of_poses(workout):
    options = PoseOptions(classifier=str(workout["classifier"]))
    smoothing = PipelineOptions(smoothing=SmoothingOptions(k=3, threshold=0.8))
    seen = list(Pipeline(workout["model"], {"type": "video", "path": str(workout["video"])}, options, smoothing))
    labels = [s.result.persons[0].label for s in seen]
    assert labels == [DOWN] * 12 + [UP] * 12 + [DOWN] * 12
    assert all(s.result.persons[0].label_score > 0.9 for s in seen)
    changes = [(s.frame, s.state.label) for s in seen if s.changed("label")]
    assert changes == [(2, DOWN), (14, UP), (26, DOWN)]  # each after k = 3 results in a row
    payload = seen[13].to_dict()
    assert payload["label"] == UP and payload["smoothed_label"] == DOWN
    assert payload["score"] > 0.9 and [p["label"] for p in payload["top"]] == [UP, DOWN]  # as an image label's
    assert [p["label"] for p in payload["persons"]] == [UP] and len(payload["persons"][0]["keypoints"]) == 17


def test_without_a_classifier_the_person_count_is_published(workout):
    seen = list(Pipeline(workout["model"], {"type": "video", "path": str(workout["video"])}, PoseOptions(),
                         PipelineOptions(smoothing=SmoothingOptions(k=2))))
    assert [s.state.to_dict() for s in seen[:2]] == [{"person_count": 1, "smoothed_person_count": None},
                                                     {"person_count": 1, "smoothed_person_count": 1}]
    assert [s.frame for s in seen if s.changed("count/person")] == [1]
    [entity] = Pipeline(workout["model"], {"type": "video", "path": str(workout["video"])}).info().entities
    assert (entity.key, entity.kind.value) == ("count/person", "count")  # on .../count/person
    assert seen[5].result.label is None and seen[5].to_dict()["persons"][0]["score"] == 0.9


def test_edgetm_run_publishes_the_smoothed_pose_label(broker, workout):
    probe = Probe(broker.port, ["edgetm/gym/#", "homeassistant/#"])
    process = subprocess.Popen(
        [sys.executable, "-m", "edgetm", "run", str(workout["model"]), "--source", str(workout["video"]),
         "--realtime", "--loop", "--classifier", str(workout["classifier"]), "--k", "3", "--mqtt", broker.url,
         "--device-id", "gym", "--name", "trainer", "--ha-discovery"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        label = "edgetm/gym/trainer/label"
        probe.wait_for(lambda m: [DOWN.encode(), UP.encode(), DOWN.encode()] == probe.on(label)[:3], 30)
        result = probe.json("edgetm/gym/trainer/result")[-1]
        assert result["persons"][0]["label"] in LABELS and len(result["persons"][0]["keypoints"]) == 17
        probe.wait_for(lambda m: probe.on("homeassistant/device/edgetm_gym_trainer/config"))
        sensor = probe.json("homeassistant/device/edgetm_gym_trainer/config")[0]["components"]["edgetm_gym_trainer"]
        assert sensor["options"] == [*LABELS, "none"] and sensor["icon"] == "mdi:human"
    finally:
        process.terminate()
        process.wait(10)
        probe.close()
    assert process.returncode == 0, process.stderr.read()


def edgetm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgetm", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_edgetm_pose_reports_and_draws(workout, tmp_path: Path):
    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "a-dark.png"), np.zeros((480, 640, 3), np.uint8))
    cv2.imwrite(str(photos / "b-bright.png"), np.full((480, 640, 3), 255, np.uint8))
    (photos / "c-broken.png").write_bytes(b"not an image")
    out = tmp_path / "drawn"
    done = edgetm("pose", str(workout["model"]), str(photos), "--classifier", str(workout["classifier"]), "--json",
                  "--save-annotated", str(out))
    assert done.returncode == 1  # one image could not be read; the others are still reported
    assert done.stderr.count("\n") == 1 and "c-broken.png" in done.stderr and "Traceback" not in done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert set(lines[0]) == {"source", "image_size", "persons", "label", "score", "top", "latency_ms"}
    assert set(lines[0]["persons"][0]) == {"score", "box", "label", "label_score", "top", "keypoints"}
    assert [(line["source"].rsplit("/", 1)[-1], line["label"]) for line in lines] == [("a-dark.png", DOWN),
                                                                                     ("b-bright.png", UP)]
    drawn = cv2.imread(str(out / "b-bright.jpg"))
    assert drawn.shape == (480, 640, 3) and (drawn != 255).any()  # the skeleton is on it
    text = edgetm("pose", str(workout["model"]), str(photos / "a-dark.png"))
    assert text.returncode == 0, text.stderr
    assert "1 person" in text.stdout and "17/17 keypoints seen" in text.stdout


def test_a_classifier_for_other_features_is_refused(workout, tmp_path: Path):
    wrong = pose_classifier_onnx(tmp_path / "wrong", features=51)  # trained without angles
    photo = tmp_path / "dark.png"
    cv2.imwrite(str(photo), np.zeros((480, 640, 3), np.uint8))
    done = edgetm("pose", str(workout["model"]), str(photo), "--classifier", str(wrong))
    assert done.returncode == 1 and done.stderr.count("\n") == 1
    assert "not the 59-value pose feature vector" in done.stderr and "--no-angles" in done.stderr
    fine = edgetm("pose", str(workout["model"]), str(photo), "--classifier", str(wrong), "--no-angles", "--json")
    assert fine.returncode == 0, fine.stderr
    assert json.loads(fine.stdout)["label"] == DOWN  # its wrist weights still read the same places


def test_mistakes_get_one_line_each(workout, tmp_path: Path):
    (tmp_path / "empty").mkdir()
    photo = tmp_path / "dark.png"  # images are checked before the model: these mistakes need one to get that far
    cv2.imwrite(str(photo), np.zeros((48, 64, 3), np.uint8))
    for args, message, code in [
        (["pose", str(workout["model"]), str(tmp_path / "empty")], "no images in", 1),
        (["pose", str(workout["model"]), str(tmp_path / "empty"), "--conf", "0.4"],
         "edgetm pose: error: unrecognized arguments: --conf 0.4 (edgetm pose --help lists what it takes)", 2),
        (["pose", str(workout["model"]), str(photo), "--landmarks", "x.tflite"],
         "landmarks does not apply to the yolo-pose estimator", 1),
        (["pose", str(workout["model"]), str(photo), "--estimator", "movenet"],
         "is not a MoveNet SinglePose model", 1),
    ]:
        done = edgetm(*args)
        assert done.returncode == code and done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
