"""Checkers for the exercises of chapter 11, batch normalization.

The references are the loops of :mod:`cnn_core.naive` (the forward pass
summed value by value, the backward pass from the full Jacobian of each
channel) and the layer :class:`cnn_core.BatchNorm2D` for the running
statistics, never the vectorised three-term formula a student writes.
"""

import numpy as np

import cnn_core as cc
from cnn_core import naive

from ._core import Case, Exercise, Mistake, register

_AXES = (0, 2, 3)


def _channel(v):
    return np.asarray(v)[None, :, None, None]


# ex-bn-forward: the forward pass in training mode


def _forward_cases(rng):
    def case(shape, loc, scale, eps):
        N, C = shape[:2]
        x = loc + scale * rng.standard_normal(shape)
        gamma = 1.0 + 0.5 * rng.standard_normal(C)
        beta = rng.standard_normal(C)
        return Case((x, gamma, beta, eps))
    # the first case (N > 1, H W > 1, small variance) tells every mistake
    # apart; then a batch of 1x1 maps and a batch of one example
    return [case((4, 3, 3, 2), 2.0, 0.05, 1e-3),
            case((3, 2, 4, 4), -1.0, 3.0, 1e-5),
            case((6, 4, 1, 1), 0.5, 1.0, 1e-2),
            case((1, 2, 3, 5), 0.0, 2.0, 1e-5)]


def _forward_reference(x, gamma, beta, eps):
    return naive.batch_norm2d_naive(x, gamma, beta, eps=eps)


def _forward_with(x, gamma, beta, eps, axes=_AXES, ddof=0, eps_inside=True):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True, ddof=ddof)
    std = np.sqrt(var + eps) if eps_inside else np.sqrt(var) + eps
    return _channel(gamma) * (x - mean) / std + _channel(beta)


register(Exercise(
    label="ex-bn-forward",
    what="batch normalization of x (N, C, H, W) with the batch's statistics",
    reference=_forward_reference,
    cases=_forward_cases,
    mistakes=(
        Mistake("unbiased variance",
                lambda x, g, b, e: _forward_with(x, g, b, e, ddof=1),
                "you divided by N H W - 1: batch normalization uses the "
                "biased variance, the mean of the squared deviations "
                "(np.var's default ddof=0)."),
        Mistake("statistics per example",
                lambda x, g, b, e: _forward_with(x, g, b, e, axes=(2, 3)),
                "you took the statistics of each example separately "
                "(axes 2, 3): batch normalization pools the N H W values "
                "of a channel over the whole batch, axis=(0, 2, 3)."),
        Mistake("statistics per position",
                lambda x, g, b, e: _forward_with(x, g, b, e, axes=(0,)),
                "you took the statistics over the batch axis only, one "
                "pair per position (i, j): a convolutional batch norm "
                "shares them over the positions too, axis=(0, 2, 3)."),
        Mistake("epsilon outside the square root",
                lambda x, g, b, e: _forward_with(x, g, b, e,
                                                 eps_inside=False),
                "you divided by sqrt(var) + eps: epsilon goes inside the "
                "square root, sqrt(var + eps)."),
        Mistake("gamma and beta forgotten",
                lambda x, g, b, e: _forward_with(x, np.ones_like(g),
                                                 np.zeros_like(b), e),
                "you returned x-hat: the layer's output is "
                "gamma_c x-hat + b_c (beta is the API's name for b_c)."),
    ),
))

# ex-bn-backward: the three-term backward pass


def _backward_cases(rng):
    def case(shape, scale, eps):
        x = 1.0 + scale * rng.standard_normal(shape)
        dout = rng.standard_normal(shape)
        gamma = 1.0 + 0.5 * rng.standard_normal(shape[1])
        return Case((dout, x, gamma, eps))
    return [case((3, 2, 2, 3), 2.0, 1e-5), case((2, 3, 3, 3), 0.1, 1e-3),
            case((5, 2, 1, 1), 1.0, 1e-5), case((1, 1, 4, 3), 1.0, 1e-2)]


def _backward_reference(dout, x, gamma, eps):
    return naive.batch_norm2d_backward_naive(dout, x, gamma, eps=eps)


def _backward_with(dout, x, gamma, eps, mean_term=True, xhat_term=True):
    mean = x.mean(axis=_AXES, keepdims=True)
    inv_std = 1.0 / np.sqrt(x.var(axis=_AXES, keepdims=True) + eps)
    x_hat = (x - mean) * inv_std
    dx = dout.copy()
    if mean_term:
        dx -= dout.mean(axis=_AXES, keepdims=True)
    if xhat_term:
        dx -= x_hat * (dout * x_hat).mean(axis=_AXES, keepdims=True)
    dx *= _channel(gamma) * inv_std
    return dx, (dout * x_hat).sum(axis=_AXES), dout.sum(axis=_AXES)


register(Exercise(
    label="ex-bn-backward",
    what="(dx, dgamma, dbeta) of batch normalization in training mode",
    reference=_backward_reference,
    cases=_backward_cases,
    mistakes=(
        Mistake("statistics treated as constants",
                lambda d, x, g, e: _backward_with(d, x, g, e, False, False),
                "you returned gamma delta / sqrt(var + eps): that treats "
                "mean_c and var_c as constants. Both depend on every value "
                "of the channel: follow the chain rule through them too."),
        Mistake("x-hat term missing",
                lambda d, x, g, e: _backward_with(d, x, g, e, True, False),
                "the term -x-hat mean_c(delta x-hat) is missing: it is the "
                "path through the variance var_c."),
        Mistake("mean term missing",
                lambda d, x, g, e: _backward_with(d, x, g, e, False, True),
                "the term -mean_c(delta) is missing: it is the path through "
                "the mean mean_c."),
    ),
))

# ex-bn-running: the running statistics, as PyTorch keeps them


def _running_cases(rng):
    def batches(shape, count):          # K batches stacked: (K, N, C, H, W)
        return 2.0 + 3.0 * rng.standard_normal((count, *shape))
    return [Case((batches((4, 2, 3, 3), 3), 0.1)),
            Case((batches((2, 3, 2, 2), 5), 0.5)),
            Case((batches((8, 1, 1, 1), 2), 1.0)),
            Case((batches((1, 2, 4, 4), 1), 0.01))]


def _running_reference(batches, momentum):
    layer = cc.BatchNorm2D(batches[0].shape[1], momentum=momentum)
    for x in batches:
        layer.forward(x)
    return layer.running_mean.copy(), layer.running_var.copy()


def _running_with(batches, momentum, ddof=1, keras=False, start=None):
    C = batches[0].shape[1]
    mean, var = np.zeros(C), np.ones(C)
    for k, x in enumerate(batches):
        m, v = x.mean(axis=_AXES), x.var(axis=_AXES, ddof=ddof)
        if k == 0 and start == "first":
            mean, var = m, v
            continue
        if keras:
            mean = momentum * mean + (1 - momentum) * m
            var = momentum * var + (1 - momentum) * v
        else:
            mean = (1 - momentum) * mean + momentum * m
            var = (1 - momentum) * var + momentum * v
    return mean, var


register(Exercise(
    label="ex-bn-running",
    what="(running_mean, running_var) after the given training batches",
    reference=_running_reference,
    cases=_running_cases,
    mistakes=(
        Mistake("biased running variance",
                lambda b, k: _running_with(b, k, ddof=0),
                "the running variance uses the unbiased estimate, "
                "var_c NHW/(NHW - 1), as PyTorch keeps it; the batch is "
                "normalised with the biased one."),
        Mistake("momentum on the old value",
                lambda b, k: _running_with(b, k, keras=True),
                "kappa weighs the new batch value: running <- (1 - kappa) "
                "running + kappa value. (Keras's momentum is 1 - kappa.)"),
        Mistake("started from the first batch",
                lambda b, k: _running_with(b, k, start="first"),
                "the running statistics start at mean 0 and variance 1 "
                "and the first batch is averaged in like every other."),
    ),
))

# ex-bn-scale: the gradient of a conv layer followed by batch norm


SCALE = 4.0        # the weights are multiplied by this factor

register(Exercise(
    label="ex-bn-scale",
    what="the factor by which |dE/dw| changes when w becomes 4 w",
    reference=1.0 / SCALE,
    rtol=1e-9,
    mistakes=(
        Mistake("scales with w", SCALE,
                "that is how the gradient of the *input* of a linear "
                "layer scales with its weights; here E(a w) = E(w): "
                "differentiate both sides with respect to w."),
        Mistake("unchanged", 1.0,
                "the loss does not change with the scale, but its gradient "
                "does: differentiate E(a w) = E(w) with the chain rule."),
        Mistake("1/a squared", 1.0 / SCALE ** 2,
                "1/a^2 is how the *relative* step |Delta w|/|w| of gradient "
                "descent changes; the gradient itself changes by 1/a."),
    ),
))
