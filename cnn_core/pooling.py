r"""Pooling in NCHW layout: max, average and L^p (L2) pooling, forward and backward.

Every channel is pooled separately. Window :math:`k_h \times k_w`, stride ``s`` (default: the
window, non-overlapping), padding ``p`` (at most half the window, as in PyTorch); output size
:math:`\lfloor (H + 2p - k)/s\rfloor + 1`:

.. math:: y^{\max}_{n,c,i,j} = \max_{a,b} x^{\text{pad}}_{n,c,\,s_h i+a,\,s_w j+b},\qquad
          y^{\mathrm{avg}}_{n,c,i,j} = \frac{1}{k_h k_w}
          \sum_{a,b} x^{\text{pad}}_{n,c,\,s_h i+a,\,s_w j+b}

(max pooling pads with :math:`-\infty`, average pooling with zeros that count), and
:math:`y^{L^p} = \big(\sum_{a,b} |x_{n,c,\,s_h i+a,\,s_w j+b}|^p\big)^{1/p}`.

For one window offset :math:`(a, b)` the elements :math:`x^{\text{pad}}_{s_h i+a,\,s_w j+b}` of all
windows form one strided slice of the whole batch, ``xp[:, :, a::s_h, b::s_w]`` (cut to
:math:`H' \times W'`), so every pooling is one operation folded over the :math:`k_h k_w` slices, and
every backward pass sends ``dout`` back through the same slices: to each window's first maximum
(row-major) for max pooling, to every element for average and :math:`L^p` pooling.

This file: the public functions, then that general implementation. The tuned kernels for tiles
(stride = window, the usual case) are in ``cnn_core._pool_tiles``, reached by one line each; large
batches are split among the cores by ``cnn_core._workspace.by_batch``; ``cnn_core._tuning``
switches them off.
"""

from __future__ import annotations

import functools

import numpy as np

from . import _pool_max, _pool_tiles, _tuning
from ._validate import as_float_array, as_pair, as_real, check_ndim
from ._workspace import by_batch
from .shapes import ConvGeometry, conv_geometry, pad2d, window_slices

__all__ = ["max_pool2d", "max_pool2d_backward", "max_pool2d_argmax", "max_pool2d_mask",
           "avg_pool2d", "avg_pool2d_backward", "lp_pool2d", "lp_pool2d_backward"]


def max_pool2d(x, kernel_size, *, stride=None, padding=0, return_argmax=False):
    r"""Max pooling: :math:`y_{n,c,i,j} = \max_{0\le a<k_h,\,0\le b<k_w} x^{\text{pad}}_{n,c,s_h i+a,\,s_w j+b}`.

    ``x`` (N, C, H, W) → (N, C, H', W'). Padding pads with −∞, so it never wins.
    With ``return_argmax=True`` the result is ``(y, argmax)``, ``argmax`` as
    :func:`max_pool2d_argmax` returns it but in the smallest unsigned integer type that holds it;
    passing it to :func:`max_pool2d_backward` saves that function finding the maxima again (as
    PyTorch keeps the indices of the maxima between its forward and backward passes).
    """
    x, g = _pool_geometry(x, kernel_size, stride, padding)
    y = np.empty((*x.shape[:2], *g.out_hw), dtype=x.dtype)
    arg = np.empty(y.shape, dtype=_argmax_dtype(g)) if return_argmax else None

    def part(n0, n1):
        xp = pad2d(x[n0:n1], g.pads, -np.inf)
        if arg is None:
            _window_reduce(np.maximum, xp, g, y[n0:n1])
        else:
            _window_argmax(xp, g, arg[n0:n1], y[n0:n1])
    by_batch(part, x)                                # the batch in parts, on every core
    return y if arg is None else (y, arg)


def max_pool2d_argmax(x, kernel_size, *, stride=None, padding=0) -> np.ndarray:
    """Which element of each window is its maximum, as the flat offset ``a*kw + b`` inside the window.

    Shape (N, C, H', W'), integers. **Ties**: the first maximum in row-major order inside the window
    (smallest ``a``, then smallest ``b``) is chosen, as PyTorch's CPU kernel does; it alone receives
    the gradient.
    """
    _, arg = max_pool2d(x, kernel_size, stride=stride, padding=padding, return_argmax=True)
    return arg.astype(np.intp)


def max_pool2d_mask(x, kernel_size, *, stride=None, padding=0) -> np.ndarray:
    """The mask of the maxima: a boolean array shaped like ``x`` that is True where an element is
    the (first) maximum of at least one window, i.e. where the backward pass sends gradient."""
    x, g = _pool_geometry(x, kernel_size, stride, padding)
    arg = max_pool2d_argmax(x, kernel_size, stride=stride, padding=padding)
    mask = np.zeros((*x.shape[:2], *g.padded_hw), dtype=bool)
    kw = g.kernel[1]
    for a, b, idx in window_slices(g):
        mask[idx] |= arg == a * kw + b
    return np.ascontiguousarray(_unpad(mask, g))


def max_pool2d_backward(dout, x, kernel_size, *, stride=None, padding=0, argmax=None) -> np.ndarray:
    r"""Gradient of :func:`max_pool2d`: each ``dout`` element goes to its window's maximum.

    ``dx[n, c, s_h i + a, s_w j + b] += dout[n, c, i, j]`` for the offset ``(a, b)`` of the maximum
    (ties: the first in row-major order, see :func:`max_pool2d_argmax`); every other element gets 0.
    With overlapping windows an element can collect gradient from several windows.
    ``argmax`` (optional): the offsets from ``max_pool2d(x, ..., return_argmax=True)``, so that the
    maxima are not searched for again.
    """
    x, g = _pool_geometry(x, kernel_size, stride, padding)
    dout = _check_dout(dout, x, g)
    if argmax is not None:
        argmax = _check_argmax(argmax, dout.shape, g)
    dx = np.empty(x.shape, dtype=x.dtype)

    def part(n0, n1):
        if argmax is None:
            xp = pad2d(x[n0:n1], g.pads, -np.inf)
            if _tuning.MAX_BY_EQUALITY and _pool_max.backward(dout[n0:n1], xp, g, dx[n0:n1]):
                return                               # tuned: overlapping windows, no argmax
            arg = np.empty((n1 - n0, *dout.shape[1:]), dtype=_argmax_dtype(g))
            _window_argmax(xp, g, arg)
        else:
            arg = argmax[n0:n1]
        _scatter(dout[n0:n1], arg, g, dx[n0:n1])
    by_batch(part, x)
    return dx


def avg_pool2d(x, kernel_size, *, stride=None, padding=0) -> np.ndarray:
    r"""Average pooling: :math:`y_{n,c,i,j} = \frac{1}{k_h k_w}\sum_{a,b} x^{\text{pad}}_{n,c,s_h i+a,\,s_w j+b}`.

    Zero padding counts in the average (PyTorch's default, ``count_include_pad=True``):
    the divisor is always ``kh*kw``.
    """
    x, g = _pool_geometry(x, kernel_size, stride, padding)
    y = np.empty((*x.shape[:2], *g.out_hw), dtype=x.dtype)
    if not (_tuning.AVG_PRODUCT and _pool_tiles.avg_by_product(x, g, y)):  # tuned: Y = X S
        by_batch(lambda n0, n1: _window_reduce(np.add, pad2d(x[n0:n1], g.pads), g, y[n0:n1]), x)
    y /= g.kernel[0] * g.kernel[1]
    return y


def avg_pool2d_backward(dout, x, kernel_size, *, stride=None, padding=0) -> np.ndarray:
    r"""Gradient of :func:`avg_pool2d`: every element of a window receives ``dout / (kh*kw)``."""
    x, g = _pool_geometry(x, kernel_size, stride, padding)
    dout = _check_dout(dout, x, g)
    d = np.ascontiguousarray(dout / (g.kernel[0] * g.kernel[1]))
    dx = np.empty(x.shape, dtype=x.dtype)
    if not (_tuning.AVG_PRODUCT and _pool_tiles.avg_backward_by_product(d, g, dx)):  # dX = dY Sᵀ
        by_batch(lambda n0, n1: _spread(d[n0:n1], g, dx[n0:n1]), x)
    return dx


def lp_pool2d(x, kernel_size, *, p=2, stride=None) -> np.ndarray:
    r"""L^p pooling (L2 pooling for ``p=2``): :math:`y = \big(\sum_{a,b} |x_{\cdot,a,b}|^p\big)^{1/p}` per window.

    As PyTorch's ``LPPool2d`` for non-negative input; ``p=1`` sums absolute values and
    ``p → ∞`` tends to max pooling of ``|x|``.
    """
    p = _check_p(p)
    x, g = _pool_geometry(x, kernel_size, stride, 0)
    y = np.empty((*x.shape[:2], *g.out_hw), dtype=x.dtype)
    return _window_reduce(np.add, np.abs(x) ** p, g, y) ** (1.0 / p)


def lp_pool2d_backward(dout, x, kernel_size, *, p=2, stride=None) -> np.ndarray:
    r"""Gradient of :func:`lp_pool2d`: :math:`\partial y/\partial x = \operatorname{sign}(x)\,|x|^{p-1} / y^{p-1}`
    (zero for a window whose norm is zero)."""
    p = _check_p(p)
    x, g = _pool_geometry(x, kernel_size, stride, 0)
    dout = _check_dout(dout, x, g)
    y = lp_pool2d(x, kernel_size, p=p, stride=stride)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(y > 0, dout / y ** (p - 1), 0.0)
    dx = np.empty(x.shape, dtype=x.dtype)
    _spread(scale, g, dx)
    return dx * np.sign(x) * np.abs(x) ** (p - 1)


def _pool_geometry(x, kernel_size, stride, padding, name="x") -> tuple[np.ndarray, ConvGeometry]:
    x = as_float_array(x, name)
    check_ndim(x, 4, name, "(N, C, H, W)")
    k = as_pair(kernel_size, "kernel_size")
    s = k if stride is None else as_pair(stride, "stride")
    if isinstance(padding, str):
        raise ValueError(f"padding of a pooling layer must be an int or (ph, pw); got {padding!r}")
    p = as_pair(padding, "padding", minimum=0)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(
            f"padding must be at most half the window: padding={padding} with "
            f"kernel_size={kernel_size} (a window must hold at least one real element)"
        )
    return x, conv_geometry(x.shape[2:], k, s, p, 1,
                            context=f"; {name}.shape = {x.shape}, kernel_size = {kernel_size!r}")


def _check_p(p):
    """The exponent of L^p pooling: a finite real number >= 1 (``TypeError`` for a non-number,
    ``ValueError`` for NaN, ±∞ or less than 1). An int or a float passes after two comparisons."""
    if type(p) in (int, float) and 1 <= p < np.inf:
        return p
    return as_real(p, "p", low=1)


def _check_dout(dout, x, g, name="dout"):
    dout = as_float_array(dout, name)
    expected = (*x.shape[:2], *g.out_hw)
    if dout.shape != expected:
        raise ValueError(
            f"{name} must have the forward output's shape {expected}; got {dout.shape} "
            f"(x.shape = {x.shape} pools to {expected} with kernel {g.kernel} and stride "
            f"{g.stride}: {name} or x is not the one of the forward pass)")
    return dout.astype(x.dtype, copy=False)


def _check_argmax(argmax, shape: tuple, g: ConvGeometry) -> np.ndarray:
    arg = np.asarray(argmax)
    if arg.dtype.kind not in "iu":
        raise TypeError("argmax must hold integers, the offsets a*kw + b that "
                        f"max_pool2d(..., return_argmax=True) returns; got dtype {arg.dtype}")
    if arg.shape != shape:
        raise ValueError(f"argmax must have the forward output's shape {shape}; got {arg.shape}")
    window = g.kernel[0] * g.kernel[1]
    if arg.size and (arg.max() >= window or (arg.dtype.kind == "i" and arg.min() < 0)):
        bad = arg[(arg < 0) | (arg >= window)].flat[0]
        raise ValueError(f"argmax must lie in [0, {window}) for {g.kernel[0]}×{g.kernel[1]} "
                         f"windows (offsets a*kw + b); found {bad}")
    return arg


# ----------------------------------------------------------------- the general implementation

def _window_reduce(op, xp: np.ndarray, g: ConvGeometry, out: np.ndarray) -> np.ndarray:
    """``out[n, c, i, j] = op over (a, b) of xp[n, c, s_h i + a, s_w j + b]``: ``op``
    (``np.maximum`` or ``np.add``) folded over the window offsets' strided slices."""
    if _tuning.POOL_TILES and _pool_tiles.reduce(op, xp, g, out):
        return out                                   # tuned: tiles, columns then rows
    views = [xp[index] for _, _, index in window_slices(g)]
    np.copyto(out, views[0])
    for v in views[1:]:
        op(out, v, out=out)
    return out


def _window_argmax(xp: np.ndarray, g: ConvGeometry, arg: np.ndarray, best=None) -> None:
    """The offset ``a*kw + b`` of each window's first maximum into ``arg``, the maximum into
    ``best`` if given: strict ``>`` over the offsets in row-major order, so an earlier maximum
    keeps its place on a tie; a NaN counts as larger than any number (the forward's
    ``np.maximum`` propagates it), so the first NaN of a window is its maximum, as with
    ``np.argmax``. Then :func:`_off_padding`."""
    if not (_tuning.TILE_ARGMAX and _pool_tiles.window_argmax(xp, g, arg, best)):  # tuned
        views = [xp[index] for _, _, index in window_slices(g)]
        best = np.empty(arg.shape, dtype=xp.dtype) if best is None else best
        np.copyto(best, views[0])
        arg.fill(0)
        has_nan = bool(np.isnan(xp).any())
        better = np.empty(arg.shape, dtype=bool)
        for offset, v in enumerate(views[1:], 1):
            np.greater(v, best, out=better)
            if has_nan:
                better |= np.isnan(v) & ~np.isnan(best)
            np.copyto(best, v, where=better)
            np.copyto(arg, offset, where=better, casting="unsafe")
    _off_padding(arg, g)


def _off_padding(arg: np.ndarray, g: ConvGeometry) -> None:
    """A window whose real elements are all −∞ has its first maximum on the −∞ padding, where its
    gradient would be lost: it goes to the window's first real element instead, as in PyTorch."""
    if g.padded_hw == g.in_hw:
        return
    on_padding, first_real = _padding_offsets(g)
    n_pos = on_padding.shape[1]
    lost = on_padding[arg.reshape(-1, n_pos), np.arange(n_pos)].reshape(arg.shape)
    np.copyto(arg, first_real, where=lost, casting="unsafe")


@functools.lru_cache(maxsize=32)
def _padding_offsets(g: ConvGeometry):
    """``on_padding`` (kh*kw, H'*W'): whether offset ``a*kw + b`` of window ``(i, j)`` is a
    padding element; ``first_real`` (H', W'): the offset of each window's first real element."""
    (kh, kw), (sh, sw), (ho, wo) = g.kernel, g.stride, g.out_hw
    (pt, _), (pl, _) = g.pads
    rows = sh * np.arange(ho) + np.arange(kh)[:, None]             # (kh, H') padded rows
    cols = sw * np.arange(wo) + np.arange(kw)[:, None]             # (kw, W') padded columns
    pad_row = (rows < pt) | (rows >= pt + g.in_hw[0])
    pad_col = (cols < pl) | (cols >= pl + g.in_hw[1])
    on_padding = (pad_row[:, None, :, None] | pad_col[None, :, None, :]).reshape(kh * kw, ho, wo)
    return on_padding.reshape(kh * kw, -1), np.argmin(on_padding, axis=0)


def _scatter(d: np.ndarray, arg: np.ndarray, g: ConvGeometry, out: np.ndarray) -> None:
    """Max-pooling gradient into ``out`` (n, C, H, W): each ``d[n, c, i, j]`` is added at
    ``(s_h i + a, s_w j + b)`` of the padded input, ``a*kw + b = arg[n, c, i, j]``."""
    if _tuning.TILE_ARGMAX and _pool_tiles.scatter(d, arg, g, out):
        return                                       # tuned: tiles, one fancy assignment
    dxp = _zeroed_gradient(out, g)
    kw, overlapping = g.kernel[1], _overlapping(g)
    for a, b, index in window_slices(g):
        chosen = np.where(arg == a * kw + b, d, 0)
        if overlapping:
            dxp[index] += chosen
        else:                                        # one window per element: write, don't add
            dxp[index] = chosen
    _store(dxp, g, out)


def _spread(d: np.ndarray, g: ConvGeometry, out: np.ndarray) -> None:
    """``out`` (n, C, H, W): every element of window ``(i, j)`` of the padded input receives
    ``d[n, c, i, j]`` (overlapping windows add up)."""
    if _tuning.POOL_TILES and _pool_tiles.spread(d, g, out):
        return                                       # tuned: tiles, copies of whole rows
    dxp = _zeroed_gradient(out, g)
    overlapping = _overlapping(g)
    for _, _, index in window_slices(g):
        if overlapping:
            dxp[index] += d
        else:                                        # one window per element: write, don't add
            dxp[index] = d
    _store(dxp, g, out)


def _overlapping(g: ConvGeometry) -> bool:
    """Whether two windows can share an element (stride smaller than the window on some axis)."""
    return g.stride[0] < g.kernel[0] or g.stride[1] < g.kernel[1]


def _zeroed_gradient(out: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """Zeros shaped like the padded input: ``out`` itself, zeroed, when there is no padding."""
    if g.padded_hw == g.in_hw:
        out.fill(0)
        return out
    return np.zeros((*out.shape[:2], *g.padded_hw), dtype=out.dtype)


def _store(dxp: np.ndarray, g: ConvGeometry, out: np.ndarray) -> None:
    """``out`` = the padded gradient ``dxp`` with its padding cut off."""
    if dxp is not out:
        np.copyto(out, _unpad(dxp, g))


def _unpad(xp: np.ndarray, g: ConvGeometry) -> np.ndarray:
    (pt, _), (pl, _) = g.pads
    return xp[:, :, pt:pt + g.in_hw[0], pl:pl + g.in_hw[1]]


def _argmax_dtype(g: ConvGeometry):
    return np.uint8 if g.kernel[0] * g.kernel[1] <= 256 else np.intp
