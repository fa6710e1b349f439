r"""Layers as thin classes over the functions of :mod:`cnn_core`.

Every layer has ``forward(x)``, ``backward(dout) -> dx``, and dictionaries ``params`` and ``grads``
with the same keys. ``backward`` writes each gradient *into* the existing ``grads`` array, so an
optimiser can hold on to the ``(param, grad)`` pairs of :meth:`.Layer.parameters`.
"""

from __future__ import annotations

import numpy as np

from . import activations as act
from ._validate import as_float_array, as_pair, check_ndim
from .conv import conv2d, conv2d_backward
from .init import he_normal, xavier_uniform
from .pooling import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward
from .signal2d import down, up

__all__ = ["Layer", "Conv2D", "MaxPool2D", "AvgPool2D", "ReLU", "LeakyReLU", "Sigmoid", "Tanh",
           "Flatten", "Dense", "Subsample2D", "Sequential"]


class Layer:
    """Base class: no parameters; subclasses override ``forward`` and ``backward``.

    ``training`` is True in training mode (the default) and False in evaluation mode; only
    layers whose forward pass differs between the two (batch normalization, dropout) look at it.
    """

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.training = True

    def children(self) -> list["Layer"]:
        """The layers inside this one (none for a plain layer)."""
        return []

    def train(self, mode: bool = True) -> "Layer":
        """Put this layer and every layer inside it in training mode (``mode=False``:
        evaluation mode), as PyTorch's ``Module.train``; returns the layer."""
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"{type(self).__name__}.train: mode must be True or False; "
                            f"got {mode!r}")
        self.training = bool(mode)
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> "Layer":
        """Evaluation mode: the same as ``train(False)``."""
        return self.train(False)

    def forward(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, dout):  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, x):
        return self.forward(x)

    def parameters(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``[(param, grad), ...]``; the arrays are updated in place by ``backward`` and the optimiser."""
        return [(self.params[k], self.grads[k]) for k in self.params]

    def _add_param(self, name, value):
        self.params[name] = value
        self.grads[name] = np.zeros_like(value)

    def _cached(self, name):
        value = getattr(self, name, None)
        if value is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return value

    def __repr__(self):
        return f"{type(self).__name__}()"


def _init_weight(shape, rng, init):
    if init == "he":
        return he_normal(shape, rng)
    if init == "xavier":
        return xavier_uniform(shape, rng)
    raise ValueError(f"init must be 'he' or 'xavier'; got {init!r}")


class Conv2D(Layer):
    """Convolutional layer: ``x`` (N, C, H, W) → :func:`conv2d` → (N, F, H', W').

    Parameters ``w`` (F, C, kh, kw), initialised by ``init`` ("he" or "xavier") from ``rng``,
    and ``b`` (F,), initialised to zero.
    """

    def __init__(self, in_channels, out_channels, kernel_size, *, stride=1, padding=0, dilation=1,
                 rng: np.random.Generator, init="he"):
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
        self.conf = dict(stride=stride, padding=padding, dilation=dilation)
        self._add_param("w", _init_weight((out_channels, in_channels, kh, kw), rng, init))
        self._add_param("b", np.zeros(out_channels))
        self.x = None

    def forward(self, x):
        self.x = x
        return conv2d(x, self.params["w"], self.params["b"], **self.conf)

    def backward(self, dout):
        dx, dw, db = conv2d_backward(dout, self._cached("x"), self.params["w"], **self.conf)
        self.grads["w"][...] = dw
        self.grads["b"][...] = db
        return dx

    def __repr__(self):
        f, c, kh, kw = self.params["w"].shape
        defaults = dict(stride=1, padding=0, dilation=1)     # show every non-default setting
        extra = "".join(f", {k}={v!r}" for k, v in self.conf.items() if v != defaults[k])
        return f"Conv2D({c}, {f}, kernel_size=({kh}, {kw}){extra})"


class _Pool(Layer):
    _fwd = _bwd = None

    def __init__(self, kernel_size, *, stride=None, padding=0):
        super().__init__()
        self.conf = dict(kernel_size=kernel_size, stride=stride, padding=padding)
        self.x = None

    def forward(self, x):
        self.x = x
        return type(self)._fwd(x, **self.conf)

    def backward(self, dout):
        return type(self)._bwd(dout, self._cached("x"), **self.conf)

    def __repr__(self):
        return f"{type(self).__name__}(" + ", ".join(f"{k}={v}" for k, v in self.conf.items() if v is not None) + ")"


class MaxPool2D(_Pool):
    """Max pooling (:func:`max_pool2d`); the gradient goes to each window's maximum. The forward
    pass keeps which element each maximum was (``return_argmax``), so the backward pass does not
    search for it again."""

    def __init__(self, kernel_size, *, stride=None, padding=0):
        super().__init__(kernel_size, stride=stride, padding=padding)
        self.argmax = None

    def forward(self, x):
        self.x = x
        y, self.argmax = max_pool2d(x, **self.conf, return_argmax=True)
        return y

    def backward(self, dout):
        return max_pool2d_backward(dout, self._cached("x"), **self.conf, argmax=self.argmax)


class AvgPool2D(_Pool):
    """Average pooling (:func:`avg_pool2d`); the gradient is spread evenly over each window."""
    _fwd, _bwd = staticmethod(avg_pool2d), staticmethod(avg_pool2d_backward)


class _Activation(Layer):
    """``x = f(u)`` element-wise; ``backward`` returns ``dout * f'(u)``."""
    f = df = None

    def __init__(self):
        super().__init__()
        self.u = None

    def forward(self, u):
        self.u = u
        return type(self).f(u)

    def backward(self, dout):
        return dout * type(self).df(self._cached("u"))


class ReLU(_Activation):
    f, df = staticmethod(act.relu), staticmethod(act.relu_derivative)


class Sigmoid(_Activation):
    f, df = staticmethod(act.sigmoid), staticmethod(act.sigmoid_derivative)


class Tanh(_Activation):
    f, df = staticmethod(act.tanh), staticmethod(act.tanh_derivative)


class LeakyReLU(Layer):
    def __init__(self, slope: float = 0.01):
        super().__init__()
        self.slope, self.u = slope, None

    def forward(self, u):
        self.u = u
        return act.leaky_relu(u, self.slope)

    def backward(self, dout):
        return dout * act.leaky_relu_derivative(self._cached("u"), self.slope)

    def __repr__(self):
        return f"LeakyReLU(slope={self.slope})"


class Flatten(Layer):
    """(N, C, H, W) → (N, C·H·W), row-major (channel, then row, then column)."""

    def __init__(self):
        super().__init__()
        self.shape = None

    def forward(self, x):
        x = np.asarray(x)
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return np.asarray(dout).reshape(self._cached("shape"))


class Dense(Layer):
    r"""Fully connected layer, :math:`u = W x + b` for every row of ``x`` (N, in) → (N, out).

    ``W`` has shape (out, in) as in Bouvrie's notes and PyTorch: ``u = x @ W.T + b``.
    Gradients: :math:`\partial E/\partial W = \delta^\top x` (summed over the batch),
    :math:`\partial E/\partial b = \sum_n \delta^n`, :math:`\partial E/\partial x = \delta W`.
    """

    def __init__(self, in_features, out_features, *, rng: np.random.Generator, init="he"):
        super().__init__()
        self._add_param("w", _init_weight((out_features, in_features), rng, init))
        self._add_param("b", np.zeros(out_features))
        self.x = None

    def forward(self, x):
        x = as_float_array(x, "x")
        check_ndim(x, 2, "x", "(N, in_features)")
        if x.shape[1] != self.params["w"].shape[1]:
            raise ValueError(
                f"Dense expects x of shape (N, {self.params['w'].shape[1]}); got {x.shape}"
            )
        self.x = x
        return x @ self.params["w"].T + self.params["b"]

    def backward(self, dout):
        x = self._cached("x")
        self.grads["w"][...] = dout.T @ x
        self.grads["b"][...] = dout.sum(axis=0)
        return dout @ self.params["w"]

    def __repr__(self):
        out, inp = self.params["w"].shape
        return f"Dense({inp}, {out})"


class Subsample2D(Layer):
    r"""Bouvrie's subsampling layer before its activation: :math:`u_j = \beta_j\,\operatorname{down}(x_j) + b_j`,
    with one multiplicative bias :math:`\beta_j` and one additive bias :math:`b_j` per map.

    ``down`` sums each ``n×n`` block (:func:`cnn_core.down`); ``β = 1/n²`` is average pooling.
    Gradients: :math:`\partial E/\partial\beta_j = \sum_{u,v}(\delta_j \circ d_j)_{uv}` with
    :math:`d_j = \operatorname{down}(x_j)`, :math:`\partial E/\partial b_j = \sum_{u,v}(\delta_j)_{uv}`,
    and :math:`\partial E/\partial x_j = \beta_j\,\operatorname{up}(\delta_j)`.
    """

    def __init__(self, channels: int, n: int = 2, *, beta: float | None = None):
        super().__init__()
        self.n = n
        nh, nw = as_pair(n, "n")                    # n may be an int or a pair (nh, nw)
        self._add_param("beta", np.full(channels, 1.0 / (nh * nw) if beta is None else beta))
        self._add_param("b", np.zeros(channels))
        self.d = None

    def forward(self, x):
        x = as_float_array(x, "x")
        check_ndim(x, 4, "x", "(N, C, H, W)")
        self.d = down(x, self.n)
        return self.params["beta"][None, :, None, None] * self.d + self.params["b"][None, :, None, None]

    def backward(self, dout):
        d = self._cached("d")
        self.grads["beta"][...] = (dout * d).sum(axis=(0, 2, 3))
        self.grads["b"][...] = dout.sum(axis=(0, 2, 3))
        return up(self.params["beta"][None, :, None, None] * dout, self.n)

    def __repr__(self):
        return f"Subsample2D({self.params['b'].size}, n={self.n})"


class Sequential(Layer):
    """Layers applied in order; ``backward`` runs them in reverse."""

    def __init__(self, *layers: Layer):
        super().__init__()
        self.layers = list(layers)

    def children(self):
        return list(self.layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def parameters(self):
        return [pg for layer in self.layers for pg in layer.parameters()]

    def num_parameters(self) -> int:
        return sum(p.size for p, _ in self.parameters())

    def summary(self, input_shape) -> str:
        """A table of every layer's output shape and parameter count for one input of ``input_shape``
        (without the batch axis)."""
        x = np.zeros((1, *input_shape))
        rows = [("input", str(tuple(input_shape)), "")]
        for layer in self.layers:
            x = layer.forward(x)
            rows.append((repr(layer), str(x.shape[1:]), str(sum(p.size for p, _ in layer.parameters()))))
        rows.append(("total", "", str(self.num_parameters())))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}" for a, b, c in rows]
        return "\n".join(lines)

    def __repr__(self):
        inner = ",\n".join("  " + repr(layer) for layer in self.layers)
        return f"Sequential(\n{inner}\n)"
