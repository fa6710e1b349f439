r"""Optimisers: stochastic gradient descent with momentum, and Adam; both with weight decay."""

from __future__ import annotations

import numpy as np

from ._validate import as_real

__all__ = ["SGD", "Adam"]


class SGD:
    r"""For every parameter :math:`p` with gradient :math:`g`:

    .. math:: v \leftarrow \mu v - \eta\,(g + \lambda p),\qquad p \leftarrow p + v

    (``lr`` = η, ``momentum`` = μ, ``weight_decay`` = λ, i.e. an L2 penalty :math:`\tfrac\lambda2\lVert p\rVert^2`).
    With μ = λ = 0 this is Bouvrie's plain update :math:`\Delta W = -\eta\,\partial E/\partial W`.
    ``model`` is anything with ``parameters()`` returning ``(param, grad)`` pairs.

    The hyperparameters must be finite (``lr > 0``, ``0 <= momentum < 1``, ``weight_decay >= 0``).
    The optimiser holds on to the model's arrays: :meth:`step` refuses to run, and changes
    nothing, if the model's parameters have been replaced since (write into them in place,
    ``p[...] = value``, or make a new optimiser).
    """

    def __init__(self, model, lr: float, *, momentum: float = 0.0, weight_decay: float = 0.0):
        lr = as_real(lr, "lr", low=0, low_open=True)
        momentum = as_real(momentum, "momentum", low=0, high=1, high_open=True)
        weight_decay = as_real(weight_decay, "weight_decay", low=0)
        self.model, self.pairs = model, _model_pairs(model)
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.velocity = [np.zeros_like(p) for p, _ in self.pairs]

    def step(self):
        _check_unchanged(self, "SGD")
        for (p, g), v in zip(self.pairs, self.velocity):
            step = g + self.weight_decay * p if self.weight_decay else g
            v *= self.momentum
            v -= self.lr * step
            p += v


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
    step on. (``lr`` = η, ``betas`` = (ρ₁, ρ₂), ``weight_decay`` = λ, ``t`` = τ.) The
    hyperparameters are checked as for :class:`SGD` (``0 <= betas < 1``, ``eps >= 0``), and so
    is the model's ownership of its arrays at every :meth:`step`.
    """

    def __init__(self, model, lr: float = 1e-3, *, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        lr = as_real(lr, "lr", low=0, low_open=True)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (rho_1, rho_2) of numbers in [0, 1); "
                             f"got {betas!r}")
        betas = (as_real(betas[0], "betas[0]", low=0, high=1, high_open=True),
                 as_real(betas[1], "betas[1]", low=0, high=1, high_open=True))
        eps = as_real(eps, "eps", low=0)
        weight_decay = as_real(weight_decay, "weight_decay", low=0)
        self.model, self.pairs = model, _model_pairs(model)
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.t = 0
        self.m = [np.zeros_like(p) for p, _ in self.pairs]
        self.v = [np.zeros_like(p) for p, _ in self.pairs]

    def step(self):
        """One update of every parameter in place."""
        _check_unchanged(self, "Adam")
        rho1, rho2 = self.betas
        self.t += 1
        correction1 = 1.0 - rho1 ** self.t
        correction2 = 1.0 - rho2 ** self.t
        for (p, g), m, v in zip(self.pairs, self.m, self.v):
            if self.weight_decay:
                g = g + self.weight_decay * p
            m *= rho1
            m += (1.0 - rho1) * g
            v *= rho2
            v += (1.0 - rho2) * g * g
            p -= self.lr * (m / correction1) / (np.sqrt(v / correction2) + self.eps)


def _model_pairs(model) -> list:
    if not callable(getattr(model, "parameters", None)):
        raise TypeError(f"model must have a parameters() method returning (param, grad) "
                        f"pairs, e.g. a Layer or Sequential; got {type(model).__name__}")
    pairs = list(model.parameters())
    for i, pair in enumerate(pairs):
        _check_pair(pair, i)
    return pairs


def _check_unchanged(opt, owner: str) -> None:
    current = list(opt.model.parameters())
    if len(current) != len(opt.pairs) or any(
            p is not q or g is not h for (p, g), (q, h) in zip(current, opt.pairs)):
        raise RuntimeError(
            f"{owner}.step: the model's parameter arrays are not the ones the optimiser was "
            "made with (an array was replaced, e.g. layer.params['w'] = new, or a layer was "
            f"added); write into the arrays in place (p[...] = value) or make a new {owner}")


def _check_pair(pair, i):
    if not (isinstance(pair, tuple) and len(pair) == 2):
        raise TypeError(f"model.parameters() must return (param, grad) pairs; item {i} is {pair!r}")
    p, g = pair
    if not (isinstance(p, np.ndarray) and isinstance(g, np.ndarray)):
        raise TypeError(f"model.parameters() item {i}: param and grad must be numpy arrays; "
                        f"got {type(p).__name__} and {type(g).__name__}")
    if not np.issubdtype(p.dtype, np.floating) or p.shape != g.shape:
        raise ValueError(f"model.parameters() item {i}: param must be a float array and grad of "
                         f"its shape; got param {p.dtype} {p.shape} and grad {g.dtype} {g.shape}")
