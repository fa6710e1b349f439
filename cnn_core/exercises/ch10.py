"""Checkers for the exercises of chapter 10, making it fast.

The references are independent of the code a student writes: the
library's ``im2col`` and ``col2im``, the naive loops of
:mod:`cnn_core.naive`, the direct sums of a 1-D correlation, and FLOP
counts computed from the output sizes of :func:`cnn_core.conv_output_size`.
"""

import numpy as np

import cnn_core as cc

from ._core import Case, Exercise, Mistake, register

# ex-fast-im2col: im2col with one strided slice per kernel offset


def _im2col_cases(rng):
    return [Case((rng.standard_normal((2, 3, 5, 6)), 2, 1)),
            Case((rng.standard_normal((1, 2, 7, 7)), 3, 2)),
            Case((rng.standard_normal((2, 1, 6, 5)), 3, 1)),
            Case((rng.standard_normal((1, 3, 9, 8)), 3, 3))]


def _im2col_variant(x, k, s, *, order="cuv", stride=True):
    N, C, H, W = x.shape
    Ho, Wo = (H - k) // s + 1, (W - k) // s + 1
    step = s if stride else 1
    cols = np.empty((N, C, k, k, Ho, Wo))
    for u in range(k):
        for v in range(k):
            cols[:, :, u, v] = x[:, :, u:u + step * (Ho - 1) + 1:step,
                                 v:v + step * (Wo - 1) + 1:step]
    if order == "uvc":
        cols = cols.transpose(0, 2, 3, 1, 4, 5)
    if order == "ji":
        cols = cols.swapaxes(4, 5)
    return cols.reshape(N, C * k * k, Ho * Wo)


register(Exercise(
    label="ex-fast-im2col",
    what="the im2col matrix (N, C k k, H'W') of x, stride s, no padding",
    reference=lambda x, k, s: cc.im2col(x, k, stride=s),
    cases=_im2col_cases,
    mistakes=(
        Mistake("rows ordered (u, v, c)",
                lambda x, k, s: _im2col_variant(x, k, s, order="uvc"),
                "your rows are ordered (u, v, c): the channel is the "
                "outermost index, row c*k*k + u*k + v, the order of "
                "w.reshape(F, -1)"),
        Mistake("columns ordered (j, i)",
                lambda x, k, s: _im2col_variant(x, k, s, order="ji"),
                "your columns run down the output first: column i*W' + j "
                "holds output position (i, j), row-major"),
        Mistake("stride forgotten in the slices",
                lambda x, k, s: _im2col_variant(x, k, s, stride=False),
                "window (i, j) starts at (s*i, s*j): step the slices by s"),
    ),
))

# ex-fast-conv-gemm: a layer as one product with the im2col matrix


def _gemm_cases(rng):
    def case(N, C, H, W, F, kh, kw):
        return Case((rng.standard_normal((N, C, H, W)),
                     rng.standard_normal((F, C, kh, kw)),
                     rng.standard_normal(F)))
    return [case(2, 3, 6, 5, 4, 3, 2), case(1, 2, 5, 5, 3, 2, 2),
            case(3, 4, 4, 6, 2, 3, 3)]


def _gemm_variant(x, w, b, *, channel_last=False, bias=True):
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    w_mat = (w.transpose(0, 2, 3, 1) if channel_last else w).reshape(F, -1)
    y = np.matmul(w_mat, cc.im2col(x, (kh, kw)))
    if bias:
        y = y + b[:, None]
    return y.reshape(N, F, H - kh + 1, W - kw + 1)


register(Exercise(
    label="ex-fast-conv-gemm",
    what="a stride-1 convolutional layer as one product with im2col",
    reference=lambda x, w, b: cc.naive.conv2d_naive(x, w, b),
    cases=_gemm_cases,
    mistakes=(
        Mistake("w flattened in another order",
                lambda x, w, b: _gemm_variant(x, w, b, channel_last=True),
                "w_mat must list each kernel in the row order (c, u, v) of "
                "the im2col matrix: w.reshape(F, -1), not a transposed w"),
        Mistake("bias forgotten",
                lambda x, w, b: _gemm_variant(x, w, b, bias=False),
                "every output of channel f differs by b_f: add the bias"),
    ),
))

# ex-fast-col2im: col2im with one strided slice per kernel offset


def _col2im_cases(rng):
    cases = []
    for shape, k in [((2, 3, 5, 6), 3), ((1, 1, 4, 4), 2), ((3, 2, 6, 5), 1),
                     ((1, 2, 5, 5), 2)]:
        P = (shape[2] - k + 1) * (shape[3] - k + 1)
        cols = rng.standard_normal((shape[0], shape[1] * k * k, P))
        cases.append(Case((cols, shape, k)))
    return cases


def _col2im_variant(cols, x_shape, k, *, add=True, swap=False):
    N, C, H, W = x_shape
    Ho, Wo = H - k + 1, W - k + 1
    cols6 = cols.reshape(N, C, k, k, Ho, Wo)
    out = np.zeros(x_shape)
    for u in range(k):
        for v in range(k):
            rows = cols6[:, :, v, u] if swap else cols6[:, :, u, v]
            if add:
                out[:, :, u:u + Ho, v:v + Wo] += rows
            else:
                out[:, :, u:u + Ho, v:v + Wo] = rows
    return out


register(Exercise(
    label="ex-fast-col2im",
    what="col2im for stride 1 and no padding (the adjoint of im2col)",
    reference=lambda cols, x_shape, k: cc.col2im(cols, tuple(x_shape), k),
    cases=_col2im_cases,
    mistakes=(
        Mistake("assigned instead of accumulated",
                lambda cols, x_shape, k: _col2im_variant(cols, x_shape, k,
                                                         add=False),
                "overlapping windows overwrote each other: every pixel "
                "gets the sum over the windows that contain it, so add "
                "(+=), do not assign (=)"),
        Mistake("offsets swapped",
                lambda cols, x_shape, k: _col2im_variant(cols, x_shape, k,
                                                         swap=True),
                "row c*k*k + u*k + v belongs to the offset (u, v): you "
                "added it at (v, u)"),
    ),
))

# ex-fast-flops-lenet: the forward FLOPs of LeNet-5's C3, one image

_C, _F, _K, _H = 6, 16, 5, 14
_HO = cc.conv_output_size(_H, _K)
_K_LEN = _C * _K * _K                      # length of one dot product
_OUTPUTS = _F * _HO * _HO

register(Exercise(
    label="ex-fast-flops-lenet",
    what="the forward FLOPs of C3 for one image",
    reference=2 * _K_LEN * _OUTPUTS,
    mistakes=(
        Mistake("factor 2 forgotten", _K_LEN * _OUTPUTS,
                "you counted only the multiplications: every product "
                "comes with an addition, 2 FLOPs per weight and output"),
        Mistake("bias not counted", (2 * _K_LEN - 1) * _OUTPUTS,
                "a dot product of length K has K - 1 additions; with the "
                "bias added it is K, so 2K FLOPs per output"),
        Mistake("input channels forgotten", 2 * _K * _K * _OUTPUTS,
                "each output sums over all C = 6 input maps: K = C k^2"),
        Mistake("input size for the output size",
                2 * _K_LEN * _F * _H * _H,
                "count one dot product per OUTPUT position: H' = 10, "
                "not the input size 14"),
    ),
))

# ex-fast-winograd: F(2, 3) from four products


def _wino_cases(rng):
    return [Case((rng.standard_normal(4), rng.standard_normal(3)))
            for _ in range(4)]


def _wino_sign(x, w):
    g_plus, g_minus = (w[0] + w[1] + w[2]) / 2, (w[0] - w[1] + w[2]) / 2
    m1 = (x[0] - x[2]) * w[0]
    m2 = (x[1] + x[2]) * g_plus
    m3 = (x[1] - x[2]) * g_minus
    m4 = (x[1] - x[3]) * w[2]
    return np.array([m1 + m2 + m3, m2 - m3 - m4])


register(Exercise(
    label="ex-fast-winograd",
    what="the two outputs (y0, y1) of F(2, 3)",
    reference=lambda x, w: np.array([x[0:3] @ w, x[1:4] @ w]),
    cases=_wino_cases,
    mistakes=(
        Mistake("kernel flipped",
                lambda x, w: np.array([x[0:3] @ w[::-1], x[1:4] @ w[::-1]]),
                "you computed the true convolution (kernel flipped): the "
                "layer's y0 is x0 w0 + x1 w1 + x2 w2"),
        Mistake("sign of m3",
                _wino_sign,
                "m3 multiplies (x2 - x1), not (x1 - x2): check the signs "
                "against y0 = m1 + m2 + m3"),
    ),
))

# The exercises of the appendix on numpy engineering, which continues this
# chapter (book/appendix_numpy_engineering.ipynb), are registered here too.

# ex-fast-avgpool: average pooling of tiles as the mean of k^2 slices


def _pool_cases(rng):
    return [Case((rng.standard_normal((2, 3, 6, 8)), 2)),
            Case((rng.standard_normal((1, 2, 9, 6)), 3)),
            Case((rng.standard_normal((3, 1, 4, 4)), 1)),
            Case((rng.standard_normal((1, 1, 8, 4)), 4))]


register(Exercise(
    label="ex-fast-avgpool",
    what="average pooling of k x k tiles from k^2 strided slices",
    reference=lambda x, k: cc.avg_pool2d(x, k),
    cases=_pool_cases,
    mistakes=(
        Mistake("sum instead of mean",
                lambda x, k: cc.avg_pool2d(x, k) * k * k,
                "you summed the slices: the mean divides the sum by k^2"),
        Mistake("divided by k",
                lambda x, k: cc.avg_pool2d(x, k) * k,
                "a k x k window has k^2 elements: divide by k**2, not k"),
    ),
))

# ex-eng-avg-adjoint: the backward pass of average pooling from X S


def _avg_back_cases(rng):
    out = []
    for (N, C, H, W), k in [((2, 3, 6, 8), 2), ((1, 2, 9, 6), 3),
                            ((1, 1, 4, 4), 4)]:
        x = rng.standard_normal((N, C, H, W))
        dout = rng.standard_normal((N, C, H // k, W // k))
        out.append(Case((dout, x, k)))
    return out


def _first_element_only(dout, x, k):
    dx = np.zeros_like(x)
    dx[:, :, ::k, ::k] = dout / (k * k)
    return dx


register(Exercise(
    label="ex-eng-avg-adjoint",
    what="dE/dx of average pooling of k x k tiles, as dE/dY S^T / k^2",
    reference=lambda dout, x, k: cc.avg_pool2d_backward(dout, x, k),
    cases=_avg_back_cases,
    mistakes=(
        Mistake("not divided by k^2",
                lambda dout, x, k: cc.avg_pool2d_backward(dout, x, k) * k * k,
                "the forward pass divides by k_h k_w = k^2, and so does its "
                "adjoint: dE/dX = dE/dY S^T / k^2"),
        Mistake("gradient to one element per window",
                _first_element_only,
                "every element of a window enters its mean, so every one "
                "gets 1/k^2 of the window's gradient, not only the first"),
    ),
))
