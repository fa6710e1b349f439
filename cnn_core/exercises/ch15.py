"""Checkers for the exercises of chapter 15, global average pooling and
strided convolutions.

The references are the library's functions (global_avg_pool2d_backward,
lp_pool2d_backward, lp_pool2d, conv_output_size), not the loops or the
reshapes a student writes.
"""

import numpy as np

import cnn_core as cc

from ._core import Case, Exercise, Mistake, register

# ex-gap-backward: the gradient of global average pooling


def _gap_back_cases(rng):
    return [Case((rng.standard_normal((2, 3)), (2, 3, 4, 5))),
            Case((rng.standard_normal((1, 2)), (1, 2, 7, 3))),
            Case((rng.standard_normal((3, 1)), (3, 1, 1, 6)))]


register(Exercise(
    label="ex-gap-backward",
    what="∂E/∂x of global average pooling, given δ of shape (N, C)",
    reference=lambda delta, x_shape:
    cc.global_avg_pool2d_backward(delta, x_shape),
    cases=_gap_back_cases,
    mistakes=(
        Mistake("not divided by H·W",
                lambda delta, x_shape:
                np.broadcast_to(delta[:, :, None, None], x_shape).copy(),
                "your gradient is H·W times too large: that is the "
                "gradient of the sum over the map; the mean divides every "
                "share by H·W"),
        Mistake("divided by H² (or W²)",
                lambda delta, x_shape:
                np.broadcast_to(delta[:, :, None, None]
                                / x_shape[2] ** 2, x_shape).copy(),
                "a map has H·W elements, not H²: the maps of the checker "
                "are not square"),
        Mistake("divided by N·H·W",
                lambda delta, x_shape:
                np.broadcast_to(delta[:, :, None, None]
                                / (x_shape[0] * x_shape[2] * x_shape[3]),
                                x_shape).copy(),
                "the mean is over the positions (i, j) of one map, not "
                "over the batch: divide by H·W only"),
    ),
))

# ex-gap-lp-backward: the gradient of L^p pooling, non-overlapping windows


def _lp_ref(delta, x, k, p):
    return cc.lp_pool2d_backward(delta, x, k, p=p)


def _lp_cases(rng):
    def case(shape, k, p, signed):
        x = rng.standard_normal(shape)
        x = x if signed else np.abs(x) + 0.1
        delta = rng.standard_normal(cc.lp_pool2d(x, k, p=p).shape)
        return Case((delta, x, k, p))
    return [case((2, 2, 4, 6), 2, 3.0, False),
            case((1, 3, 6, 6), 3, 2.5, False),
            case((1, 2, 4, 8), 2, 4.0, True),
            case((2, 1, 6, 3), 3, 1.5, True)]


def _lp_exponent_p(delta, x, k, p):
    y = cc.lp_pool2d(x, k, p=p)
    return np.sign(x) * np.abs(x) ** p * cc.up(delta / y ** (p - 1), k)


def _lp_no_norm_factor(delta, x, k, p):
    return np.sign(x) * np.abs(x) ** (p - 1) * cc.up(delta, k)


def _lp_no_sign(delta, x, k, p):
    y = cc.lp_pool2d(x, k, p=p)
    return np.abs(x) ** (p - 1) * cc.up(delta / y ** (p - 1), k)


register(Exercise(
    label="ex-gap-lp-backward",
    what="∂E/∂x of L^p pooling with non-overlapping k×k windows",
    reference=_lp_ref,
    cases=_lp_cases,
    mistakes=(
        Mistake("exponent p instead of p - 1", _lp_exponent_p,
                "the derivative of |x|^p is p |x|^(p-1) sign(x): the "
                "exponent drops by one"),
        Mistake("the (Σ|x|^p)^(1/p - 1) factor missing", _lp_no_norm_factor,
                "the chain rule through the outer power 1/p gives the "
                "factor (1/p)(Σ|x|^p)^(1/p - 1) = (1/p) y^(1-p): divide "
                "by y^(p-1) of the window"),
        Mistake("sign forgotten", _lp_no_sign,
                "right on positive inputs, wrong on negative ones: the "
                "derivative of |x| is sign(x)"),
    ),
))

# ex-gap-stride-sizes: output sizes of three stride-2 convolutions

_SIZES = []
_h = 28
for _ in range(3):
    _h = cc.conv_output_size(_h, 3, stride=2, padding=1)
    _SIZES.append(_h)

register(Exercise(
    label="ex-gap-stride-sizes",
    what="the three output heights (a tuple of ints)",
    reference=tuple(_SIZES),
    mistakes=(
        Mistake("padding forgotten", (13, 6, 2),
                "these are the sizes without padding: each layer adds "
                "P = 1 row on each side, H + 2P - k = H - 1"),
        Mistake("halved and rounded down", (14, 7, 3),
                "7 is odd: the formula gives floor((7 + 2 - 3) / 2) + 1 "
                "= 4, not floor(7 / 2)"),
    ),
))

# ex-gap-lp-euler: Euler's identity for L^p pooling (a derivation)


def _euler_cases(rng):
    return [Case((np.abs(rng.standard_normal((2, 2, 4, 6))) + 0.1, 2, 3.0)),
            Case((rng.standard_normal((1, 3, 6, 6)), 3, 2.0)),
            Case((rng.standard_normal((1, 1, 4, 4)), 2, 1.5))]


def _euler_no_x(x, k, p):
    ones = np.ones(cc.lp_pool2d(x, k, p=p).shape)
    return cc.down(cc.lp_pool2d_backward(ones, x, k, p=p), k)


def _euler_mean(x, k, p):
    ones = np.ones(cc.lp_pool2d(x, k, p=p).shape)
    return cc.avg_pool2d(x * cc.lp_pool2d_backward(ones, x, k, p=p), k)


register(Exercise(
    label="ex-gap-lp-euler",
    what="Σ over each window of x · ∂y/∂x, for L^p pooling",
    reference=lambda x, k, p: cc.lp_pool2d(x, k, p=p),
    cases=_euler_cases,
    mistakes=(
        Mistake("x left out", _euler_no_x,
                "you summed the gradient alone: Euler's identity weights "
                "each ∂y/∂x by its own x"),
        Mistake("mean instead of sum", _euler_mean,
                "you averaged over the window: the identity sums over it "
                "(k² times your value)"),
    ),
))
