r"""Learned combinations of feature maps (Bouvrie 2006, §3.3) and sparsity penalties on them.

Bouvrie's layer gives every *input* map :math:`i` one kernel :math:`k_i` and lets every output map
:math:`j` take a learned, convex combination of the filtered input maps:

.. math:: u_j = \sum_{i=1}^{C_{in}} \alpha_{ij}\,(x_i \star k_i) + b_j,\qquad
          \alpha_{ij} = \frac{e^{c_{ij}}}{\sum_k e^{c_{kj}}}\quad(\text{softmax over } i)

so :math:`\alpha_{ij} > 0` and :math:`\sum_i \alpha_{ij} = 1` for every :math:`j`. The notes write a
true convolution :math:`x_i * k_i`; like :func:`cnn_core.conv2d` this module computes the
cross-correlation :math:`x_i \star k_i = x_i * \operatorname{rot180}(k_i)`. Because :math:`k_i` is
learned, the two are the same family of layers (rotate the learned kernel to convert).

The layer is a depthwise convolution (one kernel per input map) followed by a
:math:`1\times 1` convolution whose weights are :math:`\alpha` — the building block of
depthwise-separable convolutions — with the mixing weights constrained to the simplex.

Penalties on the mixing weights, each ``penalty(c, lam) -> (value, dvalue/dc)``:

- :func:`.l1_penalty_on_alpha`: the notes' :math:`\lambda\sum|\alpha_{ij}|`. On softmax weights it is
  the constant :math:`\lambda\,C_{out}`, and its gradient is zero.
- :func:`.entropy_penalty`: :math:`\lambda\sum_j H(\alpha_{\cdot j})`, smallest when each output
  map reads one input map.
- :func:`.l1_penalty_on_relu_weights`: :math:`\lambda\sum_{ij}\operatorname{relu}(c_{ij})`, the L1
  norm of unnormalised non-negative weights :math:`\alpha = \operatorname{relu}(c)` (the layer's
  ``weighting="relu"``); it drives weights to exactly zero.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validate import as_float_array, as_pair, as_real, check_ndim, check_rng
from .activations import log_softmax, softmax, softmax_backward
from .conv import col2im, im2col
from .init import he_normal
from .layers import Layer
from .shapes import conv_geometry as _geometry  # the name chapter 6 prints in _depthwise
from .shapes import resolve_padding

__all__ = ["MapCombination", "l1_penalty_on_alpha", "entropy_penalty",
           "l1_penalty_on_relu_weights", "connection_table", "LENET5_C3_TABLE"]

_WEIGHTINGS = ("softmax", "relu")


def _lenet5_c3_table() -> np.ndarray:
    """LeCun et al. (1998), Table I: which of the 6 S2 maps (rows) feed each of the 16 C3 maps."""
    columns = [(0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
               (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
               (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5), (0, 1, 2, 3, 4, 5)]
    table = np.zeros((6, 16), dtype=bool)
    for j, rows in enumerate(columns):
        table[list(rows), j] = True
    table.setflags(write=False)
    return table


#: LeNet-5's hand-designed S2 → C3 connection table (LeCun et al. 1998, Table I), a read-only
#: boolean array (6, 16): ``LENET5_C3_TABLE[i, j]`` is True when S2 map ``i`` feeds C3 map ``j``.
#: Columns 0–5 read three contiguous maps, 6–11 four contiguous, 12–14 four non-contiguous and
#: 15 all six: 60 connections out of 96.
LENET5_C3_TABLE = _lenet5_c3_table()


def _check_positive_int(value, name):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}")
    return int(value)


def _check_logits(c, lam):
    c = as_float_array(c, "c")
    check_ndim(c, 2, "c", "(C_in, C_out) of mixing logits")
    if c.shape[0] < 1 or c.shape[1] < 1:
        raise ValueError(f"c must have at least one input and one output map; got shape {c.shape}")
    return c, as_real(lam, "lam", low=0)


def l1_penalty_on_alpha(c, lam: float):
    r"""The notes' sparsity penalty on softmax weights, with the notes' gradient.

    Parameters
    ----------
    c : array (C_in, C_out), mixing logits; :math:`\alpha = \operatorname{softmax}(c)` over axis 0
    lam : float >= 0, :math:`\lambda`

    Returns
    -------
    value : float, :math:`\Omega = \lambda\sum_{i,j}|\alpha_{ij}|`
    grad : array (C_in, C_out), the notes' formula, column by column,
        :math:`\partial\Omega/\partial c_{i} = \lambda\big(|\alpha_i| - \alpha_i\sum_k|\alpha_k|\big)`

    Notes
    -----
    Because softmax weights are positive and each column sums to one, :math:`\Omega = \lambda C_{out}`
    whatever ``c`` is, and both the formula and the true gradient are zero (up to round-off,
    about :math:`10^{-17}\lambda`). The penalty does nothing.
    """
    c, lam = _check_logits(c, lam)
    alpha = softmax(c, axis=0)
    value = lam * float(np.abs(alpha).sum())
    grad = lam * (np.abs(alpha) - alpha * np.abs(alpha).sum(axis=0, keepdims=True))
    return value, grad


def entropy_penalty(c, lam: float):
    r"""Entropy of each output map's softmax weights: small when a map reads few input maps.

    Parameters
    ----------
    c : array (C_in, C_out), mixing logits; :math:`\alpha = \operatorname{softmax}(c)` over axis 0
    lam : float >= 0

    Returns
    -------
    value : float, :math:`\Omega = \lambda\sum_j H_j` with
        :math:`H_j = -\sum_i \alpha_{ij}\log\alpha_{ij}` (between 0 for a one-hot column and
        :math:`\log C_{in}` for a uniform one)
    grad : array (C_in, C_out),
        :math:`\partial\Omega/\partial c_{ij} = -\lambda\,\alpha_{ij}\big(\log\alpha_{ij} + H_j\big)`

    Notes
    -----
    The gradient is the softmax Jacobian applied to
    :math:`\partial\Omega/\partial\alpha_{ij} = -\lambda(\log\alpha_{ij} + 1)`.
    :math:`\log\alpha` comes from :func:`cnn_core.log_softmax`, so it stays finite where
    :math:`\alpha` underflows to 0.
    """
    c, lam = _check_logits(c, lam)
    log_alpha = log_softmax(c, axis=0)
    alpha = np.exp(log_alpha)
    entropy = -(alpha * log_alpha).sum(axis=0, keepdims=True)        # (1, C_out)
    return lam * float(entropy.sum()), -lam * alpha * (log_alpha + entropy)


def l1_penalty_on_relu_weights(c, lam: float):
    r"""L1 norm of unnormalised non-negative weights :math:`\alpha = \operatorname{relu}(c)`.

    Parameters
    ----------
    c : array (C_in, C_out), the parameters of a ``MapCombination(weighting="relu")``
    lam : float >= 0

    Returns
    -------
    value : float, :math:`\Omega = \lambda\sum_{ij}|\alpha_{ij}| = \lambda\sum_{ij}\operatorname{relu}(c_{ij})`
    grad : array (C_in, C_out), :math:`\lambda\,[c_{ij} > 0]` (0 is used at the kink)

    Notes
    -----
    Unlike the notes' penalty this is not constant: without the normalisation the total weight can
    shrink, and a constant pull :math:`\lambda` moves each :math:`c_{ij}` down until the data's
    gradient balances it or it crosses 0, where :math:`\alpha_{ij}` is exactly zero and stays there
    (the connection is cut).
    """
    c, lam = _check_logits(c, lam)
    return lam * float(np.maximum(c, 0).sum()), lam * (c > 0).astype(c.dtype)


def connection_table(alpha, threshold: float = 0.01) -> np.ndarray:
    r"""Boolean table (C_in, C_out) of the connections that matter: ``True`` where
    :math:`\alpha_{ij} / \sum_k \alpha_{kj} \ge` ``threshold`` (the share of input ``i`` in output ``j``).

    For softmax weights the share is :math:`\alpha_{ij}` itself. A column of zeros keeps no connection.
    """
    alpha = as_float_array(alpha, "alpha")
    check_ndim(alpha, 2, "alpha", "(C_in, C_out)")
    threshold = as_real(threshold, "threshold", low=0, high=1, low_open=True, high_open=True)
    if not (alpha >= 0).all():                     # one pass: False for a negative entry or NaN
        what = "NaN" if np.isnan(alpha).any() else "a negative entry"
        raise ValueError(f"alpha must be non-negative and not NaN (mixing weights); found {what} "
                         f"in alpha of shape {alpha.shape}")
    total = alpha.sum(axis=0, keepdims=True)
    share = np.divide(alpha, total, out=np.zeros_like(alpha), where=total > 0)
    return share >= threshold


class MapCombination(Layer):
    r"""Bouvrie's learned combination of feature maps: one kernel per input map, mixed by
    learned weights :math:`\alpha` into each output map.

    Shapes: ``x`` (N, C_in, H, W) → ``u`` (N, C_out, H', W'), with :math:`H'` as for
    :func:`cnn_core.conv2d` with the same ``kernel_size``, ``stride`` and ``padding``.

    Parameters (``params`` / ``grads`` keys):

    - ``k`` (C_in, 1, kh, kw): one kernel per input map, He-initialised from ``rng``
    - ``c`` (C_in, C_out): mixing parameters, initialised to ``init_logits`` plus
      :math:`\mathcal N(0, 0.01^2)` noise from ``rng``; ``init_logits`` defaults to 0 for softmax
      (uniform weights) and :math:`1/C_{in}` for relu (the same uniform start)
    - ``b`` (C_out,): zero

    Forward (:math:`\star` cross-correlation, as in :func:`cnn_core.conv2d`):

    .. math:: y_i = x_i \star k_i,\qquad u_j = \sum_i \alpha_{ij}\, y_i + b_j,

    with :math:`\alpha = \operatorname{softmax}(c)` over the input axis (``weighting="softmax"``,
    the notes' choice) or :math:`\alpha = \operatorname{relu}(c)` (``weighting="relu"``). The layer
    returns the pre-activation :math:`u`; add an activation layer for :math:`x_j = f(u_j)`.

    Backward, with :math:`\delta_j = \partial E/\partial u_j` (``dout``):

    .. math:: \frac{\partial E}{\partial \alpha_{ij}} = \sum_{n,u,v} (\delta_j \circ y_i)_{uv},\qquad
              \frac{\partial E}{\partial c_{ij}} = \alpha_{ij}\Big(\frac{\partial E}{\partial \alpha_{ij}}
              - \sum_k \frac{\partial E}{\partial \alpha_{kj}}\alpha_{kj}\Big)\ \text{(softmax)},

    :math:`\partial E/\partial b_j = \sum \delta_j`, and with :math:`g_i = \sum_j \alpha_{ij}\delta_j`,
    :math:`\partial E/\partial k_i = x_i \star g_i` (valid, summed over the batch) and
    :math:`\partial E/\partial x_i` = the full convolution of :math:`g_i` with :math:`k_i`.

    ``penalty``: optional callable ``penalty(c) -> (value, grad)`` (e.g.
    ``functools.partial(entropy_penalty, lam=1e-3)``); ``backward`` then *adds* its gradient to
    ``grads["c"]``, so that an optimiser minimises :math:`E + \Omega`. Gradient-check the layer
    without a penalty.

    Implementation: :func:`cnn_core.im2col` unfolds every input map once; one batched matrix
    product applies each map's kernel (depthwise) and a second mixes the maps. No loop over maps.
    """

    def __init__(self, in_maps: int, out_maps: int, kernel_size, *, rng: np.random.Generator,
                 stride=1, padding=0, weighting: str = "softmax", init_logits: float | None = None,
                 penalty=None):
        super().__init__()
        check_rng(rng)
        in_maps = _check_positive_int(in_maps, "in_maps")
        out_maps = _check_positive_int(out_maps, "out_maps")
        if weighting not in _WEIGHTINGS:
            raise ValueError(f"weighting must be one of {_WEIGHTINGS}; got {weighting!r}")
        if penalty is not None and not callable(penalty):
            raise TypeError(f"penalty must be None or a callable c -> (value, grad); got {penalty!r}")
        kernel = as_pair(kernel_size, "kernel_size")
        resolve_padding(padding, kernel, (1, 1), as_pair(stride, "stride"))  # validates both
        self.kernel_size, self.stride, self.padding = kernel, stride, padding
        self.weighting, self.penalty = weighting, penalty
        if init_logits is None:
            init_logits = 0.0 if weighting == "softmax" else 1.0 / in_maps
        init_logits = as_real(init_logits, "init_logits")
        self._add_param("k", he_normal((in_maps, 1, *kernel), rng))
        self._add_param("c", init_logits + 0.01 * rng.standard_normal((in_maps, out_maps)))
        self._add_param("b", np.zeros(out_maps))
        self.cols = self.y = self.x_shape = None
        self.out_maps = out_maps

    @property
    def alpha(self) -> np.ndarray:
        r"""The mixing weights (C_in, C_out), softmax of ``c`` over axis 0 or relu of ``c``."""
        c = self.params["c"]
        return softmax(c, axis=0) if self.weighting == "softmax" else np.maximum(c, 0)

    def penalty_value(self) -> float:
        """:math:`\\Omega(c)` of the attached penalty (0 without one)."""
        return 0.0 if self.penalty is None else float(self.penalty(self.params["c"])[0])

    def depthwise(self, x) -> np.ndarray:
        r"""The filtered input maps :math:`y_i = x_i \star k_i`, (N, C_in, H', W')."""
        return self._depthwise(self._check_x(x))[1]

    def _penalty_grad(self) -> np.ndarray:
        """The attached penalty's gradient, checked: a float array of the shape of ``c``."""
        c = self.params["c"]
        result = self.penalty(c.copy())
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError(f"penalty(c) must return a pair (value, grad); got {result!r}")
        grad = as_float_array(result[1], "the gradient penalty(c) returns")
        if grad.shape != c.shape:
            raise ValueError(f"penalty(c) must return a gradient of the shape of c, {c.shape} "
                             f"(C_in, C_out); got {grad.shape}")
        return grad

    def _check_x(self, x):
        x = as_float_array(x, "x")
        check_ndim(x, 4, "x", "(N, C_in, H, W)")
        c_in = self.params["k"].shape[0]
        if x.shape[1] != c_in:
            raise ValueError(f"MapCombination expects x of shape (N, {c_in}, H, W) with C_in = "
                             f"{c_in} input maps; got {x.shape}")
        return x

    def _depthwise(self, x):
        n, c_in, h, w = x.shape
        g = _geometry((h, w), self.kernel_size, self.stride, self.padding, 1)
        kh, kw = g.kernel
        cols = im2col(x, g.kernel, stride=self.stride, padding=self.padding)
        p = g.out_hw[0] * g.out_hw[1]
        cols = cols.reshape(n, c_in, kh * kw, p)                     # (N, C_in, kh*kw, H'*W')
        k2 = self.params["k"].reshape(c_in, kh * kw)
        y = np.matmul(k2[None, :, None, :], cols)[:, :, 0]           # (N, C_in, H'*W')
        return cols, y.reshape(n, c_in, *g.out_hw)

    def forward(self, x):
        x = self._check_x(x)
        cols, y = self._depthwise(x)                                 # checks the geometry
        self.x_shape, self.cols, self.y = x.shape, cols, y
        n, c_in, ho, wo = y.shape
        u = np.matmul(self.alpha.T, y.reshape(n, c_in, ho * wo))     # (N, C_out, H'*W')
        return u.reshape(n, self.out_maps, ho, wo) + self.params["b"][None, :, None, None]

    def backward(self, dout):
        y, cols = self._cached("y"), self._cached("cols")
        dout = self._dout(dout, (y.shape[0], self.out_maps, *y.shape[2:]), "(N, C_out, H', W')")
        alpha = self.alpha
        n, c_in, ho, wo = y.shape
        y2 = y.reshape(n, c_in, ho * wo)                             # (N, C_in, P)
        d2 = dout.reshape(n, self.out_maps, ho * wo)                 # (N, C_out, P)
        dalpha = np.matmul(y2, d2.transpose(0, 2, 1)).sum(axis=0)    # ∂E/∂α (C_in, C_out)
        if self.weighting == "softmax":
            dc = softmax_backward(dalpha, alpha, axis=0)
        else:
            dc = dalpha * (self.params["c"] > 0)
        if self.penalty is not None:
            dc = dc + self._penalty_grad()
        self.grads["c"][...] = dc
        self.grads["b"][...] = dout.sum(axis=(0, 2, 3))
        gy = np.matmul(alpha, d2)                                    # Σ_j α_ij δ_j, (N, C_in, P)
        dk = np.matmul(cols, gy[..., None]).sum(axis=0)              # (C_in, kh*kw, 1)
        self.grads["k"][...] = dk.reshape(self.params["k"].shape)
        k2 = self.params["k"].reshape(c_in, -1)
        dcols = (k2[None, :, :, None] * gy[:, :, None, :]).reshape(n, c_in * k2.shape[1], ho * wo)
        return col2im(dcols, self.x_shape, self.kernel_size, stride=self.stride,
                      padding=self.padding)

    def __repr__(self):
        c_in, c_out = self.params["c"].shape
        extra = f", stride={self.stride!r}" if self.stride != 1 else ""
        extra += f", padding={self.padding!r}" if self.padding != 0 else ""
        if self.weighting != "softmax":
            extra += f", weighting={self.weighting!r}"
        return f"MapCombination({c_in}, {c_out}, kernel_size={self.kernel_size}{extra})"
