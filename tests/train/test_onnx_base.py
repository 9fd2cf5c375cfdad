"""An ONNX classifier as a feature base: the head's input found, the graph cut there, a head appended."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from edgetm.errors import ModelError
from edgetm.model.spec import Layout
from edgetm.train.export_onnx import to_onnx
from edgetm.train.head import Head
from edgetm.train.onnx_base import OnnxBase
from tests.modelkit import identity_net, small_cnn
from tests.train.test_tflite_base import run

pytest.importorskip("onnx", reason="onnx not installed")


def session_run(content: bytes, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(content, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def head_for(features: int, seed: int = 2) -> Head:
    rng = np.random.default_rng(seed)
    return Head([(rng.normal(0, 0.5, (features, 10)).astype(np.float32), rng.normal(0, 0.1, 10).astype(np.float32)),
                 (rng.normal(0, 0.5, (10, 3)).astype(np.float32), rng.normal(0, 0.1, 3).astype(np.float32))],
                ["a", "b", "c"])


def test_the_cut_gives_the_pooled_features_and_the_head_answers_as_in_memory():
    from edgetm.train.export_tflite import to_tflite
    from edgetm.train.tflite_base import TFLiteBase

    net = small_cnn()
    base = OnnxBase(to_onnx(net, Layout.NHWC), "cnn.onnx")
    twin = TFLiteBase(to_tflite(net), "cnn.tflite")
    head = head_for(16)
    exported = base.with_head(head)
    for seed in range(3):
        x = np.random.default_rng(seed).uniform(-1, 1, (1, 32, 32, 3)).astype(np.float32)
        features = session_run(base.truncated(), x)
        assert features.shape == (1, 16)
        assert np.abs(features - run(twin.truncated(), x)[0]).max() < 1e-5  # the same layer as TFLite's
        assert np.abs(session_run(exported, x) - head(features)).max() < 1e-5


def test_a_matmul_and_add_head_and_the_labels_written():
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    graph = helper.make_graph(
        [helper.make_node("Relu", ["input"], ["hidden"]),
         helper.make_node("MatMul", ["hidden", "w"], ["logits0"]),
         helper.make_node("Add", ["logits0", "b"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["probs"], axis=1)],
        "mlp", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 4])],
        [numpy_helper.from_array(rng.normal(0, 1, (8, 4)).astype(np.float32), "w"),
         numpy_helper.from_array(np.zeros(4, np.float32), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    helper.set_model_props(model, {"names": repr({0: "w", 1: "x", 2: "y", 3: "z"})})
    base = OnnxBase(model.SerializeToString(), "mlp.onnx")
    assert base.name == "hidden"
    exported = onnx.load_model_from_string(base.with_head(head_for(8)))
    assert {p.key: p.value for p in exported.metadata_props} == {"names": repr({0: "a", 1: "b", 2: "c"})}
    assert OnnxBase(model.SerializeToString(), "mlp.onnx", tensor="input").name == "input"


def test_models_without_a_head_and_unknown_tensors():
    with pytest.raises(ModelError, match="no dense layer before its output"):
        OnnxBase(to_onnx(identity_net()), "identity.onnx")
    with pytest.raises(ModelError, match="has no tensor named 'nope'"):
        OnnxBase(to_onnx(small_cnn()), "cnn.onnx", tensor="nope")
    with pytest.raises(ModelError, match="is not a readable ONNX model"):
        OnnxBase(b"\x08\x01garbage", "broken.onnx")
