r"""Batch normalization over the channels of an (N, C, H, W) batch.

For each channel :math:`c`, over the :math:`NHW` values of that channel in the batch,

.. math::

    \operatorname{mean}_c = \frac{1}{NHW} \sum_{n,\hat\imath,\hat\jmath} x_{n,c,\hat\imath,\hat\jmath},
    \qquad
    \operatorname{var}_c = \frac{1}{NHW} \sum_{n,\hat\imath,\hat\jmath}
    (x_{n,c,\hat\imath,\hat\jmath} - \operatorname{mean}_c)^2, \qquad
    \hat x = \frac{x - \operatorname{mean}_c}{\sqrt{\operatorname{var}_c + \epsilon}}, \qquad
    y = \gamma_c \hat x + b_c

(the shift :math:`b_c` is the argument ``beta``, as in PyTorch's functional ``batch_norm``).

The variance is the *biased* one (divided by :math:`NHW`), as in the original paper and
PyTorch. The backward pass, with every mean taken over the :math:`NHW` values of a channel, is
the three-term formula

.. math::

    \frac{\partial E}{\partial x} = \frac{\gamma_c}{\sqrt{\operatorname{var}_c+\epsilon}}
    \Big(\delta - \operatorname{mean}_c(\delta) - \hat x\,\operatorname{mean}_c(\delta\,\hat x)\Big),
    \qquad
    \frac{\partial E}{\partial \gamma_c} = \sum \delta\,\hat x, \qquad
    \frac{\partial E}{\partial b_c} = \sum \delta .

Because the statistics come from the batch, :math:`\partial E/\partial x` sums to zero over the
batch in every channel, and is orthogonal to :math:`\hat x` there.
The reference loops are :func:`cnn_core.naive.batch_norm2d_naive` and
:func:`cnn_core.naive.batch_norm2d_backward_naive`.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _norm_fast, _tuning
from ._validate import as_float_array, check_ndim
from .layers import Layer

__all__ = ["batch_norm2d", "batch_norm2d_backward", "BatchNorm2D"]

_AXES = (0, 2, 3)        # the axes a channel's statistics are taken over


def _check_eps(eps, owner: str) -> float:
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not np.isfinite(eps) \
            or eps <= 0:
        raise ValueError(f"{owner}: eps must be a finite number > 0; got {eps!r}")
    return float(eps)


def _check_channel_vector(v, name: str, channels: int, owner: str) -> np.ndarray:
    v = as_float_array(v, name)
    if v.shape != (channels,):
        raise ValueError(f"{owner}: {name} must have shape ({channels},), one value per channel "
                         f"of x; got {v.shape}")
    return v


def _check_x(x, owner: str, name: str = "x") -> np.ndarray:
    x = as_float_array(x, name)
    check_ndim(x, 4, name, "(N, C, H, W)")
    return x


def _check_enough_values(x: np.ndarray, owner: str) -> None:
    m = x.shape[0] * x.shape[2] * x.shape[3]
    if m == 1:
        raise ValueError(f"{owner}: batch statistics need more than 1 value per channel; "
                         f"x has shape {x.shape} (N·H·W = 1)")


def _check_statistics(mean, var, channels: int, owner: str):
    """The forward pass's ``mean`` and ``var`` handed to the backward pass: both or neither."""
    if mean is None and var is None:
        return None, None
    if mean is None or var is None:
        given, missing = ("mean", "var") if var is None else ("var", "mean")
        raise ValueError(f"{owner}: {given} was given without {missing}; pass both (the "
                         f"statistics returned by batch_norm2d(..., return_stats=True)) or "
                         f"neither")
    mean = _check_channel_vector(mean, "mean", channels, owner)
    var = _check_channel_vector(var, "var", channels, owner)
    if not np.isfinite(mean).all():
        raise ValueError(f"{owner}: mean must be finite; got {mean}")
    if not (np.isfinite(var).all() and (var >= 0).all()):
        raise ValueError(f"{owner}: var must be finite and >= 0 (a biased variance); got {var}")
    return mean, var


def _normalise(x: np.ndarray, eps: float, mean=None, var=None):
    """x̂ and 1/sqrt(var_c + ε), with the batch's per-channel mean and biased variance (or the
    given ones)."""
    if mean is None:
        mean, var = x.mean(axis=_AXES), x.var(axis=_AXES)
    inv_std = 1.0 / np.sqrt(var + eps)[None, :, None, None]
    return (x - mean[None, :, None, None]) * inv_std, inv_std


def _forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float):
    """``y = γ_c x̂ + b_c`` and the batch statistics ``(mean_c, var_c)`` it used."""
    if _tuning.BN_FUSED:
        return _norm_fast.forward(x, gamma, beta, eps)
    mean, var = x.mean(axis=_AXES), x.var(axis=_AXES)
    x_hat, _ = _normalise(x, eps, mean, var)
    y = gamma[None, :, None, None] * x_hat + beta[None, :, None, None]
    return y.astype(x.dtype, copy=False), mean, var


def batch_norm2d(x, gamma, beta, *, eps: float = 1e-5, return_stats: bool = False):
    r"""Batch normalization with the batch's statistics: :math:`y = \gamma_c \hat x + b_c`.

    ``x`` (N, C, H, W); ``gamma``, ``beta`` (C,). Returns ``y`` of the shape and dtype of ``x``.
    An empty batch gives an empty result (as in PyTorch).

    With ``return_stats=True`` it returns ``(y, mean, var)``: the per-channel mean and biased
    variance it normalised with, shape (C,), in the dtype of ``x`` (NaN for an empty batch).
    Handing them to :func:`batch_norm2d_backward` spares it computing them again, as PyTorch's
    autograd keeps them from the forward pass.
    """
    x = _check_x(x, "batch_norm2d")
    gamma = _check_channel_vector(gamma, "gamma", x.shape[1], "batch_norm2d")
    beta = _check_channel_vector(beta, "beta", x.shape[1], "batch_norm2d")
    eps = _check_eps(eps, "batch_norm2d")
    if not isinstance(return_stats, (bool, np.bool_)):
        raise TypeError(f"batch_norm2d: return_stats must be True or False; "
                        f"got {return_stats!r}")
    _check_enough_values(x, "batch_norm2d")
    if x.size == 0:
        y, mean, var = np.empty_like(x), np.full(x.shape[1], np.nan), np.full(x.shape[1], np.nan)
    else:
        y, mean, var = _forward(x, gamma, beta, eps)
    if not return_stats:
        return y
    return y, mean.astype(x.dtype, copy=False), var.astype(x.dtype, copy=False)


def batch_norm2d_backward(dout, x, gamma, *, eps: float = 1e-5, mean=None, var=None):
    r"""Gradients of :func:`batch_norm2d`: ``(dx, dgamma, dbeta)`` by the three-term formula.

    ``mean`` and ``var`` (C,), optional: the statistics the forward pass normalised with (as
    returned by ``batch_norm2d(..., return_stats=True)``); without them they are computed from
    ``x`` again. Give both or neither.
    """
    x = _check_x(x, "batch_norm2d_backward")
    dout = as_float_array(dout, "dout")
    if dout.shape != x.shape:
        raise ValueError(f"batch_norm2d_backward: dout must have the shape of x, {x.shape}; "
                         f"got {dout.shape}")
    gamma = _check_channel_vector(gamma, "gamma", x.shape[1], "batch_norm2d_backward")
    eps = _check_eps(eps, "batch_norm2d_backward")
    mean, var = _check_statistics(mean, var, x.shape[1], "batch_norm2d_backward")
    _check_enough_values(x, "batch_norm2d_backward")
    if x.size == 0:
        zeros = np.zeros(x.shape[1], dtype=np.result_type(x, dout))
        return np.empty_like(x), zeros, zeros.copy()
    if _tuning.BN_FUSED:
        return _norm_fast.backward(dout, x, gamma, eps, mean, var)
    x_hat, inv_std = _normalise(x, eps, mean, var)
    dbeta = dout.sum(axis=_AXES)
    dgamma = (dout * x_hat).sum(axis=_AXES)
    d_mean = dout.mean(axis=_AXES, keepdims=True)
    dxhat_mean = (dout * x_hat).mean(axis=_AXES, keepdims=True)
    dx = gamma[None, :, None, None] * inv_std * (dout - d_mean - x_hat * dxhat_mean)
    dtype = np.result_type(x, dout)          # float32 in, float32 out, as in the forward pass
    return dx.astype(dtype, copy=False), dgamma.astype(dtype), dbeta.astype(dtype)


class BatchNorm2D(Layer):
    r"""Batch normalization as a layer, with PyTorch's running statistics.

    In training mode (``layer.train()``, the default) it normalises with the batch's mean and
    biased variance and updates

    .. math::

        \text{running mean}_c \leftarrow (1-\kappa)\,\text{running mean}_c
            + \kappa\,\operatorname{mean}_c, \qquad
        \text{running var}_c \leftarrow (1-\kappa)\,\text{running var}_c
            + \kappa\,\tfrac{NHW}{NHW-1}\operatorname{var}_c

    with ``momentum`` :math:`\kappa` (the running variance is the *unbiased* estimate, as in
    PyTorch). The batch's mean and biased variance are kept for the backward pass, as PyTorch's
    autograd keeps them, and handed to :func:`batch_norm2d_backward`. In evaluation mode
    (``layer.eval()``) it normalises with the running statistics, a fixed affine map per
    channel. Parameters: ``gamma`` (ones) and ``beta``, the shift :math:`b_c` (zeros).
    """

    def __init__(self, channels: int, *, momentum: float = 0.1, eps: float = 1e-5):
        super().__init__()
        if isinstance(channels, bool) or not isinstance(channels, numbers.Integral) \
                or channels < 1:
            raise ValueError(f"BatchNorm2D: channels must be an int >= 1; got {channels!r}")
        if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real) \
                or not 0 <= momentum <= 1:
            raise ValueError(f"BatchNorm2D: momentum must be a number in [0, 1]; "
                             f"got {momentum!r}")
        self.eps = _check_eps(eps, "BatchNorm2D")
        self.momentum = float(momentum)
        channels = int(channels)
        self._add_param("gamma", np.ones(channels))
        self._add_param("beta", np.zeros(channels))
        self.running_mean = np.zeros(channels)
        self.running_var = np.ones(channels)
        self._cache = None

    def _check_input(self, x, name="x") -> np.ndarray:
        x = _check_x(x, "BatchNorm2D", name)
        channels = self.params["gamma"].size
        if x.shape[1] != channels:
            raise ValueError(f"BatchNorm2D({channels}): {name} must have {channels} channels, "
                             f"shape (N, {channels}, H, W); got {x.shape}")
        return x

    def forward(self, x):
        x = self._check_input(x)
        gamma = self.params["gamma"][None, :, None, None]
        beta = self.params["beta"][None, :, None, None]
        if not self.training:
            inv_std = 1.0 / np.sqrt(self.running_var + self.eps)[None, :, None, None]
            x_hat = (x - self.running_mean[None, :, None, None]) * inv_std
            self._cache = ("eval", x_hat, inv_std)
            return gamma * x_hat + beta
        _check_enough_values(x, "BatchNorm2D")
        if x.size == 0:
            self._cache = ("train", x, (None, None))     # the backward pass returns zeros
            return np.empty_like(x)
        y, mean, var = _forward(x, self.params["gamma"], self.params["beta"], self.eps)
        m = x.shape[0] * x.shape[2] * x.shape[3]
        self.running_mean *= 1 - self.momentum
        self.running_mean += self.momentum * mean
        self.running_var *= 1 - self.momentum
        self.running_var += self.momentum * var * (m / (m - 1))
        self._cache = ("train", x, (mean, var))   # kept for the backward pass, as in PyTorch
        return y

    def backward(self, dout):
        mode, a, b = self._cached("_cache")
        dout = as_float_array(dout, "dout")
        shape = a.shape
        if dout.shape != shape:
            raise ValueError(f"BatchNorm2D.backward: dout must have the shape of the last "
                             f"forward output, {shape}; got {dout.shape}")
        if mode == "eval":
            x_hat, inv_std = a, b
            self.grads["gamma"][...] = (dout * x_hat).sum(axis=_AXES)
            self.grads["beta"][...] = dout.sum(axis=_AXES)
            return dout * self.params["gamma"][None, :, None, None] * inv_std
        mean, var = b
        dx, dgamma, dbeta = batch_norm2d_backward(dout, a, self.params["gamma"], eps=self.eps,
                                                  mean=mean, var=var)
        self.grads["gamma"][...] = dgamma
        self.grads["beta"][...] = dbeta
        return dx

    def __repr__(self):
        return f"BatchNorm2D({self.params['gamma'].size})"
