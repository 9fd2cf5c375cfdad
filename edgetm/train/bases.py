"""Feature bases: what turns an example into the vector a head trains on.

- ``ModelBase``: a TFLite or ONNX image classifier cut at the input of its head (see
  ``tflite_base``), or a model without a head (an embedding extractor) whose output is the
  features. The exported model is the base with the new head in place of the old one.
- Built-in bases that need no model: ``ImageDescriptor`` (colour and texture histograms),
  ``SoundStatistics`` (mean and spread of each log-mel band, the sound front-end's), and
  ``PoseBase`` (the pose feature vector). Their export is the head alone, taking that vector.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from edgetm.errors import ConfigError, EdgetmError, ModelError
from edgetm.train.dataset import Kind
from edgetm.train.head import Head

BUILTIN = "builtin"
MAX_POSE_FILE_BYTES = 1 << 20


class FeatureBase(ABC):
    kind: Kind
    description: str
    key: str  # what cached features were made with: changes when the base does
    size: int

    @abstractmethod
    def embed(self, path: Path) -> np.ndarray:
        """The [size] float32 features of one example file."""

    @abstractmethod
    def export(self, head: Head, folder: Path) -> Path:
        """Write the model that runs ``head`` on this base's features into ``folder``."""

    def embed_example(self, path: Path) -> np.ndarray:
        """``embed``, with any failure named by the file (unreadable, wrong shape)."""
        try:
            vector = np.asarray(self.embed(path), np.float32).reshape(-1)
        except EdgetmError as error:
            said = error.message if str(path) in error.message else f"{path}: {error.message}"
            raise ConfigError(said, "remove it from the dataset or replace it") from None
        except (OSError, ValueError) as error:
            raise ConfigError(f"{path} cannot be read ({error})", "remove it from the dataset or replace it") from None
        if vector.shape != (self.size,):
            raise ConfigError(f"{path} gives {vector.size} features, not {self.size}", "check the example")
        return vector


class ModelBase(FeatureBase):
    """A model's penultimate features (or, for a model without a head, its output)."""

    kind = Kind.IMAGE

    def __init__(self, source: str | Path, tensor: str | None = None, threads: int | None = None) -> None:
        from edgetm.model.load import load_model, load_model_bytes, model_bytes
        from edgetm.model.model import ModelFormat, TaskKind
        from edgetm.train.onnx_base import OnnxBase
        from edgetm.train.tflite_base import TFLiteBase
        from edgetm.vision.preprocess import Preprocessor

        self.model = load_model(source, threads=threads)
        if self.model.task in (TaskKind.SOUND, TaskKind.DETECT, TaskKind.POSE) or len(self.model.input.shape) != 4:
            raise ConfigError(f"{self.model.source} is a {self.model.task.value} model, not an image classifier",
                              "use an image classifier or embedding model as the base, or --base builtin")
        where, name, content = model_bytes(source)
        graph_type = TFLiteBase if self.model.format is ModelFormat.TFLITE else OnnxBase
        try:
            self.graph = graph_type(content, where, tensor)
            self.embedding_model = False
        except ModelError as error:
            if tensor is not None or "no dense layer" not in error.message:
                raise
            # No head to take off: an embedding extractor, whose output is the features.
            output = self.model.outputs[0].name
            self.graph = graph_type(content, where, output)
            self.embedding_model = True
        self.cut = load_model_bytes(self.graph.truncated(), f"{where} (cut at {self.graph.name})", name,
                                    threads=threads)
        self.preprocessor = Preprocessor(self.model)
        self.size = int(np.prod(self.cut.outputs[0].shape))
        self.format = self.model.format
        self.quantized_input = not np.issubdtype(self.model.input.dtype, np.floating)
        self.description = f"{where}: {'output' if self.embedding_model else 'features'} {self.graph.name} " \
                           f"({self.size})"
        preprocessing = json.dumps(self.preprocessor.describe(), sort_keys=True, default=str)
        self.key = hashlib.sha256(content + self.graph.name.encode() + preprocessing.encode()).hexdigest()[:24]

    def embed(self, path: Path) -> np.ndarray:
        from edgetm.vision.image import read_image

        return self.embed_image(read_image(path))

    def embed_image(self, image: np.ndarray) -> np.ndarray:
        tensor = self.preprocessor.prepare(image).tensor
        raw = self.cut.run(tensor)[0]
        return self.cut.outputs[0].dequantize(raw).reshape(-1).astype(np.float32)

    def export(self, head: Head, folder: Path) -> Path:
        from edgetm.model.model import ModelFormat

        if self.format is ModelFormat.ONNX:
            name = "model.onnx"
        else:  # Teachable Machine's names: the float model, or the quantized one
            name = "model.tflite" if self.quantized_input else "model_unquant.tflite"
        path = folder / name
        path.write_bytes(self.graph.with_head(head))
        return path


class _HeadOnly(FeatureBase):
    def export(self, head: Head, folder: Path) -> Path:
        from edgetm.train.export_tflite import to_tflite

        path = folder / "model_unquant.tflite"
        path.write_bytes(to_tflite(head.network()))
        return path


class ImageDescriptor(_HeadOnly):
    """Colour and texture, no model: an 8 x 4 x 4 HSV histogram, gradient orientation histograms
    (16 bins, weighted by strength) at two scales, and the grey level's mean and spread; square
    roots of the histograms (Hellinger), so that a linear head compares them well."""

    kind = Kind.IMAGE
    description = "builtin image descriptor (colour and texture histograms, 162 values)"
    key = "builtin-image-v1"
    size = 8 * 4 * 4 + 2 * 16 + 2

    def embed(self, path: Path) -> np.ndarray:
        from edgetm.vision.image import read_image

        return self.embed_image(read_image(path))

    def embed_image(self, image: np.ndarray) -> np.ndarray:
        import cv2

        small = cv2.resize(image, (128, 128), interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
        colour = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).reshape(-1)
        parts = [np.sqrt(colour / max(colour.sum(), 1.0))]
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255.0
        for level in (grey, cv2.pyrDown(grey)):
            gx, gy = cv2.Sobel(level, cv2.CV_32F, 1, 0), cv2.Sobel(level, cv2.CV_32F, 0, 1)
            strength, angle = cv2.cartToPolar(gx, gy)
            bins = np.minimum((angle % np.pi) / np.pi * 16, 15).astype(np.int64)  # orientation, not direction
            histogram = np.bincount(bins.reshape(-1), strength.reshape(-1), minlength=16)
            parts.append(np.sqrt(histogram / max(histogram.sum(), 1e-9)))
        parts.append(np.array([grey.mean(), grey.std()]))
        return np.concatenate(parts).astype(np.float32)


class SoundStatistics(_HeadOnly):
    """The mean and standard deviation of each of 64 log-mel bands (YAMNet's front-end, 16 kHz)
    over a clip: 128 values."""

    kind = Kind.SOUND
    description = "builtin log-mel statistics (64 bands at 16 kHz, mean and spread: 128 values)"
    key = "builtin-sound-v1"
    size = 128
    RATE = 16000

    def __init__(self) -> None:
        from edgetm.audio.features import LogMel

        self.front = LogMel(self.RATE)

    def embed(self, path: Path) -> np.ndarray:
        try:
            import soundfile
        except ImportError:
            from edgetm.errors import missing_dependency

            raise missing_dependency("soundfile", extra="audio") from None
        samples, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        return self.embed_samples(samples.mean(axis=1), rate)

    def embed_samples(self, samples: np.ndarray, rate: int) -> np.ndarray:
        from edgetm.audio.resample import StreamResampler

        resampler = StreamResampler(rate, self.RATE)
        mono = np.concatenate([resampler(samples), resampler.flush()])
        if len(mono) < self.front.window:
            raise ConfigError(f"{len(mono)} samples at {self.RATE} Hz is shorter than one analysis frame")
        bands = self.front(mono)
        return np.concatenate([bands.mean(axis=0), bands.std(axis=0)]).astype(np.float32)


class PoseBase(_HeadOnly):
    """The pose feature vector (``pose/features.py``) of a person's keypoints, from a JSON file: a
    person (``{"keypoints": [...]}``), or a result of ``edgetm pose --json`` (its first person)."""

    kind = Kind.POSE
    description = "builtin pose features (59 values)"
    key = "builtin-pose-v1"
    size = 59

    def embed(self, path: Path) -> np.ndarray:
        from edgetm.pose.base import PoseFeatureOptions
        from edgetm.pose.features import pose_features
        from edgetm.pose.skeleton import COCO

        if path.stat().st_size > MAX_POSE_FILE_BYTES:
            raise ConfigError(f"{path} is too large for a pose", "a pose file holds one person's keypoints")
        data = json.loads(path.read_text())
        if isinstance(data, dict) and "persons" in data:
            if not data["persons"]:
                raise ConfigError(f"{path} has no person in it", "remove it from the dataset")
            data = data["persons"][0]
        keypoints = data.get("keypoints") if isinstance(data, dict) else None
        if not isinstance(keypoints, list) or len(keypoints) != len(COCO):
            raise ConfigError(f"{path} does not hold 17 keypoints", "a pose file is a person with COCO's 17 "
                              "keypoints, as edgetm pose --json writes them")
        points = np.array([[float(k["x"]), float(k["y"])] for k in keypoints])
        seen = np.array([bool(k.get("visible", True)) for k in keypoints])
        return pose_features(points, seen, PoseFeatureOptions())


def builtin_base(kind: Kind) -> FeatureBase:
    return {Kind.IMAGE: ImageDescriptor, Kind.SOUND: SoundStatistics, Kind.POSE: PoseBase}[kind]()
