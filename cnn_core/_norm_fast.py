"""Batch normalization in few passes over memory (internal; the tuned path of
:mod:`cnn_core.normalization`, switched by ``_tuning.BN_FUSED``).

The general path reads like the equations and makes a fresh batch-sized array for every term.
Here the time goes into the passes over the batch, so there are as few as numpy allows:

- statistics from the sums Σx and Σx² of every (image, channel) row along its contiguous H·W
  values (row sums and dot products), added up per channel in float64:
  ``var_c = Σx²/NHW − mean_c²``. That subtraction loses about ``log2(1 + mean_c²/var_c)`` bits
  of the sums; where this could cost more than ``2**-20`` relative (float32 with
  ``|mean_c| > 2.6 std_c``, float64 only beyond ``|mean_c| > 10⁴ std_c``) the values are
  centred on the mean first and the sums taken again (two passes, as in PyTorch), and the
  passes that follow work with the centred values too;
- the forward pass as one affine map per channel, ``y = x s_c + t_c`` with
  ``s_c = γ_c / sqrt(var_c + ε)`` and ``t_c = b_c − mean_c s_c`` (PyTorch computes it so too);
- the backward pass with the forward pass's statistics when given them (as PyTorch's autograd
  keeps them; else they are computed as above), the three-term gradient written as

    dx = a_c δ + b'_c (x − mean_c) + c_c,   a_c = γ_c / sqrt(var_c + ε),
    b'_c = −a_c (∂E/∂γ_c) / (NHW sqrt(var_c + ε)),   c_c = −a_c (∂E/∂b_c) / NHW,

  the same formula with mean_c(δ) = (∂E/∂b_c)/NHW and mean_c(δ x̂) = (∂E/∂γ_c)/NHW, and with
  ∂E/∂γ_c = (Σ δx − mean_c Σ δ) / sqrt(var_c + ε) (or from the centred values, as above).

Every pass works through chunks of a few images small enough to stay in a core's cache, so
the steps of a pass after the first find their chunk there. A per-channel factor is applied as
a (C, H·W) array repeating each channel's value along its row, not as a (C, 1) column: numpy
runs a binary operation on two contiguous runs faster (1.2–1.6 times, measured on the benchmark
shapes) than one whose second operand repeats a single value along the inner loop.

Large batches are split among the cores, one contiguous part of the batch per core
(:func:`cnn_core._workspace.by_batch`), pass by pass; the few per-channel numbers between the
passes are computed in the calling thread. Every sum is taken per (image, channel) row, and the
rows of a channel are added up in the same order however the batch was split or chunked, so the
results are the same bit for bit on any number of cores.
"""

from __future__ import annotations

import numpy as np

from . import _workspace
from ._workspace import by_batch, scratch_array

# Bytes of one array's chunk: the chunks of the three or four arrays a step touches stay in a
# core's cache (2 MiB of L2 per core on the machine measured in benchmarks/README.md). A thread
# of a split batch takes bigger chunks: each of its numpy calls has to win the GIL back from the
# other threads, which costs more than the cache saves (measured: 2 MiB beat 256 KiB by 15-25%).
CHUNK_BYTES = 256 * 2**10
PARALLEL_CHUNK_BYTES = 2 * 2**20

# Largest relative error the one-pass variance may make (see above) before two passes are taken.
ONE_PASS_MAX_LOSS = 2.0**-20


def _channels(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[0], a.shape[1], -1)          # (N, C, H·W), a view where possible


def _each_chunk(fn, x3: np.ndarray) -> None:
    """``fn(k0, k1)`` for runs ``k0:k1`` of images of ``x3`` (N, C, H·W) whose part of it fills
    ``CHUNK_BYTES``, in one contiguous part of the batch per core when the batch is large
    (``_workspace.NORM_PARALLEL_MIN_BYTES``)."""
    n, image_bytes = x3.shape[0], max(1, x3[:1].nbytes)

    def part(n0: int, n1: int) -> None:
        per = max(1, (CHUNK_BYTES if n1 - n0 == n else PARALLEL_CHUNK_BYTES) // image_bytes)
        for k0 in range(n0, n1, per):
            fn(k0, min(k0 + per, n1))
    by_batch(part, x3, large_enough=x3.nbytes >= _workspace.NORM_PARALLEL_MIN_BYTES)


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


def _statistics(x3: np.ndarray):
    """``(mean, var, origin, origin_rows)`` of ``x3`` (N, C, H·W): the per-channel mean and
    biased variance in float64, and the origin the values were summed about (see
    :func:`_origin`), for the passes that follow to use too."""
    n, c, m = x3.shape
    sums, squares = np.empty((c, n), x3.dtype), np.empty((c, n), x3.dtype)
    origin, origin_rows = 0.0, None
    while True:
        def sums_of(k0: int, k1: int, origin_rows=origin_rows) -> None:
            xk = _centred(x3[k0:k1], origin_rows)
            _row_sums(xk, sums[:, k0:k1])
            _row_dots(xk, xk, squares[:, k0:k1])
        _each_chunk(sums_of, x3)
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
    m = x3.shape[2]
    mean, var, origin, origin_rows = _statistics(x3)
    scale = gamma / np.sqrt(var + eps)
    scale_rows = _rows(scale, m, x.dtype)
    shift_rows = _rows(beta - (mean - origin) * scale, m, x.dtype)
    y = np.empty(x.shape, dtype=x.dtype)
    y3 = _channels(y)

    def affine(k0: int, k1: int) -> None:
        _affine(x3[k0:k1], origin_rows, scale_rows, shift_rows, y3[k0:k1])
    _each_chunk(affine, x3)
    return y, mean, var


def backward(dout: np.ndarray, x: np.ndarray, gamma: np.ndarray, eps: float,
             mean: np.ndarray | None = None, var: np.ndarray | None = None):
    """``(dx, dgamma, dbeta)``, with the forward pass's statistics if given (else computed)."""
    dtype = np.result_type(x, dout)
    x3, d3 = _channels(x), _channels(np.ascontiguousarray(dout))
    n, c, m = x3.shape
    if mean is None:
        mean, var, _, _ = _statistics(x3)
    mean, var = mean.astype(np.float64), var.astype(np.float64)
    inv_std = 1.0 / np.sqrt(var + eps)
    origin, origin_rows = _origin(mean, var + eps, m, x.dtype)    # Σ δ (x − origin) is summed
    sum_d, sum_dx = np.empty((c, n), dtype), np.empty((c, n), dtype)

    def sums_of(k0: int, k1: int) -> None:
        _row_sums(d3[k0:k1], sum_d[:, k0:k1])
        _row_dots(d3[k0:k1], _centred(x3[k0:k1], origin_rows), sum_dx[:, k0:k1])
    _each_chunk(sums_of, x3)
    dbeta = _total(sum_d)
    dgamma = (_total(sum_dx) - (mean - origin) * dbeta) * inv_std
    a = gamma * inv_std
    b = a * inv_std * dgamma / -(n * m)
    c_ = (a * dbeta + b * (mean - origin) * (n * m)) / -(n * m)
    a_rows, b_rows, c_rows = _rows(a, m, dtype), _rows(b, m, dtype), _rows(c_, m, dtype)
    dx = np.empty(x.shape, dtype=dtype)
    dx3 = _channels(dx)

    def gradient(k0: int, k1: int) -> None:              # dx = b (x − origin) + c' + a δ
        out = dx3[k0:k1]
        _affine(x3[k0:k1], origin_rows, b_rows, c_rows, out)
        work = scratch_array("bn_work", out.shape, dtype)
        np.multiply(d3[k0:k1], a_rows, out=work)
        out += work
    _each_chunk(gradient, x3)
    return dx, dgamma.astype(dtype, copy=False), dbeta.astype(dtype, copy=False)
