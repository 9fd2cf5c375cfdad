"""A TFLite classifier as a feature base: its features found, the graph cut there, a head appended."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from edgetm.errors import ModelError
from edgetm.train.export_tflite import to_tflite
from edgetm.train.head import Head
from edgetm.train.tflite_base import TFLiteBase
from tests.modelkit import identity_net, int8_tflite, small_cnn, uint8_tflite


def intermediate(content: bytes, tensor: int, x: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        full = Interpreter(model_content=content, experimental_preserve_all_tensors=True)
    full.allocate_tensors()
    full.set_tensor(full.get_input_details()[0]["index"], x)
    full.invoke()
    return full.get_tensor(tensor)


def run(content: bytes, x: np.ndarray) -> tuple[np.ndarray, tuple[float, int]]:
    interpreter = Interpreter(model_content=content)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    output = interpreter.get_output_details()[0]
    return interpreter.get_tensor(output["index"]), output["quantization"]


def example(content: bytes, seed: int = 0) -> np.ndarray:
    details = Interpreter(model_content=content).get_input_details()[0]
    rng = np.random.default_rng(seed)
    if details["dtype"] == np.float32:
        return rng.uniform(-1, 1, details["shape"]).astype(np.float32)
    info = np.iinfo(details["dtype"])
    return rng.integers(info.min, info.max, details["shape"], endpoint=True).astype(details["dtype"])


EXPORTS = {"float": lambda net: to_tflite(net), "uint8": uint8_tflite, "int8": int8_tflite}


@pytest.mark.parametrize("kind", list(EXPORTS))
def test_the_features_are_the_heads_input_and_the_cut_gives_them_exactly(kind):
    net = small_cnn()  # conv, conv, global average pool, dense, softmax
    content = EXPORTS[kind](net)
    base = TFLiteBase(content, f"{kind}.tflite")
    assert base.size == 16
    for seed in range(3):
        x = example(content, seed)
        features, _ = run(base.truncated(), x)
        assert np.array_equal(features, intermediate(content, base.tensor, x))


@pytest.mark.parametrize("kind", list(EXPORTS))
def test_the_exported_model_answers_as_the_head_does(kind):
    content = EXPORTS[kind](small_cnn())
    base = TFLiteBase(content, f"{kind}.tflite")
    rng = np.random.default_rng(1)
    head = Head([(rng.normal(0, 0.5, (16, 10)).astype(np.float32), rng.normal(0, 0.1, 10).astype(np.float32)),
                 (rng.normal(0, 0.5, (10, 3)).astype(np.float32), rng.normal(0, 0.1, 3).astype(np.float32))],
                ["a", "b", "c"])
    exported = base.with_head(head)
    for seed in range(3):
        x = example(content, seed)
        raw, (scale, zero) = run(base.truncated(), x)
        features = (raw.astype(np.float32) - zero) * scale if scale else raw
        scores, _ = run(exported, x)
        assert scores.dtype == np.float32 and np.abs(scores - head(features.reshape(1, -1))).max() < 1e-5


def test_a_named_tensor_and_models_without_a_head():
    content = to_tflite(small_cnn())
    first_conv = TFLiteBase(content, "cnn.tflite").graph.name_of(1)
    assert TFLiteBase(content, "cnn.tflite", tensor=first_conv).size == 16 * 16 * 8
    with pytest.raises(ModelError, match="no tensor named 'nope'"):
        TFLiteBase(content, "cnn.tflite", tensor="nope")
    with pytest.raises(ModelError, match="no dense layer before its output"):
        TFLiteBase(to_tflite(identity_net()), "identity.tflite")
    base = TFLiteBase(content, "cnn.tflite")
    with pytest.raises(ModelError, match=r"the head takes 5 features, cnn\.tflite gives 16"):
        base.with_head(Head([(np.zeros((5, 2), np.float32), np.zeros(2, np.float32))], ["a", "b"]))
