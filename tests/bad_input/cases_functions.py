"""Bad input to the functions of cnn_core: activations, losses, convolution, pooling, shapes,
signals, map-combination penalties, checkers, gradient checks, initialisers and data."""

from __future__ import annotations

import os
import tempfile

import numpy as np

import cnn_core as cc

from framework import (Case, array_cases, emptied, has_nan, int_cases, pair_cases, raises,
                       real_cases, returns, same_as)


def lin(*shape, low=-1.0, high=1.0):
    """Distinct values from ``low`` to ``high`` in the given shape (deterministic)."""
    return np.linspace(low, high, int(np.prod(shape))).reshape(shape)


def loss_empty(k: int = 3):
    """Check for a loss of an empty batch: NaN (a mean over nothing, as PyTorch gives) and an
    empty gradient of the input's shape."""
    def check(result):
        value, grad = result
        assert np.isnan(value), f"loss {value}, expected NaN"
        assert grad.shape == (0, k), f"gradient shape {grad.shape}"
    return check


CASES: dict[str, list] = {}

# ---------------------------------------------------------------- activations
U = lin(2, 3, 4)
for _name in ("relu", "relu_derivative", "sigmoid", "sigmoid_derivative", "tanh",
              "tanh_derivative", "leaky_relu", "leaky_relu_derivative"):
    _f = getattr(cc, _name)
    _derivative = _name in ("relu_derivative", "leaky_relu_derivative")
    CASES[_name] = array_cases(_name, "u", _f, U, ndim=False,
                               nan=None if _derivative else "propagates", empty={0: emptied(lambda f=_f: f(U))})
    if _derivative:                       # PyTorch's ReLU backward: NaN is not > 0, so no slope 1
        CASES[_name].append(returns(_name, "u = NaN: the slope for u <= 0, as PyTorch's",
                                    lambda f=_f: f(np.array([np.nan, 1.0])),
                                    lambda r: np.testing.assert_equal(r[1], 1.0) or
                                    np.testing.assert_(r[0] < 1)))
for _name in ("leaky_relu", "leaky_relu_derivative"):
    CASES[_name] += real_cases(_name, "slope", lambda v, f=getattr(cc, _name): f(U, v))

Z = lin(4, 3)
for _name in ("softmax", "log_softmax"):
    _f = getattr(cc, _name)
    CASES[_name] = [
        *array_cases(_name, "z", _f, Z, ndim=False,
                     empty={0: emptied(lambda f=_f: f(Z)), 1: emptied(lambda f=_f: f(Z), axis=1)}),
        raises(_name, "z a scalar", lambda f=_f: f(1.0), ValueError, "z", "scalar"),
        raises(_name, "axis = 2 for a 2-D z", lambda f=_f: f(Z, axis=2), ValueError, "axis", "2"),
        raises(_name, "axis = 1.0 (not an int)", lambda f=_f: f(Z, axis=1.0), TypeError, "axis"),
    ]

S = cc.softmax(Z)
CASES["softmax_backward"] = [
    *array_cases("softmax_backward", "dout", lambda v: cc.softmax_backward(v, S), Z, fixed=(0, 1)),
    *array_cases("softmax_backward", "s", lambda v: cc.softmax_backward(Z, v), S, fixed=(0, 1)),
    raises("softmax_backward", "axis = -3 for 2-D arrays", lambda: cc.softmax_backward(Z, S, -3),
           ValueError, "axis", "-3"),
]
CASES["softmax_jacobian"] = array_cases(
    "softmax_jacobian", "z", cc.softmax_jacobian, lin(4),
    empty={0: lambda r: np.testing.assert_equal(r.shape, (0, 0))})

# ---------------------------------------------------------------- losses
LOGITS, LABELS = lin(4, 3), np.array([0, 2, 1, 2])
CASES["cross_entropy"] = [
    *array_cases("cross_entropy", "logits", lambda v: cc.cross_entropy(v, LABELS), LOGITS,
                 fixed=(0,), empty={0: lambda r: None}),
    raises("cross_entropy", "labels of dtype float", lambda: cc.cross_entropy(LOGITS, LABELS * 1.0),
           TypeError, "labels", "float64"),
    raises("cross_entropy", "labels of dtype bool",
           lambda: cc.cross_entropy(LOGITS, LABELS > 0), TypeError, "labels", "bool"),
    raises("cross_entropy", "labels (4, 1)", lambda: cc.cross_entropy(LOGITS, LABELS[:, None]),
           ValueError, "labels", "(4, 1)"),
    raises("cross_entropy", "labels one short (3,)", lambda: cc.cross_entropy(LOGITS, LABELS[:3]),
           ValueError, "labels", "(3,)", "(4, 3)"),
    raises("cross_entropy", "label 3 for 3 classes",
           lambda: cc.cross_entropy(LOGITS, np.array([0, 3, 1, 2])), ValueError, "labels", "3"),
    raises("cross_entropy", "label -1", lambda: cc.cross_entropy(LOGITS, np.array([0, -1, 1, 2])),
           ValueError, "labels", "-1"),
    raises("cross_entropy", "no classes (4, 0) (PyTorch raises too)",
           lambda: cc.cross_entropy(np.zeros((4, 0)), LABELS), ValueError, "labels", "0"),
    returns("cross_entropy", "an empty batch (0, 3): NaN and an empty gradient",
            lambda: cc.cross_entropy(np.zeros((0, 3)), np.zeros(0, dtype=int)), loss_empty()),
]
CASES["cross_entropy"] = [r for r in CASES["cross_entropy"]
                          if r.label != "cross_entropy: logits with an empty axis 0 (0, 3)"]

Y, T = lin(4, 3), lin(4, 3, low=-0.5, high=2.0)[::-1].copy()
for _name in ("mse_loss", "mae_loss", "msle_loss", "mape_loss", "binary_cross_entropy_with_logits"):
    _f = getattr(cc, _name)
    _y = Y + 1.5 if _name == "msle_loss" else Y           # msle needs y > -1
    _t = T + 1.0 if _name == "mape_loss" else T + 0.6      # mape needs t != 0; msle t > -1
    _yname = "z" if _name.startswith("binary") else "y"
    CASES[_name] = [
        *array_cases(_name, _yname, lambda v, f=_f, t=_t: f(v, t), _y, fixed=(0, 1), ndim=True),
        *array_cases(_name, "t", lambda v, f=_f, y=_y: f(y, v), _t, fixed=(0, 1), ndim=True),
        raises(_name, f"{_yname} a scalar", lambda f=_f: f(1.0, 1.0), ValueError, _yname, "scalar"),
        returns(_name, "an empty batch (0, 3): NaN and an empty gradient",
                lambda f=_f: f(np.zeros((0, 3)), np.ones((0, 3))), loss_empty()),
    ]
CASES["mse_loss"] += [
    raises("mse_loss", "reduction = 'none'", lambda: cc.mse_loss(Y, T, reduction="none"),
           ValueError, "reduction", "'none'"),
    raises("mse_loss", "reduction = None", lambda: cc.mse_loss(Y, T, reduction=None),
           ValueError, "reduction", "None"),
    returns("mse_loss", "an empty batch with reduction='sum': 0 (as PyTorch)",
            lambda: cc.mse_loss(np.zeros((0, 3)), np.zeros((0, 3)), reduction="sum"),
            lambda r: np.testing.assert_equal((r[0], r[1].shape), (0.0, (0, 3)))),
]
CASES["msle_loss"].append(raises("msle_loss", "y = -2 (log of a negative number)",
                                 lambda: cc.msle_loss(Y - 1.5, T + 0.6), ValueError, "y > -1"))
CASES["mape_loss"].append(raises("mape_loss", "t with a 0", lambda: cc.mape_loss(Y, T * 0),
                                 ValueError, "t", "0"))

# ---------------------------------------------------------------- convolution
X, W, B = lin(2, 3, 6, 6), lin(4, 3, 3, 3, low=-0.3, high=0.4), lin(4)
DOUT = lin(2, 4, 4, 4)
WT = lin(3, 2, 3, 3)


def _conv_settings(name, call):
    """stride, padding and dilation rows of a convolution ``call(**settings)``."""
    return [*pair_cases(name, "stride", lambda v: call(stride=v)),
            *pair_cases(name, "padding", lambda v: call(padding=v), minimum=0),
            *pair_cases(name, "dilation", lambda v: call(dilation=v))]


CASES["conv2d"] = [
    *array_cases("conv2d", "x", lambda v: cc.conv2d(v, W, B), X, fixed=(1,),
                 empty={0: emptied(lambda: cc.conv2d(X, W, B)),
                        2: (ValueError, ("kernel", "height"))}),
    *array_cases("conv2d", "w", lambda v: cc.conv2d(X, v, B), W, fixed=(1,)),
    *array_cases("conv2d", "b", lambda v: cc.conv2d(X, W, v), B, fixed=(0,)),
    *_conv_settings("conv2d", lambda **kw: cc.conv2d(X, W, B, **kw)),
    raises("conv2d", "padding = 'circular'", lambda: cc.conv2d(X, W, padding="circular"),
           ValueError, "padding", "circular"),
]
CASES["conv2d_backward"] = [
    *array_cases("conv2d_backward", "dout", lambda v: cc.conv2d_backward(v, X, W), DOUT,
                 fixed=(0, 1, 2, 3)),
    *array_cases("conv2d_backward", "x", lambda v: cc.conv2d_backward(DOUT, v, W), X, fixed=(1,)),
    *array_cases("conv2d_backward", "w", lambda v: cc.conv2d_backward(DOUT, X, v), W, fixed=(1,)),
    *_conv_settings("conv2d_backward", lambda **kw: cc.conv2d_backward(DOUT, X, W, **kw)),
    returns("conv2d_backward", "an empty batch: empty dx, zero dw and db",
            lambda: cc.conv2d_backward(DOUT[:0], X[:0], W),
            lambda r: np.testing.assert_equal((r[0].shape, r[1].any(), r[2].any()),
                                              ((0, 3, 6, 6), False, False))),
]
CASES["conv_transpose2d"] = [
    *array_cases("conv_transpose2d", "x", lambda v: cc.conv_transpose2d(v, WT), X, fixed=(1,),
                 empty={0: emptied(lambda: cc.conv_transpose2d(X, WT))}),
    *array_cases("conv_transpose2d", "w", lambda v: cc.conv_transpose2d(X, v), WT, fixed=(0,)),
    *array_cases("conv_transpose2d", "b", lambda v: cc.conv_transpose2d(X, WT, v), lin(2),
                 fixed=(0,)),
    *_conv_settings("conv_transpose2d", lambda **kw: cc.conv_transpose2d(X, WT, **kw)),
    *pair_cases("conv_transpose2d", "output_padding",
                lambda v: cc.conv_transpose2d(X, WT, stride=2, output_padding=v), minimum=0),
]
CASES["im2col"] = [
    *array_cases("im2col", "x", lambda v: cc.im2col(v, 3), X,
                 empty={0: emptied(lambda: cc.im2col(X, 3))}),
    *pair_cases("im2col", "kernel_size", lambda v: cc.im2col(X, v)),
    *_conv_settings("im2col", lambda **kw: cc.im2col(X, 3, **kw)),
]
COLS = cc.im2col(X, 3)
CASES["col2im"] = [
    *array_cases("col2im", "cols", lambda v: cc.col2im(v, X.shape, 3), COLS, fixed=(0, 1, 2)),
    raises("col2im", "x_shape (3, 6, 6) of 3 axes", lambda: cc.col2im(COLS, (3, 6, 6), 3),
           ValueError, "x_shape", "(3, 6, 6)"),
    raises("col2im", "x_shape = 'abc'", lambda: cc.col2im(COLS, "abc", 3), (TypeError, ValueError),
           "x_shape"),
    *pair_cases("col2im", "kernel_size", lambda v: cc.col2im(COLS, X.shape, v)),
]

# ---------------------------------------------------------------- pooling
XP = lin(2, 3, 4, 4)[:, :, ::-1].copy()
DP = lin(2, 3, 2, 2)


def _pool_settings(name, call, *, padding=True):
    rows = [*pair_cases(name, "kernel_size", lambda v: call(kernel_size=v)),
            *pair_cases(name, "stride", lambda v: call(stride=v))]
    if padding:
        rows += [*pair_cases(name, "padding", lambda v: call(padding=v), minimum=0),
                 raises(name, "padding over half the window", lambda: call(padding=2),
                        ValueError, "padding", "half")]
    return rows


for _name in ("max_pool2d", "avg_pool2d", "lp_pool2d", "max_pool2d_argmax", "max_pool2d_mask"):
    _f = getattr(cc, _name)
    CASES[_name] = [
        *array_cases(_name, "x", lambda v, f=_f: f(v, 2), XP,
                     empty={0: emptied(lambda f=_f: f(XP, 2)), 2: (ValueError, ("kernel",))},
                     nan=None if _name in ("max_pool2d_argmax", "max_pool2d_mask")
                     else "propagates"),
        *_pool_settings(_name, lambda f=_f, **kw: f(XP, **(dict(kernel_size=2) | kw)),
                        padding=_name != "lp_pool2d"),
    ]
CASES["lp_pool2d"] += real_cases("lp_pool2d", "p", lambda v: cc.lp_pool2d(XP, 2, p=v), below=0)
for _name in ("max_pool2d_backward", "avg_pool2d_backward", "lp_pool2d_backward"):
    _f = getattr(cc, _name)
    CASES[_name] = [
        *array_cases(_name, "dout", lambda v, f=_f: f(v, XP, 2), DP, fixed=(0, 1, 2, 3)),
        *array_cases(_name, "x", lambda v, f=_f: f(DP, v, 2), XP, fixed=(0, 1),
                     nan=None),                   # the gradient goes to NaN, not through it
        *_pool_settings(_name, lambda f=_f, **kw: f(DP, XP, **(dict(kernel_size=2) | kw)),
                        padding=_name != "lp_pool2d_backward"),
        returns(_name, "an empty batch: an empty gradient",
                lambda f=_f: f(DP[:0], XP[:0], 2),
                lambda r: np.testing.assert_equal(r.shape, (0, 3, 4, 4))),
    ]
CASES["max_pool2d_backward"] += [
    raises("max_pool2d_backward", "argmax of the wrong shape",
           lambda: cc.max_pool2d_backward(DP, XP, 2, argmax=np.zeros((2, 3, 1, 2), dtype=int)),
           ValueError, "argmax"),
    raises("max_pool2d_backward", "argmax of dtype float",
           lambda: cc.max_pool2d_backward(DP, XP, 2, argmax=np.zeros((2, 3, 2, 2))),
           TypeError, "argmax"),
]

# ---------------------------------------------------------------- shapes
for _name in ("conv_output_size", "conv_transpose_output_size"):
    _f = getattr(cc, _name)
    CASES[_name] = [
        *int_cases(_name, "n", lambda v, f=_f: f(v, 3)),
        *int_cases(_name, "k", lambda v, f=_f: f(8, v)),
        *int_cases(_name, "stride", lambda v, f=_f: f(8, 3, stride=v)),
        *int_cases(_name, "dilation", lambda v, f=_f: f(8, 3, dilation=v)),
        *int_cases(_name, "padding", lambda v, f=_f: f(8, 3, padding=v), minimum=0),
    ]
CASES["resolve_padding"] = [
    *pair_cases("resolve_padding", "padding",
                lambda v: cc.resolve_padding(v, (3, 3), (1, 1), (1, 1)), minimum=0),
    raises("resolve_padding", "padding = 'circular'",
           lambda: cc.resolve_padding("circular", (3, 3), (1, 1), (1, 1)), ValueError, "padding"),
    raises("resolve_padding", "padding = 'same' with stride (2, 2)",
           lambda: cc.resolve_padding("same", (3, 3), (1, 1), (2, 2)), ValueError, "same",
           "stride"),
    raises("resolve_padding", "kernel_size = 3 (not a pair)",
           lambda: cc.resolve_padding("same", 3, (1, 1), (1, 1)), TypeError, "kernel_size"),
]

# ---------------------------------------------------------------- signals
A2, K2 = lin(5, 5), lin(3, 3, low=0.1, high=0.9)
for _name in ("correlate2d", "convolve2d"):
    _f = getattr(cc, _name)
    CASES[_name] = [
        *array_cases(_name, "a", lambda v, f=_f: f(v, K2), A2,
                     empty={0: (ValueError, ("kernel",))}),
        *array_cases(_name, "k", lambda v, f=_f: f(A2, v), K2),
        raises(_name, "mode = 'wrap'", lambda f=_f: f(A2, K2, "wrap"), ValueError, "mode", "wrap"),
        raises(_name, "a kernel larger than the image in 'valid' mode",
               lambda f=_f: f(K2, A2), ValueError, "kernel", "(5, 5)"),
    ]
CASES["rot180"] = [
    *array_cases("rot180", "k", cc.rot180, K2, ndim=False),
    raises("rot180", "k of one axis (3,)", lambda: cc.rot180(lin(3)), ValueError, "k", "(3,)"),
]
CASES["down"] = [
    *array_cases("down", "x", lambda v: cc.down(v, 2), XP, ndim=False,
                 empty={0: emptied(lambda: cc.down(XP, 2))}),
    *pair_cases("down", "n", lambda v: cc.down(XP, v)),
    raises("down", "x of height 5, not divisible by n = 2", lambda: cc.down(lin(1, 5, 4), 2),
           ValueError, "divisible", "(1, 5, 4)"),
]
CASES["up"] = [
    *array_cases("up", "x", lambda v: cc.up(v, 2), DP, ndim=False,
                 empty={0: emptied(lambda: cc.up(DP, 2))}),
    *pair_cases("up", "n", lambda v: cc.up(DP, v)),
    raises("up", "x of one axis (4,)", lambda: cc.up(lin(4), 2), ValueError, "(4,)"),
]

# ---------------------------------------------------------------- map-combination penalties
C = lin(3, 2)
for _name in ("l1_penalty_on_alpha", "entropy_penalty", "l1_penalty_on_relu_weights"):
    _f = getattr(cc, _name)
    CASES[_name] = [
        *array_cases(_name, "c", lambda v, f=_f: f(v, 0.1), C,
                     empty={axis: (ValueError, ("at least one",)) for axis in (0, 1)}),
        *real_cases(_name, "lam", lambda v, f=_f: f(C, v), below=-0.1),
    ]
CASES["connection_table"] = [
    *array_cases("connection_table", "alpha", lambda v: cc.connection_table(v), C + 1,
                 nan=(ValueError, ("alpha",))),
    raises("connection_table", "alpha with a negative entry", lambda: cc.connection_table(C),
           ValueError, "alpha", "negative"),
    *real_cases("connection_table", "threshold", lambda v: cc.connection_table(C + 1, v),
                below=0.0, above=1.0),
]


def _write_table():
    cc.LENET5_C3_TABLE[0, 0] = False


CASES["LENET5_C3_TABLE"] = [raises("LENET5_C3_TABLE", "written to (it is read-only)",
                                   _write_table, ValueError, "read-only")]

# ---------------------------------------------------------------- checkers
CASES["assert_close"] = [
    raises("assert_close", "got complex", lambda: cc.assert_close(np.ones(2) + 1j, np.ones(2)),
           AssertionError, "complex"),
    raises("assert_close", "got of another shape", lambda: cc.assert_close(np.ones(3), np.ones(2)),
           AssertionError, "shape", "(3,)", "(2,)"),
    raises("assert_close", "got of strings", lambda: cc.assert_close(np.array(["a"]), np.ones(1)),
           AssertionError, "not a numeric array"),
    raises("assert_close", "got NaN where a number is expected",
           lambda: cc.assert_close(np.array([np.nan]), np.ones(1)), AssertionError, "NaN"),
    raises("assert_close", "expected of strings",
           lambda: cc.assert_close(np.ones(1), np.array(["a"])), TypeError, "expected"),
    raises("assert_close", "expected complex",
           lambda: cc.assert_close(np.ones(1), np.ones(1) + 1j), TypeError, "expected", "complex"),
    *real_cases("assert_close", "rtol", lambda v: cc.assert_close(1.0, 1.0, rtol=v), below=-1e-3),
    *real_cases("assert_close", "atol", lambda v: cc.assert_close(1.0, 1.0, atol=v), below=-1e-3),
    raises("assert_close", "name = 3 (not a str)", lambda: cc.assert_close(1.0, 1.0, name=3),
           TypeError, "name"),
]
_CASE = [((lin(3),), {})]
CASES["check_implementation"] = [
    raises("check_implementation", "candidate = 3 (not callable)",
           lambda: cc.check_implementation(3, cc.relu, _CASE), TypeError, "candidate"),
    raises("check_implementation", "reference = None",
           lambda: cc.check_implementation(cc.relu, None, _CASE), TypeError, "reference"),
    raises("check_implementation", "no cases",
           lambda: cc.check_implementation(cc.relu, cc.relu, []), ValueError, "cases", "empty"),
    raises("check_implementation", "cases = 3 (not a list)",
           lambda: cc.check_implementation(cc.relu, cc.relu, 3), TypeError, "cases"),
    raises("check_implementation", "a case that is not (args, kwargs)",
           lambda: cc.check_implementation(cc.relu, cc.relu, [lin(3)]), TypeError, "case 1",
           "(args, kwargs)"),
    raises("check_implementation", "a candidate that raises",
           lambda: cc.check_implementation(lambda u: u[5], cc.relu, _CASE), AssertionError,
           "raised", "IndexError", "case 1"),
]

# ---------------------------------------------------------------- gradient checks
CASES["rel_error"] = [
    *array_cases("rel_error", "a", lambda v: cc.rel_error(v, C), C, fixed=(0, 1)),
    *array_cases("rel_error", "b", lambda v: cc.rel_error(C, v), C, fixed=(0, 1)),
    returns("rel_error", "two empty arrays: 0", lambda: cc.rel_error(np.ones(0), np.ones(0)),
            lambda r: np.testing.assert_equal(r, 0.0)),
]
XG = lin(2, 3)
CASES["numerical_gradient"] = [
    raises("numerical_gradient", "f = 3 (not callable)",
           lambda: cc.numerical_gradient(3, XG.copy()), TypeError, "f"),
    raises("numerical_gradient", "x of ints",
           lambda: cc.numerical_gradient(np.sum, np.ones(3, int)), TypeError, "x", "float64"),
    raises("numerical_gradient", "x a list", lambda: cc.numerical_gradient(np.sum, [1.0, 2.0]),
           TypeError, "x"),
    raises("numerical_gradient", "x not contiguous",
           lambda: cc.numerical_gradient(np.sum, np.ones((3, 4)).T), ValueError, "contiguous"),
    raises("numerical_gradient", "dout of the wrong shape (3, 2)",
           lambda: cc.numerical_gradient(cc.relu, XG, lin(3, 2)), ValueError, "dout", "(3, 2)",
           "(2, 3)"),
    raises("numerical_gradient", "dout that would broadcast (3,)",
           lambda: cc.numerical_gradient(cc.relu, XG, lin(3)), ValueError, "dout", "(3,)"),
    raises("numerical_gradient", "an array-valued f without dout",
           lambda: cc.numerical_gradient(cc.relu, XG), ValueError, "dout", "(2, 3)"),
    raises("numerical_gradient", "dout complex",
           lambda: cc.numerical_gradient(cc.relu, XG, XG + 1j), TypeError, "dout", "complex"),
    *real_cases("numerical_gradient", "h", lambda v: cc.numerical_gradient(np.sum, XG, h=v),
                below=0.0),
]


def _dense():
    return cc.Dense(3, 2, rng=np.random.default_rng(0))


CASES["check_layer_gradients"] = [
    raises("check_layer_gradients", "layer = 3", lambda: cc.check_layer_gradients(
        3, lin(2, 3), rng=np.random.default_rng(0)), TypeError, "layer", "forward"),
    raises("check_layer_gradients", "rng = 0", lambda: cc.check_layer_gradients(
        _dense(), lin(2, 3), rng=0), TypeError, "rng", "Generator"),
    raises("check_layer_gradients", "x complex", lambda: cc.check_layer_gradients(
        _dense(), lin(2, 3) + 1j, rng=np.random.default_rng(0)), TypeError, "x", "complex"),
    raises("check_layer_gradients", "x of the wrong width (2, 4)", lambda: cc.check_layer_gradients(
        _dense(), lin(2, 4), rng=np.random.default_rng(0)), ValueError, "x", "(2, 4)"),
    *real_cases("check_layer_gradients", "h", lambda v: cc.check_layer_gradients(
        _dense(), lin(2, 3), rng=np.random.default_rng(0), h=v), below=0.0),
]
_REPORT = [("x", (2, 3), 1e-10)]
CASES["GradientReport"] = [
    raises("GradientReport", "rows = None", lambda: cc.GradientReport(None), TypeError, "rows"),
    raises("GradientReport", "rows of pairs", lambda: cc.GradientReport([("x", 1e-10)]),
           TypeError, "rows", "triples"),
]
CASES["GradientReport.assert_ok"] = [
    *real_cases("GradientReport.assert_ok", "tol",
                lambda v: cc.GradientReport(list(_REPORT)).assert_ok(v), below=0.0),
    raises("GradientReport.assert_ok", "a report with no rows",
           lambda: cc.GradientReport([]).assert_ok(), AssertionError, "no rows"),
    raises("GradientReport.assert_ok", "a NaN error", lambda: cc.GradientReport(
        [("x", (2,), float("nan"))]).assert_ok(), AssertionError, "x", "nan"),
]

# ---------------------------------------------------------------- initialisers
for _name in ("he_normal", "xavier_uniform"):
    _f = getattr(cc, _name)
    CASES[_name] = [
        raises(_name, "shape (3, 0)", lambda f=_f: f((3, 0), np.random.default_rng(0)),
               ValueError, "shape", "(3, 0)"),
        raises(_name, "shape = 3 (not a tuple)", lambda f=_f: f(3, np.random.default_rng(0)),
               TypeError, "shape"),
        raises(_name, "shape (2.5, 3)", lambda f=_f: f((2.5, 3), np.random.default_rng(0)),
               TypeError, "shape"),
        raises(_name, "shape of 3 axes", lambda f=_f: f((2, 3, 4), np.random.default_rng(0)),
               ValueError, "shape", "(2, 3, 4)"),
        raises(_name, "rng = None", lambda f=_f: f((3, 2), None), TypeError, "rng", "Generator"),
        raises(_name, "dtype = int (weights rounded to 0)",
               lambda f=_f: f((3, 2), np.random.default_rng(0), dtype=int), TypeError, "dtype"),
        raises(_name, "dtype = 'weights'",
               lambda f=_f: f((3, 2), np.random.default_rng(0), dtype="weights"), TypeError,
               "dtype"),
    ]

# ---------------------------------------------------------------- data
def _idx(raw: bytes):
    """``load_idx`` of a temporary file holding ``raw``."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "bad-idx1-ubyte")
        with open(path, "wb") as fh:
            fh.write(raw)
        return cc.data.load_idx(path)


CASES["data.load_digits"] = [
    *real_cases("data.load_digits", "test_fraction",
                lambda v: cc.data.load_digits(test_fraction=v), below=0.0, above=1.0),
    *int_cases("data.load_digits", "seed", lambda v: cc.data.load_digits(seed=v), minimum=0),
]
CASES["data.load_idx"] = [
    raises("data.load_idx", "path = 3 (a number, which open() takes as a file descriptor)",
           lambda: cc.data.load_idx(3), TypeError, "path"),
    raises("data.load_idx", "a file that does not exist",
           lambda: cc.data.load_idx("/nonexistent/train-images-idx3-ubyte"), FileNotFoundError,
           "no such file"),
    raises("data.load_idx", "a file that is not IDX", lambda: _idx(b"PK\x03\x04zip"), ValueError,
           "not an IDX file"),
    raises("data.load_idx", "a truncated body", lambda: _idx(b"\0\0\x08\x01\0\0\0\x05abc"),
           ValueError, "needs 13 bytes", "11"),
]

# ---------------------------------------------------------------- rows that fail today
# None: the 49 strict xfails of pooling, shapes, signal2d and the penalties were fixed in the
# library (a row that fails again is a regression, not an xfail).
XFAIL: dict[str, str] = {}
