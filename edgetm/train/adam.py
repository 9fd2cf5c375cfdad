"""Adam, in place, for numpy parameters: what trains the demo model and every retrained head."""

from __future__ import annotations

import numpy as np


class Adam:
    """Adam (Kingma and Ba) with TensorFlow's defaults: beta1 0.9, beta2 0.999, epsilon 1e-7.

    The moments live beside the parameters, and every update is done in place with preallocated
    scratch, so a step allocates nothing: for a small head, the optimiser's bookkeeping, not the
    maths, is what a naive numpy version spends its time on.
    """

    def __init__(self, params: list[np.ndarray], learning_rate: float = 0.001, beta1: float = 0.9,
                 beta2: float = 0.999, epsilon: float = 1e-7) -> None:
        self.params = params
        self.learning_rate, self.beta1, self.beta2, self.epsilon = learning_rate, beta1, beta2, epsilon
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self._scratch = [np.empty_like(p) for p in params]
        self.steps = 0

    def step(self, grads: list[np.ndarray], learning_rate: float | None = None) -> None:
        self.steps += 1
        rate = self.learning_rate if learning_rate is None else learning_rate
        b1, b2 = self.beta1, self.beta2
        # Bias corrections folded into the step size and epsilon (the formulation of the paper's
        # section 2, which TensorFlow uses): one multiply per element fewer.
        correction = np.sqrt(1 - b2**self.steps) / (1 - b1**self.steps)
        epsilon = self.epsilon * np.sqrt(1 - b2**self.steps)
        for param, grad, m, v, scratch in zip(self.params, grads, self.m, self.v, self._scratch, strict=True):
            np.multiply(grad, 1 - b1, out=scratch)
            m *= b1
            m += scratch
            np.multiply(grad, grad, out=scratch)
            scratch *= 1 - b2
            v *= b2
            v += scratch
            np.sqrt(v, out=scratch)
            scratch += epsilon
            np.divide(m, scratch, out=scratch)
            scratch *= rate * correction
            param -= scratch
