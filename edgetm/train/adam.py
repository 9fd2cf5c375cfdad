"""Adam, in place, on one flat float32 vector of parameters: what trains every retrained head."""

from __future__ import annotations

import math

import numpy as np


class Adam:
    """Adam (Kingma and Ba) with TensorFlow's defaults: beta1 0.9, beta2 0.999, epsilon 1e-7.

    The parameters, their gradients and both moments are each one contiguous vector (a model's
    layers are views into it), so a step is a dozen whole-vector numpy operations into one
    preallocated scratch vector, whatever the number of layers. Measured on a 1280 -> 100 -> 3
    head, that halves the optimiser's time against one update per layer array.
    """

    def __init__(self, params: np.ndarray, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-7) -> None:
        if params.ndim != 1 or not params.flags.c_contiguous:
            raise ValueError("Adam takes one flat, contiguous parameter vector")
        self.params = params
        self.learning_rate, self.beta1, self.beta2, self.epsilon = learning_rate, beta1, beta2, epsilon
        self.m, self.v, self._scratch = np.zeros_like(params), np.zeros_like(params), np.empty_like(params)
        self.steps = 0

    def step(self, grads: np.ndarray) -> None:
        self.steps += 1
        b1, b2, m, v, scratch = self.beta1, self.beta2, self.m, self.v, self._scratch
        # Bias corrections folded into the step size and epsilon (the paper's section 2 form,
        # which TensorFlow uses): fewer passes over the vector.
        # Python floats: a numpy float64 scalar would make every float32 operation go through float64.
        correction = math.sqrt(1 - b2**self.steps) / (1 - b1**self.steps)
        epsilon = self.epsilon * math.sqrt(1 - b2**self.steps)
        np.subtract(grads, m, out=scratch)  # m += (1 - b1) (g - m)
        scratch *= 1 - b1
        m += scratch
        np.multiply(grads, grads, out=scratch)  # v += (1 - b2) (g^2 - v)
        scratch -= v
        scratch *= 1 - b2
        v += scratch
        np.sqrt(v, out=scratch)
        scratch += epsilon
        np.divide(m, scratch, out=scratch)
        scratch *= -self.learning_rate * correction
        self.params += scratch
