"""Bad input: every public entry point raises ValueError/TypeError whose message names the argument,
the shape (or value) received and what was expected. Also: what *is* accepted (integers, bool,
float32, lists) and which dtype comes out."""

from __future__ import annotations

import re

import numpy as np
import pytest

import cnn_core as cc

X = np.ones((2, 3, 5, 5))
W = np.ones((4, 3, 3, 3))
WT = np.ones((3, 2, 3, 3))          # conv_transpose2d kernel (C_in, C_out, kh, kw)


def esc(text: str) -> str:
    return re.escape(text)


# (id, callable, exception type, regex the message must match)
BAD_INPUT = [
    # ---- wrong number of dimensions: argument, shape received, layout expected
    ("conv2d-x-3d", lambda: cc.conv2d(np.ones((3, 5, 5)), W), ValueError,
     esc("x must be a 4-D array (N, C, H, W); got shape (3, 5, 5) (3-D)")),
    ("conv2d-w-3d", lambda: cc.conv2d(X, np.ones((3, 3, 3))), ValueError,
     esc("w must be a 4-D array (F, C, kh, kw); got shape (3, 3, 3) (3-D)")),
    ("conv2d_backward-x-5d", lambda: cc.conv2d_backward(np.ones((2, 4, 3, 3)), np.ones((1, 2, 3, 5, 5)), W),
     ValueError, esc("x must be a 4-D array (N, C, H, W); got shape (1, 2, 3, 5, 5) (5-D)")),
    ("conv_transpose2d-x-2d", lambda: cc.conv_transpose2d(np.ones((5, 5)), WT), ValueError,
     esc("x must be a 4-D array (N, C_in, H, W); got shape (5, 5) (2-D)")),
    ("conv_transpose2d-w-3d", lambda: cc.conv_transpose2d(X, np.ones((3, 3, 3))), ValueError,
     esc("w must be a 4-D array (C_in, C_out, kh, kw); got shape (3, 3, 3) (3-D)")),
    ("im2col-x-3d", lambda: cc.im2col(np.ones((3, 5, 5)), 3), ValueError,
     esc("x must be a 4-D array (N, C, H, W); got shape (3, 5, 5)")),
    ("col2im-x_shape", lambda: cc.col2im(np.ones((2, 27, 9)), (3, 5, 5), 3), ValueError,
     esc("x_shape must be (N, C, H, W); got (3, 5, 5)")),
    ("col2im-cols-shape", lambda: cc.col2im(np.ones((2, 27, 8)), (2, 3, 5, 5), 3), ValueError,
     esc("cols must have shape (N, C*kh*kw, H'*W') = (2, 27, 9); got (2, 27, 8)")),
    ("max_pool2d-x-3d", lambda: cc.max_pool2d(np.ones((3, 4, 4)), 2), ValueError,
     esc("x must be a 4-D array (N, C, H, W); got shape (3, 4, 4)")),
    ("avg_pool2d-x-1d", lambda: cc.avg_pool2d(np.ones(16), 2), ValueError,
     esc("x must be a 4-D array (N, C, H, W); got shape (16,)")),
    ("lp_pool2d-x-3d", lambda: cc.lp_pool2d(np.ones((3, 4, 4)), 2), ValueError,
     esc("x must be a 4-D array (N, C, H, W); got shape (3, 4, 4)")),
    ("correlate2d-a-3d", lambda: cc.correlate2d(np.ones((1, 4, 4)), np.ones((2, 2))), ValueError,
     esc("a must be a 2-D array (H, W); got shape (1, 4, 4)")),
    ("cross_entropy-logits-1d", lambda: cc.cross_entropy(np.ones(4), np.array([0])), ValueError,
     esc("logits must be a 2-D array (N, K); got shape (4,)")),
    ("Dense-x-4d", lambda: cc.Dense(3, 2, rng=np.random.default_rng(0)).forward(np.ones((2, 3, 1, 1))),
     ValueError, esc("x must be a 2-D array (N, in_features); got shape (2, 3, 1, 1)")),
    ("Subsample2D-x-3d", lambda: cc.Subsample2D(2).forward(np.ones((2, 4, 4))), ValueError,
     esc("x must be a 4-D array (N, C, H, W); got shape (2, 4, 4)")),
    ("softmax_jacobian-2d", lambda: cc.softmax_jacobian(np.ones((2, 3))), ValueError,
     esc("vector z of shape (K,); got shape (2, 3)")),
    # ---- channel mismatch between x and w: both shapes and the expected layout
    ("conv2d-channels", lambda: cc.conv2d(X, np.ones((4, 2, 3, 3))), ValueError,
     esc("channel mismatch: x has C = 3 channels (x.shape = (2, 3, 5, 5)) but the kernel w expects 2 "
         "(w.shape = (4, 2, 3, 3)); w must be (F, C, kh, kw)")),
    ("conv2d_backward-channels", lambda: cc.conv2d_backward(np.ones((2, 4, 3, 3)), X, np.ones((4, 1, 3, 3))),
     ValueError, r"channel mismatch: x has C = 3 .*w\.shape = \(4, 1, 3, 3\)"),
    ("conv_transpose2d-channels", lambda: cc.conv_transpose2d(X, np.ones((4, 3, 3, 3))), ValueError,
     esc("x has C_in = 3 channels (x.shape = (2, 3, 5, 5)) but w.shape[0] = 4 (w.shape = (4, 3, 3, 3)); "
         "w must be (C_in, C_out, kh, kw)")),
    ("Conv2D-layer-channels", lambda: cc.Conv2D(2, 3, 3, rng=np.random.default_rng(0)).forward(X),
     ValueError, r"channel mismatch: x has C = 3 .*expects 2"),
    ("Dense-features", lambda: cc.Dense(3, 2, rng=np.random.default_rng(0)).forward(np.ones((2, 4))),
     ValueError, esc("Dense expects x of shape (N, 3); got (2, 4)")),
    ("conv2d-bias-shape", lambda: cc.conv2d(X, W, np.ones(3)), ValueError,
     esc("b must have shape (F,) = (4,), one bias per kernel; got (3,)")),
    ("conv_transpose2d-bias-shape", lambda: cc.conv_transpose2d(X, WT, np.ones(3)), ValueError,
     esc("b must have shape (C_out,) = (2,); got (3,)")),
    # ---- upstream gradients of the wrong shape
    ("conv2d_backward-dout", lambda: cc.conv2d_backward(np.ones((2, 4, 2, 2)), X, W), ValueError,
     esc("dout must have the forward output's shape (2, 4, 3, 3); got (2, 4, 2, 2)")),
    ("max_pool2d_backward-dout", lambda: cc.max_pool2d_backward(np.ones((2, 3, 3, 3)), X, 2), ValueError,
     esc("dout must have the forward output's shape (2, 3, 2, 2); got (2, 3, 3, 3)")),
    ("avg_pool2d_backward-dout", lambda: cc.avg_pool2d_backward(np.ones((2, 3, 3)), X, 2), ValueError,
     esc("dout must have the forward output's shape (2, 3, 2, 2); got (2, 3, 3)")),
    ("lp_pool2d_backward-dout", lambda: cc.lp_pool2d_backward(np.ones((1, 3, 2, 2)), X, 2), ValueError,
     esc("dout must have the forward output's shape (2, 3, 2, 2); got (1, 3, 2, 2)")),
    ("softmax_backward-shapes", lambda: cc.softmax_backward(np.ones(3), np.ones(4)), ValueError,
     esc("dout and s must have the same shape; got (3,) and (4,)")),
    # ---- kernel larger than the padded input
    ("conv2d-kernel-too-tall", lambda: cc.conv2d(X, np.ones((4, 3, 6, 3))), ValueError,
     esc("kernel height 6 (effective size 6 with dilation 1) is larger than the padded input height 5 "
         "(input 5, padding 0+0); x.shape = (2, 3, 5, 5), w.shape = (4, 3, 6, 3)")),
    ("conv2d-kernel-too-wide-dilated", lambda: cc.conv2d(X, W, dilation=(1, 3)), ValueError,
     esc("kernel width 3 (effective size 7 with dilation 3) is larger than the padded input width 5")),
    ("conv2d_backward-kernel-too-big", lambda: cc.conv2d_backward(np.ones((2, 4, 1, 1)), X, np.ones((4, 3, 6, 6))),
     ValueError, r"kernel height 6 .* larger than the padded input height 5.*w\.shape = \(4, 3, 6, 6\)"),
    ("im2col-kernel-too-big", lambda: cc.im2col(X, (2, 8), padding=(0, 1)), ValueError,
     esc("kernel width 8 (effective size 8 with dilation 1) is larger than the padded input width 7 "
         "(input 5, padding 1+1); x.shape = (2, 3, 5, 5), kernel_size = (2, 8)")),
    ("max_pool2d-window-too-big", lambda: cc.max_pool2d(np.ones((1, 1, 3, 3)), 4), ValueError,
     esc("kernel height 4 (effective size 4 with dilation 1) is larger than the padded input height 3 "
         "(input 3, padding 0+0); x.shape = (1, 1, 3, 3), kernel_size = 4")),
    ("correlate2d-valid-kernel-too-big", lambda: cc.correlate2d(np.ones((3, 3)), np.ones((4, 4))), ValueError,
     esc("mode='valid' needs the kernel to fit inside the image; got k.shape = (4, 4) "
         "and a.shape = (3, 3)")),
    ("conv_output_size-too-big", lambda: cc.conv_output_size(3, 5), ValueError,
     esc("kernel of effective size 5 (k=5, dilation=1) does not fit an input of size 3 with padding 0")),
    ("conv_transpose_output_size-empty", lambda: cc.conv_transpose2d(np.ones((1, 1, 1, 1)), np.ones((1, 1, 1, 1)), padding=1),
     ValueError, esc("would have size -1 < 1")),
    # ---- stride < 1, dilation < 1, non-integer stride
    ("conv2d-stride0", lambda: cc.conv2d(X, W, stride=0), ValueError,
     esc("stride must be >= 1 in both directions; got 0")),
    ("conv2d-stride-pair-negative", lambda: cc.conv2d(X, W, stride=(1, -1)), ValueError,
     esc("stride must be >= 1 in both directions; got (1, -1)")),
    ("conv2d-stride-float", lambda: cc.conv2d(X, W, stride=1.5), TypeError,
     esc("stride must be an int or a pair of ints (h, w); got 1.5")),
    ("conv2d-stride-triple", lambda: cc.conv2d(X, W, stride=(1, 1, 1)), TypeError,
     esc("stride must be an int or a pair of ints (h, w); got (1, 1, 1)")),
    ("conv2d-dilation0", lambda: cc.conv2d(X, W, dilation=0), ValueError,
     esc("dilation must be >= 1 in both directions; got 0")),
    ("conv_transpose2d-stride0", lambda: cc.conv_transpose2d(X, WT, stride=0), ValueError,
     esc("stride must be >= 1 in both directions; got 0")),
    ("max_pool2d-stride0", lambda: cc.max_pool2d(X, 2, stride=0), ValueError,
     esc("stride must be >= 1 in both directions; got 0")),
    ("avg_pool2d-kernel0", lambda: cc.avg_pool2d(X, 0), ValueError,
     esc("kernel_size must be >= 1 in both directions; got 0")),
    ("conv_output_size-stride0", lambda: cc.conv_output_size(5, 3, stride=0), ValueError,
     esc("stride must be >= 1; got 0")),
    # ---- negative or unknown padding
    ("conv2d-padding-negative", lambda: cc.conv2d(X, W, padding=-1), ValueError,
     esc("padding must be >= 0 in both directions; got -1")),
    ("conv2d-padding-pair-negative", lambda: cc.conv2d(X, W, padding=(1, -2)), ValueError,
     esc("padding must be >= 0 in both directions; got (1, -2)")),
    ("conv2d-padding-unknown", lambda: cc.conv2d(X, W, padding="circular"), ValueError,
     esc("padding must be an int, a pair (ph, pw), or one of 'valid', 'same', 'full'; got 'circular'")),
    ("conv2d-padding-float", lambda: cc.conv2d(X, W, padding=0.5), TypeError,
     esc("padding must be an int or a pair of ints (h, w); got 0.5")),
    ("conv_transpose2d-padding-string", lambda: cc.conv_transpose2d(X, WT, padding="same"), ValueError,
     esc("padding of conv_transpose2d must be an int or (ph, pw); got 'same'")),
    ("conv_transpose2d-padding-negative", lambda: cc.conv_transpose2d(X, WT, padding=-1), ValueError,
     esc("padding must be >= 0 in both directions; got -1")),
    ("conv_transpose2d-output_padding", lambda: cc.conv_transpose2d(X, WT, stride=2, output_padding=2), ValueError,
     esc("output_padding must be smaller than the stride or the dilation; got output_padding=2, stride=2, dilation=1")),
    ("max_pool2d-padding-negative", lambda: cc.max_pool2d(X, 2, padding=-1), ValueError,
     esc("padding must be >= 0 in both directions; got -1")),
    ("max_pool2d-padding-string", lambda: cc.max_pool2d(X, 2, padding="same"), ValueError,
     esc("padding of a pooling layer must be an int or (ph, pw); got 'same'")),
    ("avg_pool2d-padding-over-half", lambda: cc.avg_pool2d(X, 2, padding=2), ValueError,
     esc("padding must be at most half the window: padding=2 with kernel_size=2")),
    ("correlate2d-mode", lambda: cc.correlate2d(np.ones((3, 3)), np.ones((2, 2)), "wrap"), ValueError,
     esc("mode must be one of ('valid', 'same', 'full'); got 'wrap'")),
    # ---- "same" with stride > 1
    ("conv2d-same-stride2", lambda: cc.conv2d(X, W, padding="same", stride=2), ValueError,
     esc("padding='same' needs stride 1; got stride=(2, 2)")),
    ("conv2d-same-stride-pair", lambda: cc.conv2d(X, W, padding="same", stride=(1, 3)), ValueError,
     esc("padding='same' needs stride 1; got stride=(1, 3)")),
    ("conv2d_backward-same-stride2", lambda: cc.conv2d_backward(np.ones((2, 4, 3, 3)), X, W, padding="same", stride=2),
     ValueError, esc("padding='same' needs stride 1")),
    # ---- labels out of range, wrong type or shape
    ("cross_entropy-label-too-big", lambda: cc.cross_entropy(np.ones((3, 4)), np.array([0, 4, 1])), ValueError,
     esc("labels must lie in [0, 4) for 4 classes; found 4")),
    ("cross_entropy-label-negative", lambda: cc.cross_entropy(np.ones((3, 4)), np.array([0, -1, 1])), ValueError,
     esc("labels must lie in [0, 4) for 4 classes; found -1")),
    ("cross_entropy-labels-float", lambda: cc.cross_entropy(np.ones((3, 4)), np.array([0.0, 1.0, 1.0])), TypeError,
     esc("labels must hold integer class indices; got dtype float64")),
    ("cross_entropy-labels-bool", lambda: cc.cross_entropy(np.ones((3, 4)), np.array([True, False, True])), TypeError,
     esc("labels must hold integer class indices; got dtype bool")),
    ("cross_entropy-labels-shape", lambda: cc.cross_entropy(np.ones((3, 4)), np.array([0, 1])), ValueError,
     esc("labels must have shape (3,), one class index per row; got (2,)")),
    ("cross_entropy-labels-2d", lambda: cc.cross_entropy(np.ones((3, 4)), np.zeros((3, 1), dtype=int)), ValueError,
     esc("labels must have shape (3,), one class index per row; got (3, 1)")),
    # ---- non-numeric dtypes
    ("conv2d-x-strings", lambda: cc.conv2d(np.full((1, 1, 3, 3), "a"), W[:, :1]), TypeError,
     esc("x must be a real numeric array (float, int or bool); got dtype <U1")),
    ("conv2d-x-object", lambda: cc.conv2d(X.astype(object), W), TypeError,
     esc("x must be a real numeric array (float, int or bool); got dtype object")),
    ("conv2d-x-complex", lambda: cc.conv2d(X.astype(complex), W), TypeError,
     esc("x must be a real numeric array (float, int or bool); got dtype complex128")),
    ("conv2d-w-complex", lambda: cc.conv2d(X, W.astype(np.complex64)), TypeError,
     esc("w must be a real numeric array (float, int or bool); got dtype complex64")),
    ("conv2d-b-strings", lambda: cc.conv2d(X, W, np.array(list("abcd"))), TypeError,
     esc("b must be a real numeric array (float, int or bool); got dtype <U1")),
    ("conv2d-x-ragged", lambda: cc.conv2d([[1.0, 2.0], [3.0]], W), TypeError,
     "x must be a numeric array; could not convert it"),
    ("conv2d_backward-dout-object", lambda: cc.conv2d_backward(np.ones((2, 4, 3, 3), dtype=object), X, W),
     TypeError, esc("dout must be a real numeric array (float, int or bool); got dtype object")),
    ("conv_transpose2d-x-complex", lambda: cc.conv_transpose2d(X.astype(complex), WT), TypeError,
     esc("x must be a real numeric array (float, int or bool); got dtype complex128")),
    ("conv_transpose2d-w-strings", lambda: cc.conv_transpose2d(X, np.full((3, 2, 1, 1), "w")), TypeError,
     esc("w must be a real numeric array (float, int or bool); got dtype <U1")),
    ("max_pool2d-strings", lambda: cc.max_pool2d(np.full((1, 1, 2, 2), "a"), 2), TypeError,
     esc("x must be a real numeric array (float, int or bool); got dtype <U1")),
    ("avg_pool2d-complex", lambda: cc.avg_pool2d(X.astype(complex), 2), TypeError,
     esc("x must be a real numeric array (float, int or bool); got dtype complex128")),
    ("max_pool2d_backward-dout-complex", lambda: cc.max_pool2d_backward(np.ones((2, 3, 2, 2), dtype=complex), X, 2),
     TypeError, esc("dout must be a real numeric array (float, int or bool); got dtype complex128")),
    ("lp_pool2d-object", lambda: cc.lp_pool2d(X.astype(object), 2), TypeError,
     esc("x must be a real numeric array (float, int or bool); got dtype object")),
    ("correlate2d-k-complex", lambda: cc.correlate2d(np.ones((3, 3)), np.ones((2, 2), dtype=complex)), TypeError,
     esc("k must be a real numeric array (float, int or bool); got dtype complex128")),
    ("cross_entropy-logits-strings", lambda: cc.cross_entropy(np.full((2, 3), "z"), np.array([0, 1])), TypeError,
     esc("logits must be a real numeric array (float, int or bool); got dtype <U1")),
    ("mse_loss-t-complex", lambda: cc.mse_loss(np.ones((2, 3)), np.ones((2, 3), dtype=complex)), TypeError,
     esc("t must be a real numeric array (float, int or bool); got dtype complex128")),
    ("relu-strings", lambda: cc.relu(np.array(["a"])), TypeError,
     esc("u must be a real numeric array (float, int or bool); got dtype <U1")),
    ("sigmoid-complex", lambda: cc.sigmoid(np.array([1j])), TypeError,
     esc("u must be a real numeric array (float, int or bool); got dtype complex128")),
    ("softmax-object", lambda: cc.softmax(np.array([1, None], dtype=object)), TypeError,
     esc("z must be a real numeric array (float, int or bool); got dtype object")),
    ("down-strings", lambda: cc.down(np.array([["a"]]), 1), TypeError,
     esc("x must be a real numeric array (float, int or bool); got dtype <U1")),
    ("up-complex", lambda: cc.up(np.array([[1j]]), 2), TypeError,
     esc("x must be a real numeric array (float, int or bool); got dtype complex128")),
    ("conv2d-x-datetime", lambda: cc.conv2d(np.zeros((1, 3, 3, 3), dtype="datetime64[s]"), W), TypeError,
     "x must be a real numeric array .*got dtype datetime64"),
]


@pytest.mark.parametrize("call,exc,pattern", [pytest.param(c, e, p, id=i) for i, c, e, p in BAD_INPUT])
def test_bad_input_message(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_every_bad_input_case_is_named_once():
    ids = [case[0] for case in BAD_INPUT]
    assert len(ids) == len(set(ids))


# ---------------------------------------------------------------------------------------------
# accepted input
# ---------------------------------------------------------------------------------------------

def test_integer_bool_and_list_input_accepted_as_float64():
    xi = np.arange(2 * 1 * 4 * 4).reshape(2, 1, 4, 4)
    wi = np.array([[[[1, 0], [0, -1]]]])
    expected = cc.conv2d(xi.astype(float), wi.astype(float))
    for x in (xi, xi.astype(np.int8), xi.astype(np.uint16), xi.tolist()):
        y = cc.conv2d(x, wi)
        assert y.dtype == np.float64
        np.testing.assert_array_equal(y, expected)
    assert cc.max_pool2d(xi > 5, 2).dtype == np.float64
    assert cc.relu(np.array([-1, 2])).dtype == np.float64
    assert cc.conv2d(xi.astype(np.float16), wi).dtype == np.float64       # float16 is widened
    loss, grad = cc.cross_entropy(np.array([[1, 2], [3, 1]]), [1, 0])
    assert grad.dtype == np.float64 and np.isfinite(loss)


def test_float32_in_float32_out_everywhere():
    rng = np.random.default_rng(80)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    y = cc.conv2d(x, w, padding="same")
    assert y.dtype == np.float32
    assert all(g.dtype == np.float32 for g in cc.conv2d_backward(np.ones_like(y), x, w, padding="same"))
    assert cc.conv_transpose2d(y, w).dtype == np.float32
    for fwd, bwd in ((cc.max_pool2d, cc.max_pool2d_backward), (cc.avg_pool2d, cc.avg_pool2d_backward),
                     (cc.lp_pool2d, cc.lp_pool2d_backward)):
        out = fwd(x, 2)
        assert out.dtype == np.float32 and bwd(np.ones_like(out), x, 2).dtype == np.float32
    assert cc.im2col(x, 3).dtype == np.float32
    assert cc.correlate2d(x[0, 0], w[0, 0]).dtype == np.float32
    # mixing float32 with float64 promotes to float64 (numpy's rule)
    assert cc.conv2d(x, w.astype(np.float64)).dtype == np.float64


def test_uppercase_padding_mode_accepted():
    np.testing.assert_array_equal(cc.conv2d(X, W, padding="SAME"), cc.conv2d(X, W, padding="same"))


def test_layers_need_forward_before_backward():
    for layer in (cc.ReLU(), cc.MaxPool2D(2), cc.Conv2D(1, 1, 1, rng=np.random.default_rng(0)),
                  cc.Dense(2, 2, rng=np.random.default_rng(0)), cc.Flatten(), cc.Subsample2D(1)):
        with pytest.raises(RuntimeError, match=f"{type(layer).__name__}.backward called before forward"):
            layer.backward(np.ones((1, 1, 2, 2)))
