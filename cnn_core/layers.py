r"""Layers as thin classes over the functions of :mod:`cnn_core`.

Every layer has ``forward(x)``, ``backward(dout) -> dx``, and dictionaries ``params`` and ``grads``
with the same keys. ``backward`` writes each gradient *into* the existing ``grads`` array, so an
optimiser can hold on to the ``(param, grad)`` pairs of :meth:`.Layer.parameters`.

Bad input is rejected before any state changes: constructors check their arguments, ``forward``
checks ``x`` before it replaces the cached input, and ``backward`` checks that ``dout`` has the
shape of the last forward output before it writes a gradient. A failed call leaves the layer as
it was. An empty batch (N = 0) gives an empty output and zero parameter gradients, as in PyTorch.
"""

from __future__ import annotations

import numpy as np

from . import activations as act
from ._validate import as_float_array, as_int, as_pair, as_real, check_ndim, check_pool_args
from .conv import conv2d, conv2d_backward
from .init import he_normal, xavier_uniform
from .pooling import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward
from .shapes import resolve_padding
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

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__}.forward is not defined: Layer is the "
                                  "base class; subclasses define forward and backward")

    def backward(self, dout):
        raise NotImplementedError(f"{type(self).__name__}.backward is not defined: Layer is the "
                                  "base class; subclasses define forward and backward")

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

    def _dout(self, dout, expected, layout=""):
        """``dout`` as a float array of the last forward output's shape ``expected``, e.g.
        ``Dense.backward: dout must have the forward output's shape (32, 10) (batch,
        out_features); got (32, 9)``."""
        dout = as_float_array(dout, "dout")
        if dout.shape != tuple(expected):
            wanted = f"{tuple(expected)} {layout}".rstrip()
            raise ValueError(f"{type(self).__name__}.backward: dout must have the forward "
                             f"output's shape {wanted}; got {dout.shape}")
        return dout

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
        c = as_int(in_channels, "in_channels")
        f = as_int(out_channels, "out_channels")
        kh, kw = as_pair(kernel_size, "kernel_size")
        resolve_padding(padding, (kh, kw), as_pair(dilation, "dilation"),
                        as_pair(stride, "stride"))                  # checks all three
        self.conf = dict(stride=stride, padding=padding, dilation=dilation)
        self._add_param("w", _init_weight((f, c, kh, kw), rng, init))
        self._add_param("b", np.zeros(f))
        self.x = self.out_shape = None

    def forward(self, x):
        w, b = self.params["w"], self.params["b"]
        y = conv2d(x, w, b, **self.conf)          # conv2d checks x first
        self.x, self.out_shape = as_float_array(x, "x"), y.shape
        return y

    def backward(self, dout):
        x = self._cached("x")
        dout = self._dout(dout, self.out_shape, "(N, F, H', W')")
        dx, dw, db = conv2d_backward(dout, x, self.params["w"], **self.conf)
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
        check_pool_args(kernel_size, stride, padding)
        self.conf = dict(kernel_size=kernel_size, stride=stride, padding=padding)
        self.x = self.out_shape = None

    def forward(self, x):
        y = type(self)._fwd(x, **self.conf)                          # checks x
        self.x, self.out_shape = as_float_array(x, "x"), y.shape
        return y

    def backward(self, dout):
        x = self._cached("x")
        return type(self)._bwd(self._dout(dout, self.out_shape, "(N, C, H', W')"), x, **self.conf)

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
        y, argmax = max_pool2d(x, **self.conf, return_argmax=True)  # checks x
        self.x, self.out_shape, self.argmax = as_float_array(x, "x"), y.shape, argmax
        return y

    def backward(self, dout):
        x = self._cached("x")
        dout = self._dout(dout, self.out_shape, "(N, C, H', W')")
        return max_pool2d_backward(dout, x, **self.conf, argmax=self.argmax)


class AvgPool2D(_Pool):
    """Average pooling (:func:`avg_pool2d`); the gradient is spread evenly over each window."""
    _fwd, _bwd = staticmethod(avg_pool2d), staticmethod(avg_pool2d_backward)


class _Activation(Layer):
    """``x = f(u)`` element-wise; ``backward`` returns ``dout * f'(u)``, with ``dout`` of the
    shape of ``u`` (never broadcast)."""
    f = df = None

    def __init__(self):
        super().__init__()
        self.u = None

    def _f(self, u):
        return type(self).f(u)

    def _df(self, u):
        return type(self).df(u)

    def forward(self, u):
        u = as_float_array(u, "u")
        y = self._f(u)
        self.u = u
        return y

    def backward(self, dout):
        u = self._cached("u")
        return self._dout(dout, u.shape, "(the shape of u)") * self._df(u)


class ReLU(_Activation):
    f, df = staticmethod(act.relu), staticmethod(act.relu_derivative)


class Sigmoid(_Activation):
    f, df = staticmethod(act.sigmoid), staticmethod(act.sigmoid_derivative)


class Tanh(_Activation):
    f, df = staticmethod(act.tanh), staticmethod(act.tanh_derivative)


class LeakyReLU(_Activation):
    """:func:`leaky_relu` with a fixed ``slope`` for :math:`u \\le 0` (a finite real number)."""

    def __init__(self, slope: float = 0.01):
        super().__init__()
        self.slope = as_real(slope, "slope")

    def _f(self, u):
        return act.leaky_relu(u, self.slope)

    def _df(self, u):
        return act.leaky_relu_derivative(u, self.slope)

    def __repr__(self):
        return f"LeakyReLU(slope={self.slope})"


class Flatten(Layer):
    """(N, C, H, W) → (N, C·H·W), row-major (channel, then row, then column). Any input with a
    batch axis and at least one more axis works; an empty batch gives (0, C·H·W)."""

    def __init__(self):
        super().__init__()
        self.shape = None

    def forward(self, x):
        x = as_float_array(x, "x")
        if x.ndim < 2:
            raise ValueError(f"Flatten.forward: x must have a batch axis and at least one more "
                             f"(N, ...); got shape {x.shape} ({x.ndim}-D)")
        self.shape = x.shape
        return x.reshape(x.shape[0], int(np.prod(x.shape[1:])))

    def backward(self, dout):
        shape = self._cached("shape")
        dout = self._dout(dout, (shape[0], int(np.prod(shape[1:]))), "(N, C*H*W)")
        return dout.reshape(shape)


class Dense(Layer):
    r"""Fully connected layer, :math:`u = W x + b` for every row of ``x`` (N, in) → (N, out).

    ``W`` has shape (out, in) as in Bouvrie's notes and PyTorch: ``u = x @ W.T + b``.
    Gradients: :math:`\partial E/\partial W = \delta^\top x` (summed over the batch),
    :math:`\partial E/\partial b = \sum_n \delta^n`, :math:`\partial E/\partial x = \delta W`.
    """

    def __init__(self, in_features, out_features, *, rng: np.random.Generator, init="he"):
        super().__init__()
        n_in = as_int(in_features, "in_features")
        n_out = as_int(out_features, "out_features")
        self._add_param("w", _init_weight((n_out, n_in), rng, init))
        self._add_param("b", np.zeros(n_out))
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
        dout = self._dout(dout, (x.shape[0], self.params["w"].shape[0]), "(batch, out_features)")
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
        channels = as_int(channels, "channels")
        nh, nw = as_pair(n, "n")                    # n may be an int or a pair (nh, nw)
        beta = 1.0 / (nh * nw) if beta is None else as_real(beta, "beta")
        self.n = n
        self._add_param("beta", np.full(channels, beta))
        self._add_param("b", np.zeros(channels))
        self.d = None

    def forward(self, x):
        x = as_float_array(x, "x")
        check_ndim(x, 4, "x", "(N, C, H, W)")
        c = self.params["b"].size
        if x.shape[1] != c:
            raise ValueError(f"Subsample2D expects x of shape (N, {c}, H, W) with C = {c} maps "
                             f"(one beta and one b per map); got {x.shape}")
        d = down(x, self.n)                                          # checks H, W divisible by n
        self.d = d
        return self.params["beta"][None, :, None, None] * d + self.params["b"][None, :, None, None]

    def backward(self, dout):
        d = self._cached("d")
        dout = self._dout(dout, d.shape, "(N, C, H/n, W/n)")
        self.grads["beta"][...] = (dout * d).sum(axis=(0, 2, 3))
        self.grads["b"][...] = dout.sum(axis=(0, 2, 3))
        return up(self.params["beta"][None, :, None, None] * dout, self.n)

    def __repr__(self):
        return f"Subsample2D({self.params['b'].size}, n={self.n})"


def _all_layers(layer):
    """``layer`` and, for a container such as :class:`Sequential`, every layer inside it."""
    yield layer
    for sub in getattr(layer, "layers", None) or []:
        yield from _all_layers(sub)


class Sequential(Layer):
    """Layers applied in order; ``backward`` runs them in reverse.

    If a layer fails in ``forward``, the caches of the layers before it are put back, so the
    model is left as it was; ``backward`` checks ``dout`` against the last output's shape first.
    """

    def __init__(self, *layers: Layer):
        super().__init__()
        for i, layer in enumerate(layers):
            if isinstance(layer, type) or not (callable(getattr(layer, "forward", None))
                    and callable(getattr(layer, "backward", None))
                    and callable(getattr(layer, "parameters", None))):
                raise TypeError(f"Sequential: layer {i} must be a Layer (with forward, backward "
                                f"and parameters); got {layer!r}")
        self.layers = list(layers)
        self.out_shape = None

    def _snapshot(self):
        return [(layer, dict(vars(layer))) for layer in _all_layers(self)]

    @staticmethod
    def _restore(snapshot):
        for layer, state in snapshot:
            vars(layer).clear()
            vars(layer).update(state)

    def children(self):
        return list(self.layers)

    def forward(self, x):
        snapshot = self._snapshot()
        try:
            for layer in self.layers:
                x = layer.forward(x)
        except Exception:
            self._restore(snapshot)
            raise
        self.out_shape = np.shape(x)
        return x

    def backward(self, dout):
        if self.layers:
            dout = self._dout(dout, self._cached("out_shape"))
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def parameters(self):
        return [pg for layer in self.layers for pg in layer.parameters()]

    def num_parameters(self) -> int:
        return sum(p.size for p, _ in self.parameters())

    def summary(self, input_shape) -> str:
        """A table of every layer's output shape and parameter count for one input of ``input_shape``
        (without the batch axis). The layers' caches are left as they were."""
        if not (isinstance(input_shape, (tuple, list)) and len(input_shape) >= 1):
            raise TypeError(f"input_shape must be a tuple of ints without the batch axis, e.g. "
                            f"(1, 8, 8); got {input_shape!r}")
        shape = tuple(as_int(s, "input_shape[i]") for s in input_shape)
        x = np.zeros((1, *shape))
        rows = [("input", str(shape), "")]
        snapshot = self._snapshot()
        try:
            for layer in self.layers:
                x = layer.forward(x)
                rows.append((repr(layer), str(x.shape[1:]),
                             str(sum(p.size for p, _ in layer.parameters()))))
        finally:
            self._restore(snapshot)
        rows.append(("total", "", str(self.num_parameters())))
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}" for a, b, c in rows]
        return "\n".join(lines)

    def __repr__(self):
        inner = ",\n".join("  " + repr(layer) for layer in self.layers)
        return f"Sequential(\n{inner}\n)"
