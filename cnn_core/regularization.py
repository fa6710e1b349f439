r"""Inverted dropout.

In training, each element is kept with probability :math:`1-p` and scaled by :math:`1/(1-p)`:

.. math::

    y = \frac{m \circ x}{1-p}, \qquad m_{\ldots} \sim \operatorname{Bernoulli}(1-p)
    \ \text{independently}, \qquad \mathbb E[y] = x .

The scaling makes the expectation of every output equal to its input, so at evaluation time
the layer is the identity. The backward pass is :math:`\partial E/\partial x = m \circ \delta / (1-p)`
with the same mask. With :math:`p = 1` every element is dropped and the output is zero (as in
PyTorch).
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validate import as_float_array
from .layers import Layer

__all__ = ["dropout", "Dropout"]


def _check_p(p, owner: str) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"{owner}: p must be a probability in [0, 1]; got {p!r}")
    return float(p)


def _check_rng(rng, owner: str) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{owner}: rng must be a numpy.random.Generator "
                        f"(np.random.default_rng(seed)); got {type(rng).__name__}")


def _keep_mask(shape, p: float, rng: np.random.Generator, dtype) -> np.ndarray:
    """The mask divided by 1 − p: 1/(1 − p) where an element is kept, 0 where it is dropped."""
    if p == 1.0:
        return np.zeros(shape, dtype=dtype)
    keep = rng.random(shape) >= p
    return keep.astype(dtype) / dtype.type(1.0 - p)


def dropout(x, p: float, *, rng: np.random.Generator, training: bool = True) -> np.ndarray:
    """Inverted dropout of ``x`` (any shape) with drop probability ``p``; the identity when
    ``training`` is False. Every random draw comes from ``rng``."""
    x = as_float_array(x, "x")
    p = _check_p(p, "dropout")
    _check_rng(rng, "dropout")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"dropout: training must be True or False; got {training!r}")
    if not training or p == 0.0:
        return x.copy()
    return x * _keep_mask(x.shape, p, rng, x.dtype)


class Dropout(Layer):
    """Inverted dropout as a layer: a fresh mask from ``rng`` at every training forward pass,
    the identity in evaluation mode (``layer.eval()``)."""

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator):
        super().__init__()
        self.p = _check_p(p, "Dropout")
        _check_rng(rng, "Dropout")
        self.rng = rng
        self.scaled_mask = None

    def forward(self, x):
        x = as_float_array(x, "x")
        if not self.training or self.p == 0.0:
            self.scaled_mask = np.ones(x.shape, dtype=x.dtype)
            return x.copy()
        self.scaled_mask = _keep_mask(x.shape, self.p, self.rng, x.dtype)
        return x * self.scaled_mask

    def backward(self, dout):
        mask = self._cached("scaled_mask")
        dout = as_float_array(dout, "dout")
        if dout.shape != mask.shape:
            raise ValueError(f"Dropout.backward: dout must have the shape of the last forward "
                             f"output, {mask.shape}; got {dout.shape}")
        return dout * mask

    def __repr__(self):
        return f"Dropout(p={self.p})"
