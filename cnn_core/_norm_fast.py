"""Batch normalization in few passes over memory (internal; the tuned path of
:mod:`cnn_core.normalization`, switched by ``_tuning.BN_FUSED``).

The general path reads like the equations and makes a fresh batch-sized array for every term.
Here the time goes into the passes over the batch, so there are as few as numpy allows:

- statistics from the sums Σx and Σx² of every (image, channel) row along its contiguous H·W
  values (row sums and dot products), added up per channel in float64:
  ``var_c = Σx²/NHW − mean_c²``. That subtraction loses about ``log2(1 + mean_c²/var_c)`` bits
  of the sums; where this could cost more than ``2**-20`` relative (float32 with
  ``|mean_c| > 2.6 std_c``, float64 only beyond ``|mean_c| > 10⁴ std_c``) the channel group's
  values are centred on the mean first, and the sums taken again (two passes, as in PyTorch);
- the forward pass as one affine map per channel, ``y = x s_c + t_c`` with
  ``s_c = γ_c / sqrt(var_c + ε)`` and ``t_c = b_c − mean_c s_c`` (PyTorch computes it so too);
- the backward pass with the forward pass's statistics when given them (as PyTorch's autograd
  keeps them; else they are computed as above), the three-term gradient written as

    dx = a_c δ + b'_c (x − mean_c) + c_c,   a_c = γ_c / sqrt(var_c + ε),
    b'_c = −a_c (∂E/∂γ_c) / (NHW sqrt(var_c + ε)),   c_c = −a_c (∂E/∂b_c) / NHW,

  the same formula with mean_c(δ) = (∂E/∂b_c)/NHW and mean_c(δ x̂) = (∂E/∂γ_c)/NHW, and with
  ∂E/∂γ_c = (Σ δx − mean_c Σ δ) / sqrt(var_c + ε) (or from the centred values, as above).

Every step works through a chunk of a few images small enough to stay in a core's cache, so
the steps after the first find their chunk there. A per-channel factor is applied as a
(C', H·W) array repeating each channel's value along its row, not as a (C', 1) column: numpy
runs a binary operation on two contiguous runs several times faster than one whose second
operand repeats a single value along the inner loop.

Large batches are split by channels, one contiguous group of channels per core
(:func:`cnn_core._workspace.by_channel`): a channel's statistics and outputs need no other
channel, so each core runs the whole computation for its group with no exchange in between, and
each channel's results are the same however many cores share the work.
"""

from __future__ import annotations

import numpy as np

from ._workspace import by_channel, scratch_array

# Bytes of one array's chunk: the chunks of the three or four arrays a step touches stay in a
# core's cache (2 MiB of L2 per core on the machine measured in benchmarks/README.md).
CHUNK_BYTES = 256 * 2**10

# Largest relative error the one-pass variance may make (see above) before two passes are taken.
ONE_PASS_MAX_LOSS = 2.0**-20


def _channels(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[0], a.shape[1], -1)          # (N, C, H·W), a view where possible


def _chunks(a3: np.ndarray) -> list[tuple[int, int]]:
    """``range(N)`` in runs of images whose part of ``a3`` (N, C', H·W) fills ``CHUNK_BYTES``."""
    n = a3.shape[0]
    per = max(1, CHUNK_BYTES // max(1, a3[:1].nbytes))
    return [(i, min(i + per, n)) for i in range(0, n, per)]


def _rows(v: np.ndarray, m: int, dtype) -> np.ndarray:
    """A (C', m) array whose row c repeats ``v[c]``: a per-channel factor for (n, C', m) chunks."""
    return np.asarray(v, dtype=dtype).repeat(m).reshape(-1, m)


def _row_sums(a: np.ndarray, out: np.ndarray) -> None:
    """Σ a along the last axis of a (n, C', m) chunk, into ``out`` (C', n)."""
    np.einsum("ncm->cn", a, out=out)


def _row_dots(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """Σ a·b along the last axis of two (n, C', m) chunks, into ``out`` (C', n). (Not BLAS's
    dot: OpenBLAS splits a long dot product among its threads, which would make the sums depend
    on the thread count.)"""
    np.einsum("ncm,ncm->cn", a, b, out=out)


def _total(per_row: np.ndarray) -> np.ndarray:
    """(C', N) sums of every (channel, image) row → (C',) per-channel totals in float64. Each
    channel's row is added up by itself, so its total does not depend on the other channels."""
    return per_row.sum(axis=1, dtype=np.float64)


def _origin(mean: np.ndarray, var: np.ndarray, m: int, dtype):
    """``(origin, origin_rows)``: ``mean`` and its rows where the one-pass sums could lose more
    than ``ONE_PASS_MAX_LOSS`` in ``dtype``, ``eps (1 + mean²/var)``, in some channel: the
    values are then centred on it before they are summed or mapped. Else ``0`` and ``None``."""
    largest = ONE_PASS_MAX_LOSS / np.finfo(dtype).eps - 1       # the largest mean²/var allowed
    if (mean * mean > largest * var).any():
        return mean, _rows(mean, m, dtype)
    return 0.0, None


def _centred(xk: np.ndarray, origin_rows) -> np.ndarray:
    """The chunk ``xk`` itself, or ``xk − origin`` in a work array."""
    if origin_rows is None:
        return xk
    return np.subtract(xk, origin_rows, out=scratch_array("bn_centred", xk.shape, xk.dtype))


def _affine(xk: np.ndarray, origin_rows, scale_rows, shift_rows, out: np.ndarray) -> None:
    """``out = (xk − origin) scale + shift``, per channel, without a further work array."""
    if origin_rows is None:
        np.multiply(xk, scale_rows, out=out)
    else:
        np.subtract(xk, origin_rows, out=out)
        out *= scale_rows
    out += shift_rows


def _statistics(x3: np.ndarray, chunks):
    """``(mean, var, origin, origin_rows)`` of ``x3`` (N, C', H·W): the per-channel mean and
    biased variance in float64, and the origin the values were summed about (see
    :func:`_origin`), for the passes that follow to use too."""
    n, c, m = x3.shape
    sums, squares = np.empty((c, n), x3.dtype), np.empty((c, n), x3.dtype)
    origin, origin_rows = 0.0, None
    while True:
        for n0, n1 in chunks:
            xk = _centred(x3[n0:n1], origin_rows)
            _row_sums(xk, sums[:, n0:n1])
            _row_dots(xk, xk, squares[:, n0:n1])
        shift = _total(sums) / (n * m)                    # mean − origin
        var = np.maximum(_total(squares) / (n * m) - shift * shift, 0.0)
        mean = origin + shift
        if origin_rows is not None:
            return mean, var, origin, origin_rows
        origin, origin_rows = _origin(mean, var, m, x3.dtype)
        if origin_rows is None:
            return mean, var, origin, origin_rows
        # else once more, about the mean: two passes


def forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float):
    """``(y, mean_c, var_c)``, the statistics in float64."""
    x3 = _channels(x)
    y = np.empty(x.shape, dtype=x.dtype)
    y3 = _channels(y)
    m = x3.shape[2]
    mean, var = np.empty(x3.shape[1]), np.empty(x3.shape[1])

    def group(c0: int, c1: int) -> None:
        xs, ys = x3[:, c0:c1], y3[:, c0:c1]
        chunks = _chunks(xs)
        mu, v, origin, origin_rows = _statistics(xs, chunks)
        scale = gamma[c0:c1] / np.sqrt(v + eps)
        scale_rows = _rows(scale, m, x.dtype)
        shift_rows = _rows(beta[c0:c1] - (mu - origin) * scale, m, x.dtype)
        for n0, n1 in chunks:
            _affine(xs[n0:n1], origin_rows, scale_rows, shift_rows, ys[n0:n1])
        mean[c0:c1], var[c0:c1] = mu, v
    by_channel(group, x)
    return y, mean, var


def backward(dout: np.ndarray, x: np.ndarray, gamma: np.ndarray, eps: float,
             mean: np.ndarray | None = None, var: np.ndarray | None = None):
    """``(dx, dgamma, dbeta)``, with the forward pass's statistics if given (else computed)."""
    dtype = np.result_type(x, dout)
    x3, d3 = _channels(x), _channels(np.ascontiguousarray(dout))
    n, c, m = x3.shape
    dx = np.empty(x.shape, dtype=dtype)
    dx3 = _channels(dx)
    dgamma, dbeta = np.empty(c, dtype=dtype), np.empty(c, dtype=dtype)

    def group(c0: int, c1: int) -> None:
        xs, ds, dxs = x3[:, c0:c1], d3[:, c0:c1], dx3[:, c0:c1]
        chunks = _chunks(xs)
        if mean is None:
            mu, v, _, _ = _statistics(xs, chunks)
        else:
            mu, v = mean[c0:c1].astype(np.float64), var[c0:c1].astype(np.float64)
        inv_std = 1.0 / np.sqrt(v + eps)
        origin, origin_rows = _origin(mu, v + eps, m, x.dtype)    # Σ δ (x − origin) is summed
        sum_d, sum_dx = np.empty((c1 - c0, n), dtype), np.empty((c1 - c0, n), dtype)
        for n0, n1 in chunks:
            _row_sums(ds[n0:n1], sum_d[:, n0:n1])
            _row_dots(ds[n0:n1], _centred(xs[n0:n1], origin_rows), sum_dx[:, n0:n1])
        db = _total(sum_d)
        dg = (_total(sum_dx) - (mu - origin) * db) * inv_std
        a = gamma[c0:c1] * inv_std
        b = a * inv_std * dg / -(n * m)
        c_ = (a * db + b * (mu - origin) * (n * m)) / -(n * m)
        a_rows, b_rows, c_rows = _rows(a, m, dtype), _rows(b, m, dtype), _rows(c_, m, dtype)
        for n0, n1 in chunks:                              # dx = b (x − origin) + c' + a δ
            out = dxs[n0:n1]
            _affine(xs[n0:n1], origin_rows, b_rows, c_rows, out)
            work = scratch_array("bn_work", out.shape, dtype)
            np.multiply(ds[n0:n1], a_rows, out=work)
            out += work
        dgamma[c0:c1], dbeta[c0:c1] = dg, db
    by_channel(group, x)
    return dx, dgamma, dbeta
