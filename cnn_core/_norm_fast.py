"""Batch normalization in few passes over memory (internal; the tuned path of
:mod:`cnn_core.normalization`, switched by ``_tuning.BN_FUSED``).

The general path reads like the equations and makes a fresh array for every term. Here each
channel's statistics are sums along the contiguous H·W axis (``einsum``), the centred input is
made once (into the output in the forward pass, into a reused work array in the backward pass),
and the three-term gradient is written as one affine map per channel,

    dx = a_c δ + b'_c (x − mean_c) + c_c,   a_c = γ_c / sqrt(var_c + ε),
    b'_c = −a_c (∂E/∂γ_c) / (NHW sqrt(var_c + ε)),   c_c = −a_c (∂E/∂b_c) / NHW,

which is the same formula with mean_c(δ) = (∂E/∂b_c)/NHW and mean_c(δ x̂) = (∂E/∂γ_c)/NHW.
"""

from __future__ import annotations

import numpy as np

from ._workspace import scratch_array


def _channels(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[0], a.shape[1], -1)          # (N, C, H·W), a view


def _statistics(x3: np.ndarray, centred: np.ndarray):
    """Per-channel mean and biased variance; ``centred`` receives x − mean."""
    count = x3.shape[0] * x3.shape[2]
    mean = np.einsum("ncm->c", x3) / count
    np.subtract(x3, mean[:, None], out=centred)
    return mean, np.einsum("ncm,ncm->c", centred, centred) / count


def forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float):
    """``(y, mean_c, var_c)``."""
    y = np.empty_like(x)
    y3 = _channels(y)
    mean, var = _statistics(_channels(x), y3)
    y3 *= (gamma / np.sqrt(var + eps))[:, None].astype(x.dtype, copy=False)
    y3 += beta[:, None].astype(x.dtype, copy=False)
    return y, mean, var


def backward(dout: np.ndarray, x: np.ndarray, gamma: np.ndarray, eps: float):
    x3, d3 = _channels(x), _channels(np.ascontiguousarray(dout))
    count = x3.shape[0] * x3.shape[2]
    centred = scratch_array("bn_centred", x3.shape, x.dtype)
    inv_std = 1.0 / np.sqrt(_statistics(x3, centred)[1] + eps)
    dbeta = np.einsum("ncm->c", d3)
    dgamma = np.einsum("ncm,ncm->c", d3, centred) * inv_std
    a = gamma * inv_std
    dtype = np.result_type(x, dout)
    dx = np.empty(x.shape, dtype=dtype)
    dx3 = _channels(dx)
    np.multiply(d3, a[:, None].astype(dtype, copy=False), out=dx3)
    centred *= (-a * inv_std * dgamma / count)[:, None].astype(centred.dtype, copy=False)
    dx3 += centred
    dx3 += (-a * dbeta / count)[:, None].astype(dtype, copy=False)
    return dx, dgamma.astype(dtype, copy=False), dbeta.astype(dtype, copy=False)
