r"""Residual connections: :math:`y = x + F(x)`, or :math:`y = P x + F(x)` with a projection.

The Jacobian of :math:`x + F(x)` is :math:`I + J_F`, so the backward pass is

.. math::

    \frac{\partial E}{\partial x} = \delta + J_F^\top \delta ,

the identity path carries :math:`\delta` back unchanged however small :math:`J_F^\top \delta`
becomes: in a deep stack the gradient reaching the first layers no longer shrinks with depth.
When the block changes the shape (more channels, a stride), the skip path is a projection
:math:`P`, usually a 1×1 convolution with the block's stride, and
:math:`\partial E/\partial x = P^\top \delta + J_F^\top \delta`.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_float_array
from .layers import Layer

__all__ = ["Residual"]


def _check_layer(obj, name: str) -> None:
    if not (hasattr(obj, "forward") and hasattr(obj, "backward") and hasattr(obj, "parameters")):
        raise TypeError(f"Residual: {name} must be a layer (with forward, backward and "
                        f"parameters); got {type(obj).__name__}")


class Residual(Layer):
    """``y = x + block(x)``, or ``y = projection(x) + block(x)`` when a ``projection`` layer is
    given (e.g. ``Conv2D(C, F, 1, stride=s, rng=rng)`` when the block maps C to F channels with
    stride s). The two paths must give the same shape."""

    def __init__(self, block: Layer, *, projection: Layer | None = None):
        super().__init__()
        _check_layer(block, "block")
        if projection is not None:
            _check_layer(projection, "projection")
        self.block = block
        self.projection = projection
        self.out_shape = None

    def children(self):
        return [self.block] + ([self.projection] if self.projection is not None else [])

    def parameters(self):
        return [pg for child in self.children() for pg in child.parameters()]

    def forward(self, x):
        x = as_float_array(x, "x")
        fx = np.asarray(self.block.forward(x))
        skip = x if self.projection is None else np.asarray(self.projection.forward(x))
        if fx.shape != skip.shape:
            what = "x" if self.projection is None else "projection(x)"
            hint = "" if self.projection is not None else \
                " (give Residual a projection, e.g. a 1x1 Conv2D with the block's stride)"
            raise ValueError(f"Residual: block(x) has shape {fx.shape} but {what} has shape "
                             f"{skip.shape}; they must agree to be added{hint}")
        self.out_shape = fx.shape
        return skip + fx

    def backward(self, dout):
        shape = self._cached("out_shape")
        dout = as_float_array(dout, "dout")
        if dout.shape != shape:
            raise ValueError(f"Residual.backward: dout must have the shape of the last forward "
                             f"output, {shape}; got {dout.shape}")
        d_block = self.block.backward(dout)
        d_skip = dout if self.projection is None else self.projection.backward(dout)
        return d_skip + d_block

    def __repr__(self):
        inner = repr(self.block).replace("\n", "\n  ")
        proj = "" if self.projection is None else f", projection={self.projection!r}"
        return f"Residual({inner}{proj})"
