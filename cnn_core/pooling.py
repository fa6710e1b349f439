r"""Pooling in NCHW layout: max, average and L^p (L2) pooling, forward and backward.

Every channel is pooled separately. Window ``k``, stride ``s`` (default: ``k``, non-overlapping),
padding ``p`` (at most half the window, as in PyTorch); output size :math:`\lfloor (H + 2p - k)/s\rfloor + 1`.

Implementation: a loop over the ``kh*kw`` offsets inside the window, each a strided slice of the
whole batch (no loop over pixels); for 2×2 windows that is four slices. Overlapping windows work,
because for one offset the slices of different windows never overlap.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _parallel
from ._validate import as_float_array, as_pair, check_ndim
from .conv import ConvGeometry, _geometry, _pad

__all__ = ["max_pool2d", "max_pool2d_backward", "max_pool2d_argmax", "max_pool2d_mask",
           "avg_pool2d", "avg_pool2d_backward", "lp_pool2d", "lp_pool2d_backward"]


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
    return x, _geometry(x.shape[2:], k, s, p, 1,
                        context=f"; {name}.shape = {x.shape}, kernel_size = {kernel_size!r}")


def _slices(g: ConvGeometry):
    """Yield ``(a, b, index)``: the window offset and the strided slice it reads from the padded input."""
    (kh, kw), (sh, sw) = g.kernel, g.stride
    ho, wo = g.out_hw
    for a in range(kh):
        for b in range(kw):
            yield a, b, (slice(None), slice(None),
                         slice(a, a + sh * (ho - 1) + 1, sh), slice(b, b + sw * (wo - 1) + 1, sw))


def _unpad(xp: np.ndarray, g: ConvGeometry) -> np.ndarray:
    (pt, _), (pl, _) = g.pads
    h, w = g.in_hw
    if xp.shape[2:] == (h, w):
        return xp
    return np.ascontiguousarray(xp[:, :, pt:pt + h, pl:pl + w])


def _check_dout(dout, x, g, name="dout"):
    dout = as_float_array(dout, name)
    expected = (*x.shape[:2], *g.out_hw)
    if dout.shape != expected:
        raise ValueError(f"{name} must have the forward output's shape {expected}; got {dout.shape}")
    return dout.astype(x.dtype, copy=False)


# Batches with at least this many input elements are split into one part per core and pooled in
# parallel (see :mod:`cnn_core._parallel`); below it the threads cost more than they save.
_PARALLEL_MIN_ELEMENTS = 131072


def _by_batch(fn, x: np.ndarray) -> None:
    """Run ``fn(n0, n1)`` over the batch of ``x``: in one call, or in one contiguous part per core
    when the batch is large enough. ``fn`` writes its results into slices of preallocated arrays."""
    n = x.shape[0]
    parts = max(1, min(_parallel.workers(), n)) if x.size >= _PARALLEL_MIN_ELEMENTS else 1
    edges = _parallel.bounds(n, parts)
    _parallel.run(lambda r: fn(*r), list(zip(edges, edges[1:])))


def max_pool2d(x, kernel_size, *, stride=None, padding=0) -> np.ndarray:
    r"""Max pooling: :math:`y_{n,c,i,j} = \max_{0\le a<k_h,\,0\le b<k_w} x^{\text{pad}}_{n,c,s_h i+a,\,s_w j+b}`.

    ``x`` (N, C, H, W) → (N, C, H', W'). Padding pads with −∞, so it never wins.
    """
    x, g = _pool_geometry(x, kernel_size, stride, padding)
    y = np.empty((*x.shape[:2], *g.out_hw), dtype=x.dtype)
    _by_batch(lambda n0, n1: _window_max(_pad(x[n0:n1], g.pads, -np.inf), g, out=y[n0:n1]), x)
    return y


def _window_max(xp: np.ndarray, g: ConvGeometry, out=None) -> np.ndarray:
    """Maximum of every window of the (−∞-padded) input: one ``np.maximum`` per offset."""
    return _reduce_slices(np.maximum, xp, g, out)


def _reduce_slices(op, xp: np.ndarray, g: ConvGeometry, out=None) -> np.ndarray:
    """``op`` folded over the window offsets' strided slices, in row-major order of the offsets;
    the first ``op`` writes the result (no separate copy pass), into ``out`` if given."""
    slices = [xp[idx] for _, _, idx in _slices(g)]
    if len(slices) == 1:
        if out is None:
            return slices[0].copy()
        out[...] = slices[0]
        return out
    out = op(slices[0], slices[1], out=out)
    for v in slices[2:]:
        op(out, v, out=out)
    return out


def _window_argmax(xp: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """The flat in-window offset ``a*kw + b`` of each window's first maximum (strict ``>``, so an
    earlier maximum keeps its place on a tie), as the smallest integer type that holds it.
    A NaN counts as larger than any number (the forward's ``np.maximum`` propagates it), so the
    first NaN of a window is its maximum, as with ``np.argmax`` (PyTorch's CPU kernel takes the last)."""
    kw = g.kernel[1]
    dtype = np.uint8 if g.kernel[0] * kw <= 256 else np.intp
    has_nan = bool(np.isnan(xp).any())
    best = arg = better = None
    for a, b, idx in _slices(g):
        v = xp[idx]
        if best is None:
            best, arg = v.copy(), np.zeros(v.shape, dtype=dtype)
            better = np.empty(v.shape, dtype=bool)
        else:
            np.greater(v, best, out=better)
            if has_nan:
                better |= np.isnan(v) & ~np.isnan(best)
            np.copyto(best, v, where=better)
            np.copyto(arg, a * kw + b, where=better, casting="unsafe")
    return arg


def _overlapping(g: ConvGeometry) -> bool:
    """Whether two windows can share an element (stride smaller than the window on some axis)."""
    return g.stride[0] < g.kernel[0] or g.stride[1] < g.kernel[1]


def _tiles_exactly(g: ConvGeometry) -> bool:
    """Whether the windows tile the padded input exactly, without overlap: every element is then
    written once by the backward pass, so its buffer needs no zeroing."""
    (kh, kw), (sh, sw), (ho, wo) = g.kernel, g.stride, g.out_hw
    return (sh, sw) == (kh, kw) and (ho * kh, wo * kw) == g.padded_hw


def _grad_buffer(x: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """The (padded) array the backward pass scatters into: uninitialised when the windows tile it
    exactly (:func:`_tiles_exactly`), zeros otherwise."""
    make = np.empty if _tiles_exactly(g) else np.zeros
    return make((*x.shape[:2], *g.padded_hw), dtype=x.dtype)


def _grad_target(out: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """Where a backward pass scatters the gradient of ``out`` (n, C, H, W): ``out`` itself when
    there is no padding (zeroed first if the windows do not tile it exactly), else a padded buffer
    (:func:`_grad_buffer`) that :func:`_store` crops into ``out``."""
    if g.padded_hw != g.in_hw:
        return _grad_buffer(out, g)
    if not _tiles_exactly(g):
        out.fill(0)
    return out


def _store(dxp: np.ndarray, g: ConvGeometry, out: np.ndarray) -> None:
    if dxp is not out:
        out[...] = _unpad(dxp, g)


def max_pool2d_argmax(x, kernel_size, *, stride=None, padding=0) -> np.ndarray:
    """Which element of each window is its maximum, as the flat offset ``a*kw + b`` inside the window.

    Shape (N, C, H', W'), integers. **Ties**: the first maximum in row-major order inside the window
    (smallest ``a``, then smallest ``b``) is chosen, as PyTorch's CPU kernel does; it alone receives
    the gradient.
    """
    x, g = _pool_geometry(x, kernel_size, stride, padding)
    return _window_argmax(_pad(x, g.pads, -np.inf), g).astype(np.intp)


def max_pool2d_mask(x, kernel_size, *, stride=None, padding=0) -> np.ndarray:
    """The mask of the maxima: a boolean array shaped like ``x`` that is True where an element is
    the (first) maximum of at least one window, i.e. where the backward pass sends gradient."""
    x, g = _pool_geometry(x, kernel_size, stride, padding)
    arg = max_pool2d_argmax(x, kernel_size, stride=stride, padding=padding)
    mask = np.zeros((*x.shape[:2], *g.padded_hw), dtype=bool)
    kw = g.kernel[1]
    for a, b, idx in _slices(g):
        mask[idx] |= arg == a * kw + b
    return _unpad(mask, g)


def max_pool2d_backward(dout, x, kernel_size, *, stride=None, padding=0) -> np.ndarray:
    r"""Gradient of :func:`max_pool2d`: each ``dout`` element goes to its window's maximum.

    ``dx[n, c, s_h i + a, s_w j + b] += dout[n, c, i, j]`` for the offset ``(a, b)`` of the maximum
    (ties: the first in row-major order, see :func:`max_pool2d_argmax`); every other element gets 0.
    With overlapping windows an element can collect gradient from several windows.
    """
    x, g = _pool_geometry(x, kernel_size, stride, padding)
    dout = _check_dout(dout, x, g)
    dx = np.empty_like(x)

    _by_batch(lambda n0, n1: _max_pool_backward(dout[n0:n1], x[n0:n1], g, dx[n0:n1]), x)
    return dx


def _max_pool_backward(dout: np.ndarray, x: np.ndarray, g: ConvGeometry, out: np.ndarray) -> None:
    """:func:`max_pool2d_backward` of a (part of a) batch into ``out``, arguments already checked."""
    xp = _pad(x, g.pads, -np.inf)
    dxp = _grad_target(out, g)
    overlapping = _overlapping(g)
    y = _window_max(xp, g)
    # One summation pass each instead of an element-wise test: a finite sum proves that y has no
    # NaN and dout no NaN/inf (a non-finite sum merely sends us to the exact, slower route).
    if not (np.isfinite(np.add.reduce(y, axis=None)) and np.isfinite(np.add.reduce(dout, axis=None))):
        # NaN/inf: route by the explicit argmax so that unchosen elements get exactly 0
        arg = _window_argmax(xp, g)
        kw = g.kernel[1]
        for a, b, idx in _slices(g):
            chosen = np.where(arg == a * kw + b, dout, 0)
            if overlapping:
                dxp[idx] += chosen
            else:
                dxp[idx] = chosen
        _store(dxp, g, out)
        return
    # Fast path: visit the offsets in row-major order; the first element equal to its window's
    # maximum takes the window's gradient, which is then removed from `rest` (ties: first wins).
    # The masks are booleans (one byte per window), far cheaper than updating a float remainder.
    taken = hit = None
    offsets = list(_slices(g))
    for number, (_, _, idx) in enumerate(offsets):
        if taken is None:
            taken = np.equal(xp[idx], y)
            hit = taken.copy() if len(offsets) > 1 else taken
        else:
            np.equal(xp[idx], y, out=hit)
            np.greater(hit, taken, out=hit)            # hit and not already taken
            if number < len(offsets) - 1:
                np.logical_or(taken, hit, out=taken)
        chosen = hit if number else taken
        if overlapping:
            dxp[idx] += dout * chosen
        else:                              # each element belongs to one window: write, don't add
            np.multiply(dout, chosen, out=dxp[idx])
    _store(dxp, g, out)


def _window_sum(xp: np.ndarray, g: ConvGeometry, out=None) -> np.ndarray:
    return _reduce_slices(np.add, xp, g, out)


def avg_pool2d(x, kernel_size, *, stride=None, padding=0) -> np.ndarray:
    r"""Average pooling: :math:`y_{n,c,i,j} = \frac{1}{k_h k_w}\sum_{a,b} x^{\text{pad}}_{n,c,s_h i+a,\,s_w j+b}`.

    Zero padding counts in the average (PyTorch's default, ``count_include_pad=True``):
    the divisor is always ``kh*kw``.
    """
    x, g = _pool_geometry(x, kernel_size, stride, padding)
    y = np.empty((*x.shape[:2], *g.out_hw), dtype=x.dtype)

    def part(n0, n1):
        _window_sum(_pad(x[n0:n1], g.pads), g, out=y[n0:n1])
        y[n0:n1] /= g.kernel[0] * g.kernel[1]
    _by_batch(part, x)
    return y


def avg_pool2d_backward(dout, x, kernel_size, *, stride=None, padding=0) -> np.ndarray:
    r"""Gradient of :func:`avg_pool2d`: every element of a window receives ``dout / (kh*kw)``."""
    x, g = _pool_geometry(x, kernel_size, stride, padding)
    dout = _check_dout(dout, x, g)
    dx = np.empty_like(x)
    overlapping = _overlapping(g)

    def part(n0, n1):
        d = dout[n0:n1] / (g.kernel[0] * g.kernel[1])
        dxp = _grad_target(dx[n0:n1], g)
        for _, _, idx in _slices(g):
            if overlapping:
                dxp[idx] += d
            else:
                dxp[idx] = d
        _store(dxp, g, dx[n0:n1])
    _by_batch(part, x)
    return dx


def lp_pool2d(x, kernel_size, *, p=2, stride=None) -> np.ndarray:
    r"""L^p pooling (L2 pooling for ``p=2``): :math:`y = \big(\sum_{a,b} |x_{\cdot,a,b}|^p\big)^{1/p}` per window.

    As PyTorch's ``LPPool2d`` for non-negative input; ``p=1`` sums absolute values and
    ``p → ∞`` tends to max pooling of ``|x|``.
    """
    if not (isinstance(p, numbers.Real) and not isinstance(p, bool) and np.isfinite(p) and p >= 1):
        raise ValueError(f"p must be a finite number >= 1; got {p!r}")
    x, g = _pool_geometry(x, kernel_size, stride, 0)
    return _window_sum(np.abs(x) ** p, g) ** (1.0 / p)


def lp_pool2d_backward(dout, x, kernel_size, *, p=2, stride=None) -> np.ndarray:
    r"""Gradient of :func:`lp_pool2d`: :math:`\partial y/\partial x = \operatorname{sign}(x)\,|x|^{p-1} / y^{p-1}`
    (zero for a window whose norm is zero)."""
    x, g = _pool_geometry(x, kernel_size, stride, 0)
    dout = _check_dout(dout, x, g)
    y = lp_pool2d(x, kernel_size, p=p, stride=stride)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(y > 0, dout / y ** (p - 1), 0.0)
    dx = np.zeros_like(x)
    for _, _, idx in _slices(g):
        dx[idx] += scale
    return dx * np.sign(x) * np.abs(x) ** (p - 1)
