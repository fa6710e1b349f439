r"""Deliberately naive reference implementations: one Python loop iteration per output element,
written straight from the definitions, index for index as the book states them.

They are slow on purpose and exist to be read and to serve as the oracle the fast versions are
tested against. Arguments are as for the fast functions (``stride``, ``dilation``: int or pair;
``padding``: int, pair or "valid"/"same"/"full" for convolution).
"""

from __future__ import annotations

import numpy as np

from ._validate import as_pair
from .shapes import conv_output_size, resolve_padding

__all__ = ["conv2d_naive", "conv2d_backward_naive", "conv2d_input_gradient_full_naive",
           "conv_transpose2d_naive", "im2col_naive", "col2im_naive", "correlate2d_naive",
           "convolve2d_naive", "max_pool2d_naive", "max_pool2d_backward_naive", "avg_pool2d_naive",
           "avg_pool2d_backward_naive", "lp_pool2d_naive", "lp_pool2d_backward_naive",
           "batch_norm2d_naive", "batch_norm2d_backward_naive", "global_avg_pool2d_naive"]


def _pad_explicit(x, pads, value=0.0):
    return np.pad(x, ((0, 0), (0, 0), *pads), constant_values=value)


def _conv_setup(x, w, stride, padding, dilation):
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    kh, kw = w.shape[2:]
    s, d = as_pair(stride, "stride"), as_pair(dilation, "dilation")
    pads = resolve_padding(padding, (kh, kw), d, s)
    xp = _pad_explicit(x, pads)
    ho = conv_output_size(xp.shape[2], kh, stride=s[0], dilation=d[0])
    wo = conv_output_size(xp.shape[3], kw, stride=s[1], dilation=d[1])
    return x, w, xp, s, d, pads, ho, wo


def conv2d_naive(x, w, b=None, *, stride=1, padding=0, dilation=1):
    r""":math:`y_{n,f,i,j} = b_f + \sum_{c,a,b} x^{\text{pad}}_{n,c,s_h i+d_h a,\,s_w j+d_w b}\,w_{f,c,a,b}`, by loops."""
    x, w, xp, (sh, sw), (dh, dw), _, ho, wo = _conv_setup(x, w, stride, padding, dilation)
    n, f = x.shape[0], w.shape[0]
    kh, kw = w.shape[2:]
    y = np.zeros((n, f, ho, wo))
    for ni in range(n):
        for fi in range(f):
            for i in range(ho):
                for j in range(wo):
                    patch = xp[ni, :, sh * i:sh * i + dh * (kh - 1) + 1:dh,
                               sw * j:sw * j + dw * (kw - 1) + 1:dw]
                    y[ni, fi, i, j] = np.sum(patch * w[fi]) + (0.0 if b is None else b[fi])
    return y


def conv2d_backward_naive(dout, x, w, *, stride=1, padding=0, dilation=1):
    """Gradients of :func:`conv2d_naive` by the chain rule, one output element at a time: each
    ``dout[n, f, i, j]`` is sent back to every input element and weight that produced it."""
    x, w, xp, (sh, sw), (dil_h, dil_w), pads, ho, wo = _conv_setup(x, w, stride, padding, dilation)
    dout = np.asarray(dout, dtype=np.float64)
    kh, kw = w.shape[2:]
    dxp, dw, db = np.zeros_like(xp), np.zeros_like(w), np.zeros(w.shape[0])
    for ni in range(x.shape[0]):
        for fi in range(w.shape[0]):
            for i in range(ho):
                for j in range(wo):
                    rows = slice(sh * i, sh * i + dil_h * (kh - 1) + 1, dil_h)
                    cols = slice(sw * j, sw * j + dil_w * (kw - 1) + 1, dil_w)
                    g = dout[ni, fi, i, j]
                    dxp[ni, :, rows, cols] += g * w[fi]
                    dw[fi] += g * xp[ni, :, rows, cols]
                    db[fi] += g
    (pt, _), (pl, _) = pads
    dx = dxp[:, :, pt:pt + x.shape[2], pl:pl + x.shape[3]]
    return dx, dw, db


def conv2d_input_gradient_full_naive(dout, w, x_shape, *, stride=1, padding=0, dilation=1):
    r"""The input gradient of :func:`conv2d_naive` computed literally as the book derives it: the
    **full** cross-correlation of the *stuffed* upstream gradient with the kernel rotated by 180°,

    .. math:: \frac{\partial E}{\partial x^{\mathrm{pad}}_{c}} = \sum_f
              \operatorname{full}\big(\operatorname{stuff}_s(\delta_f) \star
              \operatorname{rot180}(w_{f,c})\big),

    then the padding cut off. ``stuff_s`` puts ``s - 1`` zeros between the elements of δ; "full"
    pads it with ``d(k - 1)`` zeros on each side (plus, at the bottom/right, the rows and columns
    of the padded input that no window reached). ``x_shape`` is the forward input's
    ``(N, C, H, W)``. Equal to the ``dx`` of :func:`conv2d_backward_naive`.
    """
    dout = np.asarray(dout, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    n, f, ho, wo = dout.shape
    kh, kw = w.shape[2:]
    (sh, sw), (dil_h, dil_w) = as_pair(stride, "stride"), as_pair(dilation, "dilation")
    (pt, pb), (pl, pr) = resolve_padding(padding, (kh, kw), (dil_h, dil_w), (sh, sw))
    h, wd = x_shape[2:]
    hz, wz = (ho - 1) * sh + 1, (wo - 1) * sw + 1              # size of the stuffed δ
    eh, ew = dil_h * (kh - 1), dil_w * (kw - 1)                 # the "full" padding
    rh, rw = h + pt + pb - hz - eh, wd + pl + pr - wz - ew      # rows/cols no window reached
    stuffed = np.zeros((n, f, eh + hz + eh + rh, ew + wz + ew + rw))
    stuffed[:, :, eh:eh + hz:sh, ew:ew + wz:sw] = dout          # s - 1 zeros in between
    w_rot = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)           # rot180, (C, F, kh, kw)
    dxp = conv2d_naive(stuffed, w_rot, dilation=(dil_h, dil_w))  # the full correlation
    return dxp[:, :, pt:pt + h, pl:pl + wd]


def conv_transpose2d_naive(x, w, b=None, *, stride=1, padding=0, output_padding=0, dilation=1):
    r"""Transposed convolution as a scatter: every input element ``x[n, c, i, j]`` adds
    ``x[n, c, i, j] * w[c, :, a, b]`` at output position ``(s_h i + d_h a, s_w j + d_w b)``; then
    ``padding`` rows/columns are cut from each side (``output_padding`` extra at the bottom/right)."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    (sh, sw), (dil_h, dil_w) = as_pair(stride, "stride"), as_pair(dilation, "dilation")
    (ph, pw), (oh, ow) = as_pair(padding, "padding", minimum=0), as_pair(output_padding, "output_padding", minimum=0)
    n, cin, h, wd = x.shape
    cout, kh, kw = w.shape[1:]
    full = np.zeros((n, cout, (h - 1) * sh + dil_h * (kh - 1) + 1 + oh,
                     (wd - 1) * sw + dil_w * (kw - 1) + 1 + ow))
    for ni in range(n):
        for ci in range(cin):
            for i in range(h):
                for j in range(wd):
                    for a in range(kh):
                        for bb in range(kw):
                            full[ni, :, sh * i + dil_h * a, sw * j + dil_w * bb] += \
                                x[ni, ci, i, j] * w[ci, :, a, bb]
    y = full[:, :, ph:full.shape[2] - ph, pw:full.shape[3] - pw]
    if b is not None:
        y = y + np.asarray(b, dtype=np.float64)[None, :, None, None]
    return y


def im2col_naive(x, kernel_size, *, stride=1, padding=0, dilation=1):
    r"""The columns of every receptive field, element by element:

    .. math:: \text{cols}_{n,\,c k_h k_w + a k_w + b,\; i W' + j}
              = x^{\text{pad}}_{n,c,\,s_h i + d_h a,\,s_w j + d_w b}
    """
    x = np.asarray(x, dtype=np.float64)
    kernel, s, d = _im2col_args(kernel_size, stride, dilation)
    xp = _pad_explicit(x, resolve_padding(padding, kernel, d, s))
    shape, entries = _column_entries(xp.shape, kernel, s, d)
    cols = np.zeros(shape)
    for col_index, x_index in entries:
        cols[col_index] = xp[x_index]
    return cols


def col2im_naive(cols, x_shape, kernel_size, *, stride=1, padding=0, dilation=1):
    """The adjoint of :func:`im2col_naive`, element by element: every entry of ``cols`` is added
    back at the input position it was read from (overlapping windows add up), then the padding
    is cut off. Returns an array of shape ``x_shape``."""
    cols = np.asarray(cols, dtype=np.float64)
    n, c, h, wd = x_shape
    kernel, s, d = _im2col_args(kernel_size, stride, dilation)
    (pt, pb), (pl, pr) = resolve_padding(padding, kernel, d, s)
    xp = np.zeros((n, c, h + pt + pb, wd + pl + pr))
    _, entries = _column_entries(xp.shape, kernel, s, d)
    for col_index, x_index in entries:
        xp[x_index] += cols[col_index]
    return xp[:, :, pt:pt + h, pl:pl + wd]


def _im2col_args(kernel_size, stride, dilation):
    return (as_pair(kernel_size, "kernel_size"), as_pair(stride, "stride"),
            as_pair(dilation, "dilation"))


def _column_entries(xp_shape, kernel, stride, dilation):
    """The shape ``(N, C*kh*kw, H'*W')`` of the columns of a padded input of shape ``xp_shape``,
    and every pair ``(index into the columns, index into the padded input)`` of an entry:
    ``cols[n, c*kh*kw + a*kw + b, i*W' + j] = xp[n, c, s_h i + d_h a, s_w j + d_w b]``."""
    n, c, hp, wp = xp_shape
    (kh, kw), (sh, sw), (dil_h, dil_w) = kernel, stride, dilation
    ho = conv_output_size(hp, kh, stride=sh, dilation=dil_h)
    wo = conv_output_size(wp, kw, stride=sw, dilation=dil_w)
    entries = (((ni, ci * kh * kw + a * kw + b, i * wo + j),
                (ni, ci, sh * i + dil_h * a, sw * j + dil_w * b))
               for ni in range(n) for ci in range(c) for a in range(kh) for b in range(kw)
               for i in range(ho) for j in range(wo))
    return (n, c * kh * kw, ho * wo), entries


def _mode_pads(mode, k):
    if mode == "valid":
        return (0, 0)
    if mode == "full":
        return (k - 1, k - 1)
    if mode == "same":
        return ((k - 1) // 2, k - 1 - (k - 1) // 2)
    raise ValueError(f"mode must be 'valid', 'same' or 'full'; got {mode!r}")


def _check_valid_fits(a, k, mode):
    if mode == "valid" and (k.shape[0] > a.shape[0] or k.shape[1] > a.shape[1]):
        raise ValueError(f"mode='valid' needs the kernel to fit inside the image; got "
                         f"k.shape = {k.shape} and a.shape = {a.shape}")


def correlate2d_naive(a, k, mode="valid"):
    r""":math:`(a\star k)_{ij} = \sum_{u,v} a^{\text{pad}}_{i+u,\,j+v} k_{u,v}`, by loops."""
    a = np.asarray(a, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    _check_valid_fits(a, k, mode)
    (pt, pb), (pl, pr) = _mode_pads(mode, k.shape[0]), _mode_pads(mode, k.shape[1])
    ap = np.pad(a, ((pt, pb), (pl, pr)))
    out = np.zeros((ap.shape[0] - k.shape[0] + 1, ap.shape[1] - k.shape[1] + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            for u in range(k.shape[0]):
                for v in range(k.shape[1]):
                    out[i, j] += ap[i + u, j + v] * k[u, v]
    return out


def convolve2d_naive(a, k, mode="valid"):
    r"""True convolution from its definition, :math:`(a*k)_{ij} = \sum_{u,v} a_{i-u,\,j-v}\,k_{u,v}`,
    over the indices where ``a`` exists ("full"), then the "valid" or "same" part of it
    ("same" starts at ``(kh - 1) // 2``, as scipy and MATLAB do)."""
    a = np.asarray(a, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    _check_valid_fits(a, k, mode)
    (m, n), (p, q) = a.shape, k.shape
    full = np.zeros((m + p - 1, n + q - 1))
    for i in range(m + p - 1):
        for j in range(n + q - 1):
            for u in range(p):
                for v in range(q):
                    if 0 <= i - u < m and 0 <= j - v < n:
                        full[i, j] += a[i - u, j - v] * k[u, v]
    if mode == "full":
        return full
    if mode == "valid":
        return full[p - 1:m, q - 1:n]
    if mode == "same":
        t, l = (p - 1) // 2, (q - 1) // 2
        return full[t:t + m, l:l + n]
    raise ValueError(f"mode must be 'valid', 'same' or 'full'; got {mode!r}")


def _pool_setup(x, kernel_size, stride, padding, value):
    x = np.asarray(x, dtype=np.float64)
    kh, kw = as_pair(kernel_size, "kernel_size")
    sh, sw = (kh, kw) if stride is None else as_pair(stride, "stride")
    ph, pw = as_pair(padding, "padding", minimum=0)
    xp = _pad_explicit(x, ((ph, ph), (pw, pw)), value)
    ho = conv_output_size(xp.shape[2], kh, stride=sh)
    wo = conv_output_size(xp.shape[3], kw, stride=sw)
    return x, xp, kh, kw, sh, sw, ph, pw, ho, wo


def _each_window(x, kh, kw, sh, sw, ho, wo):
    """``(n, c, i, j, rows, cols)`` for every window, one at a time: ``rows`` and ``cols`` are the
    slices of the (padded) input that window ``(i, j)`` of image ``n``, channel ``c`` covers."""
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(ho):
                for j in range(wo):
                    yield n, c, i, j, slice(sh * i, sh * i + kh), slice(sw * j, sw * j + kw)


def max_pool2d_naive(x, kernel_size, *, stride=None, padding=0):
    r""":math:`y_{n,c,i,j} = \max_{a,b} x^{\text{pad}}_{n,c,s_h i+a,\,s_w j+b}` (padding with −∞), by loops."""
    x, xp, kh, kw, sh, sw, _, _, ho, wo = _pool_setup(x, kernel_size, stride, padding, -np.inf)
    y = np.zeros((*x.shape[:2], ho, wo))
    for n, c, i, j, rows, cols in _each_window(x, kh, kw, sh, sw, ho, wo):
        y[n, c, i, j] = xp[n, c, rows, cols].max()
    return y


def max_pool2d_backward_naive(dout, x, kernel_size, *, stride=None, padding=0):
    """Each ``dout[n, c, i, j]`` goes to the first maximum (row-major, ``np.argmax``) of the real
    (unpadded) elements of its window. Padding never receives gradient: a window whose real
    elements are all −∞ (equal to its −∞ padding) sends it to its first real element, as PyTorch
    does."""
    x, xp, kh, kw, sh, sw, ph, pw, ho, wo = _pool_setup(x, kernel_size, stride, padding, -np.inf)
    real = _pad_explicit(np.ones(x.shape, dtype=bool), ((ph, ph), (pw, pw)), False)
    dxp = np.zeros_like(xp)
    for n, c, i, j, rows, cols in _each_window(x, kh, kw, sh, sw, ho, wo):
        is_real = real[n, c, rows, cols]
        positions = np.argwhere(is_real)                          # (a, b) in row-major order
        a, b = positions[np.argmax(xp[n, c, rows, cols][is_real])]
        dxp[n, c, sh * i + a, sw * j + b] += dout[n, c, i, j]
    return dxp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]]


def avg_pool2d_naive(x, kernel_size, *, stride=None, padding=0):
    r""":math:`y_{n,c,i,j} = \frac{1}{k_h k_w}\sum_{a,b} x^{\text{pad}}_{n,c,s_h i+a,\,s_w j+b}` (zeros count), by loops."""
    x, xp, kh, kw, sh, sw, _, _, ho, wo = _pool_setup(x, kernel_size, stride, padding, 0.0)
    y = np.zeros((*x.shape[:2], ho, wo))
    for n, c, i, j, rows, cols in _each_window(x, kh, kw, sh, sw, ho, wo):
        y[n, c, i, j] = xp[n, c, rows, cols].sum() / (kh * kw)
    return y


def avg_pool2d_backward_naive(dout, x, kernel_size, *, stride=None, padding=0):
    """Gradient of :func:`avg_pool2d_naive`: each ``dout[n, c, i, j] / (kh*kw)`` is added to every
    element of its window (overlapping windows add up); the padding is cut off."""
    x, xp, kh, kw, sh, sw, ph, pw, ho, wo = _pool_setup(x, kernel_size, stride, padding, 0.0)
    dout = np.asarray(dout, dtype=np.float64)
    dxp = np.zeros_like(xp)
    for n, c, i, j, rows, cols in _each_window(x, kh, kw, sh, sw, ho, wo):
        dxp[n, c, rows, cols] += dout[n, c, i, j] / (kh * kw)
    return dxp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]]


def lp_pool2d_naive(x, kernel_size, *, p=2, stride=None):
    r""":math:`y_{n,c,i,j} = \big(\sum_{a,b} |x_{n,c,s_h i+a,\,s_w j+b}|^p\big)^{1/p}`, by loops."""
    x, xp, kh, kw, sh, sw, _, _, ho, wo = _pool_setup(x, kernel_size, stride, 0, 0.0)
    y = np.zeros((*x.shape[:2], ho, wo))
    for n, c, i, j, rows, cols in _each_window(x, kh, kw, sh, sw, ho, wo):
        y[n, c, i, j] = np.sum(np.abs(xp[n, c, rows, cols]) ** p) ** (1 / p)
    return y


def lp_pool2d_backward_naive(dout, x, kernel_size, *, p=2, stride=None):
    r"""Gradient of :func:`lp_pool2d_naive`, window by window:
    :math:`\partial y/\partial x = \operatorname{sign}(x)\,|x|^{p-1} / y^{p-1}` for every element of
    the window (nothing for a window whose norm ``y`` is zero); overlapping windows add up."""
    x, xp, kh, kw, sh, sw, _, _, ho, wo = _pool_setup(x, kernel_size, stride, 0, 0.0)
    dout = np.asarray(dout, dtype=np.float64)
    dx = np.zeros_like(x)
    for n, c, i, j, rows, cols in _each_window(x, kh, kw, sh, sw, ho, wo):
        win = x[n, c, rows, cols]
        y = np.sum(np.abs(win) ** p) ** (1 / p)
        if y > 0:
            dx[n, c, rows, cols] += (dout[n, c, i, j] * np.sign(win) * np.abs(win) ** (p - 1)
                                     / y ** (p - 1))
    return dx


def batch_norm2d_naive(x, gamma, beta, *, eps=1e-5):
    r""":math:`y = \gamma_c (x - \operatorname{mean}_c)/\sqrt{\operatorname{var}_c + \epsilon} + b_c`
    (``beta`` is the shift :math:`b_c`), the statistics of each channel summed by loops over its
    :math:`NHW` values (biased variance)."""
    x = np.asarray(x, dtype=np.float64)
    n_, c_, h_, w_ = x.shape
    m = n_ * h_ * w_
    y = np.zeros_like(x)
    for c in range(c_):
        total = 0.0
        for n in range(n_):
            for i in range(h_):
                for j in range(w_):
                    total += x[n, c, i, j]
        mean = total / m
        sq = 0.0
        for n in range(n_):
            for i in range(h_):
                for j in range(w_):
                    sq += (x[n, c, i, j] - mean) ** 2
        std = np.sqrt(sq / m + eps)
        for n in range(n_):
            for i in range(h_):
                for j in range(w_):
                    y[n, c, i, j] = gamma[c] * (x[n, c, i, j] - mean) / std + beta[c]
    return y


def batch_norm2d_backward_naive(dout, x, gamma, *, eps=1e-5):
    r"""``(dx, dgamma, dbeta)`` of batch normalization from the full Jacobian of each channel,
    :math:`\partial \hat x_a/\partial x_b = (\mathbb 1[a=b] - 1/m - \hat x_a \hat x_b/m)/\sqrt{\sigma^2+\epsilon}`,
    summed by loops over every pair (a, b) of the channel's values (no three-term shortcut)."""
    x = np.asarray(x, dtype=np.float64)
    dout = np.asarray(dout, dtype=np.float64)
    n_, c_, h_, w_ = x.shape
    m = n_ * h_ * w_
    dx = np.zeros_like(x)
    dgamma = np.zeros(c_)
    dbeta = np.zeros(c_)
    for c in range(c_):
        vals = x[:, c].reshape(-1)
        grads = dout[:, c].reshape(-1)
        mean = sum(vals) / m
        std = np.sqrt(sum((v - mean) ** 2 for v in vals) / m + eps)
        x_hat = [(v - mean) / std for v in vals]
        out = np.zeros(m)
        for b in range(m):
            for a in range(m):
                jac = ((1.0 if a == b else 0.0) - 1.0 / m - x_hat[a] * x_hat[b] / m) / std
                out[b] += grads[a] * gamma[c] * jac
        for a in range(m):
            dgamma[c] += grads[a] * x_hat[a]
            dbeta[c] += grads[a]
        dx[:, c] = out.reshape(n_, h_, w_)
    return dx, dgamma, dbeta


def global_avg_pool2d_naive(x):
    r""":math:`y_{n,c} = \frac{1}{HW}\sum_{i,j} x_{n,c,i,j}`, by loops."""
    x = np.asarray(x, dtype=np.float64)
    n_, c_, h_, w_ = x.shape
    y = np.zeros((n_, c_))
    for n in range(n_):
        for c in range(c_):
            total = 0.0
            for i in range(h_):
                for j in range(w_):
                    total += x[n, c, i, j]
            y[n, c] = total / (h_ * w_)
    return y
