"""The naive loop references of cnn_core.naive are oracles for the rest of the suite, so they are
checked first, independently: against small examples worked out by hand (the arithmetic is in the
comments), against central differences (their backward passes) and against scipy.signal."""

from __future__ import annotations

import numpy as np
import pytest

import cnn_core as cc
from cnn_core import naive
from testhelpers import assert_allclose, assert_grad, away_from_zero, distinct, randn

# ---------------------------------------------------------------------------------------------
# conv2d_naive
# ---------------------------------------------------------------------------------------------

X33 = np.arange(9.0).reshape(1, 1, 3, 3)          # [[0,1,2],[3,4,5],[6,7,8]]
K22 = np.array([[0.0, 1.0], [2.0, 3.0]]).reshape(1, 1, 2, 2)


def test_conv2d_naive_hand_valid():
    # y00 = 0*0 + 1*1 + 3*2 + 4*3 = 19, y01 = 1*0 + 2*1 + 4*2 + 5*3 = 25,
    # y10 = 3*0 + 4*1 + 6*2 + 7*3 = 37, y11 = 4*0 + 5*1 + 7*2 + 8*3 = 43
    assert_allclose(naive.conv2d_naive(X33, K22), [[[[19, 25], [37, 43]]]])


def test_conv2d_naive_hand_bias_and_channels():
    # two output kernels: K22 and -K22, biases 1 and 10
    w = np.concatenate([K22, -K22])
    y = naive.conv2d_naive(X33, w, np.array([1.0, 10.0]))
    assert_allclose(y, [[[[20, 26], [38, 44]], [[-9, -15], [-27, -33]]]])


def test_conv2d_naive_hand_stride_padding():
    # x = [[0,1,2],[3,4,5],[6,7,8]], 2x2 kernel of ones, padding 1, stride 2: windows of the
    # 5x5 padded input at rows/cols {0,1} and {2,3}:
    #   [0]            [1 + 2]
    #   [3 + 6]        [4 + 5 + 7 + 8]
    y = naive.conv2d_naive(X33, np.ones((1, 1, 2, 2)), stride=2, padding=1)
    assert_allclose(y, [[[[0, 3], [9, 24]]]])


def test_conv2d_naive_hand_dilation():
    # x = arange(16) as 4x4, w = [[1,2],[3,4]], dilation 2:
    #   y[i,j] = x[i,j] + 2 x[i,j+2] + 3 x[i+2,j] + 4 x[i+2,j+2]
    #   y00 = 0 + 2*2 + 3*8 + 4*10 = 68;  y01 = 1 + 2*3 + 3*9 + 4*11 = 78
    #   y10 = 4 + 2*6 + 3*12 + 4*14 = 108; y11 = 5 + 2*7 + 3*13 + 4*15 = 118
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    assert_allclose(naive.conv2d_naive(x, w, dilation=2), [[[[68, 78], [108, 118]]]])


def test_conv2d_naive_hand_multichannel_sum():
    # channel 2 is channel 1 + 1 and has kernel [[1,2],[3,4]]: d2l's multi-input example,
    # y00 = 19 + (1*1 + 2*2 + 4*3 + 5*4) = 19 + 37 = 56
    x = np.concatenate([X33, X33 + 1], axis=1)
    w = np.stack([K22[0, 0], K22[0, 0] + 1])[None]
    assert naive.conv2d_naive(x, w)[0, 0, 0, 0] == 56


def test_conv2d_naive_same_and_full_shapes():
    x = np.zeros((1, 1, 5, 6))
    assert naive.conv2d_naive(x, np.zeros((1, 1, 2, 3)), padding="same").shape == (1, 1, 5, 6)
    assert naive.conv2d_naive(x, np.zeros((1, 1, 2, 3)), padding="full").shape == (1, 1, 6, 8)


def test_conv2d_naive_matches_scipy_correlate():
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(1)
    a, k = randn(rng, 6, 7), randn(rng, 3, 2)
    for mode in ("valid", "full"):
        assert_allclose(naive.conv2d_naive(a[None, None], k[None, None], padding=mode)[0, 0],
                        signal.correlate2d(a, k, mode), name=mode)


# ---------------------------------------------------------------------------------------------
# conv2d_backward_naive: checked against central differences of conv2d_naive
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stride,padding,dilation", [
    pytest.param(1, 0, 1, id="plain"),
    pytest.param(2, 1, 1, id="stride2-pad1"),
    pytest.param(1, "same", 2, id="same-dilated"),
    pytest.param(1, (2, 0), (1, 2), id="pad-pair-dilation-pair"),
])
def test_conv2d_backward_naive_vs_numerical(stride, padding, dilation):
    rng = np.random.default_rng(2)
    x, w, b = randn(rng, 2, 2, 5, 5), randn(rng, 3, 2, 2, 3), randn(rng, 3)
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    y = naive.conv2d_naive(x, w, b, **kw)
    dout = randn(rng, *y.shape)
    dx, dw, db = naive.conv2d_backward_naive(dout, x, w, **kw)
    assert_grad(dx, cc.numerical_gradient(lambda v: naive.conv2d_naive(v, w, b, **kw), x, dout), "dx")
    assert_grad(dw, cc.numerical_gradient(lambda v: naive.conv2d_naive(x, v, b, **kw), w, dout), "dw")
    assert_grad(db, cc.numerical_gradient(lambda v: naive.conv2d_naive(x, w, v, **kw), b, dout), "db")


def test_naive_same_padding_needs_stride_1():
    x, w = np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3))
    with pytest.raises(ValueError, match=r"padding='same' needs stride 1; got stride=\(1, 2\)"):
        naive.conv2d_naive(x, w, stride=(1, 2), padding="same")
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        naive.conv2d_backward_naive(np.zeros((1, 1, 4, 2)), x, w, stride=(1, 2), padding="same")


def test_conv2d_backward_naive_hand():
    # one output element, dout = 1: dx is the kernel placed at the window, dw is the window
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    w = np.array([[1.0, -1.0], [2.0, 5.0]]).reshape(1, 1, 2, 2)
    dx, dw, db = naive.conv2d_backward_naive(np.ones((1, 1, 1, 1)), x, w, stride=2)
    assert_allclose(dx[0, 0], [[1, -1, 0], [2, 5, 0], [0, 0, 0]])
    assert_allclose(dw[0, 0], [[0, 1], [3, 4]])
    assert_allclose(db, [1.0])


def test_conv2d_input_gradient_full_naive_hand():
    # stride 2 stuffs one zero between the two elements of δ = [[1, 2]] (1x2 output of a 2x2
    # kernel on a 2x4 input): stuffed = [[1, 0, 2]]; its full correlation with rot180(K) places
    # 1*K at columns 0-1 and 2*K at columns 2-3: the kernel stamped at each window, as dx must be
    k = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    dx = naive.conv2d_input_gradient_full_naive(np.array([[[[1.0, 2.0]]]]), k, (1, 1, 2, 4),
                                                stride=2)
    assert_allclose(dx[0, 0], [[1, 2, 2, 4], [3, 4, 6, 8]])


@pytest.mark.parametrize("stride,padding,dilation", [(1, 0, 1), (2, 1, 1), (3, 1, 1), (1, 2, 2),
                                                     ((2, 1), (1, 0), (1, 2)), (1, "same", 1),
                                                     (1, "full", 1)])
def test_conv2d_input_gradient_full_naive_is_the_chain_rule(stride, padding, dilation):
    """The literal full convolution of the stuffed δ gives the chain rule's dx (both loops)."""
    rng = np.random.default_rng(6)
    x, w = randn(rng, 2, 3, 8, 7), randn(rng, 2, 3, 3, 3)
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    dout = randn(rng, *naive.conv2d_naive(x, w, **kw).shape)
    assert_allclose(naive.conv2d_input_gradient_full_naive(dout, w, x.shape, **kw),
                    naive.conv2d_backward_naive(dout, x, w, **kw)[0])


# ---------------------------------------------------------------------------------------------
# im2col_naive, col2im_naive
# ---------------------------------------------------------------------------------------------

def test_im2col_naive_hand():
    # X33 = [[0,1,2],[3,4,5],[6,7,8]], 2x2 windows, stride 1: column i*2 + j is the window at
    # (i, j) read row by row, so column 0 = [0, 1, 3, 4], column 3 = [4, 5, 7, 8]
    cols = naive.im2col_naive(X33, 2)
    assert_allclose(cols[0], [[0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]])
    # padding 1 and stride 2: the four windows of the 5x5 padded input at rows/cols {0, 2}
    cols = naive.im2col_naive(X33, 2, stride=2, padding=1)
    assert_allclose(cols[0, :, 0], [0, 0, 0, 0])        # the top-left window is all padding
    assert_allclose(cols[0, :, 3], [4, 5, 7, 8])


def test_im2col_naive_gives_conv2d_naive_and_col2im_naive_is_its_adjoint():
    rng = np.random.default_rng(7)
    x, w = randn(rng, 2, 3, 6, 7), randn(rng, 4, 3, 2, 3)
    kw = dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1))
    cols = naive.im2col_naive(x, w.shape[2:], **kw)
    y = naive.conv2d_naive(x, w, **kw)
    assert_allclose((w.reshape(4, -1) @ cols).reshape(y.shape), y)
    c = randn(rng, *cols.shape)
    back = naive.col2im_naive(c, x.shape, w.shape[2:], **kw)
    assert np.sum(cols * c) == pytest.approx(np.sum(x * back), rel=1e-12)


def test_col2im_naive_hand_overlaps_add():
    # all-ones columns of 2x2 windows, stride 1, on 3x3: each pixel collects one 1 per window
    # that contains it: corners 1, edges 2, centre 4
    back = naive.col2im_naive(np.ones((1, 4, 4)), (1, 1, 3, 3), 2)
    assert_allclose(back[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


# ---------------------------------------------------------------------------------------------
# conv_transpose2d_naive
# ---------------------------------------------------------------------------------------------

def test_conv_transpose2d_naive_hand():
    # scatter of X = [[0,1],[2,3]] with K = [[0,1],[2,3]] (d2l, "Transposed Convolution"):
    # 0*K at (0,0), 1*K at (0,1), 2*K at (1,0), 3*K at (1,1), summed
    x = np.array([[0.0, 1.0], [2.0, 3.0]]).reshape(1, 1, 2, 2)
    assert_allclose(naive.conv_transpose2d_naive(x, x), [[[[0, 0, 1], [0, 4, 6], [4, 12, 9]]]])
    # stride 2: the four scaled copies of K do not overlap
    assert_allclose(naive.conv_transpose2d_naive(x, x, stride=2),
                    [[[[0, 0, 0, 1], [0, 0, 2, 3], [0, 2, 0, 3], [4, 6, 6, 9]]]])
    # padding 1 removes one row/column on each side of the 3x3 result: the centre 4
    assert_allclose(naive.conv_transpose2d_naive(x, x, padding=1), [[[[4]]]])
    # output_padding adds a zero row/column at the bottom/right of the stride-2 result
    y = naive.conv_transpose2d_naive(x, x, stride=2, output_padding=1)
    assert y.shape == (1, 1, 5, 5) and np.all(y[0, 0, 4] == 0) and np.all(y[0, 0, :, 4] == 0)


def test_conv_transpose2d_naive_is_adjoint_of_conv2d_naive():
    rng = np.random.default_rng(3)
    kw = dict(stride=2, padding=1, dilation=(1, 2))
    x = randn(rng, 2, 3, 3, 4)                  # conv_transpose input (N, C_in, H, W)
    w = randn(rng, 3, 2, 3, 2)                  # (C_in, C_out, kh, kw)
    y = naive.conv_transpose2d_naive(x, w, **kw)
    z = randn(rng, *y.shape)
    assert naive.conv2d_naive(z, w, **kw).shape == x.shape
    lhs = np.sum(naive.conv2d_naive(z, w, **kw) * x)
    rhs = np.sum(z * y)
    assert lhs == pytest.approx(rhs, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# correlate2d_naive, convolve2d_naive
# ---------------------------------------------------------------------------------------------

A22 = np.array([[1.0, 2.0], [3.0, 4.0]])


def test_convolve2d_naive_hand_full():
    # (a*k)_{ij} = sum_{u,v} a_{i-u,j-v} k_{uv} with a = [[1,2],[3,4]], k = [[0,1],[2,3]]:
    #   (0,1) = a00 k01 = 1; (1,1) = a11 k00 + a10 k01 + a01 k10 + a00 k11 = 0 + 3 + 4 + 3 = 10;
    #   (2,1) = a11 k10 + a10 k11 = 8 + 9 = 17; (2,2) = a11 k11 = 12; ...
    k = np.array([[0.0, 1.0], [2.0, 3.0]])
    expected = [[0, 1, 2], [2, 10, 10], [6, 17, 12]]
    assert_allclose(naive.convolve2d_naive(A22, k, "full"), expected)
    assert_allclose(naive.convolve2d_naive(A22, k, "valid"), [[10]])
    assert_allclose(naive.convolve2d_naive(A22, k, "same"), [[0, 1], [2, 10]])


def test_correlate2d_naive_hand():
    # correlation does not flip: (a ⋆ k)_{00} = 1*0 + 2*1 + 3*2 + 4*3 = 20 ("valid")
    k = np.array([[0.0, 1.0], [2.0, 3.0]])
    assert_allclose(naive.correlate2d_naive(A22, k), [[20]])
    # "full": (a ⋆ k)_{ij} = sum a_{i+u-1, j+v-1} k_{uv}; the corner (0,0) sees only a00 * k11 = 3
    full = naive.correlate2d_naive(A22, k, "full")
    assert full.shape == (3, 3) and full[0, 0] == 3 and full[2, 2] == 4 * 0 and full[1, 1] == 20


@pytest.mark.parametrize("mode", ["valid", "same", "full"])
@pytest.mark.parametrize("kshape", [(1, 1), (2, 2), (3, 3), (2, 3), (4, 1), (3, 4)],
                         ids=lambda s: f"k{s[0]}x{s[1]}")
def test_naive_signal_vs_scipy(mode, kshape):
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(4)
    a, k = randn(rng, 5, 6), randn(rng, *kshape)
    assert_allclose(naive.correlate2d_naive(a, k, mode), signal.correlate2d(a, k, mode), name="corr")
    assert_allclose(naive.convolve2d_naive(a, k, mode), signal.convolve2d(a, k, mode), name="conv")


def test_naive_signal_unknown_mode():
    with pytest.raises(ValueError, match="mode must be"):
        naive.correlate2d_naive(A22, A22, "circular")
    with pytest.raises(ValueError, match="mode must be"):
        naive.convolve2d_naive(A22, A22, "circular")


# ---------------------------------------------------------------------------------------------
# pooling references
# ---------------------------------------------------------------------------------------------

def test_max_avg_pool_naive_hand():
    # d2l "Pooling": X = [[0,1,2],[3,4,5],[6,7,8]], 2x2 window, stride 1
    kw = dict(stride=1)
    assert_allclose(naive.max_pool2d_naive(X33, 2, **kw), [[[[4, 5], [7, 8]]]])
    assert_allclose(naive.avg_pool2d_naive(X33, 2, **kw), [[[[2, 3], [5, 6]]]])
    # default stride = window: one 2x2 window of a 3x3 input
    assert_allclose(naive.max_pool2d_naive(X33, 2), [[[[4]]]])


def test_pool_naive_padding_semantics():
    # max pooling pads with -inf (padding never wins, even against negative input) ...
    x = -np.ones((1, 1, 2, 2))
    assert_allclose(naive.max_pool2d_naive(x, 2, stride=1, padding=1), -np.ones((1, 1, 3, 3)))
    # ... average pooling pads with zeros that count in the divisor k_h*k_w
    y = naive.avg_pool2d_naive(np.ones((1, 1, 2, 2)), 2, stride=1, padding=1)
    assert_allclose(y, [[[[0.25, 0.5, 0.25], [0.5, 1, 0.5], [0.25, 0.5, 0.25]]]])


def test_max_pool_backward_naive_hand_and_ties():
    x = np.array([[1.0, 3.0], [3.0, 2.0]]).reshape(1, 1, 2, 2)
    dx = naive.max_pool2d_backward_naive(np.full((1, 1, 1, 1), 5.0), x, 2)
    assert_allclose(dx[0, 0], [[0, 5], [0, 0]])        # the first of the two 3s (row-major)
    dx = naive.max_pool2d_backward_naive(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 3, 3)), 2, stride=1)
    assert_allclose(dx[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])  # each window's top-left


def test_max_pool_backward_naive_never_sends_gradient_to_padding():
    # a 2x2 input of -inf, 3x3 windows, padding 1, stride 1: every window is -inf throughout;
    # PyTorch sends each window's gradient to its first real element (its top-left real one)
    x = np.full((1, 1, 2, 2), -np.inf)
    dout = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    dx = naive.max_pool2d_backward_naive(dout, x, 3, stride=1, padding=1)
    # windows (0,0), (0,1), (1,0), (1,1) start at padded (0,0), (0,1), (1,0), (1,1); their first
    # real elements are x[0,0], x[0,0], x[0,0] and x[0,0]: all four gradients land there
    assert_allclose(dx[0, 0], [[10, 0], [0, 0]])
    dx = naive.max_pool2d_backward_naive(np.ones((1, 1, 2, 2)), x, 2, stride=2, padding=1)
    assert_allclose(dx[0, 0], [[1, 1], [1, 1]])     # each 2x2 window holds one real element


def test_max_pool_backward_naive_vs_numerical():
    rng = np.random.default_rng(5)
    x = distinct(rng, 2, 2, 5, 5)
    kw = dict(stride=2, padding=1)
    dout = randn(rng, *naive.max_pool2d_naive(x, 3, **kw).shape)
    num = cc.numerical_gradient(lambda v: naive.max_pool2d_naive(v, 3, **kw), x, dout)
    assert_grad(naive.max_pool2d_backward_naive(dout, x, 3, **kw), num)


def test_avg_pool_backward_naive_hand_and_adjoint():
    # 2x2 windows, stride 1, on 3x3: the centre is in 4 windows, edges in 2, corners in 1
    dx = naive.avg_pool2d_backward_naive(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 3, 3)), 2, stride=1)
    assert_allclose(dx[0, 0], [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])
    rng = np.random.default_rng(8)
    x = randn(rng, 2, 2, 5, 6)
    kw = dict(stride=(2, 1), padding=1)
    g = randn(rng, *naive.avg_pool2d_naive(x, 3, **kw).shape)
    lhs = np.sum(naive.avg_pool2d_naive(x, 3, **kw) * g)
    assert lhs == pytest.approx(np.sum(x * naive.avg_pool2d_backward_naive(g, x, 3, **kw)),
                                rel=1e-12)


def test_lp_pool_naive_hand():
    # one 2x2 window [[3, -4], [0, 0]]: L2 norm 5, L1 norm 7, L3 norm (27 + 64)^(1/3)
    x = np.array([[3.0, -4.0], [0.0, 0.0]]).reshape(1, 1, 2, 2)
    assert_allclose(naive.lp_pool2d_naive(x, 2, p=2), [[[[5.0]]]])
    assert_allclose(naive.lp_pool2d_naive(x, 2, p=1), [[[[7.0]]]])
    assert_allclose(naive.lp_pool2d_naive(x, 2, p=3), [[[[91.0 ** (1 / 3)]]]])
    # d/dx of the L2 norm is x / ||x||: [[3/5, -4/5], [0, 0]]
    assert_allclose(naive.lp_pool2d_backward_naive(np.ones((1, 1, 1, 1)), x, 2, p=2)[0, 0],
                    [[0.6, -0.8], [0, 0]])


@pytest.mark.parametrize("p", [1.5, 2, 3])
def test_lp_pool_backward_naive_vs_numerical(p):
    rng = np.random.default_rng(9)
    x = away_from_zero(rng, 2, 2, 5, 5)
    kw = dict(p=p, stride=(1, 2))
    dout = randn(rng, *naive.lp_pool2d_naive(x, 3, **kw).shape)
    num = cc.numerical_gradient(lambda v: naive.lp_pool2d_naive(v, 3, **kw), x, dout)
    assert_grad(naive.lp_pool2d_backward_naive(dout, x, 3, **kw), num)
