r"""Global average pooling: the mean of each feature map.

.. math::

    y_{n,c} = \frac{1}{HW} \sum_{i,j} x_{n,c,i,j}, \qquad
    \frac{\partial E}{\partial x_{n,c,i,j}} = \frac{1}{HW}\,\frac{\partial E}{\partial y_{n,c}} .

It turns (N, C, H, W) feature maps into an (N, C) matrix for a classifier without the
parameters of a dense layer over every position; the backward pass spreads each gradient evenly
over its map (the adjoint of the mean). The reference loop is
:func:`cnn_core.naive.global_avg_pool2d_naive`. A map with no pixels (H·W = 0) has no mean:
the result is NaN, as in PyTorch.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validate import as_float_array, check_ndim
from .layers import Layer

__all__ = ["global_avg_pool2d", "global_avg_pool2d_backward", "GlobalAvgPool2D"]


def global_avg_pool2d(x) -> np.ndarray:
    """(N, C, H, W) → (N, C): the mean over each map."""
    x = as_float_array(x, "x")
    check_ndim(x, 4, "x", "(N, C, H, W)")
    if x.shape[2] * x.shape[3] == 0:
        return np.full(x.shape[:2], np.nan, dtype=x.dtype)
    return x.mean(axis=(2, 3))


def _check_shape(x_shape) -> tuple[int, int, int, int]:
    if not isinstance(x_shape, (tuple, list)) or len(x_shape) != 4 or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0
            for v in x_shape):
        raise ValueError("global_avg_pool2d_backward: x_shape must be a 4-tuple of sizes "
                         f"(N, C, H, W) >= 0; got {x_shape!r}")
    return tuple(int(v) for v in x_shape)


def global_avg_pool2d_backward(dout, x_shape) -> np.ndarray:
    """Gradient of :func:`global_avg_pool2d`: ``dout`` (N, C) spread evenly over each map of
    shape ``x_shape`` = (N, C, H, W)."""
    n, c, h, w = _check_shape(x_shape)
    dout = as_float_array(dout, "dout")
    if dout.shape != (n, c):
        raise ValueError(f"global_avg_pool2d_backward: dout must have shape (N, C) = {(n, c)} "
                         f"for x_shape {tuple(x_shape)}; got {dout.shape}")
    if h * w == 0:
        return np.zeros((n, c, h, w), dtype=dout.dtype)
    return np.broadcast_to(dout[:, :, None, None] / (h * w), (n, c, h, w)).copy()


class GlobalAvgPool2D(Layer):
    """(N, C, H, W) → (N, C), the mean of every map; no parameters."""

    def __init__(self):
        super().__init__()
        self.x_shape = None

    def forward(self, x):
        y = global_avg_pool2d(x)
        self.x_shape = np.shape(x)
        return y

    def backward(self, dout):
        return global_avg_pool2d_backward(dout, self._cached("x_shape"))
