"""ONNX models through ONNX Runtime."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from edgetm.errors import ModelError
from edgetm.model.backend import Backend
from edgetm.model.options import ModelOptions
from edgetm.model.spec import TensorSpec
from edgetm.records import replace

# Tried in this order when the user names none; only those present in the installed build are used.
_PREFERRED_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")

_DTYPES = {
    "tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
    "tensor(uint8)": np.uint8, "tensor(int8)": np.int8, "tensor(int32)": np.int32,
    "tensor(int64)": np.int64, "tensor(bool)": np.bool_,
}


def _explain(error: Exception, where: str) -> ModelError:
    text = str(error)
    custom = re.search(r"(\S+) is not a registered function/op", text)
    if custom:
        return ModelError(f"{where} needs the custom op '{custom.group(1)}', which ONNX Runtime does not provide",
                          "re-export the model with standard ONNX ops")
    version = re.search(r"Unsupported model IR version: (\d+)", text)
    if version or ("opset" in text and "is under development" in text):
        return ModelError(f"{where} was exported for a newer ONNX Runtime", "upgrade onnxruntime")
    if "INVALID_PROTOBUF" in text or "Protobuf parsing failed" in text:
        return ModelError(f"{where} is not a valid ONNX model (corrupt or truncated?)", "copy or export it again")
    first = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text.strip().splitlines()[0] if text else "")
    first = first.rsplit("Status Message: ", 1)[-1]  # nested node failures: the innermost says what happened
    return ModelError(f"{where} could not be loaded by ONNX Runtime: {first or type(error).__name__}")


def _not_text(where: str) -> ModelError:
    """ONNX Runtime decodes names and metadata as UTF-8 when asked for them; a corrupt file's are not."""
    return ModelError(f"{where} is not a valid ONNX model (a name in it is not UTF-8 text)", "copy or export it again")


def _signature(dims: Sequence) -> tuple[int, ...]:
    """ONNX dims are ints, names ("batch") or None; named and missing dims are dynamic (-1)."""
    return tuple(d if isinstance(d, int) and d >= 0 else -1 for d in dims)


def _providers(ort, wanted: tuple[str, ...] | None) -> list[str]:
    available = ort.get_available_providers()
    if wanted:
        missing = [p for p in wanted if p not in available]
        if missing:
            raise ModelError(f"ONNX Runtime provider {missing[0]} is not available here",
                             f"available: {', '.join(available)}")
        return list(wanted)
    return [p for p in _PREFERRED_PROVIDERS if p in available] or ["CPUExecutionProvider"]


class OnnxBackend(Backend):
    """An ONNX Runtime session. Dynamic input dims are fixed by the loader, batch defaults to 1."""

    def __init__(
        self,
        model: Path | bytes,
        options: ModelOptions,
        where: str,
        resolve: Callable[[tuple[int, ...]], tuple[int, ...]] = lambda sig: tuple(max(d, 1) for d in sig),
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise ModelError("ONNX Runtime is not installed", "install it with: pip install onnxruntime") from None
        session_options = ort.SessionOptions()
        session_options.intra_op_num_threads = options.all_threads
        session_options.inter_op_num_threads = 1
        # Spinning, ONNX Runtime's threads wait for work burning CPU after every run: back to back that
        # saves waking them (YOLOv8n 13.0 ms against 15.5 in benchmarks/paced.py), at a camera's pace it
        # is nearly a core while idle (34 ms of CPU per frame for a 1 ms model), which the capture and
        # preprocessing threads need. ``load_for_pacing`` turns it off for paced sources.
        session_options.add_session_config_entry("session.intra_op.allow_spinning",
                                                 "0" if options.spin is False else "1")
        # Fatal only: its errors reach the user once, as the exception edgetm turns into one line, and its
        # warnings (unused initialisers) are noise.
        session_options.log_severity_level = 4
        providers = _providers(ort, options.providers)
        # ONNX Runtime retries a session that failed to open on the CPU provider, after printing four
        # lines on stdout (into --json output and the stdout sink); with the CPU provider alone the
        # retry is the same attempt again.
        fallback = int(providers != ["CPUExecutionProvider"])
        try:
            self._session = ort.InferenceSession(
                str(model) if isinstance(model, Path) else bytes(model), session_options, providers=providers,
                enable_fallback=fallback,
            )
        except Exception as error:  # ORT raises its own pybind classes, all subclasses of Exception
            raise _explain(error, where) from None
        self.name = "onnxruntime"
        self._where = where
        self._threads = options.all_threads
        self._spin = options.spin is not False
        self._providers = self._session.get_providers()
        try:
            self._read_specs(resolve)
        except UnicodeDecodeError:
            raise _not_text(where) from None
        self._run_options = ort.RunOptions()
        self._run_options.log_severity_level = 4

    def _read_specs(self, resolve: Callable[[tuple[int, ...]], tuple[int, ...]]) -> None:
        self.inputs = []
        for position, node in enumerate(self._session.get_inputs()):
            signature = _signature(node.shape)
            dynamic = tuple(d < 0 for d in signature)
            shape = tuple(resolve(signature)) if any(dynamic) else signature
            self.inputs.append(TensorSpec(node.name, shape, np.dtype(_DTYPES.get(node.type, np.float32)),
                                          None, position, dynamic))
        self.outputs = []
        for position, node in enumerate(self._session.get_outputs()):
            signature = _signature(node.shape)
            dynamic = tuple(d < 0 for d in signature)
            shape = tuple(max(d, 1) for d in signature)
            self.outputs.append(TensorSpec(node.name, shape, np.dtype(_DTYPES.get(node.type, np.float32)),
                                           None, position, dynamic))
        self._names = [o.name for o in self.outputs]

    def resize(self, shapes: Sequence[tuple[int, ...]]) -> None:
        self.inputs = [replace(s, shape=tuple(shape)) for s, shape in zip(self.inputs, shapes, strict=True)]

    def run(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        feed = {spec.name: value for spec, value in zip(self.inputs, inputs, strict=True)}
        try:
            return self._session.run(self._names, feed, self._run_options)
        except Exception as error:
            raise _explain(error, self._where) from None

    def bare(self, inputs: Sequence[np.ndarray]) -> Callable[[], object]:
        session, feed = self._session, {spec.name: value for spec, value in zip(self.inputs, inputs, strict=True)}
        return lambda: session.run(None, feed)

    def metadata(self) -> dict[str, str]:
        try:
            return dict(self._session.get_modelmeta().custom_metadata_map)
        except UnicodeDecodeError:
            raise _not_text(self._where) from None

    def describe(self) -> dict:
        return {"backend": self.name, "threads": self._threads, "spin": self._spin, "providers": self._providers}
