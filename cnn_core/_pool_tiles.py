"""Pooling of tiles, the usual case of a stride equal to the window (internal).

The general path of :mod:`cnn_core.pooling` folds an operation over ``kh*kw`` strided slices
``x[:, :, a::kh, b::kw]``; numpy calls its inner loop once per output row of such a slice, and on
small maps that per-call cost dominates. Here the windows are reduced in two stages that numpy
runs as long 1-D loops: the columns of every window first (neighbouring columns ``x[..., b::kw]``
are one regular stride through the whole batch), then the rows (neighbouring rows of a contiguous
array are the same flat array shifted by ``W'`` elements), keeping the first row of every block of
``kh`` rows by one copy of whole rows moved as opaque records. The maxima's positions are found
the same way, the max-pooling gradient is written with one scatter, and average pooling of narrow
tiles is one matrix product.

Entry points (each returns False, having written nothing, where it does not apply; the caller
then runs the general path): :func:`reduce`, :func:`window_argmax`, :func:`scatter`,
:func:`spread`, :func:`avg_by_product`, :func:`avg_backward_by_product`. Switches:
``_tuning.POOL_TILES``, ``TILE_ARGMAX``, ``AVG_PRODUCT``.
"""

from __future__ import annotations

import functools
import sys

import numpy as np

from ._workspace import scratch_array as _scratch_array
from .shapes import ConvGeometry, pad2d

_LITTLE_ENDIAN = sys.byteorder == "little"


def reduce(op, xp: np.ndarray, g: ConvGeometry, out: np.ndarray) -> bool:
    """``op`` (``np.maximum`` or ``np.add``) over every tile of ``xp`` into ``out``."""
    if not (_tiled(g) and out.flags.c_contiguous):
        return False
    _tile_reduce(op, xp, g, out)
    return True


def window_argmax(xp: np.ndarray, g: ConvGeometry, arg: np.ndarray, best=None) -> bool:
    """The first maximum of every tile as the offset ``a*kw + b`` into ``arg`` (uint8), and the
    maximum into ``best`` if given; not for a tile holding NaN or of more than 256 elements."""
    if not (_tiled(g) and arg.dtype == np.uint8 and arg.flags.c_contiguous
            and (best is None or best.flags.c_contiguous)):
        return False
    return _tile_window_argmax(xp, g, arg, best)


def scatter(d: np.ndarray, arg: np.ndarray, g: ConvGeometry, out: np.ndarray) -> bool:
    """Max-pooling gradient of tiles: ``out`` (n, C, H, W) is zero but for ``d`` at each tile's
    offset ``arg``."""
    if not _tiled(g):
        return False
    dxp = _grad_buffer(g, out)
    _scatter_to_argmax(d, arg, g, dxp)
    _crop_into(dxp, g, out)
    return True


def spread(d: np.ndarray, g: ConvGeometry, out: np.ndarray) -> bool:
    """Every element of each tile of ``out`` (n, C, H, W) gets its tile's value of ``d``."""
    if not (_tiled(g) and d.flags.c_contiguous):
        return False
    dxp = _grad_buffer(g, out)
    _tile_spread(d, g, dxp)
    _crop_into(dxp, g, out)
    return True


def avg_by_product(x: np.ndarray, g: ConvGeometry, out: np.ndarray) -> bool:
    """Window sums of tiles of the unpadded ``x`` into ``out`` by one matrix product (see
    :func:`_sum_by_product`), where that is the faster way and the sums are finite."""
    return _by_product(g) and _sum_by_product(pad2d(x, g.pads), g, out)


def avg_backward_by_product(d: np.ndarray, g: ConvGeometry, out: np.ndarray) -> bool:
    """``dX = dY Sᵀ``: every element of each tile of ``out`` gets its tile's value of ``d``
    (C-contiguous), by one matrix product; not for non-finite ``d`` (it would spread NaN)."""
    if not (_by_product(g) and d.flags.c_contiguous and _all_finite(d)):
        return False
    (kh, kw), (_, wo), wp = g.kernel, g.out_hw, g.padded_hw[1]
    dxp = _grad_buffer(g, out)
    np.matmul(d.reshape(-1, wo), _sum_matrix(wp, kh, kw, wo, d.dtype.str, True),
              out=_block_matrix(dxp, g, wp))
    _crop_into(dxp, g, out)
    return True


def _grad_buffer(g: ConvGeometry, out: np.ndarray) -> np.ndarray:
    """Where a tile backward pass writes (every element, margins included): ``out`` itself when
    there is no padding and it is contiguous, else an uninitialised padded array."""
    if g.padded_hw == g.in_hw and out.flags.c_contiguous:
        return out
    return np.empty((*out.shape[:2], *g.padded_hw), dtype=out.dtype)


def _crop_into(dxp: np.ndarray, g: ConvGeometry, out: np.ndarray) -> None:
    if dxp is not out:
        (pt, _), (pl, _) = g.pads
        np.copyto(out, dxp[:, :, pt:pt + g.in_hw[0], pl:pl + g.in_hw[1]])


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


