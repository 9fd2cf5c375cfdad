"""edgetm train end to end: datasets on disk, bases, the cache, exports that answer as the trained
head does, and one-line errors for datasets that cannot be trained on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edgetm.capture.base import Frame
from edgetm.errors import ConfigError
from edgetm.model import load_model
from edgetm.pose.base import PoseOptions
from edgetm.tasks import build_task
from edgetm.train.retrain import TrainOptions, train
from tests.conftest import DEMO, ROOT
from tests.modelkit import write
from tests.pose.posekit import ARMS_UP, STANDING, pose_raw, yolo_pose_onnx

COLOURS = {"blue": (200, 60, 40), "green": (40, 180, 40), "red": (40, 40, 200)}


def image_dataset(root: Path, per_class: int = 12, seed: int = 0) -> Path:
    """Discs of three colours on noise, anywhere in the picture."""
    rng = np.random.default_rng(seed)
    for label, colour in COLOURS.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = np.clip(rng.normal(128, 40, (120, 160, 3)), 0, 255).astype(np.uint8)
            centre = (int(rng.integers(30, 130)), int(rng.integers(30, 90)))
            cv2.circle(image, centre, 25, colour, -1)
            cv2.imwrite(str(root / label / f"{i}.jpg"), image)
    return root


@pytest.mark.parametrize("base", ["builtin", str(DEMO), str(DEMO / "model.tflite"), str(DEMO / "model.onnx")])
def test_a_head_on_each_kind_of_base_learns_and_exports_exactly(tmp_path: Path, base: str):
    data = image_dataset(tmp_path / "data")
    report = train(data, tmp_path / "out", TrainOptions(base=base, epochs=100))
    assert report.accuracy == {"train": 1.0, "val": 1.0} and report.labels == ["blue", "green", "red"]
    assert report.export_difference < 1e-5 and report.val_examples == 6  # 15% of 12, rounded, per class
    model = load_model(tmp_path / "out")
    assert model.labels == ["blue", "green", "red"]
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["accuracy"] == report.accuracy and len(saved["epochs"]) == 100
    assert saved["confusion"] == [[2, 0, 0], [0, 2, 0], [0, 0, 2]]


def test_the_same_seed_gives_the_same_model_and_the_cache_is_used(tmp_path: Path):
    data = image_dataset(tmp_path / "data")
    first = train(data, tmp_path / "a", TrainOptions(base=str(DEMO), epochs=5))
    second = train(data, tmp_path / "b", TrainOptions(base=str(DEMO), epochs=5))
    assert first.cached == 0 and second.cached == 36
    exported = [(tmp_path / run / "model_unquant.tflite").read_bytes() for run in ("a", "b")]
    assert exported[0] == exported[1]
    changed = cv2.imread(str(data / "red" / "0.jpg"))[:, ::-1]
    cv2.imwrite(str(data / "red" / "0.jpg"), changed)  # an example changed: embedded again
    assert train(data, tmp_path / "c", TrainOptions(base=str(DEMO), epochs=5)).cached == 35


def test_the_python_api_is_edgetm_train(tmp_path: Path):
    import edgetm

    data = image_dataset(tmp_path / "data", per_class=4)
    report = edgetm.train(data, tmp_path / "out", edgetm.TrainOptions(epochs=3, seed=1))
    assert report.labels == list(COLOURS) and len(report.epochs) == 3
    assert (tmp_path / "out" / "model_unquant.tflite").is_file() and edgetm.train.retrain.Report is type(report)


@pytest.mark.parametrize("export", ["model.onnx", "model_unquant.tflite"])
def test_a_retrained_model_is_a_base_for_the_next_round(tmp_path: Path, export: str):
    data = image_dataset(tmp_path / "data", per_class=4)
    first = train(data, tmp_path / "first", TrainOptions(base=str(DEMO / export), epochs=2))
    second = train(data, tmp_path / "second", TrainOptions(base=first.model, epochs=2))
    assert Path(second.model).name == export and second.export_difference < 1e-5
    assert load_model(tmp_path / "second").labels == list(COLOURS)


def test_augmented_copies_train_but_never_validate(tmp_path: Path):
    data = image_dataset(tmp_path / "data")
    report = train(data, tmp_path / "out", TrainOptions(base="builtin", epochs=5, augment=2))
    assert report.train_examples == 30 * 3 and report.val_examples == 6


def test_the_exported_classifier_runs_with_edgetm_classify(tmp_path: Path):
    data = image_dataset(tmp_path / "data")
    done = subprocess.run([sys.executable, "-m", "edgetm", "train", "--base", str(DEMO / "model.onnx"), "--data",
                           str(data), "--out", str(tmp_path / "out"), "--epochs", "100"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"use it      edgetm classify {tmp_path / 'out'} IMAGES" in done.stdout
    assert "training   [####################] 100/100" in done.stderr
    classified = subprocess.run([sys.executable, "-m", "edgetm", "classify", str(tmp_path / "out"),
                                 str(data / "red" / "3.jpg"), "--json"], cwd=ROOT, capture_output=True, text=True,
                                timeout=120)
    assert json.loads(classified.stdout)["label"] == "red"


def pose_file(path: Path, points: np.ndarray, rng: np.random.Generator) -> None:
    from edgetm.pose.skeleton import COCO

    jittered = points * rng.uniform(0.6, 1.6) + rng.normal(0, 3, points.shape) + rng.uniform(-100, 100, 2)
    path.write_text(json.dumps({"keypoints": [{"name": n, "x": float(x), "y": float(y), "score": 0.9,
                                               "visible": True} for n, (x, y) in zip(COCO, jittered, strict=True)]}))


def pose_dataset(root: Path, per_class: int) -> Path:
    """Arms down and arms up, each pose jittered, sized and placed at random."""
    rng = np.random.default_rng(0)
    for label, points in (("arms down", STANDING), ("arms up", ARMS_UP)):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            pose_file(root / label / f"{i}.json", points, rng)
    return root


def test_a_pose_head_labels_poses_in_a_pose_pipeline(tmp_path: Path):
    pose_dataset(tmp_path / "poses", 20)
    report = train(tmp_path / "poses", tmp_path / "head", TrainOptions(epochs=30))
    assert report.base.startswith("builtin pose") and report.accuracy["val"] == 1.0
    estimator = load_model(write(tmp_path, "pose.onnx", yolo_pose_onnx(pose_raw([(STANDING, 0.9, None)]),
                                                                   pose_raw([(ARMS_UP, 0.9, None)]))))
    task = build_task(estimator, PoseOptions(classifier=report.model))
    for shade, expected in ((0, "arms down"), (255, "arms up")):
        frame = Frame(image=np.full((480, 640, 3), shade, np.uint8), index=0, captured=0.0, wall=0.0, name="f")
        assert task.probe(frame).label == expected


def tone_dataset(root: Path) -> Path:
    import soundfile

    rng = np.random.default_rng(0)
    for label, frequency in (("low", 300.0), ("high", 2500.0)):
        (root / label).mkdir(parents=True)
        for i in range(10):
            t = np.arange(22050) / 22050
            clip = 0.3 * np.sin(2 * np.pi * frequency * rng.uniform(0.9, 1.1) * t) + rng.normal(0, 0.02, len(t))
            soundfile.write(str(root / label / f"{i}.wav"), clip.astype(np.float32), 22050)
    return root


def test_a_sound_head_on_log_mel_statistics_listens_with_edgetm_listen(tmp_path: Path):
    soundfile = pytest.importorskip("soundfile", reason="the audio extra is not installed")
    report = train(tone_dataset(tmp_path / "tones"), tmp_path / "out", TrainOptions(epochs=30))
    assert report.base.startswith("builtin log-mel") and report.accuracy == {"train": 1.0, "val": 1.0}
    model = load_model(tmp_path / "out")
    assert model.metadata["features"] == {"features": "builtin-sound-v1", "size": 128, "sample_rate": 16000,
                                          "samples": 16000}  # the examples' length, at 16 kHz
    # Two seconds of each tone, at another rate: the head hears them window by window.
    t = np.arange(2 * 44100) / 44100
    clip = np.concatenate([0.3 * np.sin(2 * np.pi * 300 * t), 0.3 * np.sin(2 * np.pi * 2500 * t)])
    soundfile.write(str(tmp_path / "both.wav"), clip.astype(np.float32), 44100)
    info = cli("info", str(tmp_path / "out"))
    assert "sound       16000 Hz log-mel statistics (built in), windows of 16000 samples every 8000" in info.stdout
    heard = cli("listen", str(tmp_path / "out"), "--source", str(tmp_path / "both.wav"), "--json")
    labels = [json.loads(line)["label"] for line in heard.stdout.splitlines()]
    assert labels[:3] == ["low"] * 3 and labels[-3:] == ["high"] * 3, heard.stdout


def cli(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "edgetm", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def test_an_image_head_on_the_builtin_descriptor_classifies_with_edgetm_classify(tmp_path: Path):
    data = image_dataset(tmp_path / "data")
    trained = cli("train", "--data", str(data), "--out", str(tmp_path / "out"), "--epochs", "60")
    assert f"use it      edgetm classify {tmp_path / 'out'} IMAGES" in trained.stdout
    info = cli("info", str(tmp_path / "out"))
    assert "preprocess  edgetm's builtin-image-v1 descriptor (162 values, from the picture at 128x128)" in info.stdout
    for label in COLOURS:
        classified = cli("classify", str(tmp_path / "out"), str(data / label / "3.jpg"), "--json")
        assert json.loads(classified.stdout)["label"] == label
    refused = subprocess.run([sys.executable, "-m", "edgetm", "classify", str(tmp_path / "out"),
                              str(data / "red" / "3.jpg"), "--resize", "squash"], cwd=ROOT, capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "takes edgetm's built-in image descriptor: preprocessing options (resize) do not apply" in refused.stderr


def test_a_pose_head_is_not_an_image_classifier(tmp_path: Path):
    pose_dataset(tmp_path / "poses", 4)
    train(tmp_path / "poses", tmp_path / "head", TrainOptions(epochs=2))
    image = tmp_path / "x.png"
    cv2.imwrite(str(image), np.zeros((8, 8, 3), np.uint8))
    refused = subprocess.run([sys.executable, "-m", "edgetm", "classify", str(tmp_path / "head"), str(image)],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "classifies builtin-pose-v1 features, not images (use edgetm pose POSE_MODEL IMAGES --classifier" \
        in refused.stderr


@pytest.mark.parametrize("layout, message", [
    ({"only": ["a.jpg"]}, r"has one class \('only'\); a classifier needs two or more"),
    ({"a": ["a.jpg"], "b": []}, "class 'b' has no examples"),
    ({"a": ["a.jpg"], "b": ["b.jpg", "notes.txt"]}, r"notes\.txt is not an example edgetm can read"),
    ({"a": ["a.jpg"], "b": ["b.wav"]}, "mixes kinds of examples"),
    ({"a": ["a.jpg"], "b*c": ["b.jpg"]}, r"'b\*c' cannot be a label"),
    ({"a": ["a.jpg"], "b": ["broken.jpg"]}, r"broken\.jpg is not an image OpenCV can decode"),
])
def test_datasets_that_cannot_be_trained_on(tmp_path: Path, layout: dict, message: str):
    good = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    for label, files in layout.items():
        (tmp_path / "data" / label).mkdir(parents=True)
        for name in files:
            (tmp_path / "data" / label / name).write_bytes(b"broken" if name.startswith("broken") else good)
    with pytest.raises(ConfigError, match=message):
        train(tmp_path / "data", tmp_path / "out", TrainOptions(epochs=1))
    done = subprocess.run([sys.executable, "-m", "edgetm", "train", "--data", str(tmp_path / "data"), "--out",
                           str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    lines = done.stderr.strip().splitlines()  # progress lines, then the error
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert lines[-1].startswith("edgetm: error:") and sum("error" in line for line in lines) == 1


def test_what_edgetm_pose_json_prints_is_a_pose_example(tmp_path: Path):
    from edgetm.train.bases import PoseBase

    estimator = write(tmp_path, "pose.onnx", yolo_pose_onnx(pose_raw([(STANDING, 0.9, None)])))
    cv2.imwrite(str(tmp_path / "frame.png"), np.zeros((240, 320, 3), np.uint8))
    line = cli("pose", str(estimator), str(tmp_path / "frame.png"), "--json").stdout.splitlines()[0]
    (tmp_path / "printed.json").write_text(line)
    person = json.loads(line)["persons"][0]
    (tmp_path / "person.json").write_text(json.dumps(person))
    base = PoseBase()
    features = base.embed(tmp_path / "printed.json")
    assert features.shape == (59,) and np.array_equal(features, base.embed(tmp_path / "person.json"))


def test_options_that_would_be_ignored_and_an_output_inside_the_dataset(tmp_path: Path):
    data = image_dataset(tmp_path / "data", per_class=2)
    train(data, tmp_path / "builtin", TrainOptions(epochs=1))
    with pytest.raises(ConfigError, match="is a head on edgetm's builtin-image-v1 features"):
        train(data, tmp_path / "out", TrainOptions(base=str(tmp_path / "builtin"), epochs=1))
    with pytest.raises(ConfigError, match="the built-in bases have none"):
        train(data, tmp_path / "out", TrainOptions(feature_tensor="x"))
    with pytest.raises(ValueError, match="with val_split 0 there is none"):
        TrainOptions(val_split=0, patience=3)
    for out in (data, data / "red" / "model"):
        with pytest.raises(ConfigError, match="is inside the dataset"):
            train(data, out, TrainOptions(epochs=1))


def test_a_pose_file_of_the_wrong_shape(tmp_path: Path):
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (tmp_path / "poses" / label).mkdir(parents=True)
        pose_file(tmp_path / "poses" / label / "0.json", STANDING, rng)
    (tmp_path / "poses" / "b" / "short.json").write_text(json.dumps({"keypoints": [{"x": 1, "y": 2}] * 16}))
    with pytest.raises(ConfigError, match=r"short\.json does not hold 17 keypoints"):
        train(tmp_path / "poses", tmp_path / "out", TrainOptions(epochs=1))


def test_a_base_that_is_not_an_image_classifier(tmp_path: Path):
    data = image_dataset(tmp_path / "data", per_class=2)
    from tests.modelkit import constant_output_onnx
    from tests.vision.test_detect import NAMES, OBJECTS, v8_raw

    detector = write(tmp_path, "v8.onnx", constant_output_onnx(v8_raw(OBJECTS), names=NAMES))
    with pytest.raises(ConfigError, match="is a detect model, not an image classifier"):
        train(data, tmp_path / "out", TrainOptions(base=str(detector)))


def test_the_report_is_drawn_or_says_why_not(tmp_path: Path, monkeypatch):
    data = image_dataset(tmp_path / "data", per_class=4)
    pytest.importorskip("matplotlib", reason="the plots extra is not installed")
    train(data, tmp_path / "drawn", TrainOptions(epochs=3))
    for name in ("accuracy.png", "loss.png", "confusion.png"):
        assert cv2.imread(str(tmp_path / "drawn" / name)) is not None
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    report = train(data, tmp_path / "plain", TrainOptions(epochs=3))
    assert "plots not written: matplotlib is not installed (pip install 'edgetm[plots]')" in report.notes
    assert not (tmp_path / "plain" / "loss.png").exists()
