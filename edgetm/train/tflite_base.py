"""A TFLite classifier as a feature base: its penultimate tensor found, the graph cut there (to
embed examples at full speed, without keeping every tensor), and a new head appended (to export).

The features are the input of the classifier's head: walking back from the output through the
softmax and shape or quantization ops, every dense layer (FULLY_CONNECTED, or a 1x1 CONV_2D on a
1x1 map, as MobileNet's logits are) belongs to the head, and the tensor feeding the first of them
is the features. For a Teachable Machine export that is MobileNetV2's 1280 pooled features, the
input of its Dense(100) -> Dense(N) head.
"""

from __future__ import annotations

import numpy as np

from edgetm.errors import ModelError, NoHeadError
from edgetm.train.export_tflite import FlatbufferGraph
from edgetm.train.head import Head

PASS_THROUGH = ("SOFTMAX", "LOGISTIC", "QUANTIZE", "DEQUANTIZE", "RESHAPE", "SQUEEZE", "RELU", "RELU6")


class TFLiteBase:
    def __init__(self, content: bytes, where: str, tensor: str | None = None) -> None:
        self.where = where
        self.graph = FlatbufferGraph.load(content, where)
        ops = self.graph.S.BuiltinOperator
        self._codes = {index: code for (code, _), index in self.graph.opcodes.items()}
        self._pass = {getattr(ops, name) for name in PASS_THROUGH}
        self._producer = {out: op for op in self.graph.operators for out in op.outputs}
        self.tensor = self._named(tensor) if tensor else self._penultimate()

    # -- finding the features ----------------------------------------------------------------------
    def _named(self, name: str) -> int:
        found = [i for i in range(len(self.graph.tensors)) if self.graph.name_of(i) == name]
        if not found:
            raise ModelError(f"{self.where} has no tensor named {name!r}", "edgetm info --json lists its tensors")
        return found[0]

    def _is_dense(self, op) -> bool:
        ops = self.graph.S.BuiltinOperator
        code = self._codes[op.opcodeIndex]
        if code == ops.FULLY_CONNECTED:
            return True
        if code == ops.CONV_2D:
            shape = list(self.graph.tensors[op.inputs[0]].shape)
            kernel = list(self.graph.tensors[op.inputs[1]].shape)
            return len(shape) == 4 and shape[1:3] == [1, 1] and kernel[1:3] == [1, 1]
        return False

    def _penultimate(self) -> int:
        tensor, features = self.graph.outputs[0], None
        while (op := self._producer.get(tensor)) is not None:
            if self._is_dense(op):
                features = tensor = op.inputs[0]
            elif self._codes[op.opcodeIndex] in self._pass:
                tensor = op.inputs[0]
            else:
                break
        if features is None:
            raise NoHeadError(self.where)
        return features

    @property
    def name(self) -> str:
        return self.graph.name_of(self.tensor)

    @property
    def size(self) -> int:
        return int(np.prod(self.graph.tensors[self.tensor].shape))

    # -- cutting and extending ---------------------------------------------------------------------
    def _cut(self) -> FlatbufferGraph:
        """The graph with only the operators the feature tensor needs, and it as the output."""
        needed, stack = set(), [self.tensor]
        while stack:
            op = self._producer.get(stack.pop())
            if op is not None and id(op) not in needed:
                needed.add(id(op))
                stack.extend(op.inputs)
        graph = self.graph
        cut = FlatbufferGraph.__new__(FlatbufferGraph)
        cut.__dict__.update(graph.__dict__)
        cut.operators = [op for op in graph.operators if id(op) in needed]
        cut.tensors = list(graph.tensors)
        cut.buffers = list(graph.buffers)
        cut.opcodes, cut.kept_opcodes = dict(graph.opcodes), dict(graph.kept_opcodes)
        cut.outputs = [self.tensor]
        return cut

    def truncated(self) -> bytes:
        """The model cut at the features: one invoke gives the embedding."""
        cut = self._cut()
        return cut.finish(cut.inputs, cut.outputs, metadata=cut.metadata)

    def with_head(self, head: Head) -> bytes:
        """The model cut at the features with ``head`` after them (a DEQUANTIZE first when the
        features are quantized): the base's input in, the head's probabilities out."""
        if head.feature_size != self.size:
            raise ModelError(f"the head takes {head.feature_size} features, {self.where} gives {self.size}")
        cut = self._cut()
        S, ops = cut.S, cut.S.BuiltinOperator
        current = self.tensor
        source = cut.tensors[current]
        if source.type != S.TensorType.FLOAT32:
            floats = cut.tensor("features/dequantized", list(source.shape), np.float32)
            cut.op(ops.DEQUANTIZE, [current], [floats])
            current = floats
        if len(source.shape) != 2:
            shape = cut.tensor("features/shape", (2,), np.int32, np.array([-1, self.size], np.int32))
            flat = cut.tensor("features/flat", (1, self.size), np.float32)
            options = S.ReshapeOptionsT()
            options.newShape = [-1, self.size]
            cut.op(ops.RESHAPE, [current, shape], [flat], S.BuiltinOptions.ReshapeOptions, options)
            current = flat
        for n, (weights, bias) in enumerate(head.layers):
            last = n == len(head.layers) - 1
            w = cut.tensor(f"head/dense{n}/weights", weights.T.shape, np.float32, np.ascontiguousarray(weights.T))
            b = cut.tensor(f"head/dense{n}/bias", bias.shape, np.float32, bias)
            out = cut.tensor(f"head/dense{n}", (1, weights.shape[1]), np.float32)
            options = S.FullyConnectedOptionsT()
            options.fusedActivationFunction = S.ActivationFunctionType.NONE if last else S.ActivationFunctionType.RELU
            cut.op(ops.FULLY_CONNECTED, [current, w, b], [out], S.BuiltinOptions.FullyConnectedOptions, options)
            current = out
        scores = cut.tensor("scores", (1, len(head.labels)), np.float32)
        options = S.SoftmaxOptionsT()
        options.beta = 1.0
        cut.op(ops.SOFTMAX, [current], [scores], S.BuiltinOptions.SoftmaxOptions, options)
        return cut.finish(cut.inputs, [scores], metadata=cut.metadata)
