"""Max, average and L^p pooling against the naive loops (forward and backward), swept over window
shapes, strides (overlapping, non-overlapping, stride > window), paddings and batch/channel counts;
argmax/mask semantics on ties; dtype rules."""

from __future__ import annotations

import re

import numpy as np
import pytest

import cnn_core as cc
from cnn_core import naive
from testhelpers import assert_allclose, distinct, randn

# (N, C, H, W), kernel_size, stride (None: = kernel), padding
POOL_CASES = [
    pytest.param((2, 3, 4, 4), 2, None, 0, id="k2-default-stride"),
    pytest.param((1, 2, 5, 5), 2, None, 0, id="k2-odd-input-drops-last"),
    pytest.param((2, 2, 5, 5), 3, 1, 0, id="k3-overlap-stride1"),
    pytest.param((1, 2, 7, 6), 3, 2, 1, id="k3-overlap-stride2-pad1"),
    pytest.param((2, 1, 6, 6), 2, 1, 1, id="k2-stride1-pad1"),
    pytest.param((1, 2, 7, 7), 2, 3, 0, id="stride>kernel"),
    pytest.param((1, 1, 8, 9), (2, 3), (3, 2), (1, 1), id="kh!=kw-pairs"),
    pytest.param((2, 2, 5, 6), (3, 2), (1, 2), (1, 0), id="kh!=kw-overlap-pad-pair"),
    pytest.param((1, 3, 4, 3), (4, 3), None, 0, id="kernel=input"),
    pytest.param((3, 2, 3, 3), 1, 1, 0, id="k1-identity"),
    pytest.param((1, 1, 4, 4), 4, 1, 2, id="k4-pad2-max-padding"),
    pytest.param((4, 5, 4, 4), 2, 2, 1, id="N4-C5-pad1"),
    # tiles (stride = window): the column/row stages and, for average pooling, the matrix product
    pytest.param((2, 3, 6, 9), (1, 3), None, 0, id="tiles-1x3"),
    pytest.param((1, 2, 7, 8), (2, 1), None, 0, id="tiles-2x1-bottom-margin"),
    pytest.param((2, 2, 10, 11), 3, None, 0, id="tiles-3x3-margins"),
    pytest.param((2, 2, 7, 9), 3, None, 1, id="tiles-3x3-pad1"),
    pytest.param((1, 2, 4, 60), 2, None, 0, id="tiles-wide-W'30"),
]


def _x(seed, shape):
    return distinct(np.random.default_rng(seed), *shape)


@pytest.mark.parametrize("xs,k,stride,padding", POOL_CASES)
def test_max_pool2d_vs_naive(xs, k, stride, padding):
    x = _x(20, xs)
    kw = dict(stride=stride, padding=padding)
    assert_allclose(cc.max_pool2d(x, k, **kw), naive.max_pool2d_naive(x, k, **kw))


@pytest.mark.parametrize("xs,k,stride,padding", POOL_CASES)
def test_max_pool2d_backward_vs_naive(xs, k, stride, padding):
    x = _x(21, xs)
    kw = dict(stride=stride, padding=padding)
    dout = randn(np.random.default_rng(22), *naive.max_pool2d_naive(x, k, **kw).shape)
    assert_allclose(cc.max_pool2d_backward(dout, x, k, **kw),
                    naive.max_pool2d_backward_naive(dout, x, k, **kw))


@pytest.mark.parametrize("xs,k,stride,padding", POOL_CASES)
def test_max_pool2d_ties_vs_naive(xs, k, stride, padding):
    """Values from {0, 1, 2}: windows are full of ties; the first maximum (row-major) wins."""
    rng = np.random.default_rng(23)
    x = rng.integers(0, 3, size=xs).astype(float)
    kw = dict(stride=stride, padding=padding)
    dout = randn(rng, *naive.max_pool2d_naive(x, k, **kw).shape)
    assert_allclose(cc.max_pool2d(x, k, **kw), naive.max_pool2d_naive(x, k, **kw))
    assert_allclose(cc.max_pool2d_backward(dout, x, k, **kw),
                    naive.max_pool2d_backward_naive(dout, x, k, **kw))


@pytest.mark.parametrize("xs,k,stride,padding", POOL_CASES)
def test_avg_pool2d_vs_naive(xs, k, stride, padding):
    x = randn(np.random.default_rng(24), *xs)
    kw = dict(stride=stride, padding=padding)
    assert_allclose(cc.avg_pool2d(x, k, **kw), naive.avg_pool2d_naive(x, k, **kw))


@pytest.mark.parametrize("xs,k,stride,padding", POOL_CASES)
def test_avg_pool2d_backward_is_adjoint_and_matches_naive(xs, k, stride, padding):
    """avg pooling is linear, so its backward is its adjoint: <A x, g> = <x, A^T g>; and it
    equals the naive loops."""
    rng = np.random.default_rng(25)
    x = randn(rng, *xs)
    kw = dict(stride=stride, padding=padding)
    g = randn(rng, *naive.avg_pool2d_naive(x, k, **kw).shape)
    lhs = np.sum(naive.avg_pool2d_naive(x, k, **kw) * g)
    dx = cc.avg_pool2d_backward(g, x, k, **kw)
    assert np.sum(x * dx) == pytest.approx(lhs, rel=1e-10)
    assert_allclose(dx, naive.avg_pool2d_backward_naive(g, x, k, **kw))


def test_avg_pool2d_backward_hand():
    # 2x2 windows, stride 1, on 3x3: the centre is in 4 windows, edges in 2, corners in 1
    dx = cc.avg_pool2d_backward(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 3, 3)), 2, stride=1)
    assert_allclose(dx[0, 0], [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])


def test_max_pool2d_argmax_and_mask_hand():
    x = np.array([[1.0, 5.0, 2.0, 2.0],
                  [3.0, 0.0, 2.0, 2.0],
                  [7.0, 7.0, 0.0, 1.0],
                  [7.0, 7.0, 9.0, 1.0]]).reshape(1, 1, 4, 4)
    # windows (2x2, stride 2): max 5 at (0,1) -> offset 1; tie of 2s -> first, offset 0;
    # tie of 7s -> offset 0; 9 at (1,0) of its window -> offset 2
    np.testing.assert_array_equal(cc.max_pool2d_argmax(x, 2)[0, 0], [[1, 0], [0, 2]])
    mask = cc.max_pool2d_mask(x, 2)
    expected = np.zeros((4, 4), dtype=bool)
    expected[0, 1] = expected[0, 2] = expected[2, 0] = expected[3, 2] = True
    np.testing.assert_array_equal(mask[0, 0], expected)
    assert mask.dtype == np.bool_


@pytest.mark.parametrize("xs,k,stride,padding", POOL_CASES)
def test_max_pool2d_mask_is_where_gradient_goes(xs, k, stride, padding):
    rng = np.random.default_rng(26)
    x = rng.integers(0, 3, size=xs).astype(float)
    kw = dict(stride=stride, padding=padding)
    dout = rng.uniform(1, 2, size=naive.max_pool2d_naive(x, k, **kw).shape)  # strictly positive
    dx = naive.max_pool2d_backward_naive(dout, x, k, **kw)
    np.testing.assert_array_equal(cc.max_pool2d_mask(x, k, **kw), dx > 0)


@pytest.mark.parametrize("xs,k,stride,padding", [c for c in POOL_CASES if c.values[3] != 0])
@pytest.mark.parametrize("share", [1.0, 0.7])
def test_max_pool2d_minus_infinity_windows_with_padding(xs, k, stride, padding, share):
    """A window whose real elements are all −∞ ties with its −∞ padding: its gradient must go to
    its first real element (as in PyTorch), not into the padding, where it would be lost."""
    rng = np.random.default_rng(36)
    x = distinct(rng, *xs)
    x[rng.uniform(size=xs) < share] = -np.inf
    kw = dict(stride=stride, padding=padding)
    dout = randn(rng, *naive.max_pool2d_naive(x, k, **kw).shape)
    expected = naive.max_pool2d_backward_naive(dout, x, k, **kw)
    assert np.sum(expected) == pytest.approx(np.sum(dout), rel=1e-12)      # nothing lost
    assert_allclose(cc.max_pool2d_backward(dout, x, k, **kw), expected)
    y, arg = cc.max_pool2d(x, k, return_argmax=True, **kw)
    assert_allclose(cc.max_pool2d_backward(dout, x, k, argmax=arg, **kw), expected)
    np.testing.assert_array_equal(cc.max_pool2d_mask(x, k, **kw),
                                  naive.max_pool2d_backward_naive(np.ones_like(dout), x, k,
                                                                  **kw) > 0)


# ---------------------------------------------------------------------------------------------
# L^p pooling
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [1, 2, 3, 2.5])
@pytest.mark.parametrize("xs,k,stride", [
    pytest.param((2, 2, 4, 4), 2, None, id="k2"),
    pytest.param((1, 3, 5, 6), 3, 1, id="k3-overlap"),
    pytest.param((1, 1, 6, 7), (2, 3), (2, 1), id="kh!=kw"),
])
def test_lp_pool2d_vs_naive(xs, k, stride, p):
    x = randn(np.random.default_rng(27), *xs)       # mixed signs: |x| is pooled
    assert_allclose(cc.lp_pool2d(x, k, p=p, stride=stride),
                    naive.lp_pool2d_naive(x, k, p=p, stride=stride))
    dout = randn(np.random.default_rng(30), *naive.lp_pool2d_naive(x, k, p=p, stride=stride).shape)
    assert_allclose(cc.lp_pool2d_backward(dout, x, k, p=p, stride=stride),
                    naive.lp_pool2d_backward_naive(dout, x, k, p=p, stride=stride))


def test_lp_pool2d_limits():
    x = randn(np.random.default_rng(28), 1, 2, 4, 4)
    assert_allclose(cc.lp_pool2d(x, 2, p=1), 4 * cc.avg_pool2d(np.abs(x), 2))
    # p -> infinity tends to max pooling of |x|
    assert_allclose(cc.lp_pool2d(x, 2, p=200), cc.max_pool2d(np.abs(x), 2), rtol=2e-2)


def test_lp_pool2d_backward_zero_window():
    """A window of zeros has norm 0; the gradient there is defined as 0 (not NaN)."""
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 2:, 2:] = [[1.0, 2.0], [2.0, 4.0]]
    dx = cc.lp_pool2d_backward(np.ones((1, 1, 2, 2)), x, 2, p=2)
    assert np.isfinite(dx).all()
    assert_allclose(dx[0, 0, :2, :2], np.zeros((2, 2)))
    assert_allclose(dx[0, 0, 2:, 2:], np.array([[1.0, 2.0], [2.0, 4.0]]) / 5.0)  # x / ||x||_2


@pytest.mark.parametrize("p, exc, words", [
    (0.5, ValueError, "p must be >= 1"), (0, ValueError, "p must be >= 1"),
    (-2, ValueError, "p must be >= 1"),
    (float("inf"), ValueError, "p must be a finite real number and be >= 1"),
    (float("nan"), ValueError, "p must be a finite real number and be >= 1"),
    (True, TypeError, "p must be a finite real number and be >= 1"),
    ("2", TypeError, "p must be a finite real number and be >= 1"),
    (None, TypeError, "p must be a finite real number and be >= 1")],
    ids=["0.5", "0", "-2", "inf", "nan", "bool", "str", "None"])
def test_lp_pool2d_bad_p(p, exc, words):
    """Out of range or not finite: ValueError; not a number at all: TypeError; both name p and
    show the value given, forward and backward alike."""
    with pytest.raises(exc, match=f"{words}; got {re.escape(repr(p))}"):
        cc.lp_pool2d(np.ones((1, 1, 2, 2)), 2, p=p)
    with pytest.raises(exc, match=f"{words}; got {re.escape(repr(p))}"):
        cc.lp_pool2d_backward(np.ones((1, 1, 1, 1)), np.ones((1, 1, 2, 2)), 2, p=p)


def test_pool_backward_names_x_when_x_is_not_the_forward_input():
    """A backward call with the wrong x: the message gives x's shape and what it pools to."""
    dout = np.ones((2, 3, 2, 2))
    for backward in (cc.max_pool2d_backward, cc.avg_pool2d_backward, cc.lp_pool2d_backward):
        with pytest.raises(ValueError, match=r"x.shape = \(3, 3, 4, 4\) pools to "
                                             r"\(3, 3, 2, 2\)"):
            backward(dout, np.ones((3, 3, 4, 4)), 2)


@pytest.mark.parametrize("p", [np.int64(2), np.float32(2.0), np.float64(2.0), 2.0], ids=repr)
def test_lp_pool2d_accepts_numpy_scalars(p):
    x = randn(np.random.default_rng(34), 1, 1, 4, 4)
    assert_allclose(cc.lp_pool2d(x, 2, p=p), cc.lp_pool2d(x, 2, p=2))
    assert_allclose(cc.lp_pool2d_backward(np.ones((1, 1, 2, 2)), x, 2, p=p),
                    cc.lp_pool2d_backward(np.ones((1, 1, 2, 2)), x, 2, p=2))


# ---------------------------------------------------------------------------------------------
# dtypes
# ---------------------------------------------------------------------------------------------

POOL_FUNCS = [
    pytest.param(cc.max_pool2d, cc.max_pool2d_backward, {"padding": 1, "stride": 2}, id="max"),
    pytest.param(cc.avg_pool2d, cc.avg_pool2d_backward, {"padding": 1, "stride": 1}, id="avg"),
    pytest.param(cc.lp_pool2d, cc.lp_pool2d_backward, {"p": 2}, id="lp"),
]


@pytest.mark.parametrize("fwd,bwd,kw", POOL_FUNCS)
def test_pool_float32_stays_float32(fwd, bwd, kw):
    x = distinct(np.random.default_rng(29), 2, 2, 4, 4).astype(np.float32)
    y = fwd(x, 2, **kw)
    assert y.dtype == np.float32
    assert_allclose(y, fwd(x.astype(np.float64), 2, **kw), rtol=1e-5, atol=1e-5)
    dx = bwd(np.ones_like(y), x, 2, **kw)
    assert dx.dtype == np.float32 and dx.shape == x.shape
    assert cc.max_pool2d_argmax(x, 2).dtype.kind == "i"


@pytest.mark.parametrize("fwd,bwd,kw", POOL_FUNCS)
def test_pool_integer_input_is_float64(fwd, bwd, kw):
    x = np.arange(32).reshape(2, 1, 4, 4)
    y = fwd(x, 2, **kw)
    assert y.dtype == np.float64
    assert_allclose(y, fwd(x.astype(float), 2, **kw))
    assert bwd(np.ones(y.shape, dtype=int), x, 2, **kw).dtype == np.float64


@pytest.mark.parametrize("xs,k,stride,padding", POOL_CASES)
def test_max_pool2d_nan_goes_to_the_first_nan(xs, k, stride, padding):
    """A NaN in a window makes the forward NaN (np.maximum propagates it); the gradient must then
    go to that window's first NaN, as np.argmax in the naive reference does, not to a number."""
    rng = np.random.default_rng(35)
    x = rng.integers(0, 3, size=xs).astype(float)
    x[rng.uniform(size=xs) < 0.2] = np.nan
    kw = dict(stride=stride, padding=padding)
    dout = randn(rng, *naive.max_pool2d_naive(x, k, **kw).shape)
    np.testing.assert_array_equal(np.isnan(cc.max_pool2d(x, k, **kw)),
                                  np.isnan(naive.max_pool2d_naive(x, k, **kw)))
    assert_allclose(cc.max_pool2d_backward(dout, x, k, **kw),
                    naive.max_pool2d_backward_naive(dout, x, k, **kw))
    mask = cc.max_pool2d_mask(x, k, **kw)
    dx = naive.max_pool2d_backward_naive(np.ones_like(dout), x, k, **kw)
    np.testing.assert_array_equal(mask, dx > 0)


# ---------------------------------------------------------------------------------------------
# the tile paths (stride = window): argmax handed from forward to backward, non-finite values,
# memory layouts
# ---------------------------------------------------------------------------------------------

def _argmax_naive(x, k, stride=None, padding=0):
    """Flat in-window offset of each window's first maximum, straight from np.argmax (which takes
    the first maximum, and the first NaN)."""
    kh, kw = (k, k) if np.isscalar(k) else k
    sh, sw = (kh, kw) if stride is None else ((stride, stride) if np.isscalar(stride) else stride)
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    n, c, h, w = xp.shape
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.empty((n, c, ho, wo), dtype=int)
    for idx in np.ndindex(n, c, ho, wo):
        i, j = idx[2] * sh, idx[3] * sw
        out[idx] = np.argmax(xp[idx[0], idx[1], i:i + kh, j:j + kw])
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("xs,k,stride,padding", POOL_CASES)
def test_max_pool2d_return_argmax(xs, k, stride, padding, dtype):
    """The argmax the forward returns is np.argmax's, and the backward given it equals the
    backward that searches again and the naive loop; ties and NaN included."""
    rng = np.random.default_rng(36)
    x = rng.integers(0, 3, size=xs).astype(dtype)
    x[rng.uniform(size=xs) < 0.05] = np.nan
    kw = dict(stride=stride, padding=padding)
    y, arg = cc.max_pool2d(x, k, return_argmax=True, **kw)
    np.testing.assert_array_equal(y, cc.max_pool2d(x, k, **kw))
    np.testing.assert_array_equal(arg, _argmax_naive(x, k, **kw))
    np.testing.assert_array_equal(arg, cc.max_pool2d_argmax(x, k, **kw))
    assert arg.dtype == np.uint8
    dout = randn(rng, *y.shape).astype(dtype)
    dx = cc.max_pool2d_backward(dout, x, k, argmax=arg, **kw)
    np.testing.assert_array_equal(dx, cc.max_pool2d_backward(dout, x, k, **kw))
    tol = 1e-6 if dtype == np.float32 else 1e-12      # overlapping windows add in float32
    assert_allclose(dx, naive.max_pool2d_backward_naive(dout, x, k, **kw), rtol=tol, atol=tol)


def test_max_pool2d_argmax_from_forward_is_used():
    """Handed a different (valid) argmax, the backward follows it: it does not search again."""
    x = randn(np.random.default_rng(37), 1, 1, 4, 4)
    dout = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    dx = cc.max_pool2d_backward(dout, x, 2, argmax=np.full((1, 1, 2, 2), 3))
    expected = np.zeros((4, 4))
    expected[1::2, 1::2] = dout[0, 0]                    # offset 3 = (a, b) = (1, 1)
    np.testing.assert_array_equal(dx[0, 0], expected)


@pytest.mark.parametrize("bad,exc,message", [
    (np.zeros((1, 1, 2, 2)), TypeError, "argmax must hold integers"),
    (np.zeros((1, 1, 2, 3), dtype=int), ValueError,
     "argmax must have the forward output's shape (1, 1, 2, 2); got (1, 1, 2, 3)"),
    (np.full((1, 1, 2, 2), 4), ValueError, "argmax must lie in [0, 4) for 2×2 windows"),
    (np.full((1, 1, 2, 2), -1), ValueError, "argmax must lie in [0, 4) for 2×2 windows"),
], ids=["float", "shape", "too-large", "negative"])
def test_max_pool2d_backward_bad_argmax(bad, exc, message):
    with pytest.raises(exc, match=re.escape(message)):
        cc.max_pool2d_backward(np.ones((1, 1, 2, 2)), np.ones((1, 1, 4, 4)), 2, argmax=bad)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("xs,k,padding", [((2, 3, 6, 8), 2, 0), ((1, 2, 7, 9), 3, 1),
                                          ((2, 1, 4, 60), 2, 0)])
def test_tiles_with_infinities(xs, k, padding, dtype):
    """Infinities stay in their own window: the maximum's fast path compares them like numbers,
    and average pooling's matrix product (which would multiply inf by the zeros of S and spread
    NaN) falls back to summing the window."""
    rng = np.random.default_rng(38)
    x = randn(rng, *xs).astype(dtype)
    x[0, 0, 1, 1], x[-1, -1, -1, 2], x[0, -1, 2, 3] = np.inf, -np.inf, np.inf
    kw = dict(padding=padding)
    for fwd, ref in ((cc.max_pool2d, naive.max_pool2d_naive), (cc.avg_pool2d, naive.avg_pool2d_naive)):
        y, expected = fwd(x, k, **kw), ref(x, k, **kw).astype(dtype)
        np.testing.assert_array_equal(y == np.inf, expected == np.inf)
        np.testing.assert_array_equal(y == -np.inf, expected == -np.inf)
        assert not np.isnan(y).any()
        finite = np.isfinite(expected)
        assert_allclose(y[finite], expected[finite], rtol=1e-5, atol=1e-6)
    dout = randn(rng, *cc.max_pool2d(x, k, **kw).shape).astype(dtype)
    assert_allclose(cc.max_pool2d_backward(dout, x, k, **kw),
                    naive.max_pool2d_backward_naive(dout, x, k, **kw).astype(dtype))
    dout[0, 0, 0, 0] = np.inf                            # spreads over its own window only
    dx = cc.avg_pool2d_backward(dout, x, k, **kw)
    assert np.isinf(dx).sum() == (k - padding) ** 2    # the real elements of the first window
    assert np.isinf(dx[0, 0, :k - padding, :k - padding]).all() and not np.isnan(dx).any()


@pytest.mark.parametrize("layout", ["fortran", "reversed-rows", "every-other-image"])
def test_pooling_any_memory_layout(layout):
    """The tile paths view the input as flat rows where they can; other layouts must give the same
    numbers (x, dout and the results)."""
    rng = np.random.default_rng(39)
    base = rng.integers(0, 4, size=(4, 3, 8, 10)).astype(float)
    x = {"fortran": np.asfortranarray(base), "reversed-rows": base[:, :, ::-1],
         "every-other-image": base[::2]}[layout]
    y = cc.max_pool2d(x, 2)
    dout = np.asfortranarray(randn(rng, *y.shape))
    xc = np.ascontiguousarray(x)
    np.testing.assert_array_equal(y, naive.max_pool2d_naive(xc, 2))
    np.testing.assert_array_equal(cc.max_pool2d_backward(dout, x, 2),
                                  naive.max_pool2d_backward_naive(dout, xc, 2))
    assert_allclose(cc.avg_pool2d(x, 2), naive.avg_pool2d_naive(xc, 2))
    assert_allclose(cc.avg_pool2d_backward(dout, x, 2), cc.avg_pool2d_backward(np.ascontiguousarray(dout), xc, 2))


def test_max_pool2d_windows_larger_than_a_byte():
    """17×17 windows have 289 offsets, more than uint8 holds: the offsets must come out whole."""
    rng = np.random.default_rng(40)
    x = rng.uniform(0, 1, size=(2, 2, 34, 17))
    x[:, :, 16, 16] = x[:, :, 33, 3] = 2.0                  # offsets 16*17 + 16 = 288 and 16*17 + 3
    y, arg = cc.max_pool2d(x, 17, return_argmax=True)
    assert arg.dtype.itemsize > 1
    np.testing.assert_array_equal(arg[..., 0], [[[288, 275]] * 2] * 2)
    dout = randn(rng, *y.shape)
    expected = naive.max_pool2d_backward_naive(dout, x, 17)
    np.testing.assert_array_equal(cc.max_pool2d_backward(dout, x, 17, argmax=arg), expected)
    np.testing.assert_array_equal(cc.max_pool2d_backward(dout, x, 17), expected)
