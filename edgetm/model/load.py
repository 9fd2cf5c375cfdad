"""``load_model``: find the model in a file, folder or zip, open it and say what it is."""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from edgetm.errors import ConfigError, LabelsError, ModelError
from edgetm.model.backend import Backend
from edgetm.model.labels import (
    MAX_LABELS_BYTES,
    embedded_tflite_labels,
    names_from_mapping,
    parse_labels,
    parse_literal,
    read_labels,
    tflite_associated_files,
)
from edgetm.model.metadata import (
    FEATURES_NAME,
    MAX_METADATA_BYTES,
    METADATA_NAME,
    audio_properties,
    features_metadata,
    tflite_metadata,
)
from edgetm.model.model import Family, Model, ModelFormat, TaskKind, detect_task, is_waveform
from edgetm.model.options import ModelOptions
from edgetm.model.spec import Layout, TensorSpec, tensor_layout

# Which file of an export folder or zip to run, best first. Teachable Machine's float model is
# what the browser runs, so it gives the same answers; its quantized twin is the fallback.
_PREFERENCE = ("model_unquant.tflite", "model.tflite", "model.onnx", "soundclassifier_with_metadata.tflite")
_TM_ZIPS = ("converted_tflite.zip", "converted_tflite_quantized.zip", "converted_edgetpu.zip")
# A MediaPipe Tasks bundle (.task) is a zip of TFLite models; a pose landmarker's runs first.
TASK_BUNDLE = ".task"
TASK_FIRST_MODEL = "pose_detector.tflite"
# The most of a model edgetm reads: the largest exports it runs (YOLOv8x / YOLO11x in ONNX) are
# about 250 MB, so twice that leaves room while a zip bomb, whose header may claim anything and
# whose megabyte can inflate to gigabytes, cannot take a Raspberry Pi's memory.
MAX_MODEL_BYTES = 512 << 20
# Unpacked per read: small beside any model, large enough that counting costs nothing.
_CHUNK_BYTES = 1 << 20
# Python's zipfile bounds what one read of deflated data unpacks; bzip2 and LZMA data it unpacks
# without a bound, so one small read could fill the memory before anything is counted. Teachable
# Machine exports and MediaPipe bundles use deflate or no compression.
_UNPACKED = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_ENCRYPTED = 0x1  # the zip format's flag bit for a member that needs a password (zipfile raises RuntimeError)
# What zipfile raises on a corrupt archive: besides BadZipFile, a negative seek (ValueError) or a
# name that is not the UTF-8 its flag says (UnicodeDecodeError, a ValueError).
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, ValueError)
# Dynamic image inputs run at this size unless told otherwise (the common classifier size).
DEFAULT_IMAGE_SIZE = 224
# A detector's feature maps line up only at multiples of its largest stride: YOLO's is 32.
DEFAULT_STRIDE = 32
# Sound models of open length run one second at a time unless told otherwise, at the rate most
# speech and sound-event models take.
DEFAULT_SAMPLE_RATE = 16000
DEFAULT_SAMPLES = DEFAULT_SAMPLE_RATE
# Scalar integer inputs with these names take the sample rate (Silero VAD's ``sr``).
RATE_INPUTS = ("sr", "rate", "sample_rate", "sampling_rate")

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


@dataclass
class _Located:
    """A model found on disk: the file (or zip member) and what sits beside it."""

    where: str
    name: str
    content: bytes | None  # None: open by path
    path: Path | None
    beside_labels: tuple[str, str] | None  # (source, text) of a labels.txt next to the model
    from_tm_export: bool
    beside_metadata: dict | None = None  # Ultralytics' metadata.yaml next to the model


def _keras_error(where: str) -> ModelError:
    return ModelError(
        f"{where} is a Keras model, which edgetm cannot run without TensorFlow",
        "export the project from Teachable Machine as TensorFlow Lite (or convert it with TensorFlow's "
        "TFLiteConverter) and load the .tflite",
    )


def _explain_non_model(where: str, name: str, head: bytes) -> ModelError:
    lower = name.lower()
    if head.startswith(_HDF5_MAGIC) or lower.endswith((".h5", ".hdf5", ".keras")):
        return _keras_error(where)
    if lower.endswith(".json"):
        return ModelError(
            f"{where} is a TensorFlow.js model",
            "export the project from Teachable Machine as TensorFlow Lite and load the .tflite",
        )
    if lower.endswith(".pb"):
        return ModelError(f"{where} is a TensorFlow SavedModel", "convert it to TensorFlow Lite or ONNX first")
    return ModelError(
        f"{where} is not a model edgetm can run",
        "expected a .tflite or .onnx file, or a Teachable Machine export folder or zip",
    )


def _pick(names: Sequence[str], delegate: str | None, where: str) -> str:
    """The model file among an export's files."""
    by_base = {PurePosixPath(n).name.lower(): n for n in names}
    if delegate == "edgetpu":
        compiled = [n for base, n in by_base.items() if base.endswith("_edgetpu.tflite")]
        if compiled:
            return compiled[0]
    for preferred in _PREFERENCE:
        if preferred in by_base:
            return by_base[preferred]
    candidates = [n for base, n in by_base.items() if base.endswith((".tflite", ".onnx"))]
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        raise ModelError(f"{where} holds several models: {', '.join(sorted(candidates))}", "name the one to run")
    keras = [n for base, n in by_base.items() if base.endswith((".h5", ".keras"))]
    if keras:
        raise _keras_error(f"{where}/{PurePosixPath(keras[0]).name}")
    if "model.json" in by_base:
        raise _explain_non_model(where, "model.json", b"")
    raise ModelError(f"{where} holds no .tflite or .onnx model")


def _unpack(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, limit: int, error: type[ModelError],
            check: Callable[[bytes], object] | None = None) -> bytes:
    """A member's bytes, unpacked a chunk at a time and counted (its header's size is only a claim),
    into one buffer whose bytes are handed on without another copy. ``check`` sees the first chunk,
    so a member that is no model is refused before the rest is unpacked."""
    if info.flag_bits & _ENCRYPTED:
        raise error(f"{where} is encrypted", "zip it again without a password")
    if info.compress_type not in _UNPACKED:
        raise error(f"{where} is compressed with method {info.compress_type} (bzip2, LZMA, ...), which edgetm does "
                    "not unpack", "zip it again with the usual deflate compression")
    if info.file_size > limit:
        raise error(f"{where} is larger than {limit >> 20} MB ({info.file_size} bytes unpacked)",
                    "this is not an export edgetm can run")
    buffer = io.BytesIO()  # getvalue() hands over its own bytes object, and growing it does not copy twice
    with archive.open(info) as member:
        while chunk := member.read(_CHUNK_BYTES):
            if check is not None and not buffer.tell():
                check(chunk[:16])
            if buffer.tell() + len(chunk) > limit:
                raise error(f"{where} unpacks to more than {limit >> 20} MB", "this is not an export edgetm can run")
            buffer.write(chunk)
    return buffer.getvalue()


def _from_zip(path: Path, delegate: str | None, member: str | None = None) -> _Located:
    where = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = [i for i in archive.infolist() if not i.filename.endswith("/")]  # is_dir() fails on ""
            if member is not None and member not in {i.filename for i in members}:
                raise ModelError(f"{where} holds no {member}", f"it holds {', '.join(i.filename for i in members)}")
            chosen = member or _pick([i.filename for i in members], delegate, where)
            info = next(i for i in members if i.filename == chosen)
            name = PurePosixPath(chosen).name
            content = _unpack(archive, info, f"{where}:{chosen}", MAX_MODEL_BYTES, ModelError,
                              lambda head: _format(f"{where}:{chosen}", name, head))
            folder = PurePosixPath(chosen).parent
            labels_name = str(folder / "labels.txt") if str(folder) != "." else "labels.txt"
            labels = None
            labels_info = next((i for i in members if i.filename == labels_name), None)
            if labels_info is not None:
                text = _unpack(archive, labels_info, f"{where}:{labels_name}", MAX_LABELS_BYTES, LabelsError)
                labels = (f"{where}:{labels_name}", text.decode("utf-8", errors="replace"))
    except _ZIP_ERRORS as error:
        raise ModelError(f"{where} is not a readable zip file ({_first_line(error)})",
                         "download the export again") from None
    return _Located(f"{where}:{chosen}", name, content, None, labels, path.name in _TM_ZIPS or name in _PREFERENCE)


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _locate(path: Path, delegate: str | None, member: str | None = None) -> _Located:
    if not path.exists():
        raise ModelError(f"{path} does not exist", "check the path to the model")
    if member is not None or path.suffix.lower() == TASK_BUNDLE:
        return _from_zip(path, delegate, member or TASK_FIRST_MODEL)
    if path.is_dir():
        files = [p.name for p in path.iterdir() if p.is_file()]
        zips = [z for z in _TM_ZIPS if z in files]
        if not any(f.endswith((".tflite", ".onnx")) for f in files) and zips:
            return _from_zip(path / zips[0], delegate)
        path = path / _pick(files, delegate, str(path))
    if not path.is_file():  # a pipe or a device would block or never end
        raise ModelError(f"{path} is not a regular file", "give the path to a model file or an export folder")
    with path.open("rb") as handle:
        head = handle.read(16)
    if zipfile.is_zipfile(path) and head[4:8] != b"TFL3" and not path.name.lower().endswith(".keras"):
        return _from_zip(path, delegate)
    if path.stat().st_size > MAX_MODEL_BYTES:
        raise ModelError(f"{path} is larger than {MAX_MODEL_BYTES >> 20} MB ({path.stat().st_size} bytes)",
                         "this is not an export edgetm can run")
    labels_path = path.parent / "labels.txt"
    beside = None
    if labels_path.is_file():
        if labels_path.stat().st_size > MAX_LABELS_BYTES:
            raise LabelsError(f"{labels_path} is too large to be a labels file")
        beside = (str(labels_path), labels_path.read_text(encoding="utf-8", errors="replace"))
    metadata_path = path.parent / "metadata.yaml"
    metadata = None
    if metadata_path.is_file() and metadata_path.stat().st_size < MAX_METADATA_BYTES:
        parsed = parse_literal(metadata_path.read_text(encoding="utf-8", errors="replace"), dict)
        metadata = parsed if isinstance(parsed, dict) and "names" in parsed else None
    return _Located(str(path), path.name, None, path, beside, path.name in _PREFERENCE, metadata)


def _read(path: Path) -> bytes:
    """A model file's bytes in one read, no more than ``MAX_MODEL_BYTES`` even if it grew since it
    was measured."""
    with path.open("rb") as handle:
        content = handle.read(min(path.stat().st_size, MAX_MODEL_BYTES) + 1)
    if len(content) > MAX_MODEL_BYTES:
        raise ModelError(f"{path} is larger than {MAX_MODEL_BYTES >> 20} MB", "this is not an export edgetm can run")
    return content


def _format(where: str, name: str, head: bytes) -> ModelFormat:
    if not head:
        raise ModelError(f"{where} is empty", "copy or export the model again")
    if head[4:8] == b"TFL3":
        return ModelFormat.TFLITE
    lower = name.lower()
    # An ONNX ModelProto starts with field 1 (ir_version, varint): byte 0x08.
    if lower.endswith(".onnx") or (head[:1] == b"\x08" and not lower.endswith(".tflite")):
        return ModelFormat.ONNX
    if lower.endswith(".tflite"):
        raise ModelError(f"{where} is not a valid TensorFlow Lite model (corrupt or truncated?)",
                         "copy or export it again")
    raise _explain_non_model(where, name, head)


def _resolver(size: tuple[int, int] | None, samples: int | None = None):
    """Concrete shape for a dynamic input signature: batch 1, image sides from ``size``, a sound
    model's samples from ``samples``."""
    width, height = size or (DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE)

    def resolve(signature: tuple[int, ...]) -> tuple[int, ...]:
        shape = list(signature)
        if shape and shape[0] < 0:
            shape[0] = 1
        if len(shape) in (1, 2) and shape[-1] < 0 and len(signature) == len(shape):
            shape[-1] = samples or DEFAULT_SAMPLES
        layout = tensor_layout(tuple(d if d >= 0 else 0 for d in shape))
        if len(shape) == 4 and layout is Layout.OTHER:
            # Both channel candidates dynamic: assume NCHW with 3 channels if axis 1 is unknown.
            layout = Layout.NCHW if shape[1] < 0 and shape[3] < 0 else Layout.NHWC
        h_axis, w_axis, c_axis = (1, 2, 3) if layout is Layout.NHWC else (2, 3, 1)
        if len(shape) == 4:
            for axis, value in ((h_axis, height), (w_axis, width), (c_axis, 3)):
                if shape[axis] < 0:
                    shape[axis] = value
        return tuple(max(d, 1) for d in shape)

    return resolve


def warm_up_inputs(inputs: Sequence[TensorSpec], sample_rate: int | None) -> list[np.ndarray]:
    """Zeros for every input, but the sample rate in a scalar rate input (a model may check it)."""
    values = []
    for spec in inputs:
        if not spec.shape and np.issubdtype(spec.dtype, np.integer) and spec.name.lower() in RATE_INPUTS:
            values.append(np.array(sample_rate or DEFAULT_SAMPLE_RATE, spec.dtype))
        else:
            values.append(np.zeros(spec.shape, spec.dtype))
    return values


def _image_size_from(metadata: dict) -> tuple[int, int] | None:
    size = metadata.get("imgsz")
    if isinstance(size, int):
        return size, size
    if isinstance(size, list | tuple) and len(size) == 2 and all(isinstance(s, int) for s in size):
        return int(size[1]), int(size[0])  # Ultralytics stores (height, width)
    return None


def _round_up(size: tuple[int, int], stride: int) -> tuple[int, int]:
    return -(-size[0] // stride) * stride, -(-size[1] // stride) * stride


def _stride_aligned(size: tuple[int, int] | None, metadata: dict) -> tuple[int, int] | None:
    """A requested size rounded up to the model's stride when its metadata gives one (YOLO
    feature maps only line up at multiples of it), before anything is allocated."""
    stride = metadata.get("stride")
    if size is None or not isinstance(stride, int) or stride < 1:
        return size
    return _round_up(size, stride)


def _ultralytics(metadata: dict) -> bool:
    return "names" in metadata and ("Ultralytics" in str(metadata.get("author", "")) or "task" in metadata)


_Opened = tuple[Backend, dict, list[str] | None, str]


def _has_subgraph(content: bytes) -> bool:
    """False for a model whose subgraphs are missing: LiteRT's verifier lets that through (the
    field is optional in the schema) and its interpreter then segfaults. A model too broken to tell
    is left to LiteRT's verifier (and so is every model where ai-edge-litert is not installed)."""
    try:
        from ai_edge_litert import schema_py_generated as schema

        return schema.Model.GetRootAs(content, 0).SubgraphsLength() > 0
    except Exception:  # the flatbuffers reader has no error type of its own
        return True


def _open_tflite(located: _Located, options: ModelOptions, input_size: tuple[int, int] | None) -> _Opened:
    from edgetm.model.tflite import TFLiteBackend

    content = located.content if located.content is not None else _read(located.path)  # type: ignore[arg-type]
    if not _has_subgraph(content):
        raise ModelError(f"{located.where} is not a valid TensorFlow Lite model (it has no subgraph)",
                         "copy or export it again")
    embedded, metadata = embedded_tflite_labels(tflite_associated_files(content))
    buffers = tflite_metadata(content)
    audio = audio_properties(buffers.get(METADATA_NAME, b""))
    if audio is not None:
        metadata = {**metadata, "audio": {"sample_rate": audio.sample_rate, "channels": audio.channels}}
    features = features_metadata(buffers.get(FEATURES_NAME, b""))
    if features is not None:
        metadata = {**metadata, "features": features}
    source = "embedded"
    if not metadata and located.beside_metadata:  # Ultralytics writes metadata.yaml beside its exports
        metadata = located.beside_metadata
        embedded, source = names_from_mapping(metadata["names"]), "metadata.yaml"
    size = _stride_aligned(input_size, metadata) or _image_size_from(metadata)
    # From memory, not from the file: LiteRT would map the file, and a file overwritten in place (cp,
    # scp, an export) would then fault on the next inference.
    backend = TFLiteBackend(content, options, located.where, _resolver(size, options.input_samples))
    return backend, metadata, embedded, source


def _open_onnx(located: _Located, options: ModelOptions, input_size: tuple[int, int] | None) -> _Opened:
    from edgetm.model.onnx import OnnxBackend

    model_source = located.path if located.path is not None else (located.content or b"")
    # ONNX Runtime needs no concrete shapes to open a model, so its metadata can choose them after.
    backend = OnnxBackend(model_source, options, located.where, _resolver(input_size, options.input_samples))
    metadata: dict = backend.metadata()
    for key in ("names", "imgsz", "stride", "task"):  # Ultralytics stores Python literals as text
        if key in metadata:
            parsed = parse_literal(metadata[key])
            metadata[key] = parsed if parsed is not None else metadata[key]
    size = _stride_aligned(input_size, metadata) or _image_size_from(metadata)
    if size and any(s.is_dynamic for s in backend.inputs):
        resolve = _resolver(size, options.input_samples)
        backend.resize([resolve(s.signature) if s.is_dynamic else s.shape for s in backend.inputs])
    return backend, metadata, names_from_mapping(metadata.get("names")), "embedded"


def _sized_for_detection(model: Model) -> None:
    """A dynamic-input detector runs at sides rounded up to its stride (from its metadata, else
    ``DEFAULT_STRIDE``), as its feature maps need. TFLite SSD exports have no such constraint."""
    if model.task is not TaskKind.DETECT or len(model.outputs) == 4 or not model.input.has_dynamic_size:
        return
    stride = model.metadata.get("stride", DEFAULT_STRIDE)
    size = model.input.image_size()
    if not isinstance(stride, int) or stride < 1 or size is None:
        return
    aligned = _round_up(size, stride)
    if aligned != size:
        model.resize(_resolver(aligned)(model.input.signature))


def load_model(
    path: str | Path | ModelOptions,
    labels: str | Path | None = None,
    *,
    threads: int | None = None,
    delegate: str | None = None,
    providers: Sequence[str] | None = None,
    input_size: tuple[int, int] | None = None,
    member: str | None = None,
) -> Model:
    """Open a model: a .tflite or .onnx file, a Teachable Machine export folder, or its zip (or
    ``ModelOptions`` saying all of this).

    Labels come from ``labels`` if given, else a labels.txt beside the model, else labels
    embedded in the model (TFLite metadata, Ultralytics metadata), else an Ultralytics
    metadata.yaml beside it. ``input_size`` (width, height) fixes dynamic image inputs;
    otherwise the model's metadata or 224x224 does (a detector's rounded up to its stride).
    ``member`` names the model to open in a zip that holds several (a MediaPipe Tasks bundle,
    whose pose detector opens by default).
    The model is run once on zeros so that failures surface here, not on the first frame.
    """
    if isinstance(path, ModelOptions):
        options = path
    else:
        options = ModelOptions(path=str(path), labels=str(labels) if labels is not None else None, threads=threads,
                               delegate=delegate, providers=tuple(providers) if providers else None,
                               input_size=input_size)
    return _load(_locate(Path(options.path).expanduser(), options.delegate, member), options)


def load_model_bytes(content: bytes, where: str, name: str, *, threads: int | None = None) -> Model:
    """A model held in memory (one edgetm made, such as a classifier cut at its features):
    ``where`` names it in messages, ``name``'s suffix says its format."""
    return _load(_Located(where, name, content, None, None, False), ModelOptions(path=where, threads=threads))


def model_bytes(path: str | Path) -> tuple[str, str, bytes]:
    """Where a model is (file, export folder or zip member), its file name and its bytes."""
    located = _locate(Path(path).expanduser(), None)
    content = located.content if located.content is not None else _read(located.path)  # type: ignore[arg-type]
    return located.where, located.name, content


def _load(located: _Located, options: ModelOptions) -> Model:
    if located.path is not None:
        with located.path.open("rb") as handle:
            head = handle.read(16)
    else:
        head = (located.content or b"")[:16]
    fmt = _format(located.where, located.name, head)

    opener = _open_tflite if fmt is ModelFormat.TFLITE else _open_onnx
    backend, metadata, embedded, embedded_source = opener(located, options, options.input_size)
    try:
        outputs = backend.run(warm_up_inputs(backend.inputs, options.sample_rate))
    except ModelError as error:
        if backend.inputs and is_waveform(backend.inputs[0]) and backend.inputs[0].has_dynamic_size:
            samples = backend.inputs[0].shape[-1]
            raise ModelError(error.message, f"it takes sound of open length and failed on {samples} samples: give "
                             "input_samples, the samples it takes per call") from None
        raise
    backend.learn_output_shapes(outputs)

    family = Family.GENERIC
    if _ultralytics(metadata):
        family = Family.ULTRALYTICS
    elif located.from_tm_export and located.beside_labels is not None:
        family = Family.TEACHABLE_MACHINE

    model = Model(located.where, fmt, backend, family, detect_task(backend.outputs, metadata, backend.inputs),
                  metadata=metadata)
    if options.sample_rate:
        model.metadata["sample_rate"] = options.sample_rate
    fixed = model.input.image_size()
    if options.input_size is not None and not model.input.has_dynamic_size and tuple(options.input_size) != fixed:
        size = f"{fixed[0]}x{fixed[1]}" if fixed else str(list(model.input.shape))
        raise ConfigError(f"{located.where} takes a fixed input of {size}; input_size applies only to models with "
                          "dynamic input", "leave input_size out")
    _sized_for_detection(model)
    if options.labels is not None:
        model.labels, model.labels_source = read_labels(Path(options.labels).expanduser()), options.labels
    elif located.beside_labels is not None:
        source, text = located.beside_labels
        try:
            model.labels, model.labels_source = parse_labels(text, source), source
        except LabelsError:
            if embedded is None:
                raise
    if model.labels is None and embedded is not None:
        model.labels, model.labels_source = embedded, embedded_source
    model.check_labels()
    return model
