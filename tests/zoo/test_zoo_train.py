"""Retraining on the zoo's real models and recordings: features found in real exports, heads that
classify photos and sounds they were not trained on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgetm.model import load_model
from edgetm.train.bases import ModelBase, SoundStatistics
from edgetm.train.retrain import TrainOptions, train
from edgetm.vision.classify import Classifier
from edgetm.vision.image import read_image

PHOTOS = {"animal": ["chelsea.png", "coral_owl.jpg", "coral_cat.bmp"],
          "person": ["coral_kite_and_cold.jpg", "coral_grace_hopper.bmp", "zidane.jpg"],
          "thing": ["coffee.png", "rocket.jpg", "motorcycle_left.png"]}  # the last of each is held back


@pytest.mark.parametrize("model, tensor, size", [
    ("tm-keras-aitoy/old_tflite_unquant/model_unquant.tflite", "global_average_pooling2d", 1280),
    ("tm-keras-aitoy/old_tflite_quant/model.tflite", "tfl.mean", 1280),
    ("coral-mobilenet/mobilenet_v2_1.0_224_quant.tflite", "MobilenetV2/Logits/AvgPool", 1280),
    ("coral-mobilenet/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite", "AvgPool_1a/AvgPool", 1024),
])
def test_the_features_of_real_exports(zoo: Path, model: str, tensor: str, size: int):
    base = ModelBase(zoo / model)
    assert tensor in base.graph.name and base.size == size
    assert base.embedding_model == ("embedding" in model)
    features = base.embed(zoo / "images" / "astronaut.png")
    assert features.shape == (size,) and np.isfinite(features).all() and features.any()


def photo_dataset(zoo: Path, root: Path) -> list[tuple[str, Path]]:
    held = []
    for label, names in PHOTOS.items():
        (root / label).mkdir(parents=True)
        for name in names[:-1]:
            shutil.copy(zoo / "images" / name, root / label / name)
        held.append((label, zoo / "images" / names[-1]))
    return held


@pytest.mark.parametrize("base", ["coral-mobilenet/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite",
                                  "tm-keras-aitoy/old_tflite_unquant/model_unquant.tflite",
                                  "tm-keras-aitoy/old_tflite_quant/model.tflite"])
def test_an_image_head_classifies_held_back_photos(zoo: Path, tmp_path: Path, base: str):
    held = photo_dataset(zoo, tmp_path / "photos")
    report = train(tmp_path / "photos", tmp_path / "out", TrainOptions(base=str(zoo / base), augment=8, val_split=0))
    assert report.train_examples == 6 * 9 and report.export_difference < 1e-5
    classifier = Classifier(load_model(tmp_path / "out"))
    if "embedding" in base:  # the embedding extractor's features tell these photos apart; TM's small base less so
        assert [classifier(read_image(path)).label for _, path in held] == [label for label, _ in held]


def test_a_sound_head_on_teachable_machines_recordings(zoo: Path, tmp_path: Path):
    """Windows at every other example's startTime train; the windows between them are held back."""
    soundfile = pytest.importorskip("soundfile", reason="the audio extra is not installed")
    held = []
    for label in ("background_noise", "class_2", "class_3"):
        folder = zoo / "tm-audio-samples" / label
        audio, rate = soundfile.read(str(folder / "recording_48000.wav"), dtype="float32")
        (tmp_path / "sounds" / label).mkdir(parents=True)
        examples = sorted(json.loads((folder / "samples.json").read_text()), key=lambda e: e["startTime"])
        for n, example in enumerate(examples):
            start = int(example["startTime"] * rate)
            window = audio[start:start + 44032 * rate // 44100]  # a Teachable Machine window, at this rate
            if n % 2 == 0:
                soundfile.write(str(tmp_path / "sounds" / label / f"{n}.wav"), window, rate)
            else:
                held.append((label, window, rate))
    report = train(tmp_path / "sounds", tmp_path / "out", TrainOptions())
    assert report.labels == ["background_noise", "class_2", "class_3"]
    head, base = load_model(report.model), SoundStatistics()
    guessed = [report.labels[int(head.run(base.embed_samples(window, rate)[None])[0].argmax())]
               for _, window, rate in held]
    assert guessed == [label for label, _, _ in held]


def squat_frames(zoo: Path, lying: bool, count: int, seed: int) -> list[np.ndarray]:
    """The squatting person of MoveNet's sample, at random sizes and places on grey, upright or
    turned on their side (a person on the floor)."""
    import cv2

    person = cv2.imread(str(zoo / "coral-movenet" / "squat.bmp"))
    if lying:
        person = cv2.rotate(person, cv2.ROTATE_90_CLOCKWISE)
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        canvas = np.full((660, 660, 3), 128, np.uint8)
        scale = rng.uniform(0.7, 1.0)
        small = cv2.resize(person, (int(person.shape[1] * scale), int(person.shape[0] * scale)))
        y, x = (int(rng.integers(0, 660 - n + 1)) for n in small.shape[:2])
        canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
        frames.append(canvas)
    return frames


def test_a_pose_head_on_keypoints_movenet_collected(zoo: Path, tmp_path: Path):
    """Keypoint sequences collected by MoveNet from clips train a pose head that tells a person up
    from a person lying down in frames it has not seen."""
    import cv2

    from edgetm.capture.base import Frame
    from edgetm.pose.base import PoseOptions
    from edgetm.tasks import build_task
    from edgetm.train.collect import CollectOptions, collect

    movenet = zoo / "coral-movenet" / "movenet_single_pose_lightning_ptq.tflite"
    for label, lying in (("up", False), ("lying", True)):
        clip = tmp_path / f"{label}.avi"
        writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (660, 660))
        for frame in squat_frames(zoo, lying, 24, seed=0):
            writer.write(frame)
        writer.release()
        collected = collect(str(clip), label, tmp_path / "poses", CollectOptions(count=24, pose_model=str(movenet)))
        assert len(collected.saved) == 24
    report = train(tmp_path / "poses", tmp_path / "head", TrainOptions())
    assert report.base.startswith("builtin pose") and report.accuracy == {"train": 1.0, "val": 1.0}
    task = build_task(load_model(movenet), PoseOptions(classifier=report.model, tracking=False))
    for label, lying in (("up", False), ("lying", True)):
        for n, image in enumerate(squat_frames(zoo, lying, 8, seed=1)):
            frame = Frame(image=image, index=n, captured=float(n), wall=float(n), name="held back")
            assert task.probe(frame).label == label
