"""A new classification head trained on feature vectors, as Teachable Machine trains one.

Teachable Machine's head is Dense(100, ReLU) then Dense(N, softmax) on the frozen base's features,
trained with Adam (learning rate 0.001) on cross-entropy for 50 epochs in batches of 16, holding
15% of each class back for validation. ``HeadOptions`` has those defaults. Training is plain numpy
in float32; the same seed gives the same weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import pairwise

import numpy as np

from edgetm.errors import ConfigError
from edgetm.options import Field, model_validator
from edgetm.plugins import Options
from edgetm.records import Record, field
from edgetm.train.adam import Adam
from edgetm.train.network import Activation, Dense, Network, Softmax


class HeadOptions(Options):
    hidden: int = Field(100, ge=0, le=4096, description="units of the hidden ReLU layer (0: none, the head is one "
                        "dense layer)")
    epochs: int = Field(50, ge=1, le=10000, description="passes over the training examples")
    batch_size: int = Field(16, ge=1, le=4096, description="examples per step")
    learning_rate: float = Field(0.001, gt=0, le=1, description="Adam's step size")
    val_split: float = Field(0.15, ge=0, lt=1, description="share of each class held back for validation")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="the same seed, data and options give the same weights")
    balance: bool = Field(True, description="weigh each class's examples so that every class counts the same")
    patience: int | None = Field(None, ge=1, le=10000, description="stop when the validation loss has not improved "
                                 "for this many epochs, and keep the best weights (default: train every epoch)")

    @model_validator(mode="after")
    def _patience_needs_validation(self) -> HeadOptions:
        if self.patience is not None and self.val_split == 0:
            raise ValueError("patience stops on the validation loss: with val_split 0 there is none")
        return self


class Epoch(Record, frozen=False):
    """How one epoch went: mean training loss and accuracy, and the same on the validation set
    (None without one)."""

    epoch: int
    loss: float
    accuracy: float
    val_loss: float | None
    val_accuracy: float | None

    def to_dict(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


class Head(Record, frozen=False):
    """Dense(hidden, ReLU) -> Dense(classes) -> softmax, or Dense(classes) -> softmax. Weights are
    [in, out] (numpy's x @ W)."""

    layers: list[tuple[np.ndarray, np.ndarray]]
    labels: list[str]

    def logits(self, features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, np.float32)
        for n, (weights, bias) in enumerate(self.layers):
            x = x @ weights + bias
            if n < len(self.layers) - 1:
                np.maximum(x, 0, out=x)
        return x

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities, [N, classes]."""
        return softmax(self.logits(features))

    @property
    def feature_size(self) -> int:
        return self.layers[0][0].shape[0]

    def network(self) -> Network:
        """The head as a network on its own, taking [1, features]: what an exporter writes."""
        layers: list = [Dense(np.ascontiguousarray(weights.T), bias,
                              Activation.RELU if n < len(self.layers) - 1 else Activation.NONE)
                        for n, (weights, bias) in enumerate(self.layers)]
        return Network([*layers, Softmax()], labels=list(self.labels), features=self.feature_size)


class Trained(Record, frozen=False):
    head: Head
    history: list[Epoch]
    train_index: np.ndarray
    val_index: np.ndarray
    best_epoch: int
    stopped_early: bool = False
    class_weights: list[float] = field(default_factory=list)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted


def split(targets: np.ndarray, share: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation indices, ``share`` of each class held back (at least one example of
    a class with two or more, none of a class with one)."""
    train, val = [], []
    for label in np.unique(targets):
        members = rng.permutation(np.flatnonzero(targets == label))
        held = min(len(members) - 1, max(1, round(len(members) * share))) if share > 0 and len(members) > 1 else 0
        val.append(members[:held])
        train.append(members[held:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val)).astype(np.int64)


def _initial(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Variance scaling on the fan-in, normal truncated at two deviations (TensorFlow.js's default
    that Teachable Machine's head uses)."""
    values = rng.standard_normal((fan_in, fan_out))
    while (outside := np.abs(values) > 2).any():
        values[outside] = rng.standard_normal(int(outside.sum()))
    return (values * math.sqrt(1.0 / fan_in) / 0.87962566).astype(np.float32)


def _check(features: np.ndarray, targets: np.ndarray, labels: Sequence[str]) -> None:
    if features.ndim != 2 or len(features) != len(targets):
        raise ConfigError(f"features {list(features.shape)} and {len(targets)} labels do not match",
                          "give one feature vector per example")
    if len(labels) < 2:
        raise ConfigError(f"a classifier needs at least two classes, not {len(labels)}",
                          "add examples of another class (e.g. a background class)")
    counts = np.bincount(targets, minlength=len(labels))
    empty = [labels[i] for i in np.flatnonzero(counts == 0)]
    if empty:
        raise ConfigError(f"no examples of {', '.join(repr(e) for e in empty)}",
                          "collect some, or remove the class")
    if not np.isfinite(features).all():
        raise ConfigError("some features are not finite numbers", "check the base model and the examples")


def train_head(features: np.ndarray, targets: np.ndarray, labels: Sequence[str],
               options: HeadOptions | None = None,
               progress: Callable[[Epoch], None] | None = None,
               held_out: tuple[np.ndarray, np.ndarray] | None = None) -> Trained:
    """Train a head on [N, F] features with integer targets into ``labels``. ``held_out`` gives
    the training and validation indices (else ``split`` makes them from the seed)."""
    options = options or HeadOptions()
    features = np.ascontiguousarray(features, np.float32)
    targets = np.asarray(targets, np.int64)
    _check(features, targets, labels)
    rng = np.random.default_rng(options.seed)
    train, val = held_out if held_out is not None else split(targets, options.val_split, rng)
    classes = len(labels)
    counts = np.bincount(targets[train], minlength=classes).astype(np.float64)
    weights = len(train) / (classes * np.maximum(counts, 1)) if options.balance else np.ones(classes)
    sizes = [features.shape[1], *([options.hidden] if options.hidden else []), classes]
    shapes = [shape for fan_in, fan_out in pairwise(sizes) for shape in ((fan_in, fan_out), (fan_out,))]
    flat, flat_grads = _flat(shapes), _flat(shapes)
    params, grads = _views(flat, shapes), _views(flat_grads, shapes)
    for n in range(0, len(params), 2):
        params[n][...] = _initial(rng, *params[n].shape)
    adam = Adam(flat, options.learning_rate)
    example_weight = weights[targets].astype(np.float32)
    history: list[Epoch] = []
    best = (math.inf, 0, [p.copy() for p in params])
    stopped = False
    for epoch in range(1, options.epochs + 1):
        order = train[rng.permutation(len(train))]
        total_loss = total_right = 0.0
        for start in range(0, len(order), options.batch_size):
            batch = order[start:start + options.batch_size]
            loss, right = _step(params, grads, features[batch], targets[batch], example_weight[batch])
            adam.step(flat_grads)
            total_loss += loss * len(batch)
            total_right += right
        record = Epoch(epoch, total_loss / len(order), total_right / len(order), None, None)
        if len(val):
            record.val_loss, record.val_accuracy = _evaluate(params, features[val], targets[val],
                                                             example_weight[val])
        history.append(record)
        if progress is not None:
            progress(record)
        watched = record.val_loss if record.val_loss is not None else record.loss
        if watched < best[0]:
            best = (watched, epoch, [p.copy() for p in params])
        elif options.patience is not None and epoch - best[1] >= options.patience:
            stopped = True
            break
    final = best[2] if options.patience is not None else params
    best_epoch = best[1] if options.patience is not None else history[-1].epoch
    layers = [(final[i], final[i + 1]) for i in range(0, len(final), 2)]
    return Trained(Head(layers, list(labels)), history, train, val, best_epoch, stopped,
                   [round(float(w), 6) for w in weights])


def _flat(shapes: list[tuple[int, ...]]) -> np.ndarray:
    return np.zeros(sum(math.prod(shape) for shape in shapes), np.float32)


def _views(flat: np.ndarray, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    """Each layer's array as a view into one flat vector (what the optimiser steps on)."""
    views, start = [], 0
    for shape in shapes:
        views.append(flat[start:start + math.prod(shape)].reshape(shape))
        start += math.prod(shape)
    return views


def _forward(params: list[np.ndarray], x: np.ndarray) -> list[np.ndarray]:
    """Every layer's output, the last as probabilities."""
    outputs = [x]
    for n in range(0, len(params), 2):
        z = outputs[-1] @ params[n] + params[n + 1]
        outputs.append(np.maximum(z, 0, out=z) if n + 2 < len(params) else softmax(z))
    return outputs


def _step(params: list[np.ndarray], grads: list[np.ndarray], x: np.ndarray, y: np.ndarray, w: np.ndarray
          ) -> tuple[float, int]:
    """Forward and backward on one batch: the gradients written into ``grads``; loss and hits."""
    outputs = _forward(params, x)
    probs = outputs[-1]
    rows = np.arange(len(y))
    picked = probs[rows, y]
    loss = float(-(w * np.log(np.maximum(picked, 1e-12))).sum() / len(y))
    right = int((probs.argmax(axis=1) == y).sum())
    delta = probs  # d(loss)/d(logits) of weighted cross-entropy through softmax, in place
    delta[rows, y] -= 1
    delta *= (w / len(y))[:, None]
    for n in range(len(params) - 2, -1, -2):
        np.matmul(outputs[n // 2].T, delta, out=grads[n])
        np.sum(delta, axis=0, out=grads[n + 1])
        if n:
            delta = delta @ params[n].T
            delta *= outputs[n // 2] > 0
    return loss, right


def _evaluate(params: list[np.ndarray], x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    probs = _forward(params, x)[-1]
    picked = probs[np.arange(len(y)), y]
    return float(-(w * np.log(np.maximum(picked, 1e-12))).sum() / len(y)), float((probs.argmax(axis=1) == y).mean())
