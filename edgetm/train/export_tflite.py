"""Write a ``Network`` as a TensorFlow Lite flatbuffer, float or full-integer uint8.

Uses the flatbuffer schema that ships with LiteRT, so no TensorFlow is needed. The uint8 form
is Teachable Machine's quantized export: uint8 input taking raw pixels (scale 1/128, zero point
128, i.e. [-1, 1]), uint8 weights and activations with per-tensor scales, int32 biases, and a
softmax output with TFLite's fixed scale 1/256.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Sequence

import numpy as np

from edgetm.errors import ConfigError
from edgetm.train.network import Activation, Conv2D, Dense, GlobalAveragePool, Network, Softmax

# Raw pixels p stand for (p - 128) / 128: Teachable Machine's [-1, 1] input as uint8.
PIXEL_INPUT_SCALE = 1.0 / 128.0
PIXEL_INPUT_ZERO_POINT = 128
SOFTMAX_SCALE = 1.0 / 256.0


def _schema():
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        raise ConfigError("writing TFLite models needs ai-edge-litert", "pip install ai-edge-litert") from None
    return schema


_DTYPES = {np.dtype(np.float32): "FLOAT32", np.dtype(np.uint8): "UINT8", np.dtype(np.int8): "INT8",
           np.dtype(np.int32): "INT32", np.dtype(np.int64): "INT64", np.dtype(np.complex64): "COMPLEX64"}
_ACTIVATIONS = {Activation.NONE: "NONE", Activation.RELU: "RELU", Activation.RELU6: "RELU6"}


class FlatbufferGraph:
    """Tensors, buffers and operators of a one-subgraph TFLite model."""

    def __init__(self) -> None:
        self.S = _schema()
        self.buffers = [self.S.BufferT()]  # buffer 0 must stay empty
        self.tensors: list = []
        self.operators: list = []
        self.opcodes: dict[tuple[int, str | None], int] = {}
        self.kept_opcodes: dict[int, object] = {}  # an existing model's operator codes, versions and all
        self.inputs: list[int] = []
        self.outputs: list[int] = []
        self.metadata: dict[str, bytes] = {}

    @classmethod
    def load(cls, content: bytes, where: str) -> FlatbufferGraph:
        """An existing one-subgraph model, to be cut or extended. Its TFLite metadata (which
        describes its old outputs) is left out; other metadata is kept."""
        graph = cls()
        S = graph.S
        try:
            model = S.ModelT.InitFromObj(S.Model.GetRootAsModel(content, 0))
        except Exception as error:  # a truncated flatbuffer fails anywhere inside the generated reader
            raise ConfigError(f"{where} is not a readable TFLite model ({type(error).__name__})") from None
        if len(model.subgraphs or []) != 1:
            raise ConfigError(f"{where} has {len(model.subgraphs or [])} subgraphs",
                              "only single-graph models can be cut and extended")
        subgraph = model.subgraphs[0]
        graph.buffers = list(model.buffers)
        graph.tensors = list(subgraph.tensors)
        graph.operators = list(subgraph.operators or [])
        graph.inputs, graph.outputs = list(subgraph.inputs), list(subgraph.outputs)
        for index, opcode in enumerate(model.operatorCodes):
            code = max(opcode.builtinCode, opcode.deprecatedBuiltinCode)
            custom = opcode.customCode.decode() if isinstance(opcode.customCode, bytes) else opcode.customCode
            graph.opcodes[(code, custom)] = index
            graph.kept_opcodes[index] = opcode
        for entry in model.metadata or []:
            name = entry.name.decode() if isinstance(entry.name, bytes) else entry.name
            if name != "TFLITE_METADATA":
                data = model.buffers[entry.buffer].data
                graph.metadata[name] = bytes(np.asarray(data, np.uint8)) if data is not None else b""
        return graph

    def code_of(self, operator) -> int:
        """The builtin operator an operator runs."""
        key = next(k for k, i in self.opcodes.items() if i == operator.opcodeIndex)
        return key[0]

    def name_of(self, tensor: int) -> str:
        name = self.tensors[tensor].name
        return name.decode() if isinstance(name, bytes) else str(name)

    def tensor(self, name: str, shape: Sequence[int], dtype, data: np.ndarray | None = None,
               quant: tuple[Sequence[float], Sequence[int]] | None = None,
               signature: Sequence[int] | None = None) -> int:
        S = self.S
        t = S.TensorT()
        t.name = name
        t.shape = list(shape)
        if signature is not None:
            t.shapeSignature = list(signature)
        t.type = getattr(S.TensorType, _DTYPES[np.dtype(dtype)])
        t.buffer = 0
        if data is not None:
            buffer = S.BufferT()
            buffer.data = np.frombuffer(np.ascontiguousarray(data, dtype=dtype).tobytes(), np.uint8)
            self.buffers.append(buffer)
            t.buffer = len(self.buffers) - 1
        if quant is not None:
            q = S.QuantizationParametersT()
            q.scale = [float(s) for s in quant[0]]
            q.zeroPoint = [int(z) for z in quant[1]]
            q.quantizedDimension = 0
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(self, code: int, inputs: Sequence[int], outputs: Sequence[int], options_type: int = 0,
           options=None, custom: str | None = None) -> None:
        S = self.S
        key = (code, custom)
        self.opcodes.setdefault(key, len(self.opcodes))
        operator = S.OperatorT()
        operator.opcodeIndex = self.opcodes[key]
        operator.inputs = list(inputs)
        operator.outputs = list(outputs)
        operator.builtinOptionsType = options_type
        operator.builtinOptions = options
        self.operators.append(operator)

    def finish(self, inputs: Sequence[int], outputs: Sequence[int], description: str = "edgetm",
               metadata: dict[str, bytes] | None = None) -> bytes:
        """The model; ``metadata`` are named buffers (``TFLITE_METADATA``: see train/metadata.py)."""
        import flatbuffers

        S = self.S
        entries = []
        for name, data in (metadata or {}).items():
            buffer = S.BufferT()
            buffer.data = np.frombuffer(data, np.uint8)
            self.buffers.append(buffer)
            entry = S.MetadataT()
            entry.name = name
            entry.buffer = len(self.buffers) - 1
            entries.append(entry)
        subgraph = S.SubGraphT()
        subgraph.tensors = self.tensors
        subgraph.inputs = list(inputs)
        subgraph.outputs = list(outputs)
        subgraph.operators = self.operators
        subgraph.name = "main"
        signature = S.SignatureDefT()
        signature.signatureKey = "serving_default"
        signature.subgraphIndex = 0
        signature.inputs = [self._map(i) for i in inputs]
        signature.outputs = [self._map(i) for i in outputs]
        model = S.ModelT()
        model.version = 3
        model.description = description
        model.buffers = self.buffers
        model.subgraphs = [subgraph]
        model.signatureDefs = [signature]
        model.metadata = entries or None
        model.operatorCodes = [None] * len(self.opcodes)
        for (code, custom), index in self.opcodes.items():
            if index in self.kept_opcodes:
                model.operatorCodes[index] = self.kept_opcodes[index]
                continue
            opcode = S.OperatorCodeT()
            opcode.builtinCode = code
            opcode.deprecatedBuiltinCode = min(code, 127)
            opcode.version = 1
            if custom is not None:
                opcode.customCode = custom
            model.operatorCodes[index] = opcode
        builder = flatbuffers.Builder(1024)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())

    def _map(self, index: int):
        mapping = self.S.TensorMapT()
        mapping.name = self.tensors[index].name
        mapping.tensorIndex = index
        return mapping


def _uint8_params(low: float, high: float) -> tuple[float, int]:
    """Asymmetric uint8 (scale, zero point) covering [low, high] and exactly representing 0."""
    low, high = min(low, 0.0), max(high, 0.0)
    scale = (high - low) / 255.0 or 1e-8
    zero = int(np.clip(round(-low / scale), 0, 255))
    return scale, zero


def _quantize(values: np.ndarray, scale: float, zero: int, dtype=np.uint8) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.clip(np.round(values / scale) + zero, info.min, info.max).astype(dtype)


def to_tflite(
    net: Network,
    *,
    dynamic_batch: bool = True,
    dynamic_size: bool = False,
    activation_ranges: Sequence[tuple[float, float]] | None = None,
    input_quantization: tuple[float, int] = (PIXEL_INPUT_SCALE, PIXEL_INPUT_ZERO_POINT),
    metadata: dict[str, bytes] | None = None,
) -> bytes:
    """The network as TFLite bytes.

    With ``activation_ranges`` (one (min, max) per layer output, from ``calibrate``) the model is
    full-integer uint8; ``input_quantization`` then says what raw input values stand for.
    ``metadata``: named buffers to carry (see ``FlatbufferGraph.finish``).
    """
    g = FlatbufferGraph()
    S = g.S
    ops = S.BuiltinOperator
    quantized = activation_ranges is not None
    width, height = net.input_size
    if net.features:
        signature = [-1 if dynamic_batch else 1, net.features]
    else:
        signature = [-1 if dynamic_batch else 1, -1 if dynamic_size else height, -1 if dynamic_size else width,
                     net.channels]
    in_quant = input_quantization if quantized else None
    current = g.tensor("input", net.input_shape, np.uint8 if quantized else np.float32,
                       quant=([in_quant[0]], [in_quant[1]]) if in_quant else None, signature=signature)
    scale_in, zero_in = in_quant if in_quant else (1.0, 0)
    shapes = net.shapes()
    for n, (layer, shape) in enumerate(zip(net.layers, shapes, strict=True)):
        name = f"layer{n}_{type(layer).__name__.lower()}"
        is_last = n == len(net.layers) - 1
        out_name = "scores" if is_last else name
        out_sig = list(shape)
        out_sig[0] = -1 if dynamic_batch else 1
        if dynamic_size and len(shape) == 4:
            out_sig[1] = out_sig[2] = -1
        if quantized:
            assert activation_ranges is not None
            if isinstance(layer, Softmax):
                out_scale, out_zero = SOFTMAX_SCALE, 0
            elif isinstance(layer, GlobalAveragePool):
                out_scale, out_zero = scale_in, zero_in
            else:
                out_scale, out_zero = _uint8_params(*activation_ranges[n])
            out_quant = ([out_scale], [out_zero])
        else:
            out_quant = None
        output = g.tensor(out_name, shape, np.uint8 if quantized else np.float32, quant=out_quant,
                          signature=out_sig)
        if isinstance(layer, Conv2D | Dense):
            weights = layer.weights.astype(np.float32)
            if quantized:
                w_scale, w_zero = _uint8_params(float(weights.min()), float(weights.max()))
                w = g.tensor(f"{name}/weights", weights.shape, np.uint8, _quantize(weights, w_scale, w_zero),
                             quant=([w_scale], [w_zero]))
                bias_scale = scale_in * w_scale
                b = g.tensor(f"{name}/bias", layer.bias.shape, np.int32,
                             _quantize(layer.bias.astype(np.float64), bias_scale, 0, np.int32),
                             quant=([bias_scale], [0]))
            else:
                w = g.tensor(f"{name}/weights", weights.shape, np.float32, weights)
                b = g.tensor(f"{name}/bias", layer.bias.shape, np.float32, layer.bias.astype(np.float32))
            activation = getattr(S.ActivationFunctionType, _ACTIVATIONS[layer.activation])
            if isinstance(layer, Conv2D):
                options = S.Conv2DOptionsT()
                options.padding = S.Padding.SAME
                options.strideW = options.strideH = layer.stride
                options.dilationWFactor = options.dilationHFactor = 1
                options.fusedActivationFunction = activation
                g.op(ops.CONV_2D, [current, w, b], [output], S.BuiltinOptions.Conv2DOptions, options)
            else:
                options = S.FullyConnectedOptionsT()
                options.fusedActivationFunction = activation
                g.op(ops.FULLY_CONNECTED, [current, w, b], [output], S.BuiltinOptions.FullyConnectedOptions,
                     options)
        elif isinstance(layer, GlobalAveragePool):
            axes = g.tensor(f"{name}/axes", (2,), np.int32, np.array([1, 2], np.int32))
            options = S.ReducerOptionsT()
            options.keepDims = False
            g.op(ops.MEAN, [current, axes], [output], S.BuiltinOptions.ReducerOptions, options)
        elif isinstance(layer, Softmax):
            options = S.SoftmaxOptionsT()
            options.beta = 1.0
            g.op(ops.SOFTMAX, [current], [output], S.BuiltinOptions.SoftmaxOptions, options)
        current = output
        if quantized:
            scale_in, zero_in = out_quant[0][0], out_quant[1][0]  # type: ignore[index]
    return with_labels(g.finish([0], [current], metadata=metadata), net.labels)


def with_labels(model: bytes, labels: Sequence[str]) -> bytes:
    """Append labels.txt as an associated file, the way TFLite's metadata writer packs them.

    The file stays a valid TFLite model; readers of associated files open it as a zip.
    """
    if not labels:
        return model
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("labels.txt", "".join(f"{label}\n" for label in labels))
    return model + packed.getvalue()


def calibrate(float_model: bytes, net: Network, images: np.ndarray) -> list[tuple[float, float]]:
    """(min, max) of every layer's output over calibration images (NHWC float, normalised).

    Runs the float TFLite model itself, keeping intermediate tensors readable.
    """
    from ai_edge_litert.interpreter import Interpreter

    with warnings.catch_warnings():  # LiteRT warns that keeping all tensors is for debugging: it is what we want
        warnings.simplefilter("ignore", UserWarning)
        interp = Interpreter(model_content=float_model, experimental_preserve_all_tensors=True, num_threads=1)
    interp.allocate_tensors()
    by_name = {d["name"]: d["index"] for d in interp.get_tensor_details()}
    names = [("scores" if n == len(net.layers) - 1 else f"layer{n}_{type(layer).__name__.lower()}")
             for n, layer in enumerate(net.layers)]
    low = np.full(len(names), np.inf)
    high = np.full(len(names), -np.inf)
    input_index = interp.get_input_details()[0]["index"]
    for image in images:
        interp.set_tensor(input_index, image[None].astype(np.float32))
        interp.invoke()
        for n, name in enumerate(names):
            values = interp.get_tensor(by_name[name])
            low[n] = min(low[n], float(values.min()))
            high[n] = max(high[n], float(values.max()))
    return list(zip(low.tolist(), high.tolist(), strict=True))
