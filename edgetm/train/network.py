"""A small sequential image network (conv base, global average pooling, dense head).

This is the shape of a Teachable Machine model, and what edgetm writes out when it builds or
retrains one. Weights are numpy arrays in TFLite's layouts; exporters turn a ``Network`` into
TFLite or ONNX bytes.
"""

from __future__ import annotations

import enum

import numpy as np

from edgetm.records import Record, field


class Activation(enum.Enum):
    NONE = "none"
    RELU = "relu"
    RELU6 = "relu6"


class Conv2D(Record, frozen=False):
    """3-D convolution with TensorFlow's SAME padding. ``weights``: [out, kh, kw, in]."""

    weights: np.ndarray
    bias: np.ndarray
    stride: int = 1
    activation: Activation = Activation.RELU

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        return -(-height // self.stride), -(-width // self.stride)


class GlobalAveragePool(Record, frozen=False):
    """Mean over height and width: [1, H, W, C] -> [1, C]."""


class Dense(Record, frozen=False):
    """Fully connected. ``weights``: [out, in]."""

    weights: np.ndarray
    bias: np.ndarray
    activation: Activation = Activation.NONE


class Softmax(Record, frozen=False):
    """Class probabilities."""


Layer = Conv2D | GlobalAveragePool | Dense | Softmax


class Network(Record, frozen=False):
    """Input is NHWC float in [-1, 1] (Teachable Machine's normalisation) unless stated, or with
    ``features`` a [1, features] vector (a head on its own, for a base that needs no model)."""

    layers: list[Layer]
    input_size: tuple[int, int] = (0, 0)  # (width, height)
    channels: int = 3
    labels: list[str] = field(default_factory=list)
    features: int | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        width, height = self.input_size
        return (1, self.features) if self.features else (1, height, width, self.channels)

    def shapes(self, height: int | None = None, width: int | None = None) -> list[tuple[int, ...]]:
        """Output shape of each layer for one input."""
        h, w = height or self.input_size[1], width or self.input_size[0]
        c = self.features or self.channels
        shapes: list[tuple[int, ...]] = []
        for layer in self.layers:
            if isinstance(layer, Conv2D):
                h, w = layer.output_size(h, w)
                c = layer.weights.shape[0]
                shapes.append((1, h, w, c))
            elif isinstance(layer, GlobalAveragePool):
                shapes.append((1, c))
            elif isinstance(layer, Dense):
                c = layer.weights.shape[0]
                shapes.append((1, c))
            else:
                shapes.append(shapes[-1] if shapes else (1, c))
        return shapes
