"""Training a head on feature vectors: correct gradients, separable data learnt, runs repeatable."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from edgetm.errors import ConfigError
from edgetm.train.head import HeadOptions, _forward, _step, split, train_head


def clusters(per_class=(60, 60, 60), features: int = 32, spread: float = 1.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (len(per_class), features)).astype(np.float32) * 3
    y = np.concatenate([np.full(n, label) for label, n in enumerate(per_class)])
    x = centres[y] + rng.normal(0, spread, (len(y), features)).astype(np.float32)
    return x, y, [f"class {i}" for i in range(len(per_class))]


def weighted_loss(params, x, y, w) -> float:
    probs = _forward([p.astype(np.float64) for p in params], x.astype(np.float64))[-1]
    return float(-(w * np.log(probs[np.arange(len(y)), y])).sum() / len(y))


@pytest.mark.parametrize("hidden", [8, 0])
def test_gradients_match_finite_differences(hidden):
    rng = np.random.default_rng(3)
    x, y = rng.normal(0, 1, (5, 6)).astype(np.float32), np.array([0, 1, 2, 1, 0])
    w = np.array([1.0, 0.5, 2.0], np.float32)[y]
    sizes = [6, *([hidden] if hidden else []), 3]
    params = []
    for a, b in pairwise(sizes):
        params += [rng.normal(0, 0.5, (a, b)).astype(np.float32), rng.normal(0, 0.1, b).astype(np.float32)]
    grads = [np.zeros_like(p) for p in params]
    _step(params, grads, x, y, w)
    for param, grad in zip(params, grads, strict=True):
        flat, numeric = param.reshape(-1), np.zeros(param.size)
        for i in range(param.size):
            kept = flat[i]
            flat[i] = kept + 1e-3
            up = weighted_loss(params, x, y, w)
            flat[i] = kept - 1e-3
            down = weighted_loss(params, x, y, w)
            flat[i] = kept
            numeric[i] = (up - down) / 2e-3
        assert np.allclose(grad.reshape(-1), numeric, atol=2e-3), (param.shape, grad.reshape(-1)[:4], numeric[:4])


def test_separable_features_are_learnt_and_a_seed_repeats_the_run():
    x, y, labels = clusters()
    trained = train_head(x, y, labels, HeadOptions(epochs=20))
    assert trained.history[-1].accuracy == 1.0 and trained.history[-1].val_accuracy == 1.0
    assert (trained.head(x).argmax(axis=1) == y).mean() == 1.0
    again = train_head(x, y, labels, HeadOptions(epochs=20))
    assert all(np.array_equal(a, b) for layer, other in zip(trained.head.layers, again.head.layers, strict=True)
               for a, b in zip(layer, other, strict=True))
    other_seed = train_head(x, y, labels, HeadOptions(epochs=20, seed=1))
    assert not np.array_equal(other_seed.head.layers[0][0], trained.head.layers[0][0])
    assert [w.shape for layer in trained.head.layers for w in layer] == [(32, 100), (100,), (100, 3), (3,)]
    single = train_head(x, y, labels, HeadOptions(epochs=20, hidden=0)).head
    assert [w.shape for layer in single.layers for w in layer] == [(32, 3), (3,)]


def test_validation_holds_back_each_class():
    y = np.array([0] * 20 + [1] * 7 + [2] * 1)
    train, val = split(y, 0.15, np.random.default_rng(0))
    assert [int((y[val] == c).sum()) for c in range(3)] == [3, 1, 0]  # a class of one stays in training
    assert sorted([*train, *val]) == list(range(len(y)))
    assert len(split(y, 0.0, np.random.default_rng(0))[1]) == 0


def test_early_stopping_keeps_the_best_epoch():
    x, _, labels = clusters(features=64, per_class=(40, 40, 40))
    y = np.random.default_rng(5).permutation(np.repeat(np.arange(3), 40))  # labels that mean nothing: it overfits
    trained = train_head(x, y, labels, HeadOptions(epochs=200, patience=5))
    assert trained.stopped_early and len(trained.history) < 200
    best = min(trained.history, key=lambda e: e.val_loss)
    assert trained.best_epoch == best.epoch == len(trained.history) - 5


def test_balancing_weighs_the_rare_class_up():
    x, y, labels = clusters(per_class=(90, 10))
    trained = train_head(x, y, labels, HeadOptions(epochs=2))
    assert trained.class_weights[1] > 4 * trained.class_weights[0]
    assert train_head(x, y, labels, HeadOptions(epochs=2, balance=False)).class_weights == [1.0, 1.0]


def test_bad_datasets_are_refused_in_one_line():
    x, y, labels = clusters()
    with pytest.raises(ConfigError, match="at least two classes"):
        train_head(x[y == 0], y[y == 0], labels[:1])
    with pytest.raises(ConfigError, match="no examples of 'class 2'"):
        train_head(x[y < 2], y[y < 2], labels)
    with pytest.raises(ConfigError, match="do not match"):
        train_head(x[:10], y[:11], labels)
    broken = x.copy()
    broken[3, 4] = np.nan
    with pytest.raises(ConfigError, match="not finite"):
        train_head(broken, y, labels)


@pytest.mark.parametrize("hidden", [100, 0])
def test_a_head_exports_to_tflite_and_onnx_with_the_same_answers(tmp_path, hidden):
    from edgetm.model import load_model
    from edgetm.train.export_onnx import to_onnx
    from edgetm.train.export_tflite import to_tflite

    x, y, labels = clusters(features=59)
    head = train_head(x, y, labels, HeadOptions(epochs=5, hidden=hidden)).head
    expected = head(x[:20])
    for name, content in (("head.tflite", to_tflite(head.network())), ("head.onnx", to_onnx(head.network()))):
        (tmp_path / name).write_bytes(content)
        model = load_model(tmp_path / name)
        assert model.input.shape == (1, 59) and model.labels == labels
        got = np.concatenate([model.run(row[None])[0] for row in x[:20]])
        assert np.abs(got - expected).max() < 1e-5, name
