"""The tuned convolution kernels (internal), reached from :mod:`cnn_core.conv` by one line each.

They compute exactly what the general path of ``conv.py`` computes, ``y = W cols + b``,
``dW = Σ_n δ_n colsₙᵀ`` and ``dx = col2im(Wᵀ δ)``, but

- per chunk of the batch, in work arrays reused between calls (``_workspace``), the chunks shared
  among the cores (``_parallel``): each part is a few large numpy calls writing into slices of
  arrays allocated before the split;
- with the batch axis outermost: the columns of image ``n`` are ``cols[n]`` (K, P) and one
  stacked ``np.matmul`` applies the same (F, K) kernel matrix to every image, writing the
  (n, F, P) output in place (no transposing copies of the output or of δ);
- with im2col copying runs of ``W'`` neighbouring pixels as opaque records (:func:`_cols`);
- with col2im for stride 1 as one sum over shifted views (:func:`_col2im_shifted`).

Switches: ``_tuning.CONV_BATCHED``, ``RECORD_COPY``, ``SHIFTED_COL2IM``, ``THREADS``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import _parallel, _tuning
from ._workspace import framed_array, plan, scratch_array
from .shapes import ConvGeometry
from .shapes import window_view as _windows


def _cols(xp: np.ndarray, g: ConvGeometry, out: np.ndarray) -> np.ndarray:
    """Columns ``(n, C*kh*kw, H'*W')`` of a padded (chunk of a) batch ``xp`` (n, C, Hp, Wp), written
    into ``out``: row ``c*kh*kw + a*kw + b``, column ``i*W' + j`` of image ``m`` holds
    ``xp[m, c, s_h i + d_h a, s_w j + d_w b]``. One strided view, one copy."""
    n, c = xp.shape[:2]
    (kh, kw), (ho, wo) = g.kernel, g.out_hw
    if g.stride[1] == 1 and xp.flags.c_contiguous:
        # Each (n, c, a, b, i) is a run of W' neighbouring pixels: copy the runs as opaque records,
        # one loop over all of them, instead of one inner loop of W' elements per run.
        s0, s1, s2, s3 = xp.strides
        run = np.dtype((np.void, wo * xp.itemsize))
        runs = np.ndarray((n, c, kh, kw, ho), dtype=run, buffer=xp,
                          strides=(s0, s1, s2 * g.dilation[0], s3 * g.dilation[1], s2 * g.stride[0]))
        np.copyto(out.reshape(n, c, kh, kw, ho, wo).view(run)[..., 0], runs)
    else:
        np.copyto(out.reshape(n, c, kh, kw, ho, wo), _windows(xp, g))
    return out.reshape(n, c * kh * kw, ho * wo)


def columns(xp: np.ndarray, g: ConvGeometry, out: np.ndarray) -> np.ndarray:
    """im2col of ``xp`` into ``out``: by record copies (:func:`_cols`) unless switched off."""
    if _tuning.RECORD_COPY:
        return _cols(xp, g, out)
    n, c = xp.shape[:2]
    np.copyto(out.reshape(n, c, *g.kernel, *g.out_hw), _windows(xp, g))
    return out.reshape(n, -1, g.out_hw[0] * g.out_hw[1])


def _padded_chunk(x: np.ndarray, n0: int, n1: int, g: ConvGeometry) -> np.ndarray:
    """``x[n0:n1]`` (N, C, H, W) with its zero padding, in a work array (``x[n0:n1]`` itself when
    there is no padding)."""
    (pt, pb), (pl, pr) = g.pads
    if pt == pb == pl == pr == 0:
        return x[n0:n1]
    h, wd = g.in_hw
    inner = (slice(pt, pt + h), slice(pl, pl + wd))
    out = framed_array("xpad", (n1 - n0, x.shape[1], *g.padded_hw), x.dtype, inner)
    out[:, :, inner[0], inner[1]] = x[n0:n1]
    return out


def correlate(x: np.ndarray, w: np.ndarray, g: ConvGeometry, b=None) -> np.ndarray:
    """Cross-correlate ``x`` (unpadded; ``g`` says how to pad) with ``w`` (plus ``b``): per chunk of
    the batch one padded copy, one im2col copy and one stacked product ``W (F, K) @ cols (n, K, P)``
    written into the output; the chunks are shared among the CPU cores."""
    n, c = x.shape[:2]
    f = w.shape[0]
    ho, wo = g.out_hw
    k, n_pos = c * g.kernel[0] * g.kernel[1], ho * wo   # K rows, P = H'*W' columns
    w2 = w.reshape(f, k)
    y = np.empty((n, f, ho, wo), dtype=np.result_type(x, w))

    def part(chunks):
        for n0, n1 in chunks:
            cols = columns(_padded_chunk(x, n0, n1, g), g,
                           scratch_array("cols", (n1 - n0, k, n_pos), x.dtype))
            yc = y[n0:n1].reshape(n1 - n0, f, n_pos)
            np.matmul(w2, cols, out=yc)
            if b is not None:
                yc += b[:, None]

    _parallel.run(part, plan(n, n * f * k * n_pos, k * n_pos * x.itemsize, x.nbytes + y.nbytes))
    return y


def _col2im_shifted(dcols: np.ndarray, g: ConvGeometry, out: np.ndarray) -> None:
    """col2im for stride 1 as *one* sum over the kernel offsets of shifted views (no Python loop),
    written into ``out`` (n, C, H, W).

    ``dcols`` ``(n, C*kh*kw, Hp*Wp)`` must be ``Wᵀ δ`` with δ laid out on the whole padded grid
    (zero outside its ``H' × W'`` corner). The padded input gradient at flat position ``q`` of an
    image is ``Σ_{a,b} dcols[(c,a,b), q - (d_h a Wp + d_w b)]``: a strided view whose (a, b)
    strides are shortened by the shifts holds every term. Reads with ``q`` below the shift land in
    the tail of the previous row of ``dcols``, which is zero because δ is (in its last
    ``d_h(kh-1)`` rows and ``d_w(kw-1)`` columns), so they add nothing. The view starts at the
    first unpadded pixel, so the padding is never computed."""
    n, c = out.shape[:2]
    (kh, kw), (dil_h, dil_w) = g.kernel, g.dilation
    (pt, _), (pl, _) = g.pads
    wp = g.padded_hw[1]
    k, length = dcols.shape[1:]
    it = dcols.itemsize
    view = as_strided(dcols[:, :, pt * wp + pl:], shape=(n, c, kh, kw, *g.in_hw),
                      strides=(k * length * it, kh * kw * length * it,
                               (kw * length - dil_h * wp) * it, (length - dil_w) * it, wp * it, it),
                      writeable=False)
    np.add.reduce(view, axis=(2, 3), out=out)


# For stride 1 the input gradient uses :func:`_col2im_shifted` (one call instead of kh*kw) when
# the padded grid it works on is at most this many times larger than the output.
_SHIFTED_MAX_RATIO = 2.0


def conv_backward(dout, x, w, g, need_dw, col2im):
    """``(dx, dw, db)`` of a convolution of the unpadded input ``x`` (``dw`` and ``db`` are
    ``None`` unless ``need_dw``), per chunk of the batch, the chunks shared among the CPU cores:
    ``dW = Σ_n δ_n colsₙᵀ``, ``dx = col2im(Wᵀ δ)``, with ``δ_n`` of shape ``(F, H'*W')``.
    ``col2im(dcols, g, out)`` is the general col2im, used unless the shifted sum applies."""
    n, f, ho, wo = dout.shape
    c = w.shape[1]
    k, n_pos = c * g.kernel[0] * g.kernel[1], ho * wo   # K rows, P = H'*W' columns
    w2t = w.reshape(f, k).T
    dx = np.empty((n, c, *g.in_hw), dtype=dout.dtype)
    hp, wp = g.padded_hw
    shifted = (_tuning.SHIFTED_COL2IM and g.stride == (1, 1)
               and hp * wp <= _SHIFTED_MAX_RATIO * n_pos)
    rows_dx = hp * wp if shifted else n_pos

    def part(chunks):
        dw_t = np.zeros((k, f), dtype=dout.dtype) if need_dw else None       # dWᵀ
        for n0, n1 in chunks:
            m = n1 - n0
            delta = dout[n0:n1].reshape(m, f, n_pos)
            # one buffer for the columns and, once they are used, for their gradient
            buf = scratch_array("cols", (m * k * max(n_pos, rows_dx),), dout.dtype)
            if need_dw:
                cols = columns(_padded_chunk(x, n0, n1, g), g, buf[:m * k * n_pos])
                # dWᵀ += Σ_n cols_n δ_nᵀ, (n, K, P) @ (n, P, F): the faster orientation here
                dw_t += np.matmul(cols, delta.transpose(0, 2, 1)).sum(axis=0)
            dcols = buf[:m * k * rows_dx].reshape(m, k, rows_dx)
            if shifted:
                inner = (slice(0, ho), slice(0, wo))
                dfull = framed_array("dfull", (m, f, hp, wp), dout.dtype, inner)
                dfull[:, :, :ho, :wo] = dout[n0:n1]
                np.matmul(w2t, dfull.reshape(m, f, hp * wp), out=dcols)
                _col2im_shifted(dcols, g, dx[n0:n1])
            else:
                np.matmul(w2t, delta, out=dcols)
                col2im(dcols, g, dx[n0:n1])
        if need_dw and chunks:
            return dw_t, dout[chunks[0][0]:chunks[-1][1]].sum(axis=(0, 2, 3))
        return None

    work = plan(n, n * f * k * n_pos, (k * max(n_pos, rows_dx) + f * rows_dx) * dout.itemsize,
                dout.nbytes + dx.nbytes + (x.nbytes if need_dw else 0))
    results = [r for r in _parallel.run(part, work) if r is not None]
    if not need_dw:
        return dx, None, None
    if not results:                      # an empty batch
        return dx, np.zeros_like(w), np.zeros(f, dtype=dout.dtype)
    dw = np.ascontiguousarray(sum(r[0] for r in results).T).reshape(w.shape)
    return dx, dw, sum(r[1] for r in results)
