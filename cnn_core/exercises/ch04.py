"""Checkers for the exercises of chapter 4, pooling.

The references are the library's pooling functions (tile views and
scatters, not the loops a student writes), and a computed value for the
derivation on L^p pooling.
"""

import math

import numpy as np

import cnn_core as cc

from ._core import Case, Exercise, Mistake, register

# ex-pool-max-loops: max pooling with stride and padding, by loops


def _max_ref(x, k, stride=None, padding=0):
    return cc.max_pool2d(x, k, stride=stride, padding=padding)


def _max_cases(rng):
    below_zero = -np.abs(rng.standard_normal((1, 2, 5, 5))) - 0.1
    return [Case((rng.standard_normal((2, 2, 6, 6)), 2)),
            Case((below_zero, 3), {"stride": 2, "padding": 1}),
            Case((rng.standard_normal((1, 1, 7, 6)), 2), {"stride": 3}),
            Case((rng.standard_normal((2, 1, 5, 7)) - 1.0, 3),
                 {"stride": 1, "padding": 1})]


def _max_zero_padded(x, k, stride=None, padding=0):
    P = padding
    x_pad = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)))      # zeros
    return cc.max_pool2d(x_pad, k, stride=stride)


def _max_one_side(x, k, stride=None, padding=0):
    P = padding
    x_pad = np.pad(x, ((0, 0), (0, 0), (P, 0), (P, 0)),
                   constant_values=-np.inf)
    return cc.max_pool2d(x_pad, k, stride=stride)


register(Exercise(
    label="ex-pool-max-loops",
    what="max pooling with a k×k window, stride and padding",
    reference=_max_ref,
    cases=_max_cases,
    mistakes=(
        Mistake("padded with zeros", _max_zero_padded,
                "where every value of a window is negative you return 0: "
                "you padded with zeros; pad with -inf, which never wins"),
        Mistake("stride ignored",
                lambda x, k, stride=None, padding=0:
                cc.max_pool2d(x, k, stride=1, padding=padding),
                "the windows move by one pixel: window (i, j) starts at "
                "(s*i, s*j), with s = k when stride is None"),
        Mistake("padding on one side only", _max_one_side,
                "the output is too small: pad P rows and columns on each "
                "side (top and bottom, left and right)"),
    ),
))

# ex-pool-mask: the mask of the first maximum, non-overlapping windows


def _mask_cases(rng):
    ties = np.maximum(rng.integers(-3, 4, size=(2, 3, 6, 6)), 0)
    tied = np.array([[[[0.0, 0.0, 1.0, 3.0],
                       [0.0, 0.0, 0.0, 3.0],
                       [2.0, 1.0, 4.0, 6.0],
                       [5.0, 5.0, 1.0, 2.0]]]])
    return [Case((tied, 2)), Case((ties.astype(float), 2)),
            Case((ties.astype(float), 3)),
            Case((rng.standard_normal((1, 2, 8, 4)), 2))]


def _mask_every_tie(x, k):
    return x == cc.up(cc.max_pool2d(x, k), k)


def _mask_last(x, k):
    # the last maximum in row-major order: the first one of the image
    # turned by 180° (each window's order is reversed too)
    flipped = x[..., ::-1, ::-1]
    return cc.max_pool2d_mask(flipped, k)[..., ::-1, ::-1]


register(Exercise(
    label="ex-pool-mask",
    what="the mask of the first maximum of each k×k window",
    reference=lambda x, k: cc.max_pool2d_mask(x, k),
    cases=_mask_cases,
    mistakes=(
        Mistake("every tie marked", _mask_every_tie,
                "you marked every element equal to its window's maximum: "
                "on a tie only the first maximum in row-major order wins"),
        Mistake("last maximum", _mask_last,
                "on ties you marked the last maximum: the first one in "
                "row-major order (smallest u, then smallest v) wins, as "
                "argmax returns it"),
    ),
))

# ex-pool-avg-backward: the gradient of average pooling, by loops


def _avg_back_ref(delta, x, k, stride=None):
    return cc.avg_pool2d_backward(delta, x, k, stride=stride)


def _avg_back_cases(rng):
    def case(shape, k, stride=None):
        x = rng.standard_normal(shape)
        y = cc.avg_pool2d(x, k, stride=stride)
        delta = rng.standard_normal(y.shape)
        conf = {} if stride is None else {"stride": stride}
        return Case((delta, x, k), conf)
    return [case((2, 2, 7, 7), 3, 2),                  # overlapping
            case((1, 3, 6, 4), 2),                     # tiles
            case((1, 1, 5, 6), 2, 1),                  # overlapping
            case((2, 1, 7, 5), 2, 3)]                  # gaps


def _avg_back_assigned(delta, x, k, stride=None):
    # dx[window] = ... instead of +=: overlaps keep the last window only
    s = k if stride is None else stride
    dx = np.zeros_like(x)
    H_out, W_out = delta.shape[2:]
    for i in range(H_out):
        for j in range(W_out):
            share = delta[:, :, i, j, None, None] / k**2
            dx[:, :, s * i:s * i + k, s * j:s * j + k] = share
    return dx


register(Exercise(
    label="ex-pool-avg-backward",
    what="∂E/∂x of average pooling, given δ = ∂E/∂z",
    reference=_avg_back_ref,
    cases=_avg_back_cases,
    mistakes=(
        Mistake("not divided by k²",
                lambda delta, x, k, stride=None:
                k**2 * _avg_back_ref(delta, x, k, stride),
                "your gradient is k² times too large: that is the "
                "gradient of a sum; the mean divides each window by k²"),
        Mistake("divided by k",
                lambda delta, x, k, stride=None:
                k * _avg_back_ref(delta, x, k, stride),
                "your gradient is k times too large: a k×k window has "
                "k² elements, so each receives δ/k²"),
        Mistake("not accumulated", _avg_back_assigned,
                "where windows overlap a pixel gets the share of every "
                "window that contains it: add (+=), do not assign (=)"),
    ),
))

# ex-pool-lp-limit: how large must p be for L^p pooling to be near max?

_K, _TOL = 3, 0.01
_P_NEEDED = math.ceil(math.log(_K * _K) / math.log(1 + _TOL))

register(Exercise(
    label="ex-pool-lp-limit",
    what="the smallest integer p that guarantees a gap of at most 1 %",
    reference=_P_NEEDED,
    mistakes=(
        Mistake("k instead of k²",
                math.ceil(math.log(_K) / math.log(1 + _TOL)),
                "a 3×3 window holds k² = 9 values, not 3: the bound is "
                "(k²)^(1/p) times the maximum"),
        Mistake("rounded down or ln(1.01) taken as 0.01",
                math.floor(math.log(_K * _K) / math.log(1 + _TOL)),
                "just too small: with this p, 9^(1/p) is still above 1.01."
                " Round up, and do not replace ln(1.01) by 0.01"),
        Mistake("p for the L^2 norm", 2,
                "p = 2 is L² pooling, which can be up to k = 3 times the "
                "maximum; solve (k²)^(1/p) <= 1.01 for p"),
    ),
))

# ex-pool-l2-backward: the gradient of L^2 pooling (a derivation)


def _l2_back_ref(delta, x, k):
    return cc.lp_pool2d_backward(delta, x, k, p=2)


def _l2_back_cases(rng):
    def case(shape, k):
        x = rng.standard_normal(shape)
        delta = rng.standard_normal(cc.lp_pool2d(x, k, p=2).shape)
        return Case((delta, x, k))
    return [case((2, 2, 4, 6), 2), case((1, 3, 6, 6), 3),
            case((1, 1, 8, 4), 2)]


def _l2_back_no_sqrt(delta, x, k):
    # the derivative of the sum of squares, without the square root
    return 2 * x * cc.up(delta, k)


def _l2_back_squared(delta, x, k):
    y = cc.lp_pool2d(x, k, p=2)
    return x * cc.up(delta / y**2, k)


register(Exercise(
    label="ex-pool-l2-backward",
    what="∂E/∂x of L² pooling with non-overlapping k×k windows",
    reference=_l2_back_ref,
    cases=_l2_back_cases,
    mistakes=(
        Mistake("square root forgotten", _l2_back_no_sqrt,
                "2x is the gradient of the sum of squares: the chain rule "
                "through the square root divides by 2 * sqrt(sum) = 2z"),
        Mistake("divided by z²", _l2_back_squared,
                "you divided by z²: the chain rule through the square "
                "root gives ∂z/∂x = 2x / (2z) = x / z"),
        Mistake("δ not spread",
                lambda delta, x, k:
                x / cc.up(cc.lp_pool2d(x, k, p=2), k),
                "that is ∂z/∂x alone: multiply by δ of the window "
                "(copied over it with up) for ∂E/∂x"),
    ),
))
