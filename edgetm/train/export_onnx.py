"""Write a ``Network`` as ONNX (float32), NCHW as ONNX tools expect, or NHWC like its TFLite twin."""

from __future__ import annotations

import numpy as np

from edgetm.errors import ConfigError
from edgetm.model.spec import Layout
from edgetm.train.network import Activation, Conv2D, Dense, GlobalAveragePool, Network, Softmax

# ONNX Runtime 1.17 (the oldest we support) reads IR 9; 8 keeps older builds working too.
IR_VERSION = 8
OPSET = 13


def to_onnx(net: Network, layout: Layout = Layout.NCHW, dynamic: bool = True) -> bytes:
    """The network as ONNX bytes. ``dynamic`` leaves batch, height and width open.

    Padding is SAME_UPPER, which is TensorFlow's SAME, so answers match the TFLite export.
    Labels go into ``metadata_props["names"]`` the way Ultralytics stores them.
    """
    try:
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise ConfigError("writing ONNX models needs the onnx package", "pip install onnx") from None

    width, height = net.input_size
    batch, h, w = ("batch", "height", "width") if dynamic else (1, height, width)
    if net.features:
        input_shape = [batch, net.features]
    elif layout is Layout.NHWC:
        input_shape = [batch, h, w, net.channels]
    else:
        input_shape = [batch, net.channels, h, w]
    nodes, initializers = [], []
    current = "input"
    if layout is Layout.NHWC and not net.features:
        nodes.append(helper.make_node("Transpose", [current], ["input_nchw"], perm=[0, 3, 1, 2]))
        current = "input_nchw"

    def const(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def activate(name: str, activation: Activation) -> str:
        if activation is Activation.RELU:
            nodes.append(helper.make_node("Relu", [name], [f"{name}_relu"]))
            return f"{name}_relu"
        if activation is Activation.RELU6:
            low, high = const(f"{name}_lo", np.float32(0)), const(f"{name}_hi", np.float32(6))
            nodes.append(helper.make_node("Clip", [name, low, high], [f"{name}_relu6"]))
            return f"{name}_relu6"
        return name

    for n, layer in enumerate(net.layers):
        out = f"layer{n}"
        if isinstance(layer, Conv2D):
            weights = const(f"{out}_w", layer.weights.transpose(0, 3, 1, 2).astype(np.float32))
            bias = const(f"{out}_b", layer.bias.astype(np.float32))
            kh, kw = layer.weights.shape[1:3]
            nodes.append(helper.make_node("Conv", [current, weights, bias], [out], kernel_shape=[kh, kw],
                                          strides=[layer.stride] * 2, auto_pad="SAME_UPPER"))
            current = activate(out, layer.activation)
        elif isinstance(layer, GlobalAveragePool):
            nodes.append(helper.make_node("GlobalAveragePool", [current], [f"{out}_pool"]))
            nodes.append(helper.make_node("Flatten", [f"{out}_pool"], [out], axis=1))
            current = out
        elif isinstance(layer, Dense):
            weights = const(f"{out}_w", layer.weights.astype(np.float32))
            bias = const(f"{out}_b", layer.bias.astype(np.float32))
            nodes.append(helper.make_node("Gemm", [current, weights, bias], [out], transB=1))
            current = activate(out, layer.activation)
        elif isinstance(layer, Softmax):
            nodes.append(helper.make_node("Softmax", [current], [out], axis=1))
            current = out
    nodes.append(helper.make_node("Identity", [current], ["scores"]))
    last = net.shapes()[-1]
    output_shape = [batch, last[-1]] if len(last) == 2 else None  # conv outputs: left to shape inference
    graph = helper.make_graph(
        nodes, "edgetm",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, output_shape)],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="edgetm")
    model.ir_version = IR_VERSION
    if net.labels:
        helper.set_model_props(model, {"names": repr(dict(enumerate(net.labels)))})
    return model.SerializeToString()
