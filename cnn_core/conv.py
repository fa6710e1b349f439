r"""Multi-channel 2-D convolution (cross-correlation) in NCHW layout, forward and backward.

Conventions (the same as PyTorch, CS231n and every framework):

- ``x`` has shape ``(N, C, H, W)``; the kernel ``w`` has shape ``(F, C, kh, kw)``; the bias ``b`` ``(F,)``.
- "Convolution" is cross-correlation, the kernel is *not* flipped:

  .. math:: y_{n,f,i,j} = b_f + \sum_{c}\sum_{a,b} x^{\text{pad}}_{n,c,\,s_h i + d_h a,\,s_w j + d_w b}\; w_{f,c,a,b}

- Output size per axis: :func:`cnn_core.conv_output_size`.

Implementation: ``im2col`` gathers every receptive field into the columns of a matrix with one
strided view and one copy, and one matrix product does the rest. Internally the columns of many
images sit side by side, ``(C*kh*kw, n*H'*W')``, so that the product is one large GEMM rather
than N skinny ones; the batch is processed in chunks that bound the buffer's memory.
The gradient with respect to the input *is* the *full* convolution of the upstream gradient (zeros
inserted between its elements when the stride is > 1) with the kernel rotated by 180°, as the
book derives it (the private ``_input_gradient_full`` computes it literally that way); it is
evaluated as ``col2im(Wᵀ δ)``, which adds exactly the same products into the same places without
multiplying the inserted zeros. :func:`.conv_transpose2d` is the same operation.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._validate import as_float_array, as_pair, check_ndim
from .shapes import Pads, conv_output_size, conv_transpose_output_size, resolve_padding

__all__ = ["conv2d", "conv2d_backward", "conv_transpose2d", "im2col", "col2im"]


@dataclass(frozen=True)
class ConvGeometry:
    """Everything about the size arithmetic of one convolution, resolved and checked once."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pads: Pads
    in_hw: tuple[int, int]
    out_hw: tuple[int, int]

    @property
    def padded_hw(self) -> tuple[int, int]:
        (pt, pb), (pl, pr) = self.pads
        return self.in_hw[0] + pt + pb, self.in_hw[1] + pl + pr


def _geometry(in_hw, kernel, stride, padding, dilation, context: str = "") -> ConvGeometry:
    """Resolve and check the size arithmetic; ``context`` (e.g. the arguments' shapes) is appended
    to the error message when the kernel does not fit."""
    kernel = as_pair(kernel, "kernel_size")
    stride = as_pair(stride, "stride")
    dilation = as_pair(dilation, "dilation")
    pads = resolve_padding(padding, kernel, dilation, stride)
    out = []
    for axis, (n, k, s, d, (p0, p1)) in enumerate(zip(in_hw, kernel, stride, dilation, pads)):
        k_eff = d * (k - 1) + 1
        if n + p0 + p1 < k_eff:
            name = "height" if axis == 0 else "width"
            raise ValueError(
                f"kernel {name} {k} (effective size {k_eff} with dilation {d}) is larger than the "
                f"padded input {name} {n + p0 + p1} (input {n}, padding {p0}+{p1}){context}"
            )
        out.append((n + p0 + p1 - k_eff) // s + 1)
    return ConvGeometry(kernel, stride, dilation, pads, tuple(in_hw), tuple(out))


def _pad(x: np.ndarray, pads: Pads, value: float = 0.0) -> np.ndarray:
    """Pad the last two axes of ``x`` with ``value`` (faster than ``np.pad`` for this case)."""
    (pt, pb), (pl, pr) = pads
    if pt == pb == pl == pr == 0:
        return x
    *lead, h, w = x.shape
    out = np.full((*lead, h + pt + pb, w + pl + pr), value, dtype=x.dtype)
    out[..., pt:pt + h, pl:pl + w] = x
    return out


def _windows(xp: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """Read-only view ``(N, C, kh, kw, H', W')`` of a padded input: element ``[n, c, a, b, i, j]``
    is ``xp[n, c, s_h i + d_h a, s_w j + d_w b]``. No data is copied."""
    n, c = xp.shape[:2]
    s0, s1, s2, s3 = xp.strides
    (kh, kw), (sh, sw), (dh, dw) = g.kernel, g.stride, g.dilation
    return as_strided(xp, shape=(n, c, kh, kw, *g.out_hw),
                      strides=(s0, s1, s2 * dh, s3 * dw, s2 * sh, s3 * sw), writeable=False)


def _im2col_padded(xp: np.ndarray, g: ConvGeometry) -> np.ndarray:
    n, c = xp.shape[:2]
    kh, kw = g.kernel
    return _windows(xp, g).reshape(n, c * kh * kw, g.out_hw[0] * g.out_hw[1])  # one copy


# The fast path works in a "batch-merged" layout: the columns of all images of a chunk of the batch
# side by side, ``(C*kh*kw, n*H'*W')``, so that each matrix product is one big GEMM instead of N
# skinny ones. The batch is split into chunks whose column buffer stays within a budget: twice
# the bytes of the input plus the output, clipped to [_MIN_CHUNK_BYTES, _MAX_CHUNK_BYTES]. That
# bounds the extra memory to a small multiple of what the layer's arrays occupy anyway, while the
# products stay thousands of columns wide.
_MIN_CHUNK_BYTES = 1 * 2**20
# Which way round to multiply, per dtype: OpenBLAS (measured here, AVX-512) reaches ~80 GFLOP/s
# per core for the float32 products as (m, K) @ (K, F) but ~55 as (F, K) @ (K, m); in float64 the
# (F, K) @ (K, m) form was faster. The result is the same either way, only transposed.
_ROWS_OUTER = {"f": True, "d": False}
_MAX_CHUNK_BYTES = 8 * 2**20


def _chunks(n: int, cols_bytes_per_image: int, io_bytes: int):
    """Split ``range(n)`` into near-equal ``(start, stop)`` chunks whose column buffer fits the
    budget ``clip(2 * io_bytes, _MIN_CHUNK_BYTES, _MAX_CHUNK_BYTES)``."""
    if n == 0:
        return []
    budget = min(max(2 * io_bytes, _MIN_CHUNK_BYTES), _MAX_CHUNK_BYTES)
    per = max(1, budget // max(1, cols_bytes_per_image))
    m = -(-n // per)                      # number of chunks
    size = -(-n // m)
    return [(i, min(i + size, n)) for i in range(0, n, size)]


_scratch = threading.local()


def _scratch_array(name: str, shape, dtype) -> np.ndarray:
    """A work array from a per-thread cache that grows but is never shrunk. Reusing it saves the
    page faults of a fresh multi-megabyte allocation on every call (a measurable share of the
    time here). Internal only: such an array must never be returned to the caller."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    buf = getattr(_scratch, name, None)
    if buf is None or buf.nbytes < nbytes:
        buf = np.empty(max(nbytes, 1), dtype=np.uint8)
        setattr(_scratch, name, buf)
    return buf[:nbytes].view(dtype).reshape(shape)


def _cols(xp: np.ndarray, g: ConvGeometry, out: np.ndarray | None = None) -> np.ndarray:
    """Columns ``(C*kh*kw, n*H'*W')`` of a padded (chunk of a) batch ``xp`` (n, C, Hp, Wp):
    row ``c*kh*kw + a*kw + b``, column ``m*H'*W' + i*W' + j`` holds
    ``xp[m, c, s_h i + d_h a, s_w j + d_w b]``. One strided view, one copy (into ``out`` if given)."""
    n, c = xp.shape[:2]
    s0, s1, s2, s3 = xp.strides
    (kh, kw), (sh, sw), (dh, dw) = g.kernel, g.stride, g.dilation
    ho, wo = g.out_hw
    view = as_strided(xp, shape=(c, kh, kw, n, ho, wo),
                      strides=(s1, s2 * dh, s3 * dw, s0, s2 * sh, s3 * sw), writeable=False)
    if out is None:
        return view.reshape(c * kh * kw, n * ho * wo)
    out = out.reshape(view.shape)
    np.copyto(out, view)
    return out.reshape(c * kh * kw, n * ho * wo)


# Stride 1 has a faster "wide" im2col: with the padded image flattened row by row, the receptive
# field offsets (a, b) of all output positions (i, j) are the *contiguous* run
# ``flat[a*d_h*Wp + b*d_w + i*Wp + j]`` if j runs over the full padded width Wp instead of W'.
# The copy (and col2im) then moves long contiguous runs instead of W'-element pieces; the price is
# Wp - W' extra columns per row, whose results are dropped (forward) or which carry zero gradient
# (backward), so nothing changes in the numbers. One zero row below the image keeps the last runs
# inside the array. Used when the extra columns cost little (Wp/W' <= _WIDE_MAX_RATIO).
_WIDE_MAX_RATIO = 1.5


def _use_wide(g: ConvGeometry) -> bool:
    return g.stride == (1, 1) and g.padded_hw[1] <= _WIDE_MAX_RATIO * g.out_hw[1]


def _extra_row(xp: np.ndarray) -> np.ndarray:
    """``xp`` (n, C, Hp, Wp) copied into scratch with one zero row appended: (n, C, Hp+1, Wp)."""
    n, c, hp, wp = xp.shape
    out = _scratch_array("xpe", (n, c, hp + 1, wp), xp.dtype)
    out[:, :, :hp] = xp
    out[:, :, hp] = 0
    return out


def _cols_wide(xpe: np.ndarray, g: ConvGeometry, out: np.ndarray) -> np.ndarray:
    """Wide columns ``(C*kh*kw, n*H'*Wp)`` of ``xpe`` (n, C, Hp+1, Wp): row ``(c, a, b)``, column
    ``(m, i, j)`` with ``0 <= j < Wp`` holds ``flat[m, c, (i + d_h a) Wp + j + d_w b]``."""
    n, c, hpe, wp = xpe.shape
    (kh, kw), (dh, dw) = g.kernel, g.dilation
    ho = g.out_hw[0]
    s0, s1, _, s3 = xpe.strides
    view = as_strided(xpe, shape=(c, kh, kw, n, ho * wp),
                      strides=(s1, dh * wp * s3, dw * s3, s0, s3), writeable=False)
    out = out.reshape(view.shape)
    np.copyto(out, view)
    return out.reshape(c * kh * kw, n * ho * wp)


def _col2im_wide(dcols: np.ndarray, n: int, c: int, g: ConvGeometry) -> np.ndarray:
    """Adjoint of :func:`_cols_wide`: a padded ``(C, n, Hp, Wp)`` view of scratch memory."""
    (kh, kw), (dh, dw) = g.kernel, g.dilation
    hp, wp = g.padded_hw
    ho = g.out_hw[0]
    run = ho * wp
    d5 = dcols.reshape(c, kh, kw, n, run)
    out = _scratch_array("dxp", (c, n, (hp + 1) * wp), dcols.dtype)
    out.fill(0)
    for a in range(kh):
        for b in range(kw):
            start = a * dh * wp + b * dw
            out[:, :, start:start + run] += d5[:, a, b]
    return out.reshape(c, n, hp + 1, wp)[:, :, :hp]


def _correlate(xp: np.ndarray, w: np.ndarray, g: ConvGeometry, b=None) -> np.ndarray:
    """Cross-correlate an already padded input with ``w`` (plus ``b``): per chunk of the batch one
    im2col copy and one matrix product ``W (F, K) @ cols (K, n*H'*W')``."""
    n, c = xp.shape[:2]
    f = w.shape[0]
    ho, wo = g.out_hw
    k = c * g.kernel[0] * g.kernel[1]
    w2 = w.reshape(f, k)
    dtype = np.result_type(xp, w)
    y = np.empty((n, f, ho, wo), dtype=dtype)
    rows_outer = _ROWS_OUTER[dtype.char]
    wide = _use_wide(g)
    if wide:
        xp = _extra_row(xp)
    width = xp.shape[3] if wide else wo           # columns per output row
    for n0, n1 in _chunks(n, k * ho * width * xp.itemsize, xp.nbytes + y.nbytes):
        m = (n1 - n0) * ho * width
        buf = _scratch_array("cols", (k, m), xp.dtype)
        cols = _cols_wide(xp[n0:n1], g, buf) if wide else _cols(xp[n0:n1], g, buf)
        if rows_outer:                    # (m, K) @ (K, F): the faster orientation in float32
            yc = np.matmul(cols.T, w2.T, out=_scratch_array("prod", (m, f), dtype))
            yc = yc.reshape(n1 - n0, ho, width, f)[:, :, :wo].transpose(0, 3, 1, 2)
        else:
            yc = np.matmul(w2, cols, out=_scratch_array("prod", (f, m), dtype))
            yc = yc.reshape(f, n1 - n0, ho, width)[..., :wo].transpose(1, 0, 2, 3)
        if b is None:
            y[n0:n1] = yc
        else:
            np.add(yc, b[:, None, None], out=y[n0:n1])
    return y


def _col2im_chunk(dcols: np.ndarray, n: int, c: int, g: ConvGeometry) -> np.ndarray:
    """Adjoint of :func:`_cols`: add the columns ``(C*kh*kw, n*H'*W')`` back into a padded
    ``(C, n, Hp, Wp)`` (scratch) array, one strided slice per kernel offset (overlaps add up)."""
    (kh, kw), (sh, sw), (dh, dw) = g.kernel, g.stride, g.dilation
    ho, wo = g.out_hw
    d6 = dcols.reshape(c, kh, kw, n, ho, wo)
    out = _scratch_array("dxp", (c, n, *g.padded_hw), dcols.dtype)
    out.fill(0)
    for a in range(kh):
        rows = slice(a * dh, a * dh + sh * (ho - 1) + 1, sh)
        for b in range(kw):
            out[:, :, rows, b * dw:b * dw + sw * (wo - 1) + 1:sw] += d6[:, a, b]
    return out


def _crop_to_nchw(dxp_c: np.ndarray, g: ConvGeometry, out: np.ndarray) -> None:
    """Write a padded ``(C, n, Hp, Wp)`` gradient, padding cut off, into ``out`` (n, C, H, W)."""
    (pt, _), (pl, _) = g.pads
    h, wd = g.in_hw
    out[...] = dxp_c[:, :, pt:pt + h, pl:pl + wd].transpose(1, 0, 2, 3)


def _merged_delta(dout: np.ndarray, width: int | None = None) -> np.ndarray:
    """δ of a chunk (n, F, H', W') in the merged layout (F, n*H'*width), copied into scratch;
    the ``width - W'`` extra columns of the wide layout are zero."""
    n, f, ho, wo = dout.shape
    width = wo if width is None else width
    d2 = _scratch_array("delta", (f, n, ho, width), dout.dtype)
    np.copyto(d2[..., :wo], dout.transpose(1, 0, 2, 3))
    d2[..., wo:] = 0
    return d2.reshape(f, n * ho * width)


def _conv_backward(dout, xp, w, g, *, need_dx=True):
    """``(dx, dw, db)`` of a convolution from its padded input ``xp``, per chunk of the batch:
    ``dW += δ (F, m) @ colsᵀ``, ``dx = col2im(Wᵀ (K, F) @ δ)``; ``δ`` in the merged layout."""
    n, f, ho, wo = dout.shape
    c = w.shape[1]
    k = c * g.kernel[0] * g.kernel[1]
    w2 = w.reshape(f, k)
    rows_outer = _ROWS_OUTER[dout.dtype.char]
    dw2 = np.zeros((k, f) if rows_outer else (f, k), dtype=dout.dtype)
    dx = np.empty((n, c, *g.in_hw), dtype=dout.dtype) if need_dx else None
    wide = _use_wide(g)
    if wide:
        xp = _extra_row(xp)
    width = xp.shape[3] if wide else wo
    for n0, n1 in _chunks(n, k * ho * width * dout.itemsize, xp.nbytes + dout.nbytes):
        d2 = _merged_delta(dout[n0:n1], width)                         # (F, m)
        buf = _scratch_array("cols", (k, d2.shape[1]), xp.dtype)
        cols = _cols_wide(xp[n0:n1], g, buf) if wide else _cols(xp[n0:n1], g, buf)
        if rows_outer:
            dw2 += cols @ d2.T                                      # (K, F) = dWᵀ
        else:
            dw2 += d2 @ cols.T                                      # (F, K)
        if need_dx:   # the columns are not needed any more: their gradient reuses the memory
            dcols = np.matmul(w2.T, d2, out=cols)
            col2im = _col2im_wide if wide else _col2im_chunk
            _crop_to_nchw(col2im(dcols, n1 - n0, c, g), g, dx[n0:n1])
    db = dout.sum(axis=(0, 2, 3))
    if rows_outer:
        dw2 = np.ascontiguousarray(dw2.T)
    return dx, dw2.reshape(w.shape), db


def _check_conv_inputs(x, w, b=None):
    x = as_float_array(x, "x")
    w = as_float_array(w, "w")
    check_ndim(x, 4, "x", "(N, C, H, W)")
    check_ndim(w, 4, "w", "(F, C, kh, kw)")
    if w.shape[1] != x.shape[1]:
        raise ValueError(
            f"channel mismatch: x has C = {x.shape[1]} channels (x.shape = {x.shape}) but the "
            f"kernel w expects {w.shape[1]} (w.shape = {w.shape}); w must be (F, C, kh, kw)"
        )
    dtype = np.result_type(x, w)
    if b is not None:
        b = as_float_array(b, "b")
        if b.shape != (w.shape[0],):
            raise ValueError(
                f"b must have shape (F,) = ({w.shape[0]},), one bias per kernel; got {b.shape}"
            )
        dtype = np.result_type(dtype, b)
        b = b.astype(dtype, copy=False)
    return x.astype(dtype, copy=False), w.astype(dtype, copy=False), b


def conv2d(x, w, b=None, *, stride=1, padding=0, dilation=1) -> np.ndarray:
    r"""2-D convolution (cross-correlation) of a batch of multi-channel images.

    Parameters
    ----------
    x : array (N, C, H, W)
    w : array (F, C, kh, kw), one kernel per output channel
    b : array (F,) or None
    stride, dilation : int or (h, w)
    padding : int, (ph, pw), ``"valid"``, ``"same"`` (stride 1 only) or ``"full"``

    Returns
    -------
    y : array (N, F, H', W'), with :math:`H' = \lfloor (H + 2p - d(k-1) - 1)/s \rfloor + 1`

    Notes
    -----
    .. math:: y_{n,f,i,j} = b_f + \sum_{c=0}^{C-1}\sum_{a=0}^{k_h-1}\sum_{b=0}^{k_w-1}
              x^{\text{pad}}_{n,c,\,s_h i + d_h a,\,s_w j + d_w b}\; w_{f,c,a,b}

    Integer input is computed in float64; float32 stays float32.
    """
    x, w, b = _check_conv_inputs(x, w, b)
    g = _geometry(x.shape[2:], w.shape[2:], stride, padding, dilation,
                  context=f"; x.shape = {x.shape}, w.shape = {w.shape}")
    return _correlate(_pad(x, g.pads), w, g, b)


def _input_gradient(dout: np.ndarray, w: np.ndarray, g: ConvGeometry) -> np.ndarray:
    r"""Gradient of a convolution with respect to its (unpadded) input.

    Meaning (as the book derives it):
    :math:`\partial E/\partial X = \operatorname{full\_corr}(\text{stuff}_s(\delta),\ \operatorname{rot180}(W))`
    with the kernel's two channel axes swapped; ``stuff_s`` puts ``s - 1`` zeros between the
    elements of δ (the "fractionally strided" view), and the padding is cut off at the end.
    ``_input_gradient_full`` computes exactly that.

    Computed as ``col2im(Wᵀ δ)``: each product ``δ[n,f,i,j] w[f,c,a,b]`` is added at the same
    place ``(s_h i + d_h a, s_w j + d_w b)`` as in the full convolution, the same sum term by term,
    but without multiplying the ``s² - 1`` stuffed zeros and without an im2col copy of δ.
    """
    n, f = dout.shape[:2]
    c = w.shape[1]
    k = c * g.kernel[0] * g.kernel[1]
    w2t = w.reshape(f, k).T
    dx = np.empty((n, c, *g.in_hw), dtype=np.result_type(dout, w))
    for n0, n1 in _chunks(n, k * dout.shape[2] * dout.shape[3] * dout.itemsize,
                          dout.nbytes + dx.nbytes):
        d2 = _merged_delta(dout[n0:n1])
        dcols = np.matmul(w2t, d2, out=_scratch_array("cols", (k, d2.shape[1]), dx.dtype))
        _crop_to_nchw(_col2im_chunk(dcols, n1 - n0, c, g), g, dx[n0:n1])
    return dx


def _input_gradient_full(dout: np.ndarray, w: np.ndarray, g: ConvGeometry) -> np.ndarray:
    r"""The input gradient computed literally as the full convolution of the zero-stuffed δ with
    the rotated kernel (the textbook route; kept as the reference for :func:`_input_gradient`)."""
    n, f, ho, wo = dout.shape
    (kh, kw), (sh, sw), (dh, dw) = g.kernel, g.stride, g.dilation
    hp, wp = g.padded_hw
    hz, wz = (ho - 1) * sh + 1, (wo - 1) * sw + 1          # zero-stuffed size
    eh, ew = dh * (kh - 1), dw * (kw - 1)                   # "full" padding
    rh, rw = hp - hz - eh, wp - wz - ew                     # rows/cols the forward never reached
    dz = np.zeros((n, f, hz + 2 * eh + rh, wz + 2 * ew + rw), dtype=dout.dtype)
    dz[:, :, eh:eh + hz:sh, ew:ew + wz:sw] = dout
    w_rot = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))  # (C, F, kh, kw)
    g_full = ConvGeometry(g.kernel, (1, 1), g.dilation, ((0, 0), (0, 0)), dz.shape[2:], (hp, wp))
    dxp = _correlate(dz, w_rot, g_full)
    (pt, _), (pl, _) = g.pads
    h, wd = g.in_hw
    if (pt, pl, h, wd) == (0, 0, hp, wp):
        return dxp
    return np.ascontiguousarray(dxp[:, :, pt:pt + h, pl:pl + wd])


def conv2d_backward(dout, x, w, *, stride=1, padding=0, dilation=1):
    r"""Gradients of :func:`conv2d`, given the upstream gradient ``dout`` = ∂E/∂y.

    Parameters
    ----------
    dout : array (N, F, H', W')
    x : array (N, C, H, W), the forward input
    w : array (F, C, kh, kw), the forward kernel
    stride, padding, dilation : as in the forward call

    Returns
    -------
    dx : array (N, C, H, W)
        the **full** convolution of ``dout`` with the kernel rotated by 180°
        (:math:`\delta` with ``s - 1`` zeros between elements when strided), padding cropped;
    dw : array (F, C, kh, kw)
        the valid cross-correlation of the (padded) input with ``dout``:
        :math:`\partial E/\partial w_{f,c,a,b} = \sum_{n,i,j} \delta_{n,f,i,j}\, x^{\text{pad}}_{n,c,s_h i+d_h a,s_w j+d_w b}`;
    db : array (F,)
        :math:`\sum_{n,i,j} \delta_{n,f,i,j}`.
    """
    x, w, _ = _check_conv_inputs(x, w)
    dout = as_float_array(dout, "dout")
    g = _geometry(x.shape[2:], w.shape[2:], stride, padding, dilation,
                  context=f"; x.shape = {x.shape}, w.shape = {w.shape}")
    expected = (x.shape[0], w.shape[0], *g.out_hw)
    if dout.shape != expected:
        raise ValueError(f"dout must have the forward output's shape {expected}; got {dout.shape}")
    dout = dout.astype(x.dtype, copy=False)
    return _conv_backward(dout, _pad(x, g.pads), w, g)


def conv_transpose2d(x, w, b=None, *, stride=1, padding=0, output_padding=0, dilation=1):
    r"""Transposed convolution, with PyTorch's semantics: the adjoint of :func:`conv2d`.

    Parameters
    ----------
    x : array (N, C_in, H, W)
    w : array (C_in, C_out, kh, kw) (note: input channels first, as in PyTorch)
    b : array (C_out,) or None
    stride, dilation, padding, output_padding : int or (h, w); ``padding`` removes rows/columns
        from the output, ``output_padding`` (smaller than the stride or the dilation) adds them
        at the bottom/right.

    Returns
    -------
    y : array (N, C_out, H_out, W_out) with
        :math:`H_{out} = (H - 1)s - 2p + d(k - 1) + \text{output\_padding} + 1`

    Notes
    -----
    For every ``x`` and ``z`` of matching shapes,
    :math:`\langle \text{conv2d}(z, w), x\rangle = \langle z, \text{conv\_transpose2d}(x, w)\rangle`.
    """
    x = as_float_array(x, "x")
    w = as_float_array(w, "w")
    check_ndim(x, 4, "x", "(N, C_in, H, W)")
    check_ndim(w, 4, "w", "(C_in, C_out, kh, kw)")
    if w.shape[0] != x.shape[1]:
        raise ValueError(
            f"channel mismatch: x has C_in = {x.shape[1]} channels (x.shape = {x.shape}) but "
            f"w.shape[0] = {w.shape[0]} (w.shape = {w.shape}); w must be (C_in, C_out, kh, kw)"
        )
    if isinstance(padding, str):
        raise ValueError(f"padding of conv_transpose2d must be an int or (ph, pw); got {padding!r}")
    kernel = w.shape[2:]
    s, d = as_pair(stride, "stride"), as_pair(dilation, "dilation")
    p = as_pair(padding, "padding", minimum=0)
    op = as_pair(output_padding, "output_padding", minimum=0)
    for o, si, di in zip(op, s, d):
        if o >= max(si, di):
            raise ValueError(
                f"output_padding must be smaller than the stride or the dilation; got "
                f"output_padding={output_padding}, stride={stride}, dilation={dilation}"
            )
    out_hw = tuple(conv_transpose_output_size(n, k, stride=si, padding=pi, output_padding=oi,
                                              dilation=di)
                   for n, k, si, pi, oi, di in zip(x.shape[2:], kernel, s, p, op, d))
    g = _geometry(out_hw, kernel, s, p, d)
    # The forward convolution of an out_hw-sized input gives x's size plus output_padding // s
    # extra positions (possible when dilation > stride allows output_padding >= stride); those
    # positions are not part of the adjoint, so the geometry keeps exactly x's size.
    g = replace(g, out_hw=tuple(x.shape[2:]))
    dtype = np.result_type(x, w)
    y = _input_gradient(x.astype(dtype, copy=False), w.astype(dtype, copy=False), g)
    if b is not None:
        b = as_float_array(b, "b")
        if b.shape != (w.shape[1],):
            raise ValueError(f"b must have shape (C_out,) = ({w.shape[1]},); got {b.shape}")
        y = y + b[None, :, None, None]
    return y


def im2col(x, kernel_size, *, stride=1, padding=0, dilation=1) -> np.ndarray:
    """Unfold every receptive field of ``x`` (N, C, H, W) into a column.

    Returns ``cols`` of shape ``(N, C*kh*kw, H'*W')`` (PyTorch's ``unfold``): row
    ``c*kh*kw + a*kw + b``, column ``i*W' + j`` holds ``x_pad[n, c, s_h i + d_h a, s_w j + d_w b]``,
    so that ``conv2d(x, w) == (w.reshape(F, -1) @ cols).reshape(N, F, H', W')``.
    """
    x = as_float_array(x, "x")
    check_ndim(x, 4, "x", "(N, C, H, W)")
    g = _geometry(x.shape[2:], kernel_size, stride, padding, dilation,
                  context=f"; x.shape = {x.shape}, kernel_size = {kernel_size!r}")
    return _im2col_padded(_pad(x, g.pads), g)


def col2im(cols, x_shape, kernel_size, *, stride=1, padding=0, dilation=1) -> np.ndarray:
    """The adjoint of :func:`im2col` (PyTorch's ``fold``): add every column back into place.

    Overlapping receptive fields add up. A loop over the ``kh*kw`` kernel offsets, each a strided
    slice, does the scatter (no ``np.add.at``). Returns an array of shape ``x_shape``.
    """
    cols = as_float_array(cols, "cols")
    if len(x_shape) != 4:
        raise ValueError(f"x_shape must be (N, C, H, W); got {x_shape}")
    n, c, h, w = (int(v) for v in x_shape)
    g = _geometry((h, w), kernel_size, stride, padding, dilation)
    (kh, kw), (sh, sw), (dh, dw) = g.kernel, g.stride, g.dilation
    ho, wo = g.out_hw
    if cols.shape != (n, c * kh * kw, ho * wo):
        raise ValueError(
            f"cols must have shape (N, C*kh*kw, H'*W') = {(n, c * kh * kw, ho * wo)}; got {cols.shape}"
        )
    c6 = cols.reshape(n, c, kh, kw, ho, wo)
    xp = np.zeros((n, c, *g.padded_hw), dtype=cols.dtype)
    for a in range(kh):
        for b in range(kw):
            xp[:, :, a * dh:a * dh + sh * (ho - 1) + 1:sh, b * dw:b * dw + sw * (wo - 1) + 1:sw] += c6[:, :, a, b]
    (pt, _), (pl, _) = g.pads
    return xp[:, :, pt:pt + h, pl:pl + w]
