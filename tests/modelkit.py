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
