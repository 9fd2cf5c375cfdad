"""``load_model``: open the model ``locate`` found (a file, an export folder, a zip member) and say what it is."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgetm.errors import ConfigError, LabelsError, ModelError
from edgetm.model.backend import Backend
from edgetm.model.labels import (
    embedded_tflite_labels,
    names_from_mapping,
    parse_labels,
    parse_literal,
    read_labels,
    tflite_associated_files,
    unique_labels,
)
from edgetm.model.locate import Located, locate, model_format, read_model
from edgetm.model.metadata import (
    FEATURES_NAME,
    METADATA_NAME,
    audio_properties,
    features_metadata,
    subgraph_count,
    tflite_metadata,
)
from edgetm.model.model import Family, Model, ModelFormat, TaskKind, detect_task, is_waveform
from edgetm.model.options import ModelOptions
from edgetm.model.spec import Layout, TensorSpec, tensor_layout

# Dynamic image inputs run at this size unless told otherwise (the common classifier size).
DEFAULT_IMAGE_SIZE = 224
# Sound models of open length run one second at a time unless told otherwise, at the rate most
# speech and sound-event models take.
DEFAULT_SAMPLE_RATE = 16000
DEFAULT_SAMPLES = DEFAULT_SAMPLE_RATE
# Scalar integer inputs with these names take the sample rate (Silero VAD's ``sr``).
RATE_INPUTS = ("sr", "rate", "sample_rate", "sampling_rate")

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
        return subgraph_count(content) > 0
    except Exception:  # the flatbuffers reader has no error type of its own
        return True


def _open_tflite(located: Located, options: ModelOptions, input_size: tuple[int, int] | None) -> _Opened:
    from edgetm.model.tflite import TFLiteBackend

    if options.spin is not None:  # a setting that does not apply is an error, not ignored
        raise ConfigError(f"{located.where} is a TFLite model: spin applies to ONNX Runtime only",
                          "leave --spin / spin: out")
    content = located.content if located.content is not None else read_model(located.path)  # type: ignore[arg-type]
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


def _open_onnx(located: Located, options: ModelOptions, input_size: tuple[int, int] | None) -> _Opened:
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
    YOLO's 32), as its feature maps need. TFLite SSD exports have no such constraint."""
    if model.task is not TaskKind.DETECT or len(model.outputs) == 4 or not model.input.has_dynamic_size:
        return
    size = model.input.image_size()
    if size is None:
        return
    aligned = _round_up(size, model.stride)
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
    return _load(locate(Path(options.path).expanduser(), options.delegate, member), options)


def load_model_bytes(content: bytes, where: str, name: str, *, threads: int | None = None) -> Model:
    """A model held in memory (one edgetm made, such as a classifier cut at its features):
    ``where`` names it in messages, ``name``'s suffix says its format."""
    return _load(Located(where, name, content, None, None, False), ModelOptions(path=where, threads=threads))


def model_bytes(path: str | Path) -> tuple[str, str, bytes]:
    """Where a model is (file, export folder or zip member), its file name and its bytes."""
    located = locate(Path(path).expanduser(), None)
    content = located.content if located.content is not None else read_model(located.path)  # type: ignore[arg-type]
    return located.where, located.name, content


def _load(located: Located, options: ModelOptions) -> Model:
    if located.path is not None:
        with located.path.open("rb") as handle:
            head = handle.read(16)
    else:
        head = (located.content or b"")[:16]
    fmt = model_format(located.where, located.name, head)

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
                  metadata=metadata, sized=options.input_size is not None)
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
    if model.labels is not None:
        model.labels = unique_labels(model.labels, model.labels_source or "the labels")
    model.check_labels()
    return model
