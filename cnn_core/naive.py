r"""Deliberately naive reference implementations: one Python loop iteration per output element,
written straight from the definitions, index for index as the book states them.

They are slow on purpose and exist to be read and to serve as the oracle the fast versions are
tested against. Arguments are as for the fast functions (``stride``, ``dilation``: int or pair;
``padding``: int, pair or "valid"/"same"/"full" for convolution).
"""

from __future__ import annotations

import numpy as np

from ._validate import as_pair
from .shapes import resolve_padding

__all__ = ["conv2d_naive", "conv2d_backward_naive", "conv_transpose2d_naive", "correlate2d_naive",
           "convolve2d_naive", "max_pool2d_naive", "max_pool2d_backward_naive", "avg_pool2d_naive",
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
    ho = (xp.shape[2] - d[0] * (kh - 1) - 1) // s[0] + 1
    wo = (xp.shape[3] - d[1] * (kw - 1) - 1) // s[1] + 1
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
    x, w, xp, (sh, sw), (dh, dw), pads, ho, wo = _conv_setup(x, w, stride, padding, dilation)
    dout = np.asarray(dout, dtype=np.float64)
    kh, kw = w.shape[2:]
    dxp, dw_, db = np.zeros_like(xp), np.zeros_like(w), np.zeros(w.shape[0])
    for ni in range(x.shape[0]):
        for fi in range(w.shape[0]):
            for i in range(ho):
                for j in range(wo):
                    rows = slice(sh * i, sh * i + dh * (kh - 1) + 1, dh)
                    cols = slice(sw * j, sw * j + dw * (kw - 1) + 1, dw)
                    g = dout[ni, fi, i, j]
                    dxp[ni, :, rows, cols] += g * w[fi]
                    dw_[fi] += g * xp[ni, :, rows, cols]
                    db[fi] += g
    (pt, _), (pl, _) = pads
    dx = dxp[:, :, pt:pt + x.shape[2], pl:pl + x.shape[3]]
    return dx, dw_, db


def conv_transpose2d_naive(x, w, b=None, *, stride=1, padding=0, output_padding=0, dilation=1):
    r"""Transposed convolution as a scatter: every input element ``x[n, c, i, j]`` adds
    ``x[n, c, i, j] * w[c, :, a, b]`` at output position ``(s_h i + d_h a, s_w j + d_w b)``; then
    ``padding`` rows/columns are cut from each side (``output_padding`` extra at the bottom/right)."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    (sh, sw), (dh, dw) = as_pair(stride, "stride"), as_pair(dilation, "dilation")
    (ph, pw), (oh, ow) = as_pair(padding, "padding", minimum=0), as_pair(output_padding, "output_padding", minimum=0)
    n, cin, h, wd = x.shape
    cout, kh, kw = w.shape[1:]
    full = np.zeros((n, cout, (h - 1) * sh + dh * (kh - 1) + 1 + oh, (wd - 1) * sw + dw * (kw - 1) + 1 + ow))
    for ni in range(n):
        for ci in range(cin):
            for i in range(h):
                for j in range(wd):
                    for a in range(kh):
                        for bb in range(kw):
                            full[ni, :, sh * i + dh * a, sw * j + dw * bb] += x[ni, ci, i, j] * w[ci, :, a, bb]
    y = full[:, :, ph:full.shape[2] - ph, pw:full.shape[3] - pw]
    if b is not None:
        y = y + np.asarray(b, dtype=np.float64)[None, :, None, None]
    return y


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
    ho, wo = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    return x, xp, kh, kw, sh, sw, ph, pw, ho, wo


def max_pool2d_naive(x, kernel_size, *, stride=None, padding=0):
    r""":math:`y_{n,c,i,j} = \max_{a,b} x^{\text{pad}}_{n,c,s_h i+a,\,s_w j+b}` (padding with −∞), by loops."""
    x, xp, kh, kw, sh, sw, _, _, ho, wo = _pool_setup(x, kernel_size, stride, padding, -np.inf)
    y = np.zeros((*x.shape[:2], ho, wo))
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(ho):
                for j in range(wo):
                    y[n, c, i, j] = xp[n, c, sh * i:sh * i + kh, sw * j:sw * j + kw].max()
    return y


def max_pool2d_backward_naive(dout, x, kernel_size, *, stride=None, padding=0):
    """Each ``dout[n, c, i, j]`` goes to the first maximum (row-major, ``np.argmax``) of its window."""
    x, xp, kh, kw, sh, sw, ph, pw, ho, wo = _pool_setup(x, kernel_size, stride, padding, -np.inf)
    dxp = np.zeros_like(xp)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(ho):
                for j in range(wo):
                    win = xp[n, c, sh * i:sh * i + kh, sw * j:sw * j + kw]
                    a, b = np.unravel_index(np.argmax(win), win.shape)
                    dxp[n, c, sh * i + a, sw * j + b] += dout[n, c, i, j]
    return dxp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]]


def avg_pool2d_naive(x, kernel_size, *, stride=None, padding=0):
    r""":math:`y_{n,c,i,j} = \frac{1}{k_h k_w}\sum_{a,b} x^{\text{pad}}_{n,c,s_h i+a,\,s_w j+b}` (zeros count), by loops."""
    x, xp, kh, kw, sh, sw, _, _, ho, wo = _pool_setup(x, kernel_size, stride, padding, 0.0)
    y = np.zeros((*x.shape[:2], ho, wo))
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(ho):
                for j in range(wo):
                    y[n, c, i, j] = xp[n, c, sh * i:sh * i + kh, sw * j:sw * j + kw].sum() / (kh * kw)
    return y


def batch_norm2d_naive(x, gamma, beta, *, eps=1e-5):
    r""":math:`y = \gamma_c (x - \mu_c)/\sqrt{\sigma_c^2 + \epsilon} + \beta_c`, the statistics of
    each channel summed by loops over its :math:`m = NHW` values (biased variance)."""
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
