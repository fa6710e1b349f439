r"""Pooling in NCHW layout: max, average and L^p (L2) pooling, forward and backward.

Every channel is pooled separately. Window ``k``, stride ``s`` (default: ``k``, non-overlapping),
padding ``p`` (at most half the window, as in PyTorch); output size :math:`\lfloor (H + 2p - k)/s\rfloor + 1`.

Implementation (no loop over pixels or images):

- **Tiles** (stride equal to the window, the usual case): the columns of every window first, each
  column offset ``b`` a strided view ``x[..., b::kw]`` that numpy walks in one regular pass over the
  whole batch when the windows cover whole rows; then the rows, as the same operation between the
  flat result and itself shifted by ``a`` rows (contiguous, one pass each), keeping the first row of
  every block of ``kh`` rows by one copy of whole rows (``_tile_reduce``). The max-pooling
  backward pass finds each window's first maximum the same way, as the offset ``a*kw + b``, and
  writes the gradient there with one scatter; :func:`~cnn_core.max_pool2d` can return those
  offsets (``return_argmax=True``) so that :func:`~cnn_core.max_pool2d_backward` does not search
  again. Average pooling of tiles is one matrix product with a 0/1 matrix (``_sum_by_product``).
- **Other strides** (overlapping windows, or gaps): a loop over the ``kh*kw`` offsets inside the
  window, each a strided slice of the whole batch; this works for overlapping windows because for
  one offset the slices of different windows never overlap.
"""

from __future__ import annotations

import functools
import numbers
import sys

import numpy as np

from . import _parallel
from ._validate import as_float_array, as_pair, check_ndim
from .conv import ConvGeometry, _geometry, _pad, _scratch_array

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
_PARALLEL_MIN_ELEMENTS = 400_000

_LITTLE_ENDIAN = sys.byteorder == "little"


def _by_batch(fn, x: np.ndarray) -> None:
    """Run ``fn(n0, n1)`` over the batch of ``x``: in one call, or in one contiguous part per core
    when the batch is large enough. ``fn`` writes its results into slices of preallocated arrays."""
    n = x.shape[0]
    parts = max(1, min(_parallel.workers(), n)) if x.size >= _PARALLEL_MIN_ELEMENTS else 1
    edges = _parallel.bounds(n, parts)
    _parallel.run(lambda r: fn(*r), list(zip(edges, edges[1:])))


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
    if not return_argmax:
        _by_batch(lambda n0, n1: _window_max(_pad(x[n0:n1], g.pads, -np.inf), g, out=y[n0:n1]), x)
        return y
    arg = np.empty(y.shape, dtype=_argmax_dtype(g))

    def part(n0, n1):
        xp = _pad(x[n0:n1], g.pads, -np.inf)
        if not (_tiled(g) and _tile_window_argmax(xp, g, arg[n0:n1], y[n0:n1])):
            _window_max(xp, g, out=y[n0:n1])
            arg[n0:n1] = _window_argmax(xp, g)
    _by_batch(part, x)
    return y, arg


def _argmax_dtype(g: ConvGeometry):
    return np.uint8 if g.kernel[0] * g.kernel[1] <= 256 else np.intp


def _window_max(xp: np.ndarray, g: ConvGeometry, out=None) -> np.ndarray:
    """Maximum of every window of the (−∞-padded) input: one ``np.maximum`` per offset."""
    return _reduce_slices(np.maximum, xp, g, out)


def _reduce_slices(op, xp: np.ndarray, g: ConvGeometry, out=None) -> np.ndarray:
    """``op`` (``np.maximum`` or ``np.add``) over every window, into ``out`` if given: by
    :func:`_tile_reduce` when the windows are tiles, else folded over the window offsets' strided
    slices in row-major order of the offsets."""
    if out is None:
        out = np.empty((*xp.shape[:2], *g.out_hw), dtype=xp.dtype)
    if _tiled(g):
        return _tile_reduce(op, xp, g, out)
    return _fold(op, [xp[idx] for _, _, idx in _slices(g)], out)


def _fold(op, views: list, out: np.ndarray) -> np.ndarray:
    """``op(...op(op(views[0], views[1]), views[2])...)`` into ``out``; the first ``op`` writes
    ``out`` (no separate copy pass)."""
    if len(views) == 1:
        np.copyto(out, views[0])
        return out
    op(views[0], views[1], out=out)
    for v in views[2:]:
        op(out, v, out=out)
    return out


# ------------------------------------------------------------------ tiles: stride == window
# A strided slice x[:, :, a::kh, b::kw] of a 4-D array makes numpy call its inner loop once per
# output row of W' elements, and for small maps that per-call cost dominates. Neighbouring columns
# x[..., b::kw] are one regular stride through the whole batch instead, and neighbouring rows of a
# contiguous array are the same flat array shifted by W' elements. So a window is reduced in two
# stages that numpy runs as long 1-D loops: columns, then rows.

def _tiled(g: ConvGeometry) -> bool:
    """Whether the windows are tiles: the stride equals the window, so they neither overlap nor
    leave gaps (the rows and columns left over at the bottom and right belong to no window)."""
    return g.stride == g.kernel


def _tile_columns(xp: np.ndarray, g: ConvGeometry) -> list:
    """The ``kw`` column views of the tiled part of ``xp``: view ``b``, of shape (n, C, H'kh, W'),
    holds column ``b`` of every window. When the tiles fill whole rows, numpy walks each view as
    one 1-D loop with stride ``kw``."""
    (kh, kw), (ho, wo) = g.kernel, g.out_hw
    tiled = xp[:, :, :ho * kh, :wo * kw]
    return [tiled[..., b::kw] for b in range(kw)]


def _block_rows(a: np.ndarray, kh: int, wo: int) -> list:
    """The ``kh`` rows of every block of ``kh`` rows (of ``wo`` elements) of a contiguous array,
    as views of its flat data shifted by ``0, wo, ..., (kh-1)*wo`` elements. Element ``i`` of view
    ``r`` is ``flat[i + r*wo]``; at the first row of a block (the only positions used) that is the
    same column ``r`` rows further down, inside the block. Each view is one contiguous 1-D loop."""
    flat = a.reshape(-1)
    span = flat.size - (kh - 1) * wo
    return [flat[r * wo:r * wo + span] for r in range(kh)]


def _records(a: np.ndarray, width: int) -> np.ndarray:
    """A C-contiguous array as a 1-D array of opaque records of ``width`` elements each, so that
    moving whole runs of ``width`` elements is one 1-D copy instead of one loop call per run."""
    if not a.flags.c_contiguous:
        raise ValueError(f"internal error: _records needs a C-contiguous array; got strides {a.strides}")
    return a.reshape(-1, width).view(np.dtype((np.void, width * a.itemsize))).reshape(-1)


def _first_rows(full: np.ndarray, kh: int, wo: int, out: np.ndarray) -> np.ndarray:
    """Copy the first row of every block of ``kh`` rows of ``full`` (contiguous, rows of ``wo``
    elements, its size a multiple of ``kh*wo``) into contiguous ``out``."""
    np.copyto(_records(out, wo), _records(full, wo).reshape(-1, kh)[:, 0])
    return out


def _tile_reduce(op, xp: np.ndarray, g: ConvGeometry, out: np.ndarray) -> np.ndarray:
    """``op`` over every tile of ``xp`` into ``out`` (contiguous, (n, C, H', W')): over each row's
    ``kw`` columns (:func:`_tile_columns`), then over each block's ``kh`` rows (:func:`_block_rows`,
    computed at every position of the flat array and kept at the first row of each block)."""
    (kh, kw), (ho, wo) = g.kernel, g.out_hw
    if kh == 1 or out.size == 0:
        return _fold(op, _tile_columns(xp, g), out) if kh == 1 else out
    cols = _fold(op, _tile_columns(xp, g),
                 _scratch_array("pool_cols", (*xp.shape[:2], ho * kh, wo), xp.dtype))
    rows = _block_rows(cols, kh, wo)
    full = _scratch_array("pool_rows", (cols.size,), xp.dtype)
    _fold(op, rows, full[:rows[0].size])
    return _first_rows(full, kh, wo, out)


def _fold_argmax(views: list, best: np.ndarray, arg: np.ndarray) -> None:
    """Maximum of ``views`` into ``best`` and the index of the first view that holds it into
    ``arg`` (uint8): strict ``>``, so an earlier view keeps its place on a tie. Infinities are
    fine, NaN is not (every comparison with it is false). With two views ``best`` may be None
    (the index alone is computed)."""
    np.greater(views[1], views[0], out=arg.view(np.bool_))       # 0 or 1: a bool is a uint8 byte
    if best is not None:
        np.maximum(views[0], views[1], out=best)
    if len(views) > 2:
        better = np.empty(best.shape, dtype=bool)
        for i, v in enumerate(views[2:], 2):
            np.greater(v, best, out=better)
            np.maximum(best, v, out=best)
            np.copyto(arg, i, where=better)


def _all_finite(a: np.ndarray) -> bool:
    """True only if ``a`` has no NaN or infinity, by one summation pass (cheaper than an
    element-wise test). A sum that overflows gives a false alarm, which merely sends the caller
    to its exact, slower route."""
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.add.reduce(a, axis=None)))


def _has_nan(a: np.ndarray) -> bool:
    """Whether ``a`` holds a NaN, by one maximum over it (``np.maximum`` propagates NaN), which is
    cheaper than a test per element."""
    return bool(np.isnan(np.maximum.reduce(a, axis=None)))


def _tile_margins_zero(dxp: np.ndarray, g: ConvGeometry) -> None:
    """Zero the rows and columns of the (padded) gradient that belong to no tile."""
    (kh, kw), (ho, wo) = g.kernel, g.out_hw
    if (ho * kh, wo * kw) != dxp.shape[2:]:
        dxp[:, :, ho * kh:, :] = 0
        dxp[:, :, :ho * kh, wo * kw:] = 0


def _tile_spread(d: np.ndarray, g: ConvGeometry, dxp: np.ndarray) -> None:
    """Every element of each tile of ``dxp`` gets its window's value of ``d`` ((n, C, H', W'),
    C-contiguous, as :func:`avg_pool2d_backward` makes it):
    copied into each row of a block (one copy of whole rows per row offset), then into each
    column; the margins get 0."""
    (kh, kw), (ho, wo) = g.kernel, g.out_hw
    if kh == 1:
        rows = d
    else:
        rows = _scratch_array("pool_spread", (*d.shape[:2], ho * kh, wo), d.dtype)
        blocks = _records(rows, wo).reshape(-1, kh)
        src = _records(d, wo)
        for r in range(kh):
            np.copyto(blocks[:, r], src)
    tiled = dxp[:, :, :ho * kh, :wo * kw]
    for b in range(kw):
        np.copyto(tiled[..., b::kw], rows)
    _tile_margins_zero(dxp, g)


@functools.lru_cache(maxsize=8)
def _tile_origins(nc: int, hp: int, wp: int, kh: int, kw: int, ho: int, wo: int) -> np.ndarray:
    """Flat index, in an (n, C, hp, wp) array with ``n*C = nc``, of the top-left element of every
    tile, shaped (n*C, H', W'). Read-only; kept for the last few shapes."""
    origins = (np.arange(nc)[:, None, None] * (hp * wp) + np.arange(ho)[:, None] * (kh * wp)
               + np.arange(wo) * kw)
    origins.flags.writeable = False
    return origins


@functools.lru_cache(maxsize=32)
def _offset_table(kh: int, kw: int, wp: int) -> np.ndarray:
    """``table[a*kw + b] = a*wp + b``: the flat offset, in rows of ``wp``, of element (a, b) of a window."""
    table = (np.arange(kh)[:, None] * wp + np.arange(kw)).reshape(-1)
    table.flags.writeable = False
    return table


def _tile_window_argmax(xp: np.ndarray, g: ConvGeometry, code: np.ndarray, ymax=None) -> bool:
    """The first maximum, in row-major order, of every tile of ``xp``, as the in-window offset
    ``a*kw + b``, into ``code`` (uint8, C-contiguous, (n, C, H', W')), and the maxima themselves
    into ``ymax`` if given:

    1. each row of every window: its maximum and the column ``b`` of its first occurrence
       (:func:`_fold_argmax` over the column views of :func:`_tile_columns`);
    2. each window: the first row ``a`` holding the largest of those maxima (:func:`_fold_argmax`
       over the rows shifted against each other, :func:`_block_rows`), combined with the column
       recorded for that row into ``a*kw + b``, kept at the first row of each block
       (:func:`_first_rows`).

    Returns False, having written nothing, if an element inside the tiles is NaN (then the exact
    rule for NaN applies, see :func:`_window_argmax`), or for windows of more than 256 elements."""
    (kh, kw), (ho, wo) = g.kernel, g.out_hw
    if kh * kw > 256:
        return False
    if xp.size == 0:
        return True
    shape = (*xp.shape[:2], ho * kh, wo)
    cols = _tile_columns(xp, g)
    cmax = _scratch_array("pool_cols", shape, xp.dtype)
    carg = _scratch_array("pool_carg", (cmax.size,), np.uint8)   # the column b, per row
    if kw == 1:
        np.copyto(cmax, cols[0])
        carg.fill(0)
    elif kw == 2 and _LITTLE_ENDIAN and xp.flags.c_contiguous and xp.size == 2 * cmax.size:
        # Pairs covering whole rows: compare the flat array with itself shifted by one
        # (contiguous, much faster than the strided comparison); element 2q is the pair of q.
        # Read as uint16, element q of the result has that byte as its low byte, which the
        # narrowing copy to uint8 keeps.
        np.maximum(cols[0], cols[1], out=cmax)
        flat = xp.reshape(-1)
        later = _scratch_array("pool_later", (flat.size,), np.bool_)
        np.greater(flat[1:], flat[:-1], out=later[:-1])
        np.copyto(carg, later.view(np.uint16), casting="unsafe")
    else:
        _fold_argmax(cols, cmax, carg.reshape(shape))
    if _has_nan(cmax):                 # np.maximum propagates NaN into cmax
        return False
    if kh == 1:
        np.copyto(code.reshape(-1), carg)
        if ymax is not None:
            np.copyto(ymax, cmax)
        return True
    span = cmax.size - (kh - 1) * wo
    rarg = _scratch_array("pool_rarg", (span,), np.uint8)       # the row a, per window
    best = None
    if kh > 2 or ymax is not None:
        best = _scratch_array("pool_rows", (cmax.size,), xp.dtype)
    _fold_argmax(_block_rows(cmax, kh, wo), None if best is None else best[:span], rarg)
    # a*kw + b for the winning row a: b of row 0, plus, where a > 0, the difference to
    # a*kw + (b of row a) (uint8 arithmetic may wrap around, but the sum comes out exact)
    full = _scratch_array("pool_code", (cmax.size,), np.uint8)
    diff = _scratch_array("pool_diff", (span,), np.uint8)
    for a in range(1, kh):
        np.subtract(carg[a * wo:a * wo + span], carg[:span], out=diff)
        np.add(diff, a * kw, out=diff)
        np.multiply(diff, rarg if kh == 2 else (rarg == a), out=diff)
        np.add(carg[:span] if a == 1 else full[:span], diff, out=full[:span])
    _first_rows(full, kh, wo, code)
    if ymax is not None:
        _first_rows(best, kh, wo, ymax)
    return True


def _scatter_to_argmax(dout: np.ndarray, arg: np.ndarray, g: ConvGeometry, dxp: np.ndarray) -> None:
    """Max-pooling gradient for tiles: zero ``dxp`` (C-contiguous, shaped like the padded input)
    and write each ``dout`` element at its window's origin plus the in-window offset ``arg``
    (``a*kw + b``, any integer type) as one fancy assignment."""
    (kh, kw), (ho, wo) = g.kernel, g.out_hw
    n, c, hp, wp = dxp.shape
    index = np.take(_offset_table(kh, kw, wp), arg.reshape(-1))
    index += _tile_origins(n * c, hp, wp, kh, kw, ho, wo).reshape(-1)
    dxp.fill(0)
    dxp.reshape(-1)[index] = dout.reshape(-1)


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


def _grad_buffer(x: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """The (padded) array the backward pass scatters into: uninitialised for tiles (their
    backward writes every element, margins included), zeros otherwise."""
    make = np.empty if _tiled(g) else np.zeros
    return make((*x.shape[:2], *g.padded_hw), dtype=x.dtype)


def _grad_target(out: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """Where a backward pass scatters the gradient of ``out`` (n, C, H, W): ``out`` itself when
    there is no padding (zeroed first unless the windows are tiles), else a padded buffer
    (:func:`_grad_buffer`) that :func:`_store` crops into ``out``."""
    if g.padded_hw != g.in_hw:
        return _grad_buffer(out, g)
    if not _tiled(g):
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
    _, arg = max_pool2d(x, kernel_size, stride=stride, padding=padding, return_argmax=True)
    return arg.astype(np.intp)


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
        arg = None if argmax is None else argmax[n0:n1]
        _max_pool_backward(dout[n0:n1], x[n0:n1], g, dx[n0:n1], arg)
    _by_batch(part, x)
    return dx


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


def _max_pool_backward(dout: np.ndarray, x: np.ndarray, g: ConvGeometry, out: np.ndarray,
                       arg=None) -> None:
    """:func:`max_pool2d_backward` of a (part of a) batch into ``out``, arguments already checked;
    ``arg``: the windows' argmax offsets, if known."""
    xp = _pad(x, g.pads, -np.inf)
    dxp = _grad_target(out, g)
    if arg is None and _tiled(g):
        code = _scratch_array("pool_first", dout.shape, np.uint8)
        arg = code if _tile_window_argmax(xp, g, code) else _window_argmax(xp, g)
    if arg is not None:
        if _tiled(g) and dxp.flags.c_contiguous:
            _scatter_to_argmax(dout, arg, g, dxp)
        else:
            _route_by_argmax(dout, arg, g, dxp)
        _store(dxp, g, out)
        return
    y = _window_max(xp, g)
    if not (_all_finite(y) and _all_finite(dout)):
        # NaN/inf: route by the explicit argmax so that unchosen elements get exactly 0
        _route_by_argmax(dout, _window_argmax(xp, g), g, dxp)
        _store(dxp, g, out)
        return
    # Fast path: visit the offsets in row-major order; the first element equal to its window's
    # maximum takes the window's gradient, and the window is marked as taken (ties: first wins).
    # The masks are booleans (one byte per window), far cheaper than updating a float remainder.
    overlapping = _overlapping(g)
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


def _route_by_argmax(dout: np.ndarray, arg: np.ndarray, g: ConvGeometry, dxp: np.ndarray) -> None:
    """Send each ``dout`` element to the offset ``arg`` of its window, one strided slice per
    offset: added where windows overlap, written otherwise (margins of tiles zeroed)."""
    overlapping = _overlapping(g)
    kw = g.kernel[1]
    for a, b, idx in _slices(g):
        chosen = np.where(arg == a * kw + b, dout, 0)
        if overlapping:
            dxp[idx] += chosen
        else:
            dxp[idx] = chosen
    if _tiled(g):
        _tile_margins_zero(dxp, g)


def _window_sum(xp: np.ndarray, g: ConvGeometry, out=None) -> np.ndarray:
    return _reduce_slices(np.add, xp, g, out)


# ------------------------------------------------- average pooling of tiles as a matrix product
# Average pooling is linear, and with tiles that cover whole blocks of kh rows, one block of the
# (padded) input, kh*W consecutive numbers, determines one row of the output: stacking the blocks
# as the rows of a matrix X (N*C*H', kh*W), the window sums are Y = X S with the 0/1 matrix S
# (kh*W, W') below, and the backward pass is dX = dY Sᵀ. A matrix product multiplies 2W' numbers
# per input element, most of them zeros, but BLAS does that at a rate no chain of numpy passes
# matches, on every core; for wide maps (W' above _PRODUCT_MAX_WO) the tile path is faster.
_PRODUCT_MAX_WO = 24


@functools.lru_cache(maxsize=32)
def _sum_matrix(width: int, kh: int, kw: int, wo: int, dtype: str, transposed: bool = False):
    """S (kh*width, wo): ``S[a*width + j*kw + b, j] = 1`` for ``a < kh``, ``b < kw``; row ``a*width + t``
    stands for element ``t`` of row ``a`` of a block, column ``j`` for output ``j``. With
    ``transposed``, Sᵀ as a C-contiguous array (BLAS is faster with it than with the view ``S.T``).
    Read-only."""
    s = np.zeros((kh * width, wo), dtype=dtype)
    j = np.arange(wo)
    for a in range(kh):
        for b in range(kw):
            s[a * width + j * kw + b, j] = 1
    if transposed:
        s = np.ascontiguousarray(s.T)
    s.flags.writeable = False
    return s


def _by_product(g: ConvGeometry) -> bool:
    """Whether :func:`_sum_by_product` applies: tiles whose blocks of rows cover the (padded)
    input exactly, and an output narrow enough for the product to be the faster way."""
    return (_tiled(g) and g.out_hw[0] * g.kernel[0] == g.padded_hw[0]
            and g.out_hw[1] <= _PRODUCT_MAX_WO)


def _block_matrix(a: np.ndarray, g: ConvGeometry, width: int) -> np.ndarray:
    """``a`` (n, C, rows, ·) as the matrix whose rows are its blocks of ``kh`` rows, ``width``
    numbers each (a view when ``a`` is C-contiguous)."""
    return a.reshape(-1, g.kernel[0] * width)


def _sum_by_product(xp: np.ndarray, g: ConvGeometry, out: np.ndarray) -> bool:
    """Window sums of the (padded) ``xp`` into contiguous ``out`` as ``Y = X S`` (see above).
    Returns False when a sum is not finite: the product multiplies an infinity or NaN by the zeros
    of S too and spreads NaN over its block, so the caller recomputes by the tile path."""
    (kh, kw), (_, wo) = g.kernel, g.out_hw
    s = _sum_matrix(xp.shape[3], kh, kw, wo, xp.dtype.str)
    with np.errstate(invalid="ignore", over="ignore"):     # such results are recomputed
        np.matmul(_block_matrix(xp, g, xp.shape[3]), s, out=out.reshape(-1, wo))
    return _all_finite(out)


def avg_pool2d(x, kernel_size, *, stride=None, padding=0) -> np.ndarray:
    r"""Average pooling: :math:`y_{n,c,i,j} = \frac{1}{k_h k_w}\sum_{a,b} x^{\text{pad}}_{n,c,s_h i+a,\,s_w j+b}`.

    Zero padding counts in the average (PyTorch's default, ``count_include_pad=True``):
    the divisor is always ``kh*kw``.
    """
    x, g = _pool_geometry(x, kernel_size, stride, padding)
    y = np.empty((*x.shape[:2], *g.out_hw), dtype=x.dtype)
    if not (_by_product(g) and _sum_by_product(_pad(x, g.pads), g, y)):
        _by_batch(lambda n0, n1: _window_sum(_pad(x[n0:n1], g.pads), g, out=y[n0:n1]), x)
    y /= g.kernel[0] * g.kernel[1]
    return y


def avg_pool2d_backward(dout, x, kernel_size, *, stride=None, padding=0) -> np.ndarray:
    r"""Gradient of :func:`avg_pool2d`: every element of a window receives ``dout / (kh*kw)``."""
    x, g = _pool_geometry(x, kernel_size, stride, padding)
    dout = _check_dout(dout, x, g)
    dx = np.empty(x.shape, dtype=x.dtype)
    overlapping = _overlapping(g)
    d = np.ascontiguousarray(dout / (g.kernel[0] * g.kernel[1]))
    if _by_product(g) and _all_finite(d):       # dX = dY Sᵀ; NaN/inf would spread over a block
        (kh, kw), (_, wo), wp = g.kernel, g.out_hw, g.padded_hw[1]
        dxp = _grad_buffer(dx, g) if g.padded_hw != g.in_hw else dx
        np.matmul(d.reshape(-1, wo), _sum_matrix(wp, kh, kw, wo, x.dtype.str, True),
                  out=_block_matrix(dxp, g, wp))
        _store(dxp, g, dx)
        return dx

    def part(n0, n1):
        dxp = _grad_target(dx[n0:n1], g)
        if _tiled(g):
            _tile_spread(d[n0:n1], g, dxp)
        else:
            for _, _, idx in _slices(g):
                if overlapping:
                    dxp[idx] += d[n0:n1]
                else:
                    dxp[idx] = d[n0:n1]
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
