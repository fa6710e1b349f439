"""Central-difference gradient checks (float64, relative error < 1e-7) of every backward pass,
using cnn_core.gradcheck: conv2d_backward (dx, dw, db), conv_transpose2d, the pooling backwards
(overlapping and padded max pooling on inputs without ties), every activation derivative, softmax,
every loss and every layer. The gradcheck tools themselves are tested first."""

from __future__ import annotations

import numpy as np
import pytest

import cnn_core as cc
from testhelpers import GRAD_TOL, assert_grad, away_from_zero, distinct, randn

# ---------------------------------------------------------------------------------------------
# the tools: rel_error, numerical_gradient, check_layer_gradients
# ---------------------------------------------------------------------------------------------

def test_rel_error_definition():
    assert cc.rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert cc.rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    # max|a-b| / (max|a| + max|b|) = 0.5 / (2 + 2.5)
    assert cc.rel_error([1.0, 2.0], [1.0, 2.5]) == pytest.approx(0.5 / 4.5)
    assert cc.rel_error(np.array([]), np.array([])) == 0.0
    with pytest.raises(ValueError, match=r"equal shapes; got \(2,\) and \(3,\)"):
        cc.rel_error(np.ones(2), np.ones(3))


def test_numerical_gradient_known_functions(rng):
    x = randn(rng, 3, 4)
    x0 = x.copy()
    g = cc.numerical_gradient(lambda v: np.sum(v ** 3), x)            # scalar f
    np.testing.assert_allclose(g, 3 * x0 ** 2, rtol=1e-8)
    dout = randn(rng, 3, 4)
    g = cc.numerical_gradient(np.sin, x, dout)                          # array f with dout
    np.testing.assert_allclose(g, np.cos(x0) * dout, rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(x, x0)                                # restored


def test_numerical_gradient_refuses_bad_x():
    with pytest.raises(TypeError, match="float64 numpy array"):
        cc.numerical_gradient(np.sum, np.ones(3, dtype=np.float32))
    with pytest.raises(TypeError, match="float64 numpy array"):
        cc.numerical_gradient(np.sum, [1.0, 2.0])
    with pytest.raises(ValueError, match=r"shape \(3,\); pass dout"):
        cc.numerical_gradient(lambda v: v * 2, np.ones(3))
    with pytest.raises(ValueError, match="contiguous"):
        cc.numerical_gradient(np.sum, np.ones((4, 4))[:, :3])


class _WrongDense(cc.Dense):
    """A Dense layer whose weight gradient is off by a factor 2 (a planted bug)."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["w"] *= 2
        return dx


def test_check_layer_gradients_catches_a_wrong_backward(rng):
    layer = _WrongDense(4, 3, rng=rng)
    report = cc.check_layer_gradients(layer, randn(rng, 5, 4), rng=rng)
    errs = {name: err for name, _, err in report.rows}
    assert errs["x"] < GRAD_TOL and errs["b"] < GRAD_TOL
    assert errs["w"] > 0.1
    with pytest.raises(AssertionError, match="w: relative error"):
        report.assert_ok()
    assert "shape (3, 4)" in str(report)


# ---------------------------------------------------------------------------------------------
# conv2d_backward and conv_transpose2d
# ---------------------------------------------------------------------------------------------

CONV_GRAD_CASES = [
    pytest.param((2, 2, 5, 5), (3, 3, 3), 1, 0, 1, id="k3"),
    pytest.param((1, 2, 6, 5), (2, 2, 3), 2, 1, 1, id="stride2-pad1-kh!=kw"),
    pytest.param((2, 1, 5, 6), (2, 3, 3), 1, "same", 2, id="same-dilated"),
    pytest.param((1, 2, 4, 4), (2, 2, 2), 1, "full", 1, id="full"),
    pytest.param((1, 2, 7, 7), (2, 2, 2), 3, (2, 1), 1, id="stride>kernel-pad-pair"),
    pytest.param((2, 3, 3, 3), (2, 1, 1), 1, 0, 1, id="k1x1"),
]


@pytest.mark.parametrize("xs,ws,stride,padding,dilation", CONV_GRAD_CASES)
def test_conv2d_backward_gradcheck(xs, ws, stride, padding, dilation):
    rng = np.random.default_rng(40)
    x, w, b = randn(rng, *xs), randn(rng, ws[0], xs[1], *ws[1:]), randn(rng, ws[0])
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    dout = randn(rng, *cc.conv2d(x, w, b, **kw).shape)
    dx, dw, db = cc.conv2d_backward(dout, x, w, **kw)
    assert_grad(dx, cc.numerical_gradient(lambda v: cc.conv2d(v, w, b, **kw), x, dout), "dx")
    assert_grad(dw, cc.numerical_gradient(lambda v: cc.conv2d(x, v, b, **kw), w, dout), "dw")
    assert_grad(db, cc.numerical_gradient(lambda v: cc.conv2d(x, w, v, **kw), b, dout), "db")


@pytest.mark.parametrize("xs,ws,stride,padding,output_padding,dilation", [
    pytest.param((1, 2, 3, 3), (2, 3, 3), 1, 0, 0, 1, id="k3"),
    pytest.param((2, 2, 3, 2), (1, 2, 3), 2, 1, 1, 1, id="stride2-pad1-outpad1"),
    pytest.param((1, 1, 3, 3), (2, 2, 2), 1, 0, 1, 2, id="dilation2-outpad1"),
])
def test_conv_transpose2d_gradient_is_conv2d(xs, ws, stride, padding, output_padding, dilation):
    """The gradient of <conv_transpose2d(x, w), g> is conv2d(g, w) with respect to x (adjointness)
    and conv2d_backward's dw with input g and upstream x with respect to w."""
    rng = np.random.default_rng(41)
    x, w = randn(rng, *xs), randn(rng, xs[1], *ws)
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    f = lambda xx, ww: cc.conv_transpose2d(xx, ww, output_padding=output_padding, **kw)  # noqa: E731
    g = randn(rng, *f(x, w).shape)
    num_dx = cc.numerical_gradient(lambda v: f(v, w), x, g)
    num_dw = cc.numerical_gradient(lambda v: f(x, v), w, g)
    conv_g = cc.conv2d(g, w, **kw)
    ho, wo = xs[2:]
    assert_grad(conv_g[:, :, :ho, :wo], num_dx, "d/dx = conv2d(g, w)")
    # dw: the forward of conv2d(g, w) has upstream gradient x (zero-extended when output_padding
    # >= stride adds extra output positions)
    dout = np.zeros(conv_g.shape)
    dout[:, :, :ho, :wo] = x
    _, dw, _ = cc.conv2d_backward(dout, g, w, **kw)
    assert_grad(dw, num_dw, "d/dw")
    # and the bias gradient is the sum of g over batch and space
    b = randn(rng, ws[0])
    num_db = cc.numerical_gradient(
        lambda v: cc.conv_transpose2d(x, w, v, output_padding=output_padding, **kw), b, g)
    assert_grad(g.sum(axis=(0, 2, 3)), num_db, "db")


# ---------------------------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------------------------

MAXPOOL_GRAD_CASES = [
    pytest.param((2, 2, 4, 4), 2, None, 0, id="k2-nonoverlap"),
    pytest.param((1, 2, 5, 5), 3, 1, 0, id="k3-overlap"),
    pytest.param((2, 1, 5, 6), 3, 2, 1, id="k3-overlap-pad1"),
    pytest.param((1, 2, 6, 5), (2, 3), (1, 2), (1, 1), id="kh!=kw-overlap-pad"),
    pytest.param((1, 1, 5, 5), 2, 1, 1, id="k2-stride1-pad1"),
]


@pytest.mark.parametrize("xs,k,stride,padding", MAXPOOL_GRAD_CASES)
def test_max_pool2d_backward_gradcheck(xs, k, stride, padding):
    rng = np.random.default_rng(42)
    x = distinct(rng, *xs)                               # no ties within h
    kw = dict(stride=stride, padding=padding)
    dout = randn(rng, *cc.max_pool2d(x, k, **kw).shape)
    num = cc.numerical_gradient(lambda v: cc.max_pool2d(v, k, **kw), x, dout)
    assert_grad(cc.max_pool2d_backward(dout, x, k, **kw), num)


@pytest.mark.parametrize("xs,k,stride,padding", MAXPOOL_GRAD_CASES)
def test_avg_pool2d_backward_gradcheck(xs, k, stride, padding):
    rng = np.random.default_rng(43)
    x = randn(rng, *xs)
    kw = dict(stride=stride, padding=padding)
    dout = randn(rng, *cc.avg_pool2d(x, k, **kw).shape)
    num = cc.numerical_gradient(lambda v: cc.avg_pool2d(v, k, **kw), x, dout)
    assert_grad(cc.avg_pool2d_backward(dout, x, k, **kw), num)


@pytest.mark.parametrize("p", [1, 2, 3, 1.5])
@pytest.mark.parametrize("xs,k,stride", [
    pytest.param((2, 2, 4, 4), 2, None, id="k2"),
    pytest.param((1, 2, 5, 5), 3, 1, id="k3-overlap"),
    pytest.param((1, 1, 4, 6), (2, 3), (2, 1), id="kh!=kw"),
])
def test_lp_pool2d_backward_gradcheck(xs, k, stride, p):
    rng = np.random.default_rng(44)
    x = away_from_zero(rng, *xs, margin=0.2)            # |x| is smooth away from 0
    dout = randn(rng, *cc.lp_pool2d(x, k, p=p, stride=stride).shape)
    num = cc.numerical_gradient(lambda v: cc.lp_pool2d(v, k, p=p, stride=stride), x, dout)
    assert_grad(cc.lp_pool2d_backward(dout, x, k, p=p, stride=stride), num)


# ---------------------------------------------------------------------------------------------
# activations and softmax
# ---------------------------------------------------------------------------------------------

ACTIVATIONS = [
    pytest.param(cc.relu, cc.relu_derivative, id="relu"),
    pytest.param(cc.leaky_relu, cc.leaky_relu_derivative, id="leaky_relu"),
    pytest.param(lambda u: cc.leaky_relu(u, 0.2), lambda u: cc.leaky_relu_derivative(u, 0.2),
                 id="leaky_relu-slope0.2"),
    pytest.param(cc.sigmoid, cc.sigmoid_derivative, id="sigmoid"),
    pytest.param(cc.tanh, cc.tanh_derivative, id="tanh"),
]


@pytest.mark.parametrize("f,df", ACTIVATIONS)
def test_activation_derivative_gradcheck(f, df):
    rng = np.random.default_rng(45)
    u = away_from_zero(rng, 4, 5, margin=0.01) * 3
    dout = randn(rng, 4, 5)
    assert_grad(dout * df(u), cc.numerical_gradient(f, u, dout))


def test_activation_values_and_stability():
    u = np.array([-1000.0, -2.0, 0.0, 3.0, 1000.0])
    np.testing.assert_allclose(cc.relu(u), [0, 0, 0, 3, 1000])
    np.testing.assert_allclose(cc.leaky_relu(u, 0.1), [-100, -0.2, 0, 3, 1000])
    np.testing.assert_allclose(cc.relu_derivative(u), [0, 0, 0, 1, 1])          # 0 at the kink
    np.testing.assert_allclose(cc.leaky_relu_derivative(u, 0.1), [0.1, 0.1, 0.1, 1, 1])
    s = cc.sigmoid(u)                                   # no overflow warning (warnings are errors)
    np.testing.assert_allclose(s, [0, 1 / (1 + np.e ** 2), 0.5, 1 / (1 + np.e ** -3), 1], atol=1e-300)
    np.testing.assert_allclose(cc.tanh(u), np.tanh(u))
    # exact derivative values: sigma'(0) = 1/4, tanh'(0) = 1, sigma'(ln 3) = (3/4)(1/4) = 3/16
    assert cc.sigmoid_derivative(np.array([0.0]))[0] == 0.25
    assert cc.tanh_derivative(np.array([0.0]))[0] == 1.0
    assert cc.sigmoid_derivative(np.array([np.log(3.0)]))[0] == pytest.approx(3 / 16, rel=1e-14)
    assert cc.tanh_derivative(np.array([np.log(2.0)]))[0] == pytest.approx(1 - 0.6 ** 2, rel=1e-14)


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_backward_gradcheck(axis):
    rng = np.random.default_rng(46)
    z, g = randn(rng, 4, 5), randn(rng, 4, 5)
    num = cc.numerical_gradient(lambda v: cc.softmax(v, axis=axis), z, g)
    assert_grad(cc.softmax_backward(g, cc.softmax(z, axis=axis), axis=axis), num)


def test_softmax_jacobian_vs_numerical_and_formula():
    rng = np.random.default_rng(47)
    z = randn(rng, 5)
    jac = cc.softmax_jacobian(z)
    num = np.stack([cc.numerical_gradient(lambda v, k=k: cc.softmax(v)[k], z) for k in range(5)])
    assert_grad(jac, num)                               # row k = gradient of s_k
    s = cc.softmax(z)
    np.testing.assert_allclose(jac, np.diag(s) - np.outer(s, s), rtol=1e-12)
    np.testing.assert_allclose(jac.sum(axis=0), 0, atol=1e-15)   # softmax sums to 1
    g = randn(rng, 5)
    np.testing.assert_allclose(cc.softmax_backward(g, s), jac.T @ g, rtol=1e-12, atol=1e-15)


def test_softmax_and_log_softmax_stable():
    z = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]])
    s = cc.softmax(z)
    e = np.exp([0.0, 1.0, 2.0])
    np.testing.assert_allclose(s[0], e / e.sum(), rtol=1e-12)
    np.testing.assert_allclose(s.sum(axis=1), 1, rtol=1e-15)
    np.testing.assert_allclose(cc.log_softmax(z)[0], np.log(e / e.sum()), rtol=1e-12)
    assert cc.log_softmax(z)[1, 0] == pytest.approx(-2000.0)     # finite, not -inf


# ---------------------------------------------------------------------------------------------
# losses: loss(y) returns (value, dvalue/dy)
# ---------------------------------------------------------------------------------------------

def _loss_gradcheck(loss, y, *args, **kw):
    value, grad = loss(y, *args, **kw)
    assert isinstance(value, float)
    num = cc.numerical_gradient(lambda v: loss(v, *args, **kw)[0], y)
    assert_grad(grad, num)


def test_cross_entropy_gradcheck_and_value(rng):
    z, t = randn(rng, 5, 4), np.array([0, 3, 1, 1, 2])
    _loss_gradcheck(cc.cross_entropy, z, t)
    value, _ = cc.cross_entropy(z, t)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert value == pytest.approx(-np.mean(np.log(p[np.arange(5), t])), rel=1e-12)


def test_cross_entropy_huge_logits():
    z = np.array([[1000.0, 0.0, -1000.0], [3000.0, 3000.0, 0.0]])
    value, grad = cc.cross_entropy(z, np.array([2, 0]))
    # -log softmax: row 0 -> 2000; row 1 -> log 2 (two equal maxima); mean over 2 rows
    assert value == pytest.approx((2000.0 + np.log(2)) / 2, rel=1e-12)
    np.testing.assert_allclose(grad, [[0.5, 0, -0.5], [-0.25, 0.25, 0]], atol=1e-15)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_loss_gradcheck(rng, reduction):
    y, t = randn(rng, 4, 3), randn(rng, 4, 3)
    _loss_gradcheck(cc.mse_loss, y, t, reduction=reduction)
    value, _ = cc.mse_loss(y, t, reduction=reduction)
    total = 0.5 * np.sum((y - t) ** 2)                   # Bouvrie: E^N = 1/2 sum_n sum_k (y - t)^2
    assert value == pytest.approx(total / 4 if reduction == "mean" else total, rel=1e-12)


def test_mae_loss_gradcheck(rng):
    t = randn(rng, 4, 3)
    y = t + away_from_zero(rng, 4, 3, margin=0.01)        # y != t everywhere
    _loss_gradcheck(cc.mae_loss, y, t)
    assert cc.mae_loss(y, t)[0] == pytest.approx(np.mean(np.abs(y - t)), rel=1e-12)


def test_msle_loss_gradcheck(rng):
    y, t = rng.uniform(-0.5, 3, (4, 3)), rng.uniform(-0.5, 3, (4, 3))
    _loss_gradcheck(cc.msle_loss, y, t)
    assert cc.msle_loss(y, t)[0] == pytest.approx(np.mean((np.log(1 + y) - np.log(1 + t)) ** 2))


def test_mape_loss_gradcheck(rng):
    t = away_from_zero(rng, 4, 3, margin=0.3)
    y = t + away_from_zero(rng, 4, 3, margin=0.01)
    _loss_gradcheck(cc.mape_loss, y, t)
    assert cc.mape_loss(y, t)[0] == pytest.approx(100 * np.mean(np.abs((t - y) / t)), rel=1e-12)


def test_binary_cross_entropy_with_logits_gradcheck(rng):
    z, t = 3 * randn(rng, 4, 3), rng.uniform(0, 1, (4, 3))
    _loss_gradcheck(cc.binary_cross_entropy_with_logits, z, t)
    s = 1 / (1 + np.exp(-z))
    expected = -np.mean(t * np.log(s) + (1 - t) * np.log(1 - s))
    assert cc.binary_cross_entropy_with_logits(z, t)[0] == pytest.approx(expected, rel=1e-12)
    # huge logits: finite loss, exact limits
    value, grad = cc.binary_cross_entropy_with_logits(np.array([[800.0, -800.0]]), np.array([[0.0, 1.0]]))
    assert value == pytest.approx(800.0) and np.allclose(grad, [[0.5, -0.5]])


def test_loss_domain_errors():
    with pytest.raises(ValueError, match="y > -1"):
        cc.msle_loss(np.array([[-1.0]]), np.array([[0.0]]))
    with pytest.raises(ValueError, match="t must not contain 0"):
        cc.mape_loss(np.array([[1.0]]), np.array([[0.0]]))
    with pytest.raises(ValueError, match=r"same shape; got \(2, 3\) and \(3, 2\)"):
        cc.mse_loss(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum'; got 'max'"):
        cc.mse_loss(np.ones((2, 3)), np.ones((2, 3)), reduction="max")


# ---------------------------------------------------------------------------------------------
# layers, via check_layer_gradients (input and every parameter)
# ---------------------------------------------------------------------------------------------

def _layers(rng):
    return [
        pytest.param(cc.Conv2D(2, 3, 3, rng=rng), (2, 2, 5, 5), "normal", id="Conv2D"),
        pytest.param(cc.Conv2D(2, 2, (2, 3), stride=2, padding=1, dilation=(1, 2), rng=rng,
                               init="xavier"), (1, 2, 6, 7), "normal", id="Conv2D-strided-dilated"),
        pytest.param(cc.Conv2D(1, 2, 3, padding="same", rng=rng), (2, 1, 4, 4), "normal",
                     id="Conv2D-same"),
        pytest.param(cc.MaxPool2D(2), (2, 2, 4, 4), "distinct", id="MaxPool2D"),
        pytest.param(cc.MaxPool2D(3, stride=2, padding=1), (1, 2, 5, 5), "distinct",
                     id="MaxPool2D-overlap-pad"),
        pytest.param(cc.AvgPool2D(2, stride=1, padding=1), (2, 2, 3, 3), "normal", id="AvgPool2D"),
        pytest.param(cc.ReLU(), (3, 4), "away", id="ReLU"),
        pytest.param(cc.LeakyReLU(0.1), (2, 2, 3, 3), "away", id="LeakyReLU"),
        pytest.param(cc.Sigmoid(), (3, 4), "normal", id="Sigmoid"),
        pytest.param(cc.Tanh(), (2, 1, 3, 3), "normal", id="Tanh"),
        pytest.param(cc.Flatten(), (2, 2, 3, 3), "normal", id="Flatten"),
        pytest.param(cc.Dense(6, 4, rng=rng), (3, 6), "normal", id="Dense"),
        pytest.param(cc.Dense(5, 2, rng=rng, init="xavier"), (4, 5), "normal", id="Dense-xavier"),
        pytest.param(cc.Subsample2D(2, 2), (2, 2, 4, 4), "normal", id="Subsample2D"),
        pytest.param(cc.Subsample2D(3, (1, 2), beta=0.7), (1, 3, 3, 4), "normal",
                     id="Subsample2D-rect-beta"),
        pytest.param(cc.Sequential(cc.Conv2D(1, 2, 3, padding=1, rng=rng), cc.Tanh(),
                                   cc.MaxPool2D(2), cc.Flatten(), cc.Dense(8, 3, rng=rng)),
                     (2, 1, 4, 4), "normal", id="Sequential-conv-tanh-maxpool-dense"),
        pytest.param(cc.Sequential(cc.Conv2D(1, 2, 3, rng=rng), cc.Sigmoid(), cc.Subsample2D(2, 2),
                                   cc.Flatten(), cc.Dense(8, 2, rng=rng), cc.LeakyReLU(0.2)),
                     (2, 1, 6, 6), "normal", id="Sequential-lenet-bouvrie"),
    ]


@pytest.mark.parametrize("layer,xs,kind", _layers(np.random.default_rng(48)))
def test_layer_gradients(layer, xs, kind):
    rng = np.random.default_rng(49)
    # non-zero biases and betas so that every parameter path is exercised
    for name, p in getattr(layer, "params", {}).items():
        if name in ("b", "beta"):
            p[...] = randn(rng, *p.shape)
    for sub in getattr(layer, "layers", []):
        for name, p in sub.params.items():
            if name in ("b", "beta"):
                p[...] = randn(rng, *p.shape)
    x = {"normal": randn, "distinct": distinct, "away": away_from_zero}[kind](rng, *xs)
    report = cc.check_layer_gradients(layer, x, rng=rng)
    names = [name for name, _, _ in report.rows]
    if isinstance(layer, cc.Sequential):             # every parameter of every layer is checked
        expected = ["x"] + [f"{i}.{p}" for i, sub in enumerate(layer.layers) for p in sub.params]
    else:
        expected = ["x", *layer.params]
    assert names == expected
    report.assert_ok(GRAD_TOL)


def test_check_layer_gradients_catches_a_wrong_layer_inside_sequential(rng):
    model = cc.Sequential(cc.Dense(4, 5, rng=rng), cc.Tanh(), _WrongDense(5, 3, rng=rng))
    report = cc.check_layer_gradients(model, randn(rng, 6, 4), rng=rng)
    errs = {name: err for name, _, err in report.rows}
    assert list(errs) == ["x", "0.w", "0.b", "2.w", "2.b"]
    assert max(errs["x"], errs["0.w"], errs["0.b"], errs["2.b"]) < GRAD_TOL
    assert errs["2.w"] > 0.1
    with pytest.raises(AssertionError, match=r"2\.w: relative error"):
        report.assert_ok()
