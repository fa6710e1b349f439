r"""Multi-channel 2-D convolution (cross-correlation) in NCHW layout, forward and backward.

Conventions (the same as PyTorch, CS231n and every framework):

- ``x`` has shape ``(N, C, H, W)``; the kernel ``w`` has shape ``(F, C, kh, kw)``; the bias ``b`` ``(F,)``.
- "Convolution" is cross-correlation, the kernel is *not* flipped:

  .. math:: y_{n,f,i,j} = b_f + \sum_{c}\sum_{a,b} x^{\text{pad}}_{n,c,\,s_h i + d_h a,\,s_w j + d_w b}\; w_{f,c,a,b}

- Output size per axis: :func:`cnn_core.conv_output_size`.

Implementation: ``im2col`` gathers every receptive field into the columns of a matrix with one
strided view and one copy, ``(n, C*kh*kw, H'*W')`` for a chunk of ``n`` images, and one stacked
matrix product with the ``(F, C*kh*kw)`` kernel matrix writes the ``(n, F, H'*W')`` output. The
batch is split into one part per CPU core (``cnn_core._parallel``) and each part into chunks
that bound the buffers' memory.
The gradient with respect to the input *is* the *full* convolution of the upstream gradient (zeros
inserted between its elements when the stride is > 1) with the kernel rotated by 180°, as the
book derives it (the private ``_input_gradient_full`` computes it literally that way); it is
evaluated as ``col2im(Wᵀ δ)``, which adds exactly the same products into the same places without
multiplying the inserted zeros; for stride 1 col2im is a single sum over shifted views
(``_col2im_shifted``). :func:`.conv_transpose2d` is the same operation.
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass, replace

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import _parallel
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


def _plain(v) -> bool:
    """Whether ``v`` is an ``int``, a ``str`` or a tuple of ``int`` (exactly these types: a bool
    or a numpy integer compares equal to an int and must not share its cache entry)."""
    return type(v) in (int, str) or (type(v) is tuple and all(type(e) is int for e in v))


def _geometry(in_hw, kernel, stride, padding, dilation, context: str = "") -> ConvGeometry:
    """Resolve and check the size arithmetic; ``context`` (e.g. the arguments' shapes) is appended
    to the error message when the kernel does not fit. Valid plain arguments are cached (the
    checks cost more than a small layer's arithmetic)."""
    args = (tuple(in_hw), kernel, stride, padding, dilation)
    if all(map(_plain, args)):
        try:
            return _geometry_cached(*args)
        except ValueError:
            pass                          # checked again below, for the message with context
    return _resolve_geometry(*args, context)


@functools.lru_cache(maxsize=256)
def _geometry_cached(in_hw, kernel, stride, padding, dilation) -> ConvGeometry:
    return _resolve_geometry(in_hw, kernel, stride, padding, dilation)


def _resolve_geometry(in_hw, kernel, stride, padding, dilation, context: str = "") -> ConvGeometry:
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


# The fast path keeps the batch axis outermost: the columns of image n are ``cols[n]`` of shape
# ``(C*kh*kw, H'*W')`` and one stacked ``np.matmul`` multiplies every image's columns by the same
# ``(F, C*kh*kw)`` kernel matrix, writing straight into the ``(N, F, H'*W')`` output: no transpose
# pass, and no transposing copy of δ in the backward pass. (Merging the columns of all images into
# one wide matrix gives one bigger product instead, but needs those transposing copies; measured
# here on the benchmark's three layers, that was 1.0–2x slower for the same work.)
# The batch is split into chunks whose buffers stay within a budget: twice the bytes of the
# layer's arrays, clipped to [_MIN_CHUNK_BYTES, _MAX_CHUNK_BYTES], shared among the workers.
_MIN_CHUNK_BYTES = 2 * 2**20
_MAX_CHUNK_BYTES = 16 * 2**20


def _chunks(n: int, bytes_per_image: int, io_bytes: int, parts: int = 1):
    """Split ``range(n)`` into near-equal ``(start, stop)`` chunks whose buffers fit the budget
    ``clip(2 * io_bytes, _MIN_CHUNK_BYTES, _MAX_CHUNK_BYTES) / parts``."""
    if n == 0:
        return []
    budget = min(max(2 * io_bytes, _MIN_CHUNK_BYTES), _MAX_CHUNK_BYTES) // parts
    per = max(1, budget // max(1, bytes_per_image))
    m = -(-n // per)                      # number of chunks
    size = -(-n // m)
    return [(i, min(i + size, n)) for i in range(0, n, size)]


# Work below this many multiply-adds per matrix product runs in the calling thread alone: the
# threads would cost more than they save (the 8×8-digit layers of chapter 7 are below).
_PARALLEL_MIN_MACS = 2_000_000


def _plan(n: int, macs: int, bytes_per_image: int, io_bytes: int) -> list[list[tuple]]:
    """The batch ``range(n)`` as one list of chunks per worker (see :mod:`cnn_core._parallel`):
    contiguous near-equal parts, each chunked so that all workers together stay in the budget."""
    parts = min(_parallel.workers(), n) if macs >= _PARALLEL_MIN_MACS else 1
    if parts <= 1:
        return [_chunks(n, bytes_per_image, io_bytes)]
    bounds = _parallel.bounds(n, parts)
    return [[(p0 + a, p0 + b) for a, b in _chunks(p1 - p0, bytes_per_image, io_bytes, parts)]
            for p0, p1 in zip(bounds, bounds[1:])]


_scratch = threading.local()


def _scratch_array(name: str, shape, dtype) -> np.ndarray:
    """A work array from a per-thread cache that grows but is never shrunk. Reusing it saves the
    page faults of a fresh multi-megabyte allocation on every call (a measurable share of the
    time here). Internal only: such an array must never be returned to the caller."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    buf = getattr(_scratch, name, None)
    if buf is None or buf.nbytes < nbytes:
        buf = np.empty(max(nbytes, 1), dtype=np.uint8)
        setattr(_scratch, name, buf)
    return buf[:nbytes].view(dtype).reshape(shape)


_FRAMED_PER_THREAD = 8


def _framed_array(name: str, shape, dtype, interior: tuple) -> np.ndarray:
    """A per-thread work array that is zero outside ``interior`` (a tuple of slices), kept between
    calls for the same ``(name, shape, dtype, interior)``: callers only ever write the interior,
    so the frame stays zero and need not be cleared again (one pass instead of five for a padded
    copy). The last ``_FRAMED_PER_THREAD`` such arrays are kept. Internal only, like
    :func:`_scratch_array`."""
    cache = getattr(_scratch, "framed", None)
    if cache is None:
        cache = _scratch.framed = {}
    key = (name, tuple(shape), np.dtype(dtype).str,
           tuple((sl.start, sl.stop) for sl in interior))
    buf = cache.pop(key, None)
    if buf is None:
        buf = np.zeros(shape, dtype=dtype)
        while len(cache) >= _FRAMED_PER_THREAD:
            cache.pop(next(iter(cache)))
    cache[key] = buf                      # most recently used last
    return buf


def _padded_chunk(x: np.ndarray, n0: int, n1: int, g: ConvGeometry) -> np.ndarray:
    """``x[n0:n1]`` (N, C, H, W) with its zero padding, in a work array (``x[n0:n1]`` itself when
    there is no padding)."""
    (pt, pb), (pl, pr) = g.pads
    if pt == pb == pl == pr == 0:
        return x[n0:n1]
    h, wd = g.in_hw
    inner = (slice(pt, pt + h), slice(pl, pl + wd))
    out = _framed_array("xpad", (n1 - n0, x.shape[1], *g.padded_hw), x.dtype, inner)
    out[:, :, inner[0], inner[1]] = x[n0:n1]
    return out


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


def _correlate(x: np.ndarray, w: np.ndarray, g: ConvGeometry, b=None) -> np.ndarray:
    """Cross-correlate ``x`` (unpadded; ``g`` says how to pad) with ``w`` (plus ``b``): per chunk of
    the batch one padded copy, one im2col copy and one stacked product ``W (F, K) @ cols (n, K, P)``
    written into the output; the chunks are shared among the CPU cores."""
    n, c = x.shape[:2]
    f = w.shape[0]
    ho, wo = g.out_hw
    k, p = c * g.kernel[0] * g.kernel[1], ho * wo
    w2 = w.reshape(f, k)
    y = np.empty((n, f, ho, wo), dtype=np.result_type(x, w))

    def part(chunks):
        for n0, n1 in chunks:
            cols = _cols(_padded_chunk(x, n0, n1, g), g,
                         _scratch_array("cols", (n1 - n0, k, p), x.dtype))
            yc = y[n0:n1].reshape(n1 - n0, f, p)
            np.matmul(w2, cols, out=yc)
            if b is not None:
                yc += b[:, None]

    _parallel.run(part, _plan(n, n * f * k * p, k * p * x.itemsize, x.nbytes + y.nbytes))
    return y


def _col2im_slices(dcols: np.ndarray, g: ConvGeometry, out: np.ndarray) -> None:
    """Adjoint of :func:`_cols`: add the columns ``(n, C*kh*kw, H'*W')`` back into a padded scratch
    image, one strided slice per kernel offset (overlaps add up), and write it, the padding cut
    off, into ``out`` (n, C, H, W)."""
    n, c = out.shape[:2]
    (kh, kw), (sh, sw), (dh, dw) = g.kernel, g.stride, g.dilation
    ho, wo = g.out_hw
    d6 = dcols.reshape(n, c, kh, kw, ho, wo)
    xp = _scratch_array("dxp", (n, c, *g.padded_hw), dcols.dtype)
    xp.fill(0)
    for a in range(kh):
        rows = slice(a * dh, a * dh + sh * (ho - 1) + 1, sh)
        for b in range(kw):
            xp[:, :, rows, b * dw:b * dw + sw * (wo - 1) + 1:sw] += d6[:, :, a, b]
    (pt, _), (pl, _) = g.pads
    out[...] = xp[:, :, pt:pt + g.in_hw[0], pl:pl + g.in_hw[1]]


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
    (kh, kw), (dh, dw) = g.kernel, g.dilation
    (pt, _), (pl, _) = g.pads
    wp = g.padded_hw[1]
    k, length = dcols.shape[1:]
    it = dcols.itemsize
    view = as_strided(dcols[:, :, pt * wp + pl:], shape=(n, c, kh, kw, *g.in_hw),
                      strides=(k * length * it, kh * kw * length * it,
                               (kw * length - dh * wp) * it, (length - dw) * it, wp * it, it),
                      writeable=False)
    np.add.reduce(view, axis=(2, 3), out=out)


# For stride 1 the input gradient uses :func:`_col2im_shifted` (one call instead of kh*kw) when
# the padded grid it works on is at most this many times larger than the output.
_SHIFTED_MAX_RATIO = 2.0


def _conv_backward(dout, x, w, g, *, need_dw=True):
    """``(dx, dw, db)`` of a convolution of the unpadded input ``x`` (``dw`` and ``db`` are
    ``None`` unless ``need_dw``), per chunk of the batch, the chunks shared among the CPU cores:
    ``dW = Σ_n δ_n colsₙᵀ``, ``dx = col2im(Wᵀ δ)``, with ``δ_n`` of shape ``(F, H'*W')``."""
    n, f, ho, wo = dout.shape
    c = w.shape[1]
    k, p = c * g.kernel[0] * g.kernel[1], ho * wo
    w2t = w.reshape(f, k).T
    dx = np.empty((n, c, *g.in_hw), dtype=dout.dtype)
    hp, wp = g.padded_hw
    shifted = g.stride == (1, 1) and hp * wp <= _SHIFTED_MAX_RATIO * p
    rows_dx = hp * wp if shifted else p

    def part(chunks):
        dw2t = np.zeros((k, f), dtype=dout.dtype) if need_dw else None
        for n0, n1 in chunks:
            m = n1 - n0
            d3 = dout[n0:n1].reshape(m, f, p)
            # one buffer for the columns and, once they are used, for their gradient
            buf = _scratch_array("cols", (m * k * max(p, rows_dx),), dout.dtype)
            if need_dw:
                cols = _cols(_padded_chunk(x, n0, n1, g), g, buf[:m * k * p])
                # (n, K, P) @ (n, P, F): this orientation was the faster one here
                dw2t += np.matmul(cols, d3.transpose(0, 2, 1)).sum(axis=0)
            dcols = buf[:m * k * rows_dx].reshape(m, k, rows_dx)
            if shifted:
                inner = (slice(0, ho), slice(0, wo))
                dfull = _framed_array("dfull", (m, f, hp, wp), dout.dtype, inner)
                dfull[:, :, :ho, :wo] = dout[n0:n1]
                np.matmul(w2t, dfull.reshape(m, f, hp * wp), out=dcols)
                _col2im_shifted(dcols, g, dx[n0:n1])
            else:
                np.matmul(w2t, d3, out=dcols)
                _col2im_slices(dcols, g, dx[n0:n1])
        if need_dw and chunks:
            return dw2t, dout[chunks[0][0]:chunks[-1][1]].sum(axis=(0, 2, 3))
        return None

    plan = _plan(n, n * f * k * p, (k * max(p, rows_dx) + f * rows_dx) * dout.itemsize,
                 dout.nbytes + dx.nbytes + (x.nbytes if need_dw else 0))
    results = [r for r in _parallel.run(part, plan) if r is not None]
    if not need_dw:
        return dx, None, None
    if not results:                      # an empty batch
        return dx, np.zeros_like(w), np.zeros(f, dtype=dout.dtype)
    dw = np.ascontiguousarray(sum(r[0] for r in results).T).reshape(w.shape)
    return dx, dw, sum(r[1] for r in results)


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
    return _correlate(x, w, g, b)


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
    return _conv_backward(dout, None, w, g, need_dw=False)[0]


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
    return _conv_backward(dout, x, w, g)


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
    kh, kw = g.kernel
    return _cols(_pad(x, g.pads), g, np.empty((x.shape[0], x.shape[1] * kh * kw,
                                               g.out_hw[0] * g.out_hw[1]), dtype=x.dtype))


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
    (kh, kw), (ho, wo) = g.kernel, g.out_hw
    if cols.shape != (n, c * kh * kw, ho * wo):
        raise ValueError(
            f"cols must have shape (N, C*kh*kw, H'*W') = {(n, c * kh * kw, ho * wo)}; got {cols.shape}"
        )
    x = np.empty((n, c, h, w), dtype=cols.dtype)
    _col2im_slices(cols, g, x)
    return x
