"""conv2d, conv2d_backward, conv_transpose2d, im2col and col2im against the naive loop references
of cnn_core.naive, swept over shapes, strides, paddings (int, pair, "valid"/"same"/"full"),
dilations, batch sizes and channel counts (jax-style named cases); plus dtype rules."""

from __future__ import annotations

import numpy as np
import pytest

import cnn_core as cc
from cnn_core import naive
from testhelpers import assert_allclose, randn

# (N, C, H, W), (F, kh, kw), stride, padding, dilation; each case small enough for the loops.
CONV_CASES = [
    pytest.param((2, 3, 5, 5), (4, 3, 3), 1, 0, 1, id="k3-basic"),
    pytest.param((2, 3, 4, 5), (2, 1, 1), 1, 0, 1, id="k1x1"),
    pytest.param((1, 2, 5, 5), (3, 1, 1), 2, 0, 1, id="k1x1-stride2"),
    pytest.param((1, 2, 3, 3), (2, 1, 1), 1, 1, 1, id="k1x1-pad1"),
    pytest.param((2, 2, 4, 3), (3, 4, 3), 1, 0, 1, id="kernel=input"),
    pytest.param((1, 2, 3, 3), (2, 3, 3), 2, 1, 1, id="kernel=input-pad1-stride2"),
    pytest.param((1, 2, 7, 7), (2, 2, 2), 3, 0, 1, id="stride>kernel"),
    pytest.param((2, 1, 8, 6), (2, 2, 1), (3, 4), 1, 1, id="stride>kernel-pair-pad1"),
    pytest.param((1, 2, 6, 7), (3, 2, 4), 1, 0, 1, id="kh!=kw"),
    pytest.param((2, 2, 7, 8), (2, 3, 2), (2, 1), (1, 2), 1, id="kh!=kw-stride-pair-pad-pair"),
    pytest.param((2, 2, 5, 5), (2, 3, 3), 1, 2, 1, id="pad2"),
    pytest.param((1, 3, 4, 6), (2, 3, 3), 1, (0, 2), 1, id="pad-pair"),
    pytest.param((1, 2, 6, 6), (2, 3, 3), 1, "valid", 1, id="valid"),
    pytest.param((2, 2, 5, 6), (3, 3, 3), 1, "same", 1, id="same-odd"),
    pytest.param((1, 2, 5, 6), (2, 4, 2), 1, "same", 1, id="same-even"),
    pytest.param((1, 1, 7, 7), (2, 3, 3), 1, "same", 2, id="same-dilated"),
    pytest.param((1, 2, 6, 7), (1, 2, 4), 1, "same", (2, 3), id="same-even-dilation-pair"),
    pytest.param((1, 2, 4, 5), (2, 3, 2), 1, "full", 1, id="full"),
    pytest.param((1, 1, 4, 4), (2, 2, 3), 1, "full", 2, id="full-dilated"),
    pytest.param((1, 1, 5, 5), (2, 3, 3), 2, "full", 1, id="full-stride2"),
    pytest.param((2, 2, 7, 7), (2, 3, 3), 1, 0, 2, id="dilation2"),
    pytest.param((1, 2, 9, 8), (2, 2, 3), (2, 1), 1, (3, 2), id="dilation-pair-stride-pair"),
    pytest.param((1, 1, 3, 3), (1, 2, 2), 1, 0, 1, id="N1-C1-F1"),
    pytest.param((5, 4, 4, 4), (3, 2, 2), 2, 0, 1, id="N5-C4-stride=kernel"),
    pytest.param((3, 2, 6, 9), (4, 2, 3), (1, 3), (2, 0), (2, 1), id="everything-asymmetric"),
    pytest.param((1, 1, 1, 1), (1, 1, 1), 1, 0, 1, id="1x1-image"),
    pytest.param((2, 1, 1, 6), (2, 1, 3), 1, (0, 1), 1, id="one-row"),
]


def _conv_inputs(seed, xs, ws):
    rng = np.random.default_rng(seed)
    n, c, h, wd = xs
    f, kh, kw = ws
    return rng.standard_normal(xs), rng.standard_normal((f, c, kh, kw)), rng.standard_normal(f), rng


@pytest.mark.parametrize("xs,ws,stride,padding,dilation", CONV_CASES)
def test_conv2d_vs_naive(xs, ws, stride, padding, dilation):
    x, w, b, _ = _conv_inputs(10, xs, ws)
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    expected = naive.conv2d_naive(x, w, b, **kw)
    assert_allclose(cc.conv2d(x, w, b, **kw), expected)
    assert_allclose(cc.conv2d(x, w, **kw), naive.conv2d_naive(x, w, **kw))


@pytest.mark.parametrize("xs,ws,stride,padding,dilation", CONV_CASES)
def test_conv2d_backward_vs_naive(xs, ws, stride, padding, dilation):
    x, w, b, rng = _conv_inputs(11, xs, ws)
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    dout = rng.standard_normal(naive.conv2d_naive(x, w, **kw).shape)
    got = cc.conv2d_backward(dout, x, w, **kw)
    expected = naive.conv2d_backward_naive(dout, x, w, **kw)
    for name, g, e in zip(("dx", "dw", "db"), got, expected):
        assert_allclose(g, e, name=name)


@pytest.mark.parametrize("xs,ws,stride,padding,dilation", CONV_CASES)
def test_im2col_and_col2im_vs_naive(xs, ws, stride, padding, dilation):
    x, w, _, rng = _conv_inputs(13, xs, ws)
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    cols = naive.im2col_naive(x, w.shape[2:], **kw)
    assert_allclose(cc.im2col(x, w.shape[2:], **kw), cols, name="im2col")
    c = rng.standard_normal(cols.shape)
    assert_allclose(cc.col2im(c, x.shape, w.shape[2:], **kw),
                    naive.col2im_naive(c, x.shape, w.shape[2:], **kw), name="col2im")


@pytest.mark.parametrize("xs,ws,stride,padding,dilation", CONV_CASES)
def test_im2col_matches_conv_and_col2im_is_adjoint(xs, ws, stride, padding, dilation):
    x, w, _, rng = _conv_inputs(12, xs, ws)
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    cols = cc.im2col(x, w.shape[2:], **kw)
    y = naive.conv2d_naive(x, w, **kw)
    n, f = y.shape[:2]
    assert cols.shape == (n, w[0].size, y.shape[2] * y.shape[3])
    assert_allclose((w.reshape(f, -1) @ cols).reshape(y.shape), y)
    c = rng.standard_normal(cols.shape)
    back = cc.col2im(c, x.shape, w.shape[2:], **kw)
    assert back.shape == x.shape
    assert np.sum(cols * c) == pytest.approx(np.sum(x * back), rel=1e-10, abs=1e-12)


def test_im2col_layout_documented():
    # row c*kh*kw + a*kw + b, column i*W' + j holds x_pad[n, c, s i + d a, s j + d b]
    x = np.arange(2 * 4 * 5, dtype=float).reshape(1, 2, 4, 5)
    cols = cc.im2col(x, (2, 3), stride=(2, 1), dilation=(1, 1))
    kh, kw, wo = 2, 3, 3
    for c, a, b, i, j in [(0, 0, 0, 0, 0), (1, 1, 2, 1, 2), (0, 1, 1, 0, 1), (1, 0, 2, 1, 0)]:
        assert cols[0, c * kh * kw + a * kw + b, i * wo + j] == x[0, c, 2 * i + a, j + b]


# (N, C_in, H, W), (C_out, kh, kw), stride, padding, output_padding, dilation
CONVT_CASES = [
    pytest.param((1, 1, 2, 2), (1, 2, 2), 1, 0, 0, 1, id="d2l-size"),
    pytest.param((2, 3, 3, 4), (2, 3, 3), 1, 0, 0, 1, id="k3"),
    pytest.param((2, 2, 3, 3), (3, 2, 2), 2, 0, 0, 1, id="stride2"),
    pytest.param((1, 2, 3, 3), (2, 3, 3), 2, 1, 1, 1, id="stride2-pad1-outpad1"),
    pytest.param((2, 1, 3, 2), (2, 2, 3), (3, 2), (1, 0), (2, 1), 1, id="pairs-outpad-pair"),
    pytest.param((1, 2, 3, 3), (1, 3, 3), 1, 1, 0, 2, id="dilation2-pad1"),
    pytest.param((1, 2, 3, 4), (2, 2, 3), 1, 0, (1, 0), (2, 1), id="outpad-from-dilation"),
    pytest.param((1, 3, 2, 2), (2, 1, 1), 3, 0, 2, 1, id="k1x1-stride3-outpad2"),
    pytest.param((3, 2, 2, 3), (2, 4, 2), (1, 2), (1, 0), 0, 1, id="kh!=kw"),
    pytest.param((1, 1, 1, 1), (1, 3, 3), 1, 1, 0, 1, id="single-pixel-pad1"),
]


@pytest.mark.parametrize("xs,ws,stride,padding,output_padding,dilation", CONVT_CASES)
def test_conv_transpose2d_vs_naive(xs, ws, stride, padding, output_padding, dilation):
    rng = np.random.default_rng(13)
    x = rng.standard_normal(xs)
    w = rng.standard_normal((xs[1], *ws))
    b = rng.standard_normal(ws[0])
    kw = dict(stride=stride, padding=padding, output_padding=output_padding, dilation=dilation)
    expected = naive.conv_transpose2d_naive(x, w, b, **kw)
    got = cc.conv_transpose2d(x, w, b, **kw)
    assert_allclose(got, expected)
    for axis in (0, 1):
        s, p, o, d = (v if isinstance(v, tuple) else (v, v) for v in (stride, padding, output_padding, dilation))
        assert got.shape[2 + axis] == cc.conv_transpose_output_size(
            xs[2 + axis], ws[1 + axis], stride=s[axis], padding=p[axis],
            output_padding=o[axis], dilation=d[axis])


@pytest.mark.parametrize("xs,ws,stride,padding,output_padding,dilation", CONVT_CASES)
def test_conv_transpose2d_equals_conv2d_input_gradient(xs, ws, stride, padding, output_padding, dilation):
    """conv_transpose2d(x, w) is dx of the convolution whose output has x's shape."""
    rng = np.random.default_rng(14)
    x = rng.standard_normal(xs)
    w = rng.standard_normal((xs[1], *ws))
    y = cc.conv_transpose2d(x, w, stride=stride, padding=padding, output_padding=output_padding,
                            dilation=dilation)
    z = rng.standard_normal(y.shape)      # a forward input of the matching convolution
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    # When output_padding >= stride (allowed if dilation > stride) the forward convolution of z has
    # output_padding // stride extra rows/columns at the bottom/right; they get zero upstream gradient.
    ho, wo = naive.conv2d_naive(z[:, :1], w[:1, :1], **kw).shape[2:]
    assert ho >= x.shape[2] and wo >= x.shape[3]
    dout = np.zeros((*x.shape[:2], ho, wo))
    dout[:, :, :x.shape[2], :x.shape[3]] = x
    dx, _, _ = naive.conv2d_backward_naive(dout, z, w, **kw)
    assert_allclose(y, dx)


# ---------------------------------------------------------------------------------------------
# dtypes: integers are computed in float64, float32 stays float32
# ---------------------------------------------------------------------------------------------

def test_integer_input_is_float64():
    x = np.arange(2 * 2 * 4 * 4).reshape(2, 2, 4, 4)
    w = np.ones((3, 2, 2, 2), dtype=np.int32)
    y = cc.conv2d(x, w, np.array([1, 2, 3]), stride=2)
    assert y.dtype == np.float64
    assert_allclose(y, naive.conv2d_naive(x, w, np.array([1, 2, 3]), stride=2))
    for g in cc.conv2d_backward(np.ones(y.shape, dtype=np.int64), x, w, stride=2):
        assert g.dtype == np.float64
    assert cc.conv_transpose2d(x, np.ones((2, 1, 2, 2), dtype=np.int8)).dtype == np.float64
    assert cc.im2col(x, 2).dtype == np.float64
    assert cc.conv2d(x.astype(bool), w).dtype == np.float64


def test_float32_stays_float32(rng):
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    y = cc.conv2d(x, w, b, stride=2, padding=1)
    assert y.dtype == np.float32
    assert_allclose(y, naive.conv2d_naive(x, w, b, stride=2, padding=1), rtol=1e-5, atol=1e-5)
    dout = rng.standard_normal(y.shape).astype(np.float32)
    grads = cc.conv2d_backward(dout, x, w, stride=2, padding=1)
    expected = naive.conv2d_backward_naive(dout, x, w, stride=2, padding=1)
    for name, g, e in zip(("dx", "dw", "db"), grads, expected):
        assert g.dtype == np.float32, name
        assert_allclose(g, e, rtol=1e-4, atol=1e-4, name=name)
    wt = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    yt = cc.conv_transpose2d(x, wt, b[:2], stride=2, output_padding=1)
    assert yt.dtype == np.float32
    assert_allclose(yt, naive.conv_transpose2d_naive(x, wt, b[:2], stride=2, output_padding=1),
                    rtol=1e-4, atol=1e-4)


def test_inputs_not_modified(rng):
    x, w, b = randn(rng, 2, 2, 5, 5), randn(rng, 3, 2, 3, 3), randn(rng, 3)
    copies = [a.copy() for a in (x, w, b)]
    y = cc.conv2d(x, w, b, padding=1)
    dout = randn(rng, *y.shape)
    dcopy = dout.copy()
    cc.conv2d_backward(dout, x, w, padding=1)
    cc.conv_transpose2d(y, w, padding=1)
    for a, c in zip((x, w, b, dout), (*copies, dcopy)):
        np.testing.assert_array_equal(a, c)


def test_non_contiguous_input(rng):
    x = randn(rng, 2, 6, 5, 5)[:, ::2, :, ::-1]      # a strided, reversed view
    w = randn(rng, 2, 3, 2, 2).transpose(0, 1, 3, 2)
    assert_allclose(cc.conv2d(x, w, padding=1), naive.conv2d_naive(x, w, padding=1))


def test_batch_large_enough_to_be_processed_in_chunks():
    """A batch whose im2col buffer exceeds a few MiB (the fast path splits such batches into
    chunks): results must not depend on where the batch is split."""
    rng = np.random.default_rng(15)
    x, w, b = randn(rng, 5, 8, 32, 32), randn(rng, 2, 8, 3, 3), randn(rng, 2)
    y = cc.conv2d(x, w, b, padding=1)
    assert_allclose(y, naive.conv2d_naive(x, w, b, padding=1))
    for i in range(5):                                  # each image alone gives the same result
        assert_allclose(cc.conv2d(x[i:i + 1], w, b, padding=1), y[i:i + 1])
    dout = randn(rng, *y.shape)
    dx, dw, db = cc.conv2d_backward(dout, x, w, padding=1)
    ndx, ndw, ndb = naive.conv2d_backward_naive(dout, x, w, padding=1)
    assert_allclose(dx, ndx, name="dx")
    assert_allclose(dw, ndw, rtol=1e-9, name="dw")
    assert_allclose(db, ndb, name="db")
    yt = cc.conv_transpose2d(dout, w, padding=1)        # = dx, computed by the transpose path
    assert_allclose(yt, ndx, name="conv_transpose2d")


@pytest.mark.parametrize("xs,ws,stride,padding,dilation", CONV_CASES)
def test_input_gradient_equals_full_convolution_with_rotated_kernel(xs, ws, stride, padding,
                                                                    dilation):
    """conv2d_backward's dx is documented as the full convolution of the zero-stuffed upstream
    gradient with the 180°-rotated kernel (the book's derivation, computed literally by
    naive.conv2d_input_gradient_full_naive); cnn_core computes it as col2im(Wᵀ δ). Both must
    agree on every geometry."""
    x, w, _, rng = _conv_inputs(7, xs, ws)
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    dout = rng.standard_normal(cc.conv2d(x, w, **kw).shape)
    assert_allclose(cc.conv2d_backward(dout, x, w, **kw)[0],
                    naive.conv2d_input_gradient_full_naive(dout, w, x.shape, **kw))
