r"""Optimisers: stochastic gradient descent with momentum, and Adam; both with weight decay."""

from __future__ import annotations

import numpy as np

__all__ = ["SGD", "Adam"]

import numbers


class SGD:
    r"""For every parameter :math:`p` with gradient :math:`g`:

    .. math:: v \leftarrow \mu v - \eta\,(g + \lambda p),\qquad p \leftarrow p + v

    (``lr`` = η, ``momentum`` = μ, ``weight_decay`` = λ, i.e. an L2 penalty :math:`\tfrac\lambda2\lVert p\rVert^2`).
    With μ = λ = 0 this is Bouvrie's plain update :math:`\Delta W = -\eta\,\partial E/\partial W`.
    ``model`` is anything with ``parameters()`` returning ``(param, grad)`` pairs.
    """

    def __init__(self, model, lr: float, *, momentum: float = 0.0, weight_decay: float = 0.0):
        if lr <= 0:
            raise ValueError(f"lr must be > 0; got {lr}")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1); got {momentum}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0; got {weight_decay}")
        self.pairs = model.parameters()
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.velocity = [np.zeros_like(p) for p, _ in self.pairs]

    def step(self):
        for (p, g), v in zip(self.pairs, self.velocity):
            step = g + self.weight_decay * p if self.weight_decay else g
            v *= self.momentum
            v -= self.lr * step
            p += v


def _check_hyper(value, name: str, owner: str, *, low: float, high: float | None = None,
                 low_open: bool = False, high_open: bool = True) -> float:
    """A finite real hyperparameter in the given interval, or a ValueError naming it."""
    ok = (not isinstance(value, bool) and isinstance(value, numbers.Real)
          and np.isfinite(value) and (value > low if low_open else value >= low)
          and (high is None or (value < high if high_open else value <= high)))
    if not ok:
        lo = "(" if low_open else "["
        hi = "∞)" if high is None else (f"{high})" if high_open else f"{high}]")
        raise ValueError(f"{owner}: {name} must be a finite number in {lo}{low}, {hi}; "
                         f"got {value!r}")
    return float(value)


class Adam:
    r"""Adam with PyTorch's semantics (``torch.optim.Adam``, L2 weight decay added to the
    gradient, not decoupled). For every parameter :math:`w` with gradient :math:`g`, at step
    :math:`\tau = 1, 2, \dots`:

    .. math::

        g &\leftarrow g + \lambda w, \qquad
        \mathbf m \leftarrow \rho_1 \mathbf m + (1-\rho_1)\, g, \qquad
        \mathbf v \leftarrow \rho_2 \mathbf v + (1-\rho_2)\, g \circ g, \\
        w &\leftarrow w - \eta\, \frac{\mathbf m/(1-\rho_1^\tau)}
        {\sqrt{\mathbf v/(1-\rho_2^\tau)} + \epsilon} .

    The bias corrections undo the start of :math:`\mathbf m` and :math:`\mathbf v` at zero:
    with a constant gradient, the corrected :math:`\mathbf m` equals :math:`g` from the first
    step on. (``lr`` = η, ``betas`` = (ρ₁, ρ₂), ``weight_decay`` = λ, ``t`` = τ.)
    """

    def __init__(self, model, lr: float = 1e-3, *, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        self.lr = _check_hyper(lr, "lr", "Adam", low=0.0, low_open=True)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2); got {betas!r}")
        self.betas = (_check_hyper(betas[0], "betas[0]", "Adam", low=0.0, high=1.0),
                      _check_hyper(betas[1], "betas[1]", "Adam", low=0.0, high=1.0))
        self.eps = _check_hyper(eps, "eps", "Adam", low=0.0)
        self.weight_decay = _check_hyper(weight_decay, "weight_decay", "Adam", low=0.0)
        if not hasattr(model, "parameters"):
            raise TypeError(f"Adam: model must have parameters() returning (param, grad) "
                            f"pairs; got {type(model).__name__}")
        self.pairs = model.parameters()
        self.t = 0
        self.m = [np.zeros_like(p) for p, _ in self.pairs]
        self.v = [np.zeros_like(p) for p, _ in self.pairs]

    def step(self):
        """One update of every parameter in place."""
        beta1, beta2 = self.betas
        self.t += 1
        correction1 = 1.0 - beta1 ** self.t
        correction2 = 1.0 - beta2 ** self.t
        for (p, g), m, v in zip(self.pairs, self.m, self.v):
            if self.weight_decay:
                g = g + self.weight_decay * p
            m *= beta1
            m += (1.0 - beta1) * g
            v *= beta2
            v += (1.0 - beta2) * g * g
            p -= self.lr * (m / correction1) / (np.sqrt(v / correction2) + self.eps)
