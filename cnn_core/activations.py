r"""Activation functions f(u) and their derivatives f'(u), element-wise, plus a stable softmax.

Each ``*_derivative`` takes the pre-activation ``u`` (Bouvrie's notation), so that the sensitivity of
a layer is :math:`\delta = \partial E/\partial x \circ f'(u)`.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_float_array, as_real, check_axis

__all__ = ["relu", "relu_derivative", "leaky_relu", "leaky_relu_derivative", "sigmoid",
           "sigmoid_derivative", "tanh", "tanh_derivative", "softmax", "log_softmax",
           "softmax_backward", "softmax_jacobian"]


def relu(u):
    r""":math:`\max(0, u)`."""
    u = as_float_array(u, "u")
    return np.maximum(u, 0)


def relu_derivative(u):
    r""":math:`1` where :math:`u > 0`, else :math:`0` (the value 0 is used at the kink u = 0)."""
    u = as_float_array(u, "u")
    return (u > 0).astype(u.dtype)


def leaky_relu(u, slope: float = 0.01):
    r""":math:`u` for :math:`u > 0`, :math:`\text{slope}\cdot u` otherwise."""
    u = as_float_array(u, "u")
    slope = as_real(slope, "slope")
    return np.where(u > 0, u, slope * u).astype(u.dtype, copy=False)


def leaky_relu_derivative(u, slope: float = 0.01):
    r""":math:`1` for :math:`u > 0`, :math:`\text{slope}` otherwise."""
    u = as_float_array(u, "u")
    slope = as_real(slope, "slope")
    return np.where(u > 0, 1.0, slope).astype(u.dtype)


def sigmoid(u):
    r""":math:`\sigma(u) = 1/(1 + e^{-u})`, evaluated without overflow for large :math:`|u|`."""
    u = as_float_array(u, "u")
    e = np.exp(-np.abs(u))                      # never overflows
    return np.where(u >= 0, 1 / (1 + e), e / (1 + e)).astype(u.dtype, copy=False)


def sigmoid_derivative(u):
    r""":math:`\sigma'(u) = \sigma(u)\,(1 - \sigma(u))`."""
    s = sigmoid(u)
    return s * (1 - s)


def tanh(u):
    r""":math:`\tanh u`."""
    return np.tanh(as_float_array(u, "u"))


def tanh_derivative(u):
    r""":math:`1 - \tanh^2 u`."""
    t = np.tanh(as_float_array(u, "u"))
    return 1 - t * t


def _logits(z, axis):
    """``z`` as a float array of at least one dimension and ``axis`` as a valid axis of it."""
    z = as_float_array(z, "z")
    if z.ndim == 0:
        raise ValueError("z must have at least one axis (the softmax axis); got a scalar")
    return z, check_axis(axis, z.ndim)


def softmax(z, axis: int = -1):
    r""":math:`\operatorname{softmax}(z)_i = e^{z_i - m} / \sum_k e^{z_k - m}`, with :math:`m = \max_k z_k`
    subtracted so that logits in the thousands do not overflow. An empty axis gives an empty
    result, as in PyTorch."""
    z, axis = _logits(z, axis)
    if z.shape[axis] == 0:
        return z.copy()
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(z, axis: int = -1):
    r""":math:`\log \operatorname{softmax}(z)_i = z_i - m - \log\sum_k e^{z_k - m}` (stable)."""
    z, axis = _logits(z, axis)
    if z.shape[axis] == 0:
        return z.copy()
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax_backward(dout, s, axis: int = -1):
    r"""Vector–Jacobian product of softmax: given :math:`s = \operatorname{softmax}(z)` and
    :math:`g = \partial E/\partial s`, return :math:`\partial E/\partial z = s \circ (g - \langle g, s\rangle)`.

    This is :math:`J^\top g` with :math:`J_{ki} = \partial s_k/\partial z_i = s_k(\delta_{ki} - s_i)`.
    """
    dout = as_float_array(dout, "dout")
    s = as_float_array(s, "s")
    if dout.shape != s.shape:
        raise ValueError(f"dout and s must have the same shape; got {dout.shape} and {s.shape}")
    if s.ndim == 0:
        raise ValueError("s must have at least one axis (the softmax axis); got a scalar")
    axis = check_axis(axis, s.ndim)
    return s * (dout - (dout * s).sum(axis=axis, keepdims=True))


def softmax_jacobian(z):
    r"""The Jacobian :math:`J_{ki} = \partial s_k/\partial z_i = s_k(\delta_{ki} - s_i) = \operatorname{diag}(s) - s s^\top`
    of the softmax of a vector ``z`` (K,) → (K, K)."""
    z = as_float_array(z, "z")
    if z.ndim != 1:
        raise ValueError(f"softmax_jacobian takes a vector z of shape (K,); got shape {z.shape}")
    s = softmax(z)
    return np.diag(s) - np.outer(s, s)
