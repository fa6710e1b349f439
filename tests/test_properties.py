"""Property tests (hypothesis): output sizes, adjointness (conv2d / conv_transpose2d / backward,
im2col / col2im, down / up), linearity, shift equivariance, "same" padding, convolution as
correlation with the rotated kernel. Geometry is drawn at random; arrays come from a drawn seed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import cnn_core as cc
from cnn_core import naive
from testhelpers import inner

small = st.integers


def _rel(a: float, b: float, scale: float) -> bool:
    return abs(a - b) <= 1e-10 * max(1.0, scale)


@st.composite
def conv_setup(draw, max_k=4, max_s=3, max_d=3, max_p=3):
    """A valid conv2d geometry and seeded inputs: (x, w, stride, (ph, pw), dilation)."""
    n, c, f = draw(small(1, 2)), draw(small(1, 3)), draw(small(1, 3))
    kh, kw = draw(small(1, max_k)), draw(small(1, max_k))
    sh, sw = draw(small(1, max_s)), draw(small(1, max_s))
    dh, dw = draw(small(1, max_d)), draw(small(1, max_d))
    ph, pw = draw(small(0, max_p)), draw(small(0, max_p))
    h = draw(small(max(1, dh * (kh - 1) + 1 - 2 * ph), 10))
    w = draw(small(max(1, dw * (kw - 1) + 1 - 2 * pw), 10))
    rng = np.random.default_rng(draw(small(0, 2**32 - 1)))
    x = rng.standard_normal((n, c, h, w))
    k = rng.standard_normal((f, c, kh, kw))
    return x, k, (sh, sw), (ph, pw), (dh, dw), rng


def _count_positions(n, k, s, p, d):
    """Output size by its definition: how many i >= 0 have s*i + d*(k-1) <= n + 2p - 1."""
    count = 0
    while s * count + d * (k - 1) <= n + 2 * p - 1:
        count += 1
    return count


@given(conv_setup())
def test_output_shape_is_conv_output_size(setup):
    x, w, s, p, d, _ = setup
    y = cc.conv2d(x, w, stride=s, padding=p, dilation=d)
    for axis in (0, 1):
        expected = cc.conv_output_size(x.shape[2 + axis], w.shape[2 + axis], stride=s[axis],
                                       padding=p[axis], dilation=d[axis])
        assert expected == _count_positions(x.shape[2 + axis], w.shape[2 + axis], s[axis], p[axis], d[axis])
        assert y.shape[2 + axis] == expected
    assert y.shape[:2] == (x.shape[0], w.shape[0])


@given(conv_setup(max_p=0), st.sampled_from(["valid", "full"]))
def test_string_padding_sizes(setup, mode):
    x, w, s, _, d, _ = setup
    y = cc.conv2d(x, w, stride=s, padding=mode, dilation=d)
    for axis in (0, 1):
        n, k = x.shape[2 + axis], w.shape[2 + axis]
        p = 0 if mode == "valid" else d[axis] * (k - 1)
        assert y.shape[2 + axis] == (n + 2 * p - d[axis] * (k - 1) - 1) // s[axis] + 1


@given(n=small(1, 3), c=small(1, 3), f=small(1, 3), h=small(1, 9), w=small(1, 9),
       kh=small(1, 6), kw=small(1, 6), dh=small(1, 3), dw=small(1, 3), seed=small(0, 2**32 - 1))
def test_same_keeps_height_and_width(n, c, f, h, w, kh, kw, dh, dw, seed):
    """odd and even kernels, with and without dilation, even when the kernel exceeds the input."""
    rng = np.random.default_rng(seed)
    x, k = rng.standard_normal((n, c, h, w)), rng.standard_normal((f, c, kh, kw))
    assert cc.conv2d(x, k, padding="same", dilation=(dh, dw)).shape == (n, f, h, w)
    assert cc.correlate2d(x[0, 0], k[0, 0], "same").shape == (h, w)
    assert cc.convolve2d(x[0, 0], k[0, 0], "same").shape == (h, w)


@given(conv_setup())
def test_conv2d_backward_is_adjoint(setup):
    """conv2d is linear in x and in w, so <conv2d(x, w), g> = <x, dx> = <w, dw>."""
    x, w, s, p, d, rng = setup
    y = cc.conv2d(x, w, stride=s, padding=p, dilation=d)
    g = rng.standard_normal(y.shape)
    dx, dw, db = cc.conv2d_backward(g, x, w, stride=s, padding=p, dilation=d)
    lhs = inner(y, g)
    scale = float(np.abs(y).sum() * np.abs(g).max())
    assert _rel(lhs, inner(x, dx), scale)
    assert _rel(lhs, inner(w, dw), scale)
    np.testing.assert_allclose(db, g.sum(axis=(0, 2, 3)), rtol=1e-12, atol=1e-12)


@given(n=small(1, 2), cin=small(1, 3), cout=small(1, 3), h=small(1, 5), w=small(1, 5),
       kh=small(1, 4), kw=small(1, 4), sh=small(1, 3), sw=small(1, 3), dh=small(1, 2),
       dw=small(1, 2), ph=small(0, 2), pw=small(0, 2), oph=small(0, 2), opw=small(0, 2),
       seed=small(0, 2**32 - 1))
def test_conv_transpose2d_is_adjoint_of_conv2d(n, cin, cout, h, w, kh, kw, sh, sw, dh, dw, ph, pw,
                                               oph, opw, seed):
    """<conv2d(z, w), x> = <z, conv_transpose2d(x, w)> with stride, padding, dilation and
    output_padding (< stride, where the shapes of the two sides match exactly)."""
    assume(oph < sh and opw < sw)
    ho = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    wo = (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    assume(ho >= 1 and wo >= 1)
    rng = np.random.default_rng(seed)
    x, k = rng.standard_normal((n, cin, h, w)), rng.standard_normal((cin, cout, kh, kw))
    kw_ = dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw))
    y = cc.conv_transpose2d(x, k, output_padding=(oph, opw), **kw_)
    assert y.shape == (n, cout, ho, wo)
    z = rng.standard_normal(y.shape)
    cz = cc.conv2d(z, k, **kw_)
    assert cz.shape == x.shape
    assert _rel(inner(cz, x), inner(z, y), float(np.abs(cz).sum() * np.abs(x).max()))


@given(conv_setup())
def test_im2col_col2im_adjoint(setup):
    x, w, s, p, d, rng = setup
    kernel = w.shape[2:]
    cols = cc.im2col(x, kernel, stride=s, padding=p, dilation=d)
    c = rng.standard_normal(cols.shape)
    back = cc.col2im(c, x.shape, kernel, stride=s, padding=p, dilation=d)
    assert _rel(inner(cols, c), inner(x, back), float(np.abs(cols).sum() * np.abs(c).max()))


@given(conv_setup(), st.floats(-3, 3), st.floats(-3, 3))
def test_linearity_in_x_and_w(setup, a, b):
    x, w, s, p, d, rng = setup
    x2, w2 = rng.standard_normal(x.shape), rng.standard_normal(w.shape)
    kw = dict(stride=s, padding=p, dilation=d)
    np.testing.assert_allclose(cc.conv2d(a * x + b * x2, w, **kw),
                               a * cc.conv2d(x, w, **kw) + b * cc.conv2d(x2, w, **kw),
                               rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(cc.conv2d(x, a * w + b * w2, **kw),
                               a * cc.conv2d(x, w, **kw) + b * cc.conv2d(x, w2, **kw),
                               rtol=1e-9, atol=1e-9)


@given(c=small(1, 2), f=small(1, 2), h=small(4, 12), w=small(4, 12), kh=small(1, 3), kw=small(1, 3),
       sh=small(1, 2), sw=small(1, 2), dh=small(1, 2), dw=small(1, 2), ty=small(0, 3), tx=small(0, 3),
       seed=small(0, 2**32 - 1))
def test_shift_equivariance_away_from_borders(c, f, h, w, kh, kw, sh, sw, dh, dw, ty, tx, seed):
    """Shifting the input by (s_h ty, s_w tx) shifts the output by (ty, tx) wherever no window
    reaches the wrapped-around border."""
    assume(dh * (kh - 1) + 1 <= h and dw * (kw - 1) + 1 <= w)
    rng = np.random.default_rng(seed)
    x, k = rng.standard_normal((1, c, h, w)), rng.standard_normal((f, c, kh, kw))
    kw_ = dict(stride=(sh, sw), dilation=(dh, dw))
    y = cc.conv2d(x, k, **kw_)
    ys = cc.conv2d(np.roll(x, (sh * ty, sw * tx), axis=(2, 3)), k, **kw_)
    ho, wo = y.shape[2:]
    assume(ty < ho and tx < wo)
    np.testing.assert_allclose(ys[:, :, ty:, tx:], y[:, :, :ho - ty, :wo - tx], rtol=1e-12, atol=1e-12)


@given(h=small(1, 8), w=small(1, 8), kh=small(1, 8), kw=small(1, 8), mode=st.sampled_from(["valid", "full"]),
       seed=small(0, 2**32 - 1))
def test_convolve_is_correlate_with_rot180(h, w, kh, kw, mode, seed):
    if mode == "valid":
        assume(kh <= h and kw <= w)
    rng = np.random.default_rng(seed)
    a, k = rng.standard_normal((h, w)), rng.standard_normal((kh, kw))
    np.testing.assert_allclose(cc.convolve2d(a, k, mode), cc.correlate2d(a, cc.rot180(k), mode),
                               rtol=1e-12, atol=1e-12)
    # and by the definition (a*k)_{ij} = sum a_{i-u, j-v} k_{uv}: convolution is commutative in "full"
    if mode == "full":
        np.testing.assert_allclose(cc.convolve2d(a, k, "full"), cc.convolve2d(k, a, "full"),
                                   rtol=1e-10, atol=1e-10)


@given(lead=st.lists(small(1, 3), max_size=2), hb=small(1, 4), wb=small(1, 4), nh=small(1, 3),
       nw=small(1, 3), seed=small(0, 2**32 - 1))
def test_down_up_adjoint_and_up_is_kronecker(lead, hb, wb, nh, nw, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((*lead, hb * nh, wb * nw))
    y = rng.standard_normal((*lead, hb, wb))
    n = (nh, nw)
    assert cc.down(x, n).shape == y.shape
    up = cc.up(y, n)
    np.testing.assert_array_equal(up, np.repeat(np.repeat(y, nh, axis=-2), nw, axis=-1))
    np.testing.assert_array_equal(up, np.kron(y, np.ones((nh, nw))))
    assert _rel(inner(cc.down(x, n), y), inner(x, up), float(np.abs(x).sum() * np.abs(y).max()))
    # down sums blocks: the total is preserved
    assert cc.down(x, n).sum() == pytest.approx(x.sum(), abs=1e-9)


@given(n=small(1, 12), k=small(1, 5), s=small(1, 4), p=small(0, 2))
def test_pooling_output_size(n, k, s, p):
    assume(p <= k // 2 and n + 2 * p >= k)
    x = np.random.default_rng(n).standard_normal((1, 1, n, n + 1))
    expected = (n + 2 * p - k) // s + 1, (n + 1 + 2 * p - k) // s + 1
    assert cc.max_pool2d(x, k, stride=s, padding=p).shape[2:] == expected
    assert cc.avg_pool2d(x, k, stride=s, padding=p).shape[2:] == expected


@settings(max_examples=25)
@given(conv_setup(max_k=3, max_p=2), st.booleans())
def test_conv2d_and_backward_equal_naive_on_random_geometry(setup, with_bias):
    """The named sweep of test_conv.py, extended to geometries drawn at random."""
    x, w, s, p, d, rng = setup
    b = rng.standard_normal(w.shape[0]) if with_bias else None
    kw = dict(stride=s, padding=p, dilation=d)
    y = naive.conv2d_naive(x, w, b, **kw)
    np.testing.assert_allclose(cc.conv2d(x, w, b, **kw), y, rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(y.shape)
    for got, expected in zip(cc.conv2d_backward(g, x, w, **kw), naive.conv2d_backward_naive(g, x, w, **kw)):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@settings(max_examples=25)
@given(n=small(1, 2), c=small(1, 2), h=small(1, 8), w=small(1, 8), kh=small(1, 4), kw=small(1, 4),
       sh=small(1, 4), sw=small(1, 4), ph=small(0, 2), pw=small(0, 2), ties=st.booleans(),
       seed=small(0, 2**32 - 1))
def test_pooling_equals_naive_on_random_geometry(n, c, h, w, kh, kw, sh, sw, ph, pw, ties, seed):
    assume(ph <= kh // 2 and pw <= kw // 2 and h + 2 * ph >= kh and w + 2 * pw >= kw)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, (n, c, h, w)).astype(float) if ties else rng.standard_normal((n, c, h, w))
    kw_ = dict(stride=(sh, sw), padding=(ph, pw))
    k = (kh, kw)
    y = naive.max_pool2d_naive(x, k, **kw_)
    np.testing.assert_array_equal(cc.max_pool2d(x, k, **kw_), y)
    g = rng.standard_normal(y.shape)
    np.testing.assert_allclose(cc.max_pool2d_backward(g, x, k, **kw_),
                               naive.max_pool2d_backward_naive(g, x, k, **kw_), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cc.avg_pool2d(x, k, **kw_), naive.avg_pool2d_naive(x, k, **kw_),
                               rtol=1e-12, atol=1e-12)
