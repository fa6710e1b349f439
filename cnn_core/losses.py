r"""Loss functions. Each returns ``(loss, gradient)``: a Python float and ∂loss/∂(first argument).

Conventions, stated once:

- The batch is the first axis, of size N; **every loss is a mean over the batch**.
- :func:`.mse_loss` follows Bouvrie: :math:`E^n = \tfrac12 \lVert y^n - t^n\rVert^2`, half the squared
  error **summed over the outputs**, so that :math:`\partial E^n/\partial y^n = y^n - t^n`.
  ``reduction="sum"`` gives Bouvrie's :math:`E^N = \tfrac12\sum_n\sum_k (y^n_k - t^n_k)^2` exactly.
- :func:`.mae_loss`, :func:`.msle_loss` and :func:`.mape_loss` are means over every element (the
  definitions in Murugan's summary and in Keras).
- An empty batch (or no elements) gives what PyTorch gives: a mean over nothing is NaN, a sum
  over nothing is 0, and the gradient is an empty array of the input's shape.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_float_array, as_labels, check_ndim
from .activations import log_softmax, sigmoid, softmax

__all__ = ["cross_entropy", "mse_loss", "mae_loss", "msle_loss", "mape_loss",
           "binary_cross_entropy_with_logits"]


def _pair(y, t, yname="y", tname="t"):
    y = as_float_array(y, yname)
    t = as_float_array(t, tname)
    if y.shape != t.shape:
        raise ValueError(f"{yname} and {tname} must have the same shape; got {y.shape} and {t.shape}")
    if y.ndim == 0:
        raise ValueError(f"{yname} must have a batch axis; got a scalar")
    return y, t.astype(y.dtype, copy=False)


def _mean(total, count: int) -> float:
    """``total / count`` as a float, NaN for a mean over nothing (as in PyTorch)."""
    return float(total) / count if count else float("nan")


def cross_entropy(logits, labels):
    r"""Softmax followed by the negative log-likelihood, averaged over the batch.

    logits (N, K), labels (N,) integer classes in [0, K).

    .. math:: L = -\frac1N \sum_n \log \operatorname{softmax}(z^n)_{t_n},\qquad
              \frac{\partial L}{\partial z^n} = \frac1N\big(\operatorname{softmax}(z^n) - e_{t_n}\big)

    Computed through ``log_softmax`` so logits in the thousands neither overflow nor give ``log 0``.
    """
    z = as_float_array(logits, "logits")
    check_ndim(z, 2, "logits", "(N, K)")
    n, k = z.shape
    if np.shape(labels) != (n,):
        raise ValueError(f"labels must have shape ({n},), one class index per row; got "
                         f"{np.shape(labels)} for logits of shape {z.shape}")
    t = as_labels(labels, n, k)
    rows = np.arange(n)
    loss = _mean(-log_softmax(z)[rows, t].sum(), n)
    grad = softmax(z)
    grad[rows, t] -= 1
    grad /= max(n, 1)                                  # an empty batch: an empty gradient
    return loss, grad


def mse_loss(y, t, *, reduction: str = "mean"):
    r"""Half the squared error summed over outputs; mean (default) or sum over the batch.

    .. math:: E = \frac1N \sum_n \tfrac12 \lVert y^n - t^n \rVert^2,\qquad
              \frac{\partial E}{\partial y^n} = \frac1N (y^n - t^n)
    """
    if not isinstance(reduction, str) or reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum'; got {reduction!r}")
    y, t = _pair(y, t)
    n = y.shape[0]
    scale = 1.0 if reduction == "sum" else 1.0 / n if n else float("nan")   # NaN: mean of nothing
    diff = y - t
    return float(0.5 * scale * np.sum(diff * diff)), scale * diff


def mae_loss(y, t):
    r"""Mean absolute error (L1): :math:`\frac1M\sum |y - t|` over all M elements; gradient
    :math:`\operatorname{sign}(y - t)/M` (0 where they are equal)."""
    y, t = _pair(y, t)
    m = y.size
    return _mean(np.abs(y - t).sum(), m), np.sign(y - t) / max(m, 1)


def msle_loss(y, t):
    r"""Mean squared logarithmic error: :math:`\frac1M\sum (\log(1+y) - \log(1+t))^2`, for y, t > −1;
    gradient :math:`\frac{2}{M}\,\frac{\log(1+y) - \log(1+t)}{1 + y}`."""
    y, t = _pair(y, t)
    if (y <= -1).any() or (t <= -1).any():
        raise ValueError("msle_loss needs y > -1 and t > -1 (it takes log(1 + ·))")
    m = y.size
    d = np.log1p(y) - np.log1p(t)
    return _mean((d * d).sum(), m), 2 * d / ((1 + y) * max(m, 1))


def mape_loss(y, t):
    r"""Mean absolute percentage error: :math:`\frac{100}{M}\sum |(t - y)/t|`, for t ≠ 0;
    gradient :math:`\frac{100}{M}\operatorname{sign}(y - t)/|t|`."""
    y, t = _pair(y, t)
    if (t == 0).any():
        raise ValueError("mape_loss divides by the targets t; t must not contain 0")
    m = y.size
    return (_mean(100 * np.abs((t - y) / t).sum(), m),
            100 * np.sign(y - t) / (np.abs(t) * max(m, 1)))


def binary_cross_entropy_with_logits(z, t):
    r"""Sigmoid followed by binary cross-entropy, mean over all elements, on logits ``z``:

    .. math:: L = -\frac1M\sum\big(t\log\sigma(z) + (1-t)\log(1-\sigma(z))\big),\qquad
              \frac{\partial L}{\partial z} = \frac{\sigma(z) - t}{M}

    The gradient has no :math:`\sigma'(z)` factor, unlike MSE after a sigmoid: no slow learning
    when the unit saturates.
    """
    z, t = _pair(z, t, "z", "t")
    m = z.size
    # log σ(z) = -softplus(-z), log(1 - σ(z)) = -softplus(z); softplus(a) = max(a,0) + log1p(e^{-|a|})
    sp = np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))      # softplus(z)
    return _mean((sp - t * z).sum(), m), (sigmoid(z) - t) / max(m, 1)
