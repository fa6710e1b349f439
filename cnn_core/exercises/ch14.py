"""Checkers for the exercises of chapter 14, dropout and optimisers."""

from __future__ import annotations

import numpy as np

import cnn_core as cc

from ._core import Case, Exercise, Mistake, register


# --- ex-drop-forward: inverted dropout given the uniform draws ------------------------------

def _dropout_loops(x, q, uniform):
    """The definition, element by element: dropped where uniform < q, else x / (1 - q)."""
    out = np.zeros(x.shape)
    for index in np.ndindex(*x.shape):
        if uniform[index] >= q:
            out[index] = x[index] / (1.0 - q)
    return out


def _dropout_cases(rng):
    cases = []
    for shape, q in (((4, 5), 0.5), ((2, 3, 4), 0.2), ((3, 6), 0.8), ((5,), 0.0)):
        cases.append(Case((rng.standard_normal(shape), q, rng.random(shape))))
    return cases


def _no_rescale(x, q, u):
    return x * (u >= q)


def _keep_with_q(x, q, u):
    return np.where(u < q, x / (1.0 - q), 0.0)


def _divide_by_q(x, q, u):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(u >= q, x / q, 0.0)


register(Exercise(
    label="ex-drop-forward",
    what="inverted dropout of x with drop probability q, given uniform draws",
    reference=_dropout_loops,
    cases=_dropout_cases,
    mistakes=(
        Mistake("no rescaling", _no_rescale,
                "the kept elements must be divided by 1 - q: without it E[y] = "
                "(1 - q) x, and evaluation mode (the identity) would not match "
                "training (eq-drop-expectation)."),
        Mistake("keep with probability q", _keep_with_q,
                "you keep the elements whose draw is below q, which happens with "
                "probability q: q is the probability of DROPPING; keep where "
                "uniform >= q."),
        Mistake("divided by q", _divide_by_q,
                "divide by the probability of keeping, 1 - q, not by q."),
    ),
))


# --- ex-opt-adam-step: one step of Adam from a given state ----------------------------------

class _One:
    def __init__(self, w, g):
        self.w, self.g = w, g

    def parameters(self):
        return [(self.w, self.g)]


def _adam_reference(w, g, m, v, tau, lr, rho1, rho2, eps, weight_decay):
    """cc.Adam started from the state (m, v) of step tau - 1."""
    model = _One(np.array(w, dtype=float), np.array(g, dtype=float))
    opt = cc.Adam(model, lr=lr, betas=(rho1, rho2), eps=eps, weight_decay=weight_decay)
    opt.m[0][...] = m
    opt.v[0][...] = v
    opt.t = tau - 1
    opt.step()
    return model.w.copy(), opt.m[0].copy(), opt.v[0].copy()


def _adam_cases(rng):
    def state(shape, scale):
        return (rng.standard_normal(shape), scale * rng.standard_normal(shape),
                0.1 * scale * rng.standard_normal(shape), scale**2 * rng.random(shape))
    cases = []
    w, g, _, _ = state((5,), 1.0)
    cases.append(Case((w, g, np.zeros(5), np.zeros(5), 1, 0.01, 0.9, 0.999, 1e-8, 0.0)))
    w, g, m, v = state((3, 4), 1.0)
    cases.append(Case((w, g, m, v, 4, 0.003, 0.9, 0.999, 1e-8, 0.05)))
    w, g, m, v = state((6,), 0.01)
    cases.append(Case((w, g, m, v, 3, 0.01, 0.8, 0.99, 1e-3, 0.0)))
    w, g, m, v = state((2, 3), 1.0)
    cases.append(Case((w, g, m, v, 50, 0.001, 0.95, 0.9999, 1e-8, 0.1)))
    return cases


def _adam_no_correction(w, g, m, v, tau, lr, rho1, rho2, eps, weight_decay):
    g = g + weight_decay * w
    m = rho1 * m + (1 - rho1) * g
    v = rho2 * v + (1 - rho2) * g * g
    return w - lr * m / (np.sqrt(v) + eps), m, v


def _adam_eps_inside(w, g, m, v, tau, lr, rho1, rho2, eps, weight_decay):
    g = g + weight_decay * w
    m = rho1 * m + (1 - rho1) * g
    v = rho2 * v + (1 - rho2) * g * g
    m_hat, v_hat = m / (1 - rho1**tau), v / (1 - rho2**tau)
    return w - lr * m_hat / np.sqrt(v_hat + eps), m, v


def _adam_decay_after(w, g, m, v, tau, lr, rho1, rho2, eps, weight_decay):
    m = rho1 * m + (1 - rho1) * g
    v = rho2 * v + (1 - rho2) * g * g
    m_hat, v_hat = m / (1 - rho1**tau), v / (1 - rho2**tau)
    return w - lr * (m_hat / (np.sqrt(v_hat) + eps) + weight_decay * w), m, v


def _adam_tau_off_by_one(w, g, m, v, tau, lr, rho1, rho2, eps, weight_decay):
    return _adam_reference(w, g, m, v, tau + 1, lr, rho1, rho2, eps, weight_decay)


register(Exercise(
    label="ex-opt-adam-step",
    what="the new (w, m, v) after Adam's step number tau",
    reference=_adam_reference,
    cases=_adam_cases,
    rtol=1e-9, atol=1e-12,
    mistakes=(
        Mistake("no bias correction", _adam_no_correction,
                "divide m by 1 - rho1^tau and v by 1 - rho2^tau before the step: "
                "both averages start at zero (eq-opt-adam-bias)."),
        Mistake("eps inside the root", _adam_eps_inside,
                "eps is added to sqrt(v_hat), not under the square root: "
                "m_hat / (sqrt(v_hat) + eps)."),
        Mistake("weight decay after the moments", _adam_decay_after,
                "PyTorch's Adam adds weight_decay * w to the gradient BEFORE the "
                "moments; adding it to the update afterwards is AdamW's decoupled "
                "decay, a different optimiser."),
        Mistake("tau off by one", _adam_tau_off_by_one,
                "the bias corrections use the number of the step being taken, tau, "
                "starting at 1: 1 - rho^tau."),
    ),
))
