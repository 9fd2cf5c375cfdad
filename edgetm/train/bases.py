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

from edgetm.errors import ConfigError, EdgetmError, NoHeadError
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

    def fit(self, paths: list[Path]) -> None:
        """Learn what the export needs to know of the examples (a sound head's window length)."""
        return None  # most bases need nothing

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
        if "features" in self.model.metadata:
            raise ConfigError(f"{self.model.source} is a head on edgetm's {self.model.metadata['features']['features']}"
                              " features, not an image classifier", "train again with --base builtin")
        if self.model.task in (TaskKind.SOUND, TaskKind.DETECT, TaskKind.POSE) or len(self.model.input.shape) != 4:
            raise ConfigError(f"{self.model.source} is a {self.model.task.value} model, not an image classifier",
                              "use an image classifier or embedding model as the base, or --base builtin")
        where, name, content = model_bytes(source)
        graph_type = TFLiteBase if self.model.format is ModelFormat.TFLITE else OnnxBase
        try:
            self.graph = graph_type(content, where, tensor)
            self.embedding_model = False
        except NoHeadError:  # only searched for when no tensor is named
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
        preprocessing = json.dumps(self.preprocessor.describe(), sort_keys=True, default=str, allow_nan=False)
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
    """A built-in base: the export is the head alone, taking the base's vector, with metadata
    naming the features (``FEATURES_NAME``) so that edgetm puts them in front of it when it runs."""

    def metadata(self) -> dict:
        return {"features": self.key, "size": self.size}

    def export(self, head: Head, folder: Path) -> Path:
        from edgetm.model.metadata import FEATURES_NAME
        from edgetm.train.export_tflite import to_tflite

        path = folder / "model_unquant.tflite"
        extra = {FEATURES_NAME: json.dumps(self.metadata(), allow_nan=False).encode()}
        path.write_bytes(to_tflite(head.network(), metadata={**extra, **self.tflite_metadata()}))
        return path

    def tflite_metadata(self) -> dict[str, bytes]:
        return {}


class ImageDescriptor(_HeadOnly):
    """Colour and texture, no model: ``vision/descriptor.py``."""

    kind = Kind.IMAGE
    description = "builtin image descriptor (colour and texture histograms, 162 values)"

    def __init__(self) -> None:
        from edgetm.model.metadata import BuiltinFeatures
        from edgetm.vision.descriptor import DESCRIPTOR_SIZE

        self.key, self.size = BuiltinFeatures.IMAGE.value, DESCRIPTOR_SIZE

    def embed(self, path: Path) -> np.ndarray:
        from edgetm.vision.image import read_image

        return self.embed_image(read_image(path))

    def embed_image(self, image: np.ndarray) -> np.ndarray:
        from edgetm.vision.descriptor import describe_image

        return describe_image(image)


class SoundStatistics(_HeadOnly):
    """The mean and standard deviation of each of 64 log-mel bands (YAMNet's front-end, 16 kHz)
    over a clip: 128 values (``audio/features.py``). The exported head listens to windows as long
    as the middle length of the examples it was trained on."""

    kind = Kind.SOUND
    description = "builtin log-mel statistics (64 bands at 16 kHz, mean and spread: 128 values)"

    def __init__(self) -> None:
        from edgetm.audio.features import LogMelStatistics
        from edgetm.model.metadata import BuiltinFeatures

        self.statistics = LogMelStatistics()
        self.key, self.size, self.rate = BuiltinFeatures.SOUND.value, self.statistics.size, self.statistics.rate
        self.window = self.rate  # one second, until fitted to a dataset

    def fit(self, paths: list[Path]) -> None:
        soundfile = _soundfile()
        lengths = []
        for path in paths:
            try:
                info = soundfile.info(str(path))
            except (RuntimeError, OSError):  # read (and reported) when embedded
                continue
            lengths.append(round(info.frames * self.rate / info.samplerate))
        if lengths:
            self.window = max(self.statistics.front.window, int(np.median(lengths)))

    def metadata(self) -> dict:
        return {**super().metadata(), "sample_rate": self.rate, "samples": self.window}

    def tflite_metadata(self) -> dict[str, bytes]:
        from edgetm.model.metadata import METADATA_NAME
        from edgetm.train.metadata import audio_metadata

        return {METADATA_NAME: audio_metadata(self.rate)}

    def embed(self, path: Path) -> np.ndarray:
        samples, rate = _soundfile().read(str(path), dtype="float32", always_2d=True)
        return self.embed_samples(samples.mean(axis=1), rate)

    def embed_samples(self, samples: np.ndarray, rate: int) -> np.ndarray:
        from edgetm.audio.resample import StreamResampler

        resampler = StreamResampler(rate, self.rate)
        mono = np.concatenate([resampler(samples), resampler.flush()])
        try:
            return self.statistics(mono)
        except ValueError as error:
            raise ConfigError(str(error)) from None


def _soundfile():
    try:
        import soundfile
    except ImportError:
        from edgetm.errors import missing_dependency

        raise missing_dependency("soundfile", extra="audio") from None
    return soundfile


class PoseBase(_HeadOnly):
    """The pose feature vector (``pose/features.py``) of a person's keypoints, from a JSON file: a
    person (``{"keypoints": [...]}``), or a result of ``edgetm pose --json`` (its first person)."""

    kind = Kind.POSE
    description = "builtin pose features (59 values)"
    size = 59

    def __init__(self) -> None:
        from edgetm.model.metadata import BuiltinFeatures

        self.key = BuiltinFeatures.POSE.value

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
