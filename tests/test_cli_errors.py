"""A newcomer's mistakes on the command line: one line saying what is wrong and what to do instead."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.camerakit import NoCamera
from tests.conftest import DEMO, write_video
from tests.modelkit import constant_output_onnx, write
from tests.test_cli import run_cli
from tests.vision.test_detect import OBJECTS, v8_raw


def one_error_line(result) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgetm: error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize("command", ["classify", "detect", "pose"])
def test_a_video_given_as_an_image_says_to_use_run(tmp_path: Path, command):
    video = write_video(tmp_path / "clip.avi", ["ripe-1.jpg"], repeat=2)
    line = one_error_line(run_cli(command, str(DEMO), str(DEMO / "samples" / "ripe-1.jpg"), str(video)))
    assert f"{video} is a video" in line and f"edgetm run {DEMO} --source {video}" in line


def test_a_sound_given_as_an_image_says_to_use_listen(tmp_path: Path):
    sound = tmp_path / "bark.wav"
    sound.write_bytes(b"RIFF")
    line = one_error_line(run_cli("classify", str(DEMO), str(sound)))
    assert f"{sound} is a sound file" in line and f"edgetm listen {DEMO} --source {sound}" in line


def test_a_classifier_given_to_detect_says_to_use_classify():
    line = one_error_line(run_cli("detect", str(DEMO), str(DEMO / "samples")))
    assert "is an image classifier, not a detector" in line and f"use edgetm classify {DEMO}" in line


@pytest.fixture
def unlabelled_detector(tmp_path: Path) -> Path:
    return write(tmp_path / "detector", "v8.onnx", constant_output_onnx(v8_raw(OBJECTS)))


def test_classes_without_labels_say_to_give_labels(unlabelled_detector: Path):
    image = str(DEMO / "samples" / "ripe-1.jpg")
    line = one_error_line(run_cli("detect", str(unlabelled_detector), image, "--classes", "person"))
    assert "has no labels to find 'person' among" in line and "give --labels FILE" in line
    line = one_error_line(run_cli("run", str(unlabelled_detector), "--source", image, "--classes", "person"))
    assert "has no labels to find 'person' among" in line and "give --labels FILE" in line


def test_without_labels_classes_read_class_n(unlabelled_detector: Path, tmp_path: Path):
    image = tmp_path / "blank.png"
    import cv2
    import numpy as np

    cv2.imwrite(str(image), np.full((320, 320, 3), 90, np.uint8))
    detected = run_cli("detect", str(unlabelled_detector), str(image), "--json")
    assert detected.returncode == 0, detected.stderr
    labels = sorted({d["label"] for d in json.loads(detected.stdout)["detections"]})
    assert labels == ["class 0", "class 1", "class 2"]
    text = run_cli("detect", str(unlabelled_detector), str(image)).stdout
    assert "1 class 2" in text and "1 class 0" in text, text
    ran = run_cli("run", str(unlabelled_detector), "--source", str(image), "--smoothing", "off")
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout.splitlines()[0])
    assert set(result["counts"]) == {"class 0", "class 1", "class 2"}, result


def test_an_empty_image_folder_is_an_error(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    for command in ("classify", "detect", "pose"):
        line = one_error_line(run_cli(command, str(DEMO), str(tmp_path / "empty")))
        assert f"no images in {tmp_path / 'empty'}" in line


def tm_zip(path: Path) -> Path:
    """A Teachable Machine download, as the browser saves it, made from the bundled demo model."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("model_unquant.tflite", "labels.txt"):
            archive.write(DEMO / name, name)
    return path


def test_a_truncated_download_says_it_is_incomplete(tmp_path: Path):
    whole = tm_zip(tmp_path / "converted_tflite.zip").read_bytes()
    for cut in (len(whole) // 2, len(whole) - 10, 100):
        half = tmp_path / "converted_tflite.zip"
        half.write_bytes(whole[:cut])
        line = one_error_line(run_cli("classify", str(half), str(DEMO / "samples" / "ripe-1.jpg")))
        assert "the download is incomplete; download it again" in line, line


def test_a_download_renamed_by_the_browser_runs(tmp_path: Path):
    image = str(DEMO / "samples" / "ripe-1.jpg")
    renamed = tm_zip(tmp_path / "converted_tflite (1).zip")
    for model in (renamed, renamed.parent):  # the zip, or the folder it was saved into
        result = run_cli("classify", str(model), image, "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["label"] == "Ripe"
    info = json.loads(run_cli("info", str(renamed), "--json").stdout)
    assert info["family"] == "teachable-machine"


def test_a_folder_of_several_downloads_asks_which(tmp_path: Path):
    tm_zip(tmp_path / "converted_tflite (1).zip")
    shutil.copy(tmp_path / "converted_tflite (1).zip", tmp_path / "converted_tflite (2).zip")
    line = one_error_line(run_cli("classify", str(tmp_path), str(DEMO / "samples" / "ripe-1.jpg")))
    assert "holds several zips" in line and "converted_tflite (2).zip" in line


def test_no_camera_names_the_devices_there_are_and_picamera2(tmp_path: Path, monkeypatch):
    from edgetm.capture import camera

    monkeypatch.setattr(camera, "DEV", tmp_path)
    assert camera.no_device_message(tmp_path / "video7") == (
        f"there is no {tmp_path / 'video7'}, nor any other {tmp_path}/video* device: plug in a USB camera; a "
        "Raspberry Pi camera module (CSI ribbon) is source picamera2")
    for n in (0, 1, 10):
        (tmp_path / f"video{n}").touch()
    assert camera.no_device_message(tmp_path / "video7") == (
        f"there is no {tmp_path / 'video7'}; there are {tmp_path}/video0, video1, video10 (camera:0, camera:1, "
        "camera:10); a Raspberry Pi camera module (CSI ribbon) is source picamera2")


def test_a_missing_camera_s_error_is_that_message(tmp_path: Path, monkeypatch):
    import cv2

    from edgetm.capture import camera

    monkeypatch.setattr(camera, "DEV", tmp_path)
    monkeypatch.setattr(cv2, "VideoCapture", NoCamera)
    (tmp_path / "video0").touch()
    source = camera.CameraOptions(device=3).open()
    with pytest.raises(OSError, match=r"there is no .*video3; there are .*video0 .camera:0.; a Raspberry Pi camera"):
        source._open()


def test_without_labels_a_classifier_s_predictions_read_class_n(tmp_path: Path):
    """A classifier with no labels anywhere: the same naming as detections and counts."""
    from tests.modelkit import onnx_model, small_cnn

    model = write(tmp_path, "bare.onnx", onnx_model(small_cnn(classes=4)))
    result = run_cli("classify", str(model), str(DEMO / "samples" / "ripe-1.jpg"), "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["label"].startswith("class ") and {p["label"] for p in answer["top"]} <= {
        "class 0", "class 1", "class 2", "class 3"}
