"""edgetm collect: examples from files and streams into DATASET/<label>/, ready for edgetm train."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgetm.errors import ConfigError
from edgetm.train.collect import CollectOptions, collect
from edgetm.train.retrain import TrainOptions, train
from tests.conftest import DEMO, ROOT
from tests.modelkit import write
from tests.pose.posekit import STANDING, pose_raw, yolo_pose_onnx


def video(path: Path, shade: int, frames: int = 12) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (160, 120))
    rng = np.random.default_rng(shade)
    for _ in range(frames):
        writer.write(np.clip(rng.normal(shade, 20, (120, 160, 3)), 0, 255).astype(np.uint8))
    writer.release()
    return path


def test_frames_collected_from_two_videos_train_a_classifier(tmp_path: Path):
    for label, shade in (("dark", 40), ("light", 210)):
        result = collect(str(video(tmp_path / f"{label}.avi", shade)), label, tmp_path / "data",
                         CollectOptions(count=10, format="png"))
        assert len(result.saved) == 10 and result.saved[0].name == f"{label}-00000.png"
    again = collect(str(video(tmp_path / "more.avi", 40)), "dark", tmp_path / "data", CollectOptions(count=2))
    assert [p.name for p in again.saved] == ["dark-00010.jpg", "dark-00011.jpg"]  # numbering continues
    report = train(tmp_path / "data", tmp_path / "model", TrainOptions(epochs=50))
    assert report.counts == {"dark": 12, "light": 10} and report.accuracy["train"] == 1.0


def test_sound_is_saved_in_windows(tmp_path: Path):
    soundfile = pytest.importorskip("soundfile", reason="the audio extra is not installed")
    t = np.arange(48000 * 3) / 48000
    soundfile.write(str(tmp_path / "tone.wav"), (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 48000)
    result = collect(str(tmp_path / "tone.wav"), "tone", tmp_path / "data", CollectOptions(count=5, window_s=0.5))
    assert len(result.saved) == 5 and not result.ended
    samples, rate = soundfile.read(str(result.saved[0]))
    assert rate == 48000 and len(samples) == 24000


def test_sound_windows_as_long_as_a_models(tmp_path: Path):
    soundfile = pytest.importorskip("soundfile", reason="the audio extra is not installed")
    from tests.audiokit import tm_sound_tflite

    model = tm_sound_tflite(tmp_path)  # Teachable Machine's 44032 samples at 44.1 kHz
    t = np.arange(48000 * 3) / 48000
    soundfile.write(str(tmp_path / "tone.wav"), (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 48000)
    result = collect(str(tmp_path / "tone.wav"), "tone", tmp_path / "data", CollectOptions(count=2,
                     sound_model=str(model)))
    samples, rate = soundfile.read(str(result.saved[0]))
    assert rate == 48000 and len(samples) == round(44032 / 44100 * 48000)
    with pytest.raises(ConfigError, match="not both"):
        collect(str(tmp_path / "tone.wav"), "tone", tmp_path / "data", CollectOptions(window_s=1,
                sound_model=str(model)))
    with pytest.raises(ConfigError, match="is a classify model, not a sound model"):
        collect(str(tmp_path / "tone.wav"), "tone", tmp_path / "data", CollectOptions(sound_model=str(DEMO)))


def test_poses_are_saved_as_keypoints(tmp_path: Path):
    estimator = write(tmp_path, "pose.onnx", yolo_pose_onnx(pose_raw([(STANDING, 0.9, None)])))
    result = collect(str(video(tmp_path / "clip.avi", 90, frames=4)), "standing", tmp_path / "poses",
                     CollectOptions(count=3, pose_model=str(estimator)))
    saved = json.loads(result.saved[0].read_text())
    assert len(result.saved) == 3 and len(saved["keypoints"]) == 17 and saved["image_size"] == [160, 120]


def test_a_full_disk_stops_cleanly_and_keeps_what_was_saved(tmp_path: Path, monkeypatch):
    writes = []
    original = Path.write_bytes

    def filling(self: Path, data: bytes) -> int:
        if len(writes) == 2:
            original(self, data[:10])  # the disk fills part-way through the third example
            raise OSError(28, "No space left on device")
        writes.append(self)
        return original(self, data)

    monkeypatch.setattr(Path, "write_bytes", filling)
    with pytest.raises(ConfigError, match=r"No space left on device \(2 examples were saved"):
        collect(str(video(tmp_path / "clip.avi", 90)), "x", tmp_path / "data", CollectOptions(count=5))
    assert sorted(p.name for p in (tmp_path / "data" / "x").iterdir()) == ["x-00000.jpg", "x-00001.jpg"]


def test_names_and_sources_are_checked(tmp_path: Path):
    for label in ("../escape", "a/b", ".hidden", "", "bell\x07"):
        with pytest.raises(ConfigError, match="cannot be a label"):
            collect(str(DEMO / "samples"), label, tmp_path / "data")
    done = subprocess.run([sys.executable, "-m", "edgetm", "collect", "--source", str(tmp_path / "missing.avi"),
                           "--label", "x", "--out", str(tmp_path / "data")], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr and done.stderr.count("error:") == 1


def test_a_source_that_ends_or_gives_nothing_is_said(tmp_path: Path, monkeypatch):
    short = collect(str(video(tmp_path / "clip.avi", 90, frames=3)), "x", tmp_path / "data", CollectOptions(count=10))
    assert short.ended and len(short.saved) == 3
    done = subprocess.run([sys.executable, "-m", "edgetm", "collect", "--source", str(tmp_path / "clip.avi"),
                           "--label", "y", "--out", str(tmp_path / "data"), "--count", "10"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert "saved 3 examples" in done.stdout and "the source ended after 3 of 10 examples" in done.stderr

    from tests.runtime.test_capture import FakeCamera

    camera = FakeCamera()
    camera.plugged = False  # a camera that is there but sends no frame
    monkeypatch.setattr(cv2, "VideoCapture", camera.capture)
    with pytest.raises(ConfigError, match=r"gave nothing for 1 s"):
        collect("camera:0", "x", tmp_path / "data", CollectOptions(wait_s=1))


def test_frames_without_a_person_are_skipped_and_counted(tmp_path: Path):
    estimator = write(tmp_path, "pose.onnx", yolo_pose_onnx(pose_raw([(STANDING, 0.9, None)]), pose_raw([])))
    # The generated estimator finds the person in dark frames only (its answer follows the frame's shade).
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (160, 120))
    for shade in (0, 255, 0, 255, 0):
        writer.write(np.full((120, 160, 3), shade, np.uint8))
    writer.release()
    result = collect(str(clip), "standing", tmp_path / "poses", CollectOptions(count=3, pose_model=str(estimator)))
    assert len(result.saved) == 3 and result.skipped == 2


def test_options_for_the_other_kind_of_source_and_mixed_folders_are_refused(tmp_path: Path):
    soundfile = pytest.importorskip("soundfile", reason="the audio extra is not installed")
    clip = video(tmp_path / "clip.avi", 90)
    soundfile.write(str(tmp_path / "tone.wav"), np.zeros(48000, np.float32), 48000)
    with pytest.raises(ConfigError, match=r"--window-s does not apply to .*clip\.avi, which gives frames"):
        collect(str(clip), "x", tmp_path / "data", CollectOptions(window_s=0.5))
    with pytest.raises(ConfigError, match=r"--format does not apply to .*tone\.wav, which gives sound"):
        collect(str(tmp_path / "tone.wav"), "x", tmp_path / "data", CollectOptions(format="png"))
    collect(str(clip), "x", tmp_path / "data", CollectOptions(count=2))
    with pytest.raises(ConfigError, match="holds image examples; these would be sounds"):
        collect(str(tmp_path / "tone.wav"), "x", tmp_path / "data", CollectOptions(count=1))
    assert len(list((tmp_path / "data" / "x").iterdir())) == 2


def test_examples_are_at_least_the_interval_apart(tmp_path: Path, monkeypatch):
    from tests.runtime.test_capture import FakeCamera

    camera = FakeCamera(frame_interval_s=0.005)
    monkeypatch.setattr(cv2, "VideoCapture", camera.capture)
    result = collect("camera:0", "x", tmp_path / "data", CollectOptions(count=3, interval_s=0.2))
    stamps = sorted(path.stat().st_mtime for path in result.saved)
    assert len(result.saved) == 3 and camera.count > 20  # frames in between were passed over
    assert stamps[2] - stamps[0] >= 0.35
