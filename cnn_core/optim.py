r"""Stochastic gradient descent with momentum and weight decay."""

from __future__ import annotations

import numpy as np

from ._validate import as_real

__all__ = ["SGD"]


class SGD:
    r"""For every parameter :math:`p` with gradient :math:`g`:

    .. math:: v \leftarrow \mu v - \eta\,(g + \lambda p),\qquad p \leftarrow p + v

    (``lr`` = η, ``momentum`` = μ, ``weight_decay`` = λ, i.e. an L2 penalty :math:`\tfrac\lambda2\lVert p\rVert^2`).
    With μ = λ = 0 this is Bouvrie's plain update :math:`\Delta W = -\eta\,\partial E/\partial W`.
    ``model`` is anything with ``parameters()`` returning ``(param, grad)`` pairs.

    The hyperparameters must be finite (``lr > 0``, ``0 <= momentum < 1``, ``weight_decay >= 0``).
    The optimiser holds on to the model's arrays: :meth:`step` refuses to run, and changes
    nothing, if the model's parameters have been replaced since (write into them in place,
    ``p[...] = value``, or make a new optimiser).
    """

    def __init__(self, model, lr: float, *, momentum: float = 0.0, weight_decay: float = 0.0):
        lr = as_real(lr, "lr", low=0, low_open=True)
        momentum = as_real(momentum, "momentum", low=0, high=1, high_open=True)
        weight_decay = as_real(weight_decay, "weight_decay", low=0)
        if not callable(getattr(model, "parameters", None)):
            raise TypeError(f"model must have a parameters() method returning (param, grad) "
                            f"pairs, e.g. a Layer or Sequential; got {type(model).__name__}")
        pairs = list(model.parameters())
        for i, pair in enumerate(pairs):
            _check_pair(pair, i)
        self.model, self.pairs = model, pairs
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.velocity = [np.zeros_like(p) for p, _ in self.pairs]

    def step(self):
        current = list(self.model.parameters())
        if len(current) != len(self.pairs) or any(
                p is not q or g is not h for (p, g), (q, h) in zip(current, self.pairs)):
            raise RuntimeError(
                "SGD.step: the model's parameter arrays are not the ones the optimiser was made "
                "with (an array was replaced, e.g. layer.params['w'] = new, or a layer was "
                "added); write into the arrays in place (p[...] = value) or make a new SGD")
        for (p, g), v in zip(self.pairs, self.velocity):
            step = g + self.weight_decay * p if self.weight_decay else g
            v *= self.momentum
            v -= self.lr * step
            p += v


def _check_pair(pair, i):
    if not (isinstance(pair, tuple) and len(pair) == 2):
        raise TypeError(f"model.parameters() must return (param, grad) pairs; item {i} is {pair!r}")
    p, g = pair
    if not (isinstance(p, np.ndarray) and isinstance(g, np.ndarray)):
        raise TypeError(f"model.parameters() item {i}: param and grad must be numpy arrays; "
                        f"got {type(p).__name__} and {type(g).__name__}")
    if not np.issubdtype(p.dtype, np.floating) or p.shape != g.shape:
        raise ValueError(f"model.parameters() item {i}: param must be a float array and grad of "
                         f"its shape; got param {p.dtype} {p.shape} and grad {g.dtype} {g.shape}")
