r"""Multi-channel 2-D convolution (cross-correlation) in NCHW layout, forward and backward.

Conventions (the same as PyTorch, CS231n and every framework):

- ``x`` has shape ``(N, C, H, W)``; the kernel ``w`` has shape ``(F, C, kh, kw)``; the bias ``b`` ``(F,)``.
- "Convolution" is cross-correlation, the kernel is *not* flipped:

  .. math:: y_{n,f,i,j} = b_f + \sum_{c}\sum_{a,b} x^{\text{pad}}_{n,c,\,s_h i + d_h a,\,s_w j + d_w b}\; w_{f,c,a,b}

- Output size per axis: :func:`cnn_core.conv_output_size`.

As matrices: the columns :math:`\mathrm{cols}_n` of image :math:`n` (:func:`cnn_core.im2col`,
one column of :math:`C k_h k_w` numbers per output position) turn the sum into one product with
the kernel matrix :math:`W` (:math:`F \times C k_h k_w`), and, with
:math:`\delta_n = \partial E/\partial y_n` as an :math:`F \times H'W'` matrix, the backward pass
into two:

.. math:: y_n = W \mathrm{cols}_n + b,\qquad
          \frac{\partial E}{\partial W} = \sum_n \delta_n \mathrm{cols}_n^{\top},\qquad
          \frac{\partial E}{\partial x} = \operatorname{col2im}\Big(W^{\top} \delta\Big).

:func:`cnn_core.col2im` adds every product :math:`\delta_{n,f,i,j} w_{f,c,a,b}` at the input
position its window read, so the input gradient is the *full* convolution of the upstream
gradient (with ``s - 1`` zeros stuffed between its elements when the stride is > 1) with the
kernel rotated by 180°, as the book derives it
(:func:`cnn_core.naive.conv2d_input_gradient_full_naive` computes it literally that way), without
multiplying the stuffed zeros. :func:`cnn_core.conv_transpose2d` is the same operation.

This file: the public functions, then the general implementation (``_correlate``,
``_conv_backward``, ``_im2col``, ``_col2im_slices``), which is these equations for the whole batch.
The tuned kernels (chunks of the batch on every core, reused work arrays, im2col by record copies,
col2im for stride 1 by shifted sums) are in ``cnn_core._conv_fast``, reached by one line each and
switched off by ``cnn_core._tuning``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from . import _conv_fast, _tuning
from ._conv_fast import _cols  # im2col by record copies (printed in chapter 9 as cc.conv._cols)
from ._validate import as_float_array, as_pair, check_ndim
from ._workspace import scratch_array as _scratch_array
from .shapes import (ConvGeometry, conv_geometry, conv_transpose_output_size, pad2d,
                     window_view)

__all__ = ["conv2d", "conv2d_backward", "conv_transpose2d", "im2col", "col2im"]


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
    g = conv_geometry(x.shape[2:], w.shape[2:], stride, padding, dilation,
                      context=f"; x.shape = {x.shape}, w.shape = {w.shape}")
    return _correlate(x, w, g, b)


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
    g = conv_geometry(x.shape[2:], w.shape[2:], stride, padding, dilation,
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
        :math:`H_{\mathrm{out}} = (H - 1)s - 2p + d(k - 1) + p_{\mathrm{out}} + 1`, where
        :math:`p_{\mathrm{out}}` is ``output_padding``

    Notes
    -----
    For every ``x`` and ``z`` of matching shapes,
    :math:`\langle C(z), x\rangle = \langle z, C^{\top}(x)\rangle`, with :math:`C` the convolution
    ``conv2d(·, w)`` and :math:`C^{\top}` this function ``conv_transpose2d(·, w)``.
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
    g = conv_geometry(out_hw, kernel, s, p, d)
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
    g = conv_geometry(x.shape[2:], kernel_size, stride, padding, dilation,
                      context=f"; x.shape = {x.shape}, kernel_size = {kernel_size!r}")
    return _im2col(pad2d(x, g.pads), g)


def col2im(cols, x_shape, kernel_size, *, stride=1, padding=0, dilation=1) -> np.ndarray:
    """The adjoint of :func:`im2col` (PyTorch's ``fold``): add every column back into place.

    Overlapping receptive fields add up. A loop over the ``kh*kw`` kernel offsets, each a strided
    slice, does the scatter (no ``np.add.at``). Returns an array of shape ``x_shape``.
    """
    cols = as_float_array(cols, "cols")
    if len(x_shape) != 4:
        raise ValueError(f"x_shape must be (N, C, H, W); got {x_shape}")
    n, c, h, w = (int(v) for v in x_shape)
    g = conv_geometry((h, w), kernel_size, stride, padding, dilation)
    (kh, kw), (ho, wo) = g.kernel, g.out_hw
    if cols.shape != (n, c * kh * kw, ho * wo):
        raise ValueError(
            f"cols must have shape (N, C*kh*kw, H'*W') = {(n, c * kh * kw, ho * wo)}; got {cols.shape}"
        )
    x = np.empty((n, c, h, w), dtype=cols.dtype)
    _col2im_slices(cols, g, x)
    return x


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


# ----------------------------------------------------------------- the general implementation

def _correlate(x: np.ndarray, w: np.ndarray, g: ConvGeometry, b=None) -> np.ndarray:
    """``y_n = W cols_n + b`` for every image ``n`` of ``x`` (unpadded; ``g`` says how to pad): the
    windows of the padded batch copied once into columns, then one stacked matrix product."""
    if _tuning.CONV_BATCHED:
        return _conv_fast.correlate(x, w, g, b)          # tuned: chunks on every core
    n, f = x.shape[0], w.shape[0]
    cols = _im2col(pad2d(x, g.pads), g)                  # (N, C*kh*kw, H'*W')
    y = np.matmul(w.reshape(f, -1), cols)                # (N, F, H'*W')
    if b is not None:
        y += b[:, None]
    return y.reshape(n, f, *g.out_hw)


def _conv_backward(dout, x, w, g, *, need_dw=True):
    """``(dx, dw, db)`` of a convolution of the unpadded input ``x`` (``dw`` and ``db`` are
    ``None`` unless ``need_dw``), with ``δ_n`` = ``dout[n]`` as an (F, H'*W') matrix:
    ``dx = col2im(Wᵀ δ)``, ``dW = Σ_n δ_n colsₙᵀ``, ``db = Σ δ``."""
    if _tuning.CONV_BATCHED:
        return _conv_fast.conv_backward(dout, x, w, g, need_dw, _col2im_slices)   # tuned
    n, f, ho, wo = dout.shape
    delta = dout.reshape(n, f, ho * wo)                            # (N, F, H'*W')
    dx = np.empty((n, w.shape[1], *g.in_hw), dtype=dout.dtype)
    _col2im_slices(np.matmul(w.reshape(f, -1).T, delta), g, dx)    # col2im(Wᵀ δ)
    if not need_dw:
        return dx, None, None
    cols = _im2col(pad2d(x, g.pads), g)                            # (N, C*kh*kw, H'*W')
    dw = np.matmul(delta, cols.transpose(0, 2, 1)).sum(axis=0)     # Σ_n δ_n colsₙᵀ
    return dx, dw.reshape(w.shape), delta.sum(axis=(0, 2))


def _input_gradient(dout: np.ndarray, w: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """``col2im(Wᵀ δ)``: the gradient of a convolution with respect to its (unpadded) input."""
    return _conv_backward(dout, None, w, g, need_dw=False)[0]


def _im2col(xp: np.ndarray, g: ConvGeometry) -> np.ndarray:
    """Columns ``(N, C*kh*kw, H'*W')`` of the padded batch ``xp``: row ``c*kh*kw + a*kw + b``,
    column ``i*W' + j`` of image ``n`` holds ``xp[n, c, s_h i + d_h a, s_w j + d_w b]``, the
    windows view (:func:`cnn_core.shapes.window_view`) copied once."""
    n, c = xp.shape[:2]
    (kh, kw), (ho, wo) = g.kernel, g.out_hw
    cols = np.empty((n, c * kh * kw, ho * wo), dtype=xp.dtype)
    if _tuning.RECORD_COPY:
        return _cols(xp, g, cols)                        # tuned: runs of W' pixels as records
    np.copyto(cols.reshape(n, c, kh, kw, ho, wo), window_view(xp, g))
    return cols


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
