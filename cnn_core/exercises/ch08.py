"""Checkers for the exercises of chapter 8, learned combinations of feature maps.

The logits theta have shape (C, F): row c is an input map, column f an output
map, and the weights alpha[:, f] = softmax(theta[:, f]) sum to one over the
inputs c. The references use ``cnn_core``'s softmax and its vector-Jacobian
product, not the closed forms the student derives.
"""

import numpy as np

import cnn_core as cc

from ._core import Case, Exercise, Mistake, register


def _softmax_naive(theta, axis):
    # the textbook formula without the max shift (overflows for large theta)
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(theta)
        return e / e.sum(axis=axis, keepdims=True)


# ex-comb-alpha: the mixing weights, a softmax over the input maps


def _alpha_cases(rng):
    return [Case((rng.standard_normal((3, 4)),)),
            Case((rng.standard_normal((6, 16)),)),
            Case((rng.standard_normal((4, 4)),)),            # C = F
            Case((400.0 * rng.standard_normal((5, 3)),))]    # large logits


register(Exercise(
    label="ex-comb-alpha",
    what="alpha (C, F): the softmax of theta over the input maps",
    reference=lambda theta: cc.softmax(theta, axis=0),
    cases=_alpha_cases,
    mistakes=(
        Mistake("normalised over the output maps",
                lambda theta: cc.softmax(theta, axis=1),
                "the weights were normalised over the output maps f (axis "
                "1): each output map's weights alpha[:, f] must sum to one "
                "over the input maps c, axis 0"),
        Mistake("no shift before exp",
                lambda theta: _softmax_naive(theta, 0),
                "exp overflowed for large logits (inf / inf = nan): "
                "subtract each column's maximum before exp; the softmax "
                "does not change"),
    ),
))

# ex-comb-dc: dE/dtheta from dE/dalpha, without a Jacobian


def _dc_cases(rng):
    return [Case((rng.standard_normal((3, 3)), rng.standard_normal((3, 3)))),
            Case((rng.standard_normal((6, 16)),
                  rng.standard_normal((6, 16)))),
            Case((rng.standard_normal((2, 1)), rng.standard_normal((2, 1)))),
            Case((rng.standard_normal((5, 3)), rng.standard_normal((5, 3))))]


def _dc_ref(theta, grad_alpha):
    return cc.softmax_backward(grad_alpha, cc.softmax(theta, axis=0), axis=0)


def _dc_wrong_axis(theta, grad_alpha):
    alpha = cc.softmax(theta, axis=1)
    mean = (grad_alpha * alpha).sum(axis=1, keepdims=True)
    return alpha * (grad_alpha - mean)


register(Exercise(
    label="ex-comb-dc",
    what="dE/dtheta (C, F) from theta and dE/dalpha",
    reference=_dc_ref,
    cases=_dc_cases,
    mistakes=(
        Mistake("softmax over the output maps", _dc_wrong_axis,
                "the softmax (and the weighted mean) ran over the output "
                "maps, axis 1: the weights of output map f are a softmax "
                "over the inputs c, so both sums run over axis 0"),
        Mistake("mean not subtracted",
                lambda theta, g: cc.softmax(theta, axis=0) * g,
                "you returned alpha * dE/dalpha: the softmax Jacobian also "
                "subtracts the alpha-weighted mean of dE/dalpha over the "
                "column (raising one theta lowers the other weights)"),
    ),
))

# ex-comb-relu-l1: the L1 penalty on relu weights and its gradient


def _l1_cases(rng):
    def away_from_zero(shape):
        t = rng.standard_normal(shape)
        return np.sign(t) * (0.05 + np.abs(t))
    return [Case((away_from_zero((3, 4)), 0.1)),
            Case((away_from_zero((6, 16)), 0.01)),
            Case((away_from_zero((2, 5)), 1.0))]


def _l1_ref(theta, lam):
    value, grad = cc.l1_penalty_on_relu_weights(theta, lam)
    return float(value), grad


register(Exercise(
    label="ex-comb-relu-l1",
    what="(value, gradient) of lam * sum relu(theta)",
    reference=_l1_ref,
    cases=_l1_cases,
    mistakes=(
        Mistake("absolute value of theta",
                lambda theta, lam: (lam * float(np.abs(theta).sum()),
                                    lam * np.sign(theta)),
                "you penalised |theta|: the weights are alpha = relu(theta), "
                "so a cut connection (theta <= 0) costs nothing and gets "
                "no gradient"),
        Mistake("gradient on cut weights",
                lambda theta, lam: (lam * float(np.maximum(theta, 0).sum()),
                                    lam * np.ones_like(theta)),
                "the gradient is lam everywhere: relu'(theta) = 0 where "
                "theta <= 0, so cut connections get gradient 0"),
    ),
))

# ex-comb-sqrt: the sum-of-square-roots penalty on softmax weights


def _sqrt_cases(rng):
    return [Case((rng.standard_normal((3, 4)), 0.1)),
            Case((rng.standard_normal((6, 16)), 0.5)),
            Case((2.0 * rng.standard_normal((4, 2)), 1.0))]


def _sqrt_ref(theta, lam):
    alpha = cc.softmax(theta, axis=0)
    d_alpha = lam / (2.0 * np.sqrt(alpha))
    return (lam * float(np.sqrt(alpha).sum()),
            cc.softmax_backward(d_alpha, alpha, axis=0))


register(Exercise(
    label="ex-comb-sqrt",
    what="(value, gradient with respect to theta) of lam * sum sqrt(alpha)",
    reference=_sqrt_ref,
    cases=_sqrt_cases,
    mistakes=(
        Mistake("gradient with respect to alpha",
                lambda theta, lam: (
                    _sqrt_ref(theta, lam)[0],
                    lam / (2.0 * np.sqrt(cc.softmax(theta, axis=0)))),
                "you returned dOmega/dalpha = lam / (2 sqrt(alpha)): the "
                "chain rule through the softmax (eq-comb-dc) is missing"),
        Mistake("softmax over the output maps",
                lambda theta, lam: tuple(
                    x.T if isinstance(x, np.ndarray) else x
                    for x in _sqrt_ref(theta.T, lam)),
                "the softmax ran over the output maps, axis 1: alpha[:, f] "
                "is a softmax over the input maps c, axis 0"),
    ),
))
