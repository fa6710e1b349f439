"""Checkers for the exercises of chapter 5, activations and losses."""

from __future__ import annotations

import numpy as np

import cnn_core as cc

from ._core import Case, Exercise, Mistake, register


# --- ex-net-mse-sigmoid-grad: dE/dz of E = 1/2 sum (sigma(z) - t)^2 --------------------------

def _mse_sigmoid_reference(z, t):
    # backpropagation through cnn_core's layers, not the formula the student writes
    layer = cc.Sigmoid()
    _, dy = cc.mse_loss(layer.forward(z), t, reduction="sum")
    return layer.backward(dy)


def _mse_sigmoid_cases(rng):
    return [Case((4 * rng.standard_normal((3, 2)), rng.uniform(0, 1, (3, 2))))
            for _ in range(3)] + [Case((np.array([[-8.0, 0.0, 8.0]]), np.ones((1, 3))))]


register(Exercise(
    label="ex-net-mse-sigmoid-grad",
    what="dE/dz for E = 1/2 sum (sigmoid(z) - t)^2",
    reference=_mse_sigmoid_reference,
    cases=_mse_sigmoid_cases,
    mistakes=(
        Mistake("factor sigma' forgotten", lambda z, t: cc.sigmoid(z) - t,
                "you returned sigma(z) - t: that is the gradient of the cross-entropy. "
                "The chain rule through the sigmoid multiplies by sigma'(z) = "
                "sigma(z) (1 - sigma(z))."),
        Mistake("derivative taken at the wrong place",
                lambda z, t: (cc.sigmoid(z) - t) * z * (1 - z),
                "you multiplied by z (1 - z): the derivative of the sigmoid is "
                "sigma(z) (1 - sigma(z)), evaluated at the sigmoid, not at z."),
    ),
))


# --- ex-net-ce-grad: the gradient of the mean cross-entropy with respect to the logits --------

def _ce_by_loops(z, t):
    """Mean cross-entropy of logits z (N, M) and labels t (N,), written out element by element."""
    n_examples, n_classes = z.shape
    total = 0.0
    for n in range(n_examples):
        top = max(z[n])
        log_sum = top + np.log(sum(np.exp(z[n, m] - top) for m in range(n_classes)))
        total += log_sum - z[n, t[n]]
    return total / n_examples


def _ce_grad_reference(z, t):
    # central differences of the loss written as loops: independent of softmax - onehot
    z = np.array(z, dtype=np.float64)
    grad = np.zeros_like(z)
    h = 1e-5
    for index in np.ndindex(*z.shape):
        old = z[index]
        z[index] = old + h
        plus = _ce_by_loops(z, t)
        z[index] = old - h
        minus = _ce_by_loops(z, t)
        z[index] = old
        grad[index] = (plus - minus) / (2 * h)
    return grad


def _onehot(t, n_classes):
    return np.eye(n_classes)[t]


def _ce_grad_cases(rng):
    cases = [Case((rng.standard_normal((n, m)), rng.integers(0, m, n)))
             for n, m in ((3, 4), (5, 3), (2, 6))]
    cases.append(Case((30 * rng.standard_normal((4, 5)), np.array([0, 4, 4, 2]))))
    return cases


register(Exercise(
    label="ex-net-ce-grad",
    what="dE/dz of the mean cross-entropy, logits z (N, M), labels t (N,)",
    reference=_ce_grad_reference,
    cases=_ce_grad_cases,
    rtol=1e-5, atol=1e-8,
    mistakes=(
        Mistake("no 1/N", lambda z, t: cc.softmax(z) - _onehot(t, z.shape[1]),
                "every entry is N times too large: the loss is a mean over the batch, "
                "so its gradient carries the factor 1/N."),
        Mistake("sign", lambda z, t: (_onehot(t, z.shape[1]) - cc.softmax(z)) / len(z),
                "the sign is reversed: E = -log y_t decreases when z_t grows, so "
                "dE/dz = (softmax(z) - onehot(t))/N, not onehot(t) - softmax(z)."),
        Mistake("no 1/N and sign", lambda z, t: _onehot(t, z.shape[1]) - cc.softmax(z),
                "both the sign and the factor 1/N are missing: the gradient of the "
                "mean is (softmax(z) - onehot(t))/N."),
    ),
))


# --- ex-act-stable-softmax: softmax over the last axis without overflow ----------------------

def _softmax_no_shift(z):
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)


def _softmax_wrong_axis(z):
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _softmax_reference(z):
    # the definition, one row at a time, in exact arithmetic on the shifted row
    out = np.empty_like(z, dtype=np.float64)
    for n in range(z.shape[0]):
        row = z[n] - max(z[n])
        total = sum(np.exp(v) for v in row)
        out[n] = [np.exp(v) / total for v in row]
    return out


def _softmax_cases(rng):
    return [Case((rng.standard_normal((3, 4)),)),
            Case((rng.standard_normal((2, 5)),)),
            Case((1000 + rng.standard_normal((3, 4)),)),          # logits in the thousands
            Case((np.array([[800.0, 799.0, -800.0]]),))]


register(Exercise(
    label="ex-act-stable-softmax",
    what="softmax over the last axis of z (N, M), stable for large logits",
    reference=_softmax_reference,
    cases=_softmax_cases,
    mistakes=(
        Mistake("no max subtracted", _softmax_no_shift,
                "np.exp overflows for logits above about 709 and inf/inf gives NaN: "
                "subtract the largest logit of each row first (eq-net-softmax-shift)."),
        Mistake("wrong axis", _softmax_wrong_axis,
                "you normalised over axis 0 (the batch): every row of z is one example, "
                "so sum over the classes, axis=-1, with keepdims=True."),
    ),
))


# --- ex-act-he-std: the standard deviation of He initialisation ------------------------------

def _he_std_reference(shape):
    fan_in, _ = cc.init.fans(shape)
    return np.sqrt(2.0 / fan_in)


def _he_std_channels_only(shape):
    return np.sqrt(2.0 / shape[1])


def _he_std_fan_out(shape):
    fan_in, fan_out = cc.init.fans(shape)
    return np.sqrt(2.0 / fan_out)


def _he_std_variance(shape):
    fan_in, _ = cc.init.fans(shape)
    return 2.0 / fan_in


register(Exercise(
    label="ex-act-he-std",
    what="the standard deviation of He initialisation for a weight of this shape",
    reference=_he_std_reference,
    cases=[Case(((64, 32),)), Case(((16, 8, 3, 3),)), Case(((6, 3, 5, 5),)),
           Case(((8, 4, 3, 1),))],
    mistakes=(
        Mistake("fan_in = C", _he_std_channels_only,
                "for a kernel bank (F, C, k_h, k_w) each output sums over C k_h k_w "
                "inputs, not C: fan_in = C k_h k_w."),
        Mistake("fan_out", _he_std_fan_out,
                "you used the number of outputs: He initialisation divides by fan_in, "
                "the number of inputs each output sums over (shape[1] of a dense "
                "weight (out, in))."),
        Mistake("variance, not std", _he_std_variance,
                "2/fan_in is the variance; the standard deviation is its square root."),
    ),
))
