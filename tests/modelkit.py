"""Tiny models with known answers, written by the tests (LiteRT's flatbuffer schema, onnx helper)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgetm.model.spec import Layout
from edgetm.train.export_onnx import to_onnx
from edgetm.train.export_tflite import FlatbufferGraph, calibrate, to_tflite
from edgetm.train.network import Activation, Conv2D, Dense, GlobalAveragePool, Network, Softmax


def mean_colour_net(weights: np.ndarray, bias: np.ndarray, size=(32, 32), softmax: bool = True) -> Network:
    """scores = softmax(W @ mean RGB of the [-1, 1] input + b): answers computable by hand."""
    layers = [GlobalAveragePool(), Dense(weights.astype(np.float32), bias.astype(np.float32))]
    if softmax:
        layers.append(Softmax())
    return Network(layers, size, labels=[f"class {i}" for i in range(len(bias))])


def expected_scores(net: Network, rgb_mean: np.ndarray) -> np.ndarray:
    dense = net.layers[1]
    logits = dense.weights @ rgb_mean + dense.bias
    if isinstance(net.layers[-1], Softmax):
        e = np.exp(logits - logits.max())
        return e / e.sum()
    return logits


def identity_net(size=(8, 6)) -> Network:
    """Outputs its input: a 1x1 convolution with identity weights."""
    eye = np.eye(3, dtype=np.float32).reshape(3, 1, 1, 3)
    return Network([Conv2D(eye, np.zeros(3, np.float32), 1, Activation.NONE)], size)


def small_cnn(seed: int = 0, classes: int = 4, size=(32, 32)) -> Network:
    rng = np.random.default_rng(seed)
    return Network([
        Conv2D(rng.normal(0, 0.4, (8, 3, 3, 3)).astype(np.float32), rng.normal(0, 0.1, 8).astype(np.float32), 2),
        Conv2D(rng.normal(0, 0.3, (16, 3, 3, 8)).astype(np.float32), rng.normal(0, 0.1, 16).astype(np.float32), 2),
        GlobalAveragePool(),
        Dense(rng.normal(0, 0.8, (classes, 16)).astype(np.float32), rng.normal(0, 0.1, classes).astype(np.float32)),
        Softmax(),
    ], size, labels=[f"class {i}" for i in range(classes)])


def write(folder: Path, name: str, content: bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def uint8_tflite(net: Network, input_quantization=(1 / 128, 128), seed: int = 0) -> bytes:
    """Full-integer uint8 export calibrated on random images spanning the input's real range."""
    rng = np.random.default_rng(seed)
    width, height = net.input_size
    scale, zero = input_quantization
    # Whole-image colours vary as much as pixels do, so pooled activations get realistic ranges too.
    pixels = rng.uniform(0, 255, (32, 1, 1, 3)) * 0.7 + rng.uniform(0, 255, (32, height, width, 3)) * 0.3
    images = ((pixels - zero) * scale).astype(np.float32)
    return to_tflite(net, activation_ranges=calibrate(to_tflite(net), net, images),
                     input_quantization=input_quantization)


def int8_tflite(net: Network, seed: int = 0) -> bytes:
    """Full-integer int8 export by ai-edge-quantizer (static int8 weights and activations)."""
    quantizer_module = pytest.importorskip("ai_edge_quantizer.quantizer", reason="ai-edge-quantizer not installed")
    from ai_edge_quantizer import recipe

    rng = np.random.default_rng(seed)
    width, height = net.input_size
    quantizer = quantizer_module.Quantizer(bytearray(to_tflite(net, dynamic_batch=False)))
    quantizer.load_quantization_recipe(recipe.static_wi8_ai8())
    samples = [{"input": rng.uniform(-1, 1, (1, height, width, 3)).astype(np.float32)} for _ in range(16)]
    calibration = quantizer.calibrate({"serving_default": samples})
    return bytes(quantizer.quantize(calibration, enable_progress_report=False).quantized_model)


def onnx_model(net: Network, layout: Layout = Layout.NCHW, dynamic: bool = True) -> bytes:
    pytest.importorskip("onnx", reason="onnx not installed")
    return to_onnx(net, layout, dynamic)


def custom_op_tflite(op_name: str = "MyCustomOp") -> bytes:
    """A model whose only operator is an unregistered custom op."""
    g = FlatbufferGraph()
    x = g.tensor("input", (1, 4), np.float32)
    y = g.tensor("output", (1, 4), np.float32)
    g.op(g.S.BuiltinOperator.CUSTOM, [x], [y], custom=op_name)
    return g.finish([x], [y])


def constant_output_onnx(raw: np.ndarray, size=(320, 320), names: list[str] | None = None,
                         ultralytics: bool = True, dynamic: bool = False) -> bytes:
    """An NCHW image model whose output is always ``raw``: a detector with known raw output
    (``dynamic``: its image sides are dynamic axes)."""
    pytest.importorskip("onnx", reason="onnx not installed")
    from onnx import TensorProto, helper, numpy_helper

    width, height = size
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["nothing", "raw"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes, "constant",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                       [1, 3, "height", "width"] if dynamic else [1, 3, height, width])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(raw.shape))],
        [numpy_helper.from_array(np.float32(0.0), "zero"), numpy_helper.from_array(raw.astype(np.float32), "raw")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if names:
        props = {"names": repr(dict(enumerate(names))), "imgsz": repr([height, width])}
        if ultralytics:
            props.update({"author": "Ultralytics", "task": "detect"})
        helper.set_model_props(model, props)
    return model.SerializeToString()


def constant_outputs_tflite(raws: list[np.ndarray], size=(64, 64), int8: bool = False, seed: int = 0,
                            dynamic: bool = False) -> bytes:
    """A TFLite image model whose outputs are always ``raws`` (float, or full-integer int8 through
    ai-edge-quantizer): each is input-mean x 0 + constant. ``dynamic``: its image sides are open
    (signature [1, -1, -1, 3]), ``size`` the shape it is stored with."""
    width, height = size
    g = FlatbufferGraph()
    ops, S = g.S.BuiltinOperator, g.S
    x = g.tensor("input", (1, height, width, 3), np.float32, signature=(1, -1, -1, 3) if dynamic else None)
    axes = g.tensor("axes", (4,), np.int32, np.array([0, 1, 2, 3], np.int32))
    mean = g.tensor("mean", (1, 1, 1, 1), np.float32)
    options = S.ReducerOptionsT()
    options.keepDims = True
    g.op(ops.MEAN, [x, axes], [mean], S.BuiltinOptions.ReducerOptions, options)
    zero = g.tensor("zero", (1, 1, 1, 1), np.float32, np.zeros((1, 1, 1, 1), np.float32))
    nothing = g.tensor("nothing", (1, 1, 1, 1), np.float32)
    g.op(ops.MUL, [mean, zero], [nothing], S.BuiltinOptions.MulOptions, S.MulOptionsT())
    outputs = []
    for n, raw in enumerate(raws):
        shape = g.tensor(f"shape{n}", (1,), np.int32, np.array([1], np.int32))
        flat = g.tensor(f"flat{n}", (1,), np.float32)
        reshape = S.ReshapeOptionsT()
        reshape.newShape = [1]
        g.op(ops.RESHAPE, [nothing, shape], [flat], S.BuiltinOptions.ReshapeOptions, reshape)
        constant = g.tensor(f"raw{n}", raw.shape, np.float32, raw.astype(np.float32))
        out = g.tensor(f"output{n}", raw.shape, np.float32)
        g.op(ops.ADD, [flat, constant], [out], S.BuiltinOptions.AddOptions, S.AddOptionsT())
        outputs.append(out)
    model = g.finish([x], outputs)
    if not int8:
        return model
    quantizer_module = pytest.importorskip("ai_edge_quantizer.quantizer", reason="ai-edge-quantizer not installed")
    from ai_edge_quantizer import recipe

    quantizer = quantizer_module.Quantizer(bytearray(model))
    quantizer.load_quantization_recipe(recipe.static_wi8_ai8())
    rng = np.random.default_rng(seed)
    samples = [{"input": rng.uniform(0, 1, (1, height, width, 3)).astype(np.float32)} for _ in range(8)]
    calibration = quantizer.calibrate({"serving_default": samples})
    return bytes(quantizer.quantize(calibration, enable_progress_report=False).quantized_model)
