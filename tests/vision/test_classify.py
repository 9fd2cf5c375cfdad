from pathlib import Path

import numpy as np
import pytest

from edgetm.errors import ConfigError
from edgetm.model import Layout, load_model
from edgetm.train.export_tflite import to_tflite
from edgetm.vision.classify import Classifier, ClassifyOptions, to_probabilities
from edgetm.vision.preprocess import PreprocessOptions
from tests.modelkit import (
    expected_scores,
    int8_tflite,
    mean_colour_net,
    onnx_model,
    small_cnn,
    uint8_tflite,
    write,
)

WEIGHTS = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0], [-1.0, -1.0, -1.0]])
BIAS = np.array([0.0, 0.1, 0.0, 0.2])


def solid(bgr, size=(64, 48)) -> np.ndarray:
    image = np.empty((size[1], size[0], 3), np.uint8)
    image[:] = bgr
    return image


def test_known_answers_from_a_float_model(tmp_path: Path):
    net = mean_colour_net(WEIGHTS, BIAS)
    classifier = Classifier(load_model(write(tmp_path, "m.tflite", to_tflite(net))), ClassifyOptions(top_k=4))
    result = classifier(solid((0, 64, 255)), source="x.jpg")  # red-ish: R=255, G=64, B=0
    expected = expected_scores(net, (np.array([255, 64, 0]) - 127.5) / 127.5)
    assert result.label == "class 0" and result.index == 0
    assert result.score == pytest.approx(expected[0], abs=1e-5)
    assert [p.index for p in result.top] == list(np.argsort(-expected))
    assert np.allclose([p.score for p in result.top], np.sort(expected)[::-1], atol=1e-5)
    payload = result.to_dict()
    assert set(payload) == {"source", "label", "index", "score", "top", "latency_ms"}
    assert set(payload["latency_ms"]) == {"preprocess", "inference", "postprocess"}
    assert payload["source"] == "x.jpg"


def test_logits_get_a_softmax(tmp_path: Path):
    net = mean_colour_net(WEIGHTS * 3, BIAS, softmax=False)
    classifier = Classifier(load_model(write(tmp_path, "m.onnx", onnx_model(net))), ClassifyOptions(top_k=4))
    result = classifier(solid((255, 0, 0)))  # blue
    logits = expected_scores(net, (np.array([0, 0, 255]) - 127.5) / 127.5)
    probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert result.label == "class 2"
    assert sum(p.score for p in result.top) == pytest.approx(1.0, abs=1e-5)
    assert result.score == pytest.approx(probabilities[2], abs=1e-5)


def test_distributions_are_left_alone():
    probabilities = np.array([0.7, 0.2, 0.1], np.float32)
    assert to_probabilities(probabilities) is probabilities
    logits = np.array([0.7, 0.2, 0.3], np.float32)  # in [0, 1] but does not sum to one
    assert to_probabilities(logits).sum() == pytest.approx(1.0)
    assert not np.allclose(to_probabilities(logits), logits)


def test_threshold_and_top_k(tmp_path: Path):
    net = mean_colour_net(np.zeros((3, 3)), np.array([1.0, 1.0, 0.0]))  # two tied best classes
    model = load_model(write(tmp_path, "m.tflite", to_tflite(net)))
    result = Classifier(model, ClassifyOptions(top_k=3))(solid((1, 2, 3)))
    assert [p.index for p in result.top] == [0, 1, 2]  # ties keep class order
    result = Classifier(model, ClassifyOptions(top_k=1, threshold=0.2))(solid((1, 2, 3)))
    assert [p.index for p in result.top] == [0]
    result = Classifier(model, ClassifyOptions(top_k=3, threshold=0.9))(solid((1, 2, 3)))
    assert result.label is None and result.index is None and result.top == []
    assert result.score == pytest.approx(np.exp(1) / (2 * np.exp(1) + 1), abs=1e-5)
    with pytest.raises(ValueError, match="top_k"):
        ClassifyOptions(top_k=0)
    with pytest.raises(ValueError, match="threshold"):
        ClassifyOptions(threshold=1.5)


def test_every_export_of_one_network_agrees(tmp_path: Path):
    """Float and uint8 TFLite, int8 (ai-edge-quantizer), ONNX NCHW and NHWC give the same answers."""
    net = small_cnn(seed=3, classes=4, size=(32, 32))
    rng = np.random.default_rng(0)
    images = [np.clip(rng.normal(128, 60, (48, 64, 3)), 0, 255).astype(np.uint8) for _ in range(6)]
    variants = {
        "float": write(tmp_path, "f.tflite", to_tflite(net)),
        "uint8": write(tmp_path, "u.tflite", uint8_tflite(net)),
        "int8": write(tmp_path, "i.tflite", int8_tflite(net)),
        "nchw": write(tmp_path, "c.onnx", onnx_model(net, Layout.NCHW)),
        "nhwc": write(tmp_path, "h.onnx", onnx_model(net, Layout.NHWC)),
    }
    scores = {}
    for name, path in variants.items():
        classifier = Classifier(load_model(path, input_size=(32, 32)), ClassifyOptions(top_k=4))
        scores[name] = np.array([[p.score for p in sorted(classifier(im).top, key=lambda p: p.index)]
                                 for im in images])
    for name in ("nchw", "nhwc"):
        assert np.abs(scores[name] - scores["float"]).max() < 1e-4, name
    for name in ("uint8", "int8"):
        assert np.abs(scores[name] - scores["float"]).max() < 0.06, name


def test_both_teachable_machine_uint8_vintages(tmp_path: Path):
    """Raw pixels are right for a uint8 input mapping to [-1, 1] and for one mapping to [0, 1]."""
    minus1 = mean_colour_net(WEIGHTS, BIAS)
    unit = mean_colour_net(WEIGHTS, BIAS)
    image = solid((40, 200, 90))
    float_minus1 = Classifier(load_model(write(tmp_path, "a.tflite", to_tflite(minus1))), ClassifyOptions(top_k=4))
    float_unit = Classifier(load_model(write(tmp_path, "b.tflite", to_tflite(unit))), ClassifyOptions(top_k=4),
                            preprocess=PreprocessOptions(normalize="unit"))
    four = ClassifyOptions(top_k=4)
    q_minus1 = Classifier(load_model(write(tmp_path, "qa.tflite", uint8_tflite(minus1, (1 / 128, 128)))), four)
    q_unit = Classifier(load_model(write(tmp_path, "qb.tflite", uint8_tflite(unit, (1 / 255, 0)))), four)
    for reference, quantized in ((float_minus1, q_minus1), (float_unit, q_unit)):
        a, b = reference(image), quantized(image)
        assert a.label == b.label
        assert a.score == pytest.approx(b.score, abs=0.03)


def test_a_detector_is_not_a_classifier(tmp_path: Path):
    from tests.modelkit import identity_net

    model = load_model(write(tmp_path, "id.tflite", to_tflite(identity_net())))
    with pytest.raises(ConfigError):
        Classifier(model)
