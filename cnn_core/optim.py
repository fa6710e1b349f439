r"""Stochastic gradient descent with momentum and weight decay."""

from __future__ import annotations

import numpy as np

__all__ = ["SGD"]


class SGD:
    r"""For every parameter :math:`p` with gradient :math:`g`:

    .. math:: v \leftarrow \mu v - \eta\,(g + \lambda p),\qquad p \leftarrow p + v

    (``lr`` = η, ``momentum`` = μ, ``weight_decay`` = λ, i.e. an L2 penalty :math:`\tfrac\lambda2\lVert p\rVert^2`).
    With μ = λ = 0 this is Bouvrie's plain update :math:`\Delta W = -\eta\,\partial E/\partial W`.
    ``model`` is anything with ``parameters()`` returning ``(param, grad)`` pairs.
    """

    def __init__(self, model, lr: float, *, momentum: float = 0.0, weight_decay: float = 0.0):
        if lr <= 0:
            raise ValueError(f"lr must be > 0; got {lr}")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1); got {momentum}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0; got {weight_decay}")
        self.pairs = model.parameters()
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.velocity = [np.zeros_like(p) for p, _ in self.pairs]

    def step(self):
        for (p, g), v in zip(self.pairs, self.velocity):
            step = g + self.weight_decay * p if self.weight_decay else g
            v *= self.momentum
            v -= self.lr * step
            p += v
