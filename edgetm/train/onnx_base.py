"""An ONNX classifier as a feature base, as ``tflite_base`` does it for TFLite: the head's input
found (walking back from the output through Softmax and shape ops over every Gemm, MatMul and its
bias Add), the graph cut there, and a new head (Flatten, Gemm, Relu, Gemm, Softmax) appended.
Needs the ``onnx`` package (the ``train`` extra)."""

from __future__ import annotations

import numpy as np

from edgetm.errors import ModelError, NoHeadError, missing_dependency
from edgetm.train.head import Head

PASS_THROUGH = ("Softmax", "LogSoftmax", "Sigmoid", "Reshape", "Flatten", "Squeeze", "Identity", "Relu", "Clip",
                "QuantizeLinear", "DequantizeLinear")
DENSE = ("Gemm", "MatMul")


def _onnx():
    try:
        import onnx
    except ImportError:
        raise missing_dependency("onnx", extra="train") from None
    return onnx


class OnnxBase:
    def __init__(self, content: bytes, where: str, tensor: str | None = None) -> None:
        onnx = _onnx()
        self.where = where
        try:
            self.model = onnx.load_model_from_string(content)
        except Exception as error:  # protobuf's DecodeError and friends
            raise ModelError(f"{where} is not a readable ONNX model ({type(error).__name__})") from None
        graph = self.model.graph
        self._constants = {init.name for init in graph.initializer}
        self._producer = {out: node for node in graph.node for out in node.output}
        if tensor is not None and tensor not in self._producer and tensor not in {i.name for i in graph.input}:
            raise ModelError(f"{where} has no tensor named {tensor!r}", "edgetm info --json lists its tensors")
        self.name = tensor or self._penultimate()

    def _penultimate(self) -> str:
        tensor, features = self.model.graph.output[0].name, None
        while (node := self._producer.get(tensor)) is not None:
            data = [i for i in node.input if i and i not in self._constants]
            if node.op_type in DENSE or (node.op_type == "Add" and len(data) == 1):
                if node.op_type in DENSE:
                    features = data[0] if data else None
                tensor = data[0] if data else ""
            elif node.op_type in PASS_THROUGH and data:
                tensor = data[0]
            else:
                break
        if features is None:
            raise NoHeadError(self.where)
        return features

    def _cut(self):
        """A copy holding only the nodes the feature tensor needs, with it as the only output."""
        onnx = _onnx()
        from onnx import helper

        needed, stack = set(), [self.name]
        while stack:
            node = self._producer.get(stack.pop())
            if node is not None and id(node) not in needed:
                needed.add(id(node))
                stack.extend(i for i in node.input if i)
        model = onnx.ModelProto()
        model.CopyFrom(self.model)
        graph = model.graph
        kept = [node for node in self.model.graph.node if id(node) in needed]
        del graph.node[:]
        graph.node.extend(kept)
        used = {i for node in kept for i in node.input}
        initializers = [init for init in self.model.graph.initializer if init.name in used]
        del graph.initializer[:]
        graph.initializer.extend(initializers)
        del graph.output[:]
        graph.output.extend([helper.make_tensor_value_info(self.name, onnx.TensorProto.FLOAT, None)])
        del model.metadata_props[:]  # the old labels and task describe the old output
        return model

    def truncated(self) -> bytes:
        return self._cut().SerializeToString()

    def with_head(self, head: Head) -> bytes:
        """The model cut at the features with ``head`` after them: its input in, probabilities out."""
        onnx = _onnx()
        from onnx import helper, numpy_helper

        model = self._cut()
        graph = model.graph
        # A base that is itself a retrained model already holds head/... names: take fresh ones.
        taken = {name for node in graph.node for name in (*node.input, *node.output)}
        taken |= {init.name for init in graph.initializer} | {value.name for value in graph.input}
        prefix = next(p for p in ("head", *(f"head{k}" for k in range(2, 1000)))
                      if not any(name == p or name.startswith(p + "/") for name in taken))
        scores = next(name for name in ("scores", *(f"scores{k}" for k in range(2, 1000))) if name not in taken)
        nodes = [helper.make_node("Flatten", [self.name], [f"{prefix}/features"], axis=1)]
        current = f"{prefix}/features"
        for n, (weights, bias) in enumerate(head.layers):
            dense = f"{prefix}/dense{n}"
            graph.initializer.extend([numpy_helper.from_array(np.ascontiguousarray(weights, np.float32),
                                                              f"{dense}/weights"),
                                      numpy_helper.from_array(bias.astype(np.float32), f"{dense}/bias")])
            nodes.append(helper.make_node("Gemm", [current, f"{dense}/weights", f"{dense}/bias"], [dense]))
            current = dense
            if n < len(head.layers) - 1:
                nodes.append(helper.make_node("Relu", [current], [f"{current}/relu"]))
                current = f"{current}/relu"
        nodes.append(helper.make_node("Softmax", [current], [scores], axis=1))
        graph.node.extend(nodes)
        del graph.output[:]
        graph.output.extend([helper.make_tensor_value_info(scores, onnx.TensorProto.FLOAT,
                                                           [None, len(head.labels)])])
        helper.set_model_props(model, {"names": repr(dict(enumerate(head.labels)))})
        return model.SerializeToString()
