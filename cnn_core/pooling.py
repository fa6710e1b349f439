r"""Pooling in NCHW layout: max, average and L^p (L2) pooling, forward and backward.

Every channel is pooled separately. Window ``k``, stride ``s`` (default: ``k``, non-overlapping),
padding ``p`` (at most half the window, as in PyTorch); output size :math:`\lfloor (H + 2p - k)/s\rfloor + 1`.

Implementation (no loop over pixels or images):

- **Tiles** (stride equal to the window, the usual case): the columns of every window first, each
  column offset ``b`` a strided view ``x[..., b::kw]`` that numpy walks in one regular pass over the
  whole batch when the windows cover whole rows; then the rows, as the same operation between the
  flat result and itself shifted by ``a`` rows (contiguous, one pass each), keeping the first row of
  every block of ``kh`` rows by one copy of whole rows. See :func:`_tile_reduce`.
- **Other strides** (overlapping windows, or gaps): a loop over the ``kh*kw`` offsets inside the
  window, each a strided slice of the whole batch; this works for overlapping windows because for
  one offset the slices of different windows never overlap.
"""

from __future__ import annotations

import functools
import numbers

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
    if kh == 1:
        return _fold(op, _tile_columns(xp, g), out)
    cols = _fold(op, _tile_columns(xp, g),
                 _scratch_array("pool_cols", (*xp.shape[:2], ho * kh, wo), xp.dtype))
    rows = _block_rows(cols, kh, wo)
    full = _scratch_array("pool_rows", (cols.size,), xp.dtype)
    _fold(op, rows, full[:rows[0].size])
    return _first_rows(full, kh, wo, out)


def _fold_argmax(views: list, best: np.ndarray, arg: np.ndarray) -> None:
    """Maximum of ``views`` into ``best`` and the index of the first view that holds it into
    ``arg`` (uint8): strict ``>``, so an earlier view keeps its place on a tie. Finite values only
    (NaN is not handled). With two views ``best`` may be None (the index alone is computed)."""
    np.greater(views[1], views[0], out=arg.view(np.bool_))       # 0 or 1: a bool is a uint8 byte
    if best is not None:
        np.maximum(views[0], views[1], out=best)
    if len(views) > 2:
        better = np.empty(best.shape, dtype=bool)
        for i, v in enumerate(views[2:], 2):
            np.greater(v, best, out=better)
            np.maximum(best, v, out=best)
            np.copyto(arg, i, where=better)


def _route(d: np.ndarray, arg: np.ndarray, outs: list) -> None:
    """``outs[i] = d`` where ``arg == i``, else 0. ``outs[0]`` gets ``d`` minus the others, which is
    exact: exactly one term equals ``d``, every other is 0."""
    if len(outs) == 1:
        np.copyto(outs[0], d)
        return
    for i, o in enumerate(outs[1:], 1):
        np.multiply(d, arg == i, out=o)
    np.subtract(d, outs[1], out=outs[0])
    for o in outs[2:]:
        np.subtract(outs[0], o, out=outs[0])


def _all_finite(a: np.ndarray) -> bool:
    """True only if ``a`` has no NaN or infinity, by one summation pass (cheaper than an
    element-wise test). A sum that overflows gives a false alarm, which merely sends the caller
    to its exact, slower route."""
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.add.reduce(a, axis=None)))


def _tile_margins_zero(dxp: np.ndarray, g: ConvGeometry) -> None:
    """Zero the rows and columns of the (padded) gradient that belong to no tile."""
    (kh, kw), (ho, wo) = g.kernel, g.out_hw
    if (ho * kh, wo * kw) != dxp.shape[2:]:
        dxp[:, :, ho * kh:, :] = 0
        dxp[:, :, :ho * kh, wo * kw:] = 0


def _tile_spread(d: np.ndarray, g: ConvGeometry, dxp: np.ndarray) -> None:
    """Every element of each tile of ``dxp`` gets its window's value of ``d`` (contiguous,
    (n, C, H', W')): copied into each row of a block (one copy of whole rows per row offset),
    then into each column; the margins get 0."""
    (kh, kw), (ho, wo) = g.kernel, g.out_hw
    if kh == 1:
        rows = d
    else:
        rows = _scratch_array("pool_spread", (*d.shape[:2], ho * kh, wo), d.dtype)
        blocks = _records(rows, wo).reshape(-1, kh)
        src = _records(np.ascontiguousarray(d), wo)
        for r in range(kh):
            np.copyto(blocks[:, r], src)
    tiled = dxp[:, :, :ho * kh, :wo * kw]
    for b in range(kw):
        np.copyto(tiled[..., b::kw], rows)
    _tile_margins_zero(dxp, g)


def _tile_max_backward(dout: np.ndarray, xp: np.ndarray, g: ConvGeometry, dxp: np.ndarray) -> bool:
    """Max-pooling gradient for tiles into ``dxp`` (shaped like ``xp``): the winning column of each
    row of a window and the winning row of each window, each by :func:`_fold_argmax` (first
    maximum wins, so overall the first in row-major order), then ``dout`` is routed to the winning
    row and from there to the winning column (:func:`_route`). Returns False, having written
    nothing, if the columns' maxima or ``dout`` are not all finite (then the caller takes the exact
    route for NaN and infinity)."""
    (kh, kw), (ho, wo) = g.kernel, g.out_hw
    shape = (*xp.shape[:2], ho * kh, wo)
    cols = _tile_columns(xp, g)
    cmax = _scratch_array("pool_cols", shape, xp.dtype)
    carg = _scratch_array("pool_carg", shape, np.uint8)
    if kw == 1:
        np.copyto(cmax, cols[0])
    else:
        _fold_argmax(cols, cmax, carg)
    if not (_all_finite(cmax) and _all_finite(dout)):
        return False
    if kh == 1:
        spread = dout
    else:
        rows = _block_rows(cmax, kh, wo)
        rarg_full = _scratch_array("pool_rarg_full", (cmax.size,), np.uint8)
        best = None if kh == 2 else _scratch_array("pool_rows", (rows[0].size,), xp.dtype)
        _fold_argmax(rows, best, rarg_full[:rows[0].size])
        rarg = _first_rows(rarg_full, kh, wo, _scratch_array("pool_rarg", dout.shape, np.uint8))
        parts = _scratch_array("pool_parts", (kh, *dout.shape), xp.dtype)
        _route(dout, rarg, list(parts))
        spread = _scratch_array("pool_spread", shape, xp.dtype)     # dout in its winning row
        blocks = _records(spread, wo).reshape(-1, kh)
        for r in range(kh):
            np.copyto(blocks[:, r], _records(parts[r], wo))
    tiled = dxp[:, :, :ho * kh, :wo * kw]
    _route(spread, carg, [tiled[..., b::kw] for b in range(kw)])
    _tile_margins_zero(dxp, g)
    return True


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
    if _tiled(g):
        if _tile_max_backward(dout, xp, g, dxp):
            _store(dxp, g, out)
            return
        y = None                   # NaN or infinity: the exact route below
    else:
        y = _window_max(xp, g)
    overlapping = _overlapping(g)
    if y is None or not (_all_finite(y) and _all_finite(dout)):
        # NaN/inf: route by the explicit argmax so that unchosen elements get exactly 0
        arg = _window_argmax(xp, g)
        kw = g.kernel[1]
        for a, b, idx in _slices(g):
            chosen = np.where(arg == a * kw + b, dout, 0)
            if overlapping:
                dxp[idx] += chosen
            else:
                dxp[idx] = chosen
        if _tiled(g):
            _tile_margins_zero(dxp, g)
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
