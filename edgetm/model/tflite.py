"""TensorFlow Lite models through LiteRT (fallbacks: tflite_runtime, tensorflow.lite)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
from collections.abc import Callable, Iterator, Sequence
from typing import BinaryIO

import numpy as np

from edgetm.errors import ModelError
from edgetm.model.backend import Backend
from edgetm.model.options import ModelOptions
from edgetm.model.spec import Quantization, TensorSpec

_EDGETPU_LIBRARY = {"Linux": "libedgetpu.so.1", "Darwin": "libedgetpu.1.dylib", "Windows": "edgetpu.dll"}
# Lines LiteRT prints on stderr for every model; they say nothing a user can act on.
_NOISE = re.compile(rb"^INFO: (Created TensorFlow Lite|Initialized TensorFlow Lite).*$\n?", re.MULTILINE)


def _interpreter_module():
    """The first TFLite interpreter we can import, in order of preference."""
    for name in ("ai_edge_litert.interpreter", "tflite_runtime.interpreter"):
        with contextlib.suppress(ImportError):
            return __import__(name, fromlist=["Interpreter"])
    try:
        import tensorflow as tf  # type: ignore[import-not-found]
    except ImportError:
        raise ModelError(
            "no TensorFlow Lite runtime is installed", "install it with: pip install ai-edge-litert"
        ) from None
    return tf.lite


def _anonymous_file() -> BinaryIO:
    """A file with no name: in memory on Linux (``memfd_create``), else a temporary file (tempfile
    and the shutil it imports take 3 ms of a start)."""
    try:
        return open(os.memfd_create("edgetm-stderr", os.MFD_CLOEXEC), "w+b")
    except (AttributeError, OSError):
        import tempfile

        return tempfile.TemporaryFile()


@contextlib.contextmanager
def _native_stderr() -> Iterator[list[bytes]]:
    """Capture what native code writes to file descriptor 2; yields a list that receives it.

    LiteRT reports op-resolution failures there before raising, and announces its XNNPACK
    delegate on every load. Real warnings are written back to stderr afterwards.
    """
    captured: list[bytes] = []
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all (some service managers): nothing to capture
        yield captured
        return
    with _anonymous_file() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = _NOISE.sub(b"", sink.read())
            captured.append(text)
            if text.strip():
                os.write(2, text)


def _explain(error: Exception, where: str) -> ModelError:
    """Turn a LiteRT failure into a one-line ModelError."""
    text = str(error)
    custom = re.search(r"unresolved custom op: ([^\s.]+)", text)
    if (custom and custom.group(1).startswith("Flex")) or "Select TensorFlow op" in text:
        named = custom or re.search(r"\((Flex\w+)\)", text)
        op = named.group(1) if named else "Flex"
        return ModelError(
            f"{where} needs TensorFlow select ops ({op}), which only full TensorFlow runs",
            "install tensorflow to run it through tf.lite, or export it again: Teachable Machine's newer sound "
            "exports use built-in ops",
        )
    if custom:
        op = custom.group(1)
        if op == "edgetpu-custom-op":
            return ModelError(
                f"{where} is compiled for the Coral Edge TPU",
                "run it with --delegate edgetpu on a machine with a Coral and libedgetpu, "
                "or use the model.tflite from the same export",
            )
        return ModelError(
            f"{where} needs the custom op '{op}', which this TensorFlow Lite runtime does not provide",
            "re-export the model with built-in ops only, or load the delegate that implements it",
        )
    builtin = re.search(r"Didn't find op for builtin opcode '(\w+)' version '(\d+)'", text)
    if builtin:
        return ModelError(
            f"{where} needs op {builtin.group(1)} version {builtin.group(2)}, newer than this runtime",
            "upgrade ai-edge-litert, or re-export the model with an older TensorFlow",
        )
    if "not a valid Flatbuffer" in text or "model identifier" in text or "allocation is null" in text:
        return ModelError(f"{where} is not a valid TensorFlow Lite model (corrupt or truncated?)",
                          "copy or export it again")
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return ModelError(f"{where}: TensorFlow Lite failed: {first}")


def _tensorflow_lite():
    """TensorFlow's own TFLite interpreter, when TensorFlow is installed."""
    try:
        import tensorflow as tf  # type: ignore[import-not-found]
    except ImportError:
        return None
    return tf.lite


def _load_delegate(module, delegate: str):
    import platform

    library = _EDGETPU_LIBRARY.get(platform.system(), "libedgetpu.so.1") if delegate == "edgetpu" else delegate
    try:
        # Probe first: LiteRT's Delegate object raises again in __del__ when its library is missing.
        ctypes.CDLL(library)
        return module.load_delegate(library)
    except (ValueError, RuntimeError, OSError, AttributeError):
        if delegate == "edgetpu":
            raise ModelError(
                f"the Edge TPU delegate was requested but {library} could not be loaded",
                "install libedgetpu1-std from Coral's apt repository and plug in the Coral",
            ) from None
        raise ModelError(f"the TensorFlow Lite delegate {library} could not be loaded") from None


def _spec(detail: dict) -> TensorSpec:
    params = detail.get("quantization_parameters") or {}
    scales = tuple(float(s) for s in params.get("scales", ()))
    quant = None
    if scales:
        zeros = tuple(int(z) for z in params.get("zero_points", ()))
        axis = int(params.get("quantized_dimension", 0)) if len(scales) > 1 else None
        quant = Quantization(scales, zeros or (0,) * len(scales), axis)
    shape = tuple(int(d) for d in detail["shape"])
    signature = detail.get("shape_signature")
    dyn = tuple(int(d) < 0 for d in signature) if signature is not None and len(signature) == len(shape) else ()
    return TensorSpec(
        name=detail["name"], shape=shape, dtype=np.dtype(detail["dtype"]), quantization=quant,
        index=int(detail["index"]), dynamic=dyn,
    )


class TFLiteBackend(Backend):
    """A LiteRT interpreter. XNNPACK is on (LiteRT's default op resolver) for float and int8."""

    def __init__(
        self,
        model: bytes,
        options: ModelOptions,
        where: str,
        resolve: Callable[[tuple[int, ...]], tuple[int, ...]] = lambda sig: tuple(max(d, 1) for d in sig),
    ) -> None:
        module = _interpreter_module()
        delegates = [_load_delegate(module, options.delegate)] if options.delegate else None
        try:
            self._interp = self._create(module, model, options, delegates, resolve, where)
        except ModelError as error:
            tensorflow = _tensorflow_lite() if "select ops" in error.message else None
            if tensorflow is None or module is tensorflow:
                raise
            module = tensorflow  # TensorFlow's own interpreter has the select ops (Flex) built in
            self._interp = self._create(module, model, options, delegates, resolve, where)
        self.name = "litert" if module.__name__.startswith("ai_edge_litert") else module.__name__.split(".")[0]
        self._where = where
        self._delegate = options.delegate
        self._threads = options.all_threads
        try:
            self._refresh_specs()
        except ValueError as error:  # a tensor name that is not UTF-8: a corrupt file
            raise _explain(error, where) from None
        self.fitted: tuple[int, ...] = self.inputs[0].shape if self.inputs else ()

    @staticmethod
    def _create(module, model: bytes, options: ModelOptions, delegates, resolve, where: str):
        with _native_stderr():
            try:
                interpreter = module.Interpreter(
                    model_content=bytes(model), num_threads=options.all_threads, experimental_delegates=delegates
                )
                for detail in interpreter.get_input_details():
                    signature = tuple(int(d) for d in detail.get("shape_signature", detail["shape"]))
                    if any(d < 0 for d in signature):
                        # Some real models refuse to allocate until a dynamic input has a concrete shape.
                        interpreter.resize_tensor_input(detail["index"], list(resolve(signature)), strict=False)
                interpreter.allocate_tensors()
            except (RuntimeError, ValueError) as error:
                raise _explain(error, where) from None
        return interpreter

    def _refresh_specs(self) -> None:
        self.inputs = [_spec(d) for d in self._interp.get_input_details()]
        self.outputs = [_spec(d) for d in self._interp.get_output_details()]

    def resize(self, shapes: Sequence[tuple[int, ...]]) -> None:
        """Reallocate at new input shapes (any input whose shape changed)."""
        self._reshape(shapes)
        self._refresh_specs()
        self.fitted = self.inputs[0].shape if self.inputs else ()

    def fit(self, shape: tuple[int, ...]) -> None:
        """Reallocate for a new first-input shape only when it changes: ``allocate_tensors`` plans
        and allocates every tensor of the graph again."""
        if shape == self.fitted:
            return
        self._reshape([shape, *(s.shape for s in self.inputs[1:])])
        self.fitted = shape

    def _reshape(self, shapes: Sequence[tuple[int, ...]]) -> None:
        # Compared with the interpreter's own shapes: a fitted input no longer has its spec's shape.
        current = {d["index"]: tuple(int(v) for v in d["shape"]) for d in self._interp.get_input_details()}
        for spec, shape in zip(self.inputs, shapes, strict=True):
            if tuple(shape) != current[spec.index]:
                self._interp.resize_tensor_input(spec.index, list(shape), strict=False)
        try:
            self._interp.allocate_tensors()
        except (RuntimeError, ValueError) as error:
            raise _explain(error, self._where) from None

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        interp = self._interp
        try:
            for spec, value in zip(self.inputs, inputs, strict=True):
                interp.set_tensor(spec.index, value)
            interp.invoke()
            # In the try too: an output a corrupt model never writes has no data to read.
            return [interp.get_tensor(spec.index) for spec in self.outputs]
        except (RuntimeError, ValueError) as error:
            raise _explain(error, self._where) from None

    def bare(self, inputs: Sequence[np.ndarray]) -> Callable[[], object]:
        interp, indices = self._interp, [spec.index for spec in self.inputs]
        outputs = [spec.index for spec in self.outputs]

        def run() -> object:
            for index, value in zip(indices, inputs, strict=True):
                interp.set_tensor(index, value)
            interp.invoke()
            return [interp.get_tensor(index) for index in outputs]
        return run

    def describe(self) -> dict:
        return {"backend": self.name, "threads": self._threads, "delegate": self._delegate or "xnnpack"}
