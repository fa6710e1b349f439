r"""Numerical gradients by central differences, and a report comparing them with a backward pass.

.. math:: \frac{\partial}{\partial x_i}\,\langle f(x), g\rangle \approx
          \frac{\langle f(x + h e_i), g\rangle - \langle f(x - h e_i), g\rangle}{2h}

where ``g`` is the upstream gradient (``dout``). The error of the central difference is
:math:`O(h^2)`; in float64 with :math:`h = 10^{-6}` relative errors of about 1e-9 or less are typical.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["numerical_gradient", "rel_error", "GradientReport", "check_layer_gradients"]


def rel_error(a, b) -> float:
    r"""Relative error :math:`\max|a - b| / \max(\max|a| + \max|b|,\ 10^{-30})` (0 when both are 0).

    Normalising by the largest magnitudes, not element by element, keeps tiny entries whose
    difference is pure round-off from dominating.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs equal shapes; got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)) + np.max(np.abs(b)), 1e-30))


def numerical_gradient(f, x: np.ndarray, dout=None, *, h: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of ``sum(f(x) * dout)`` with respect to ``x``.

    ``x`` must be a float64 array; it is perturbed in place, one element at a time, and restored.
    ``f`` returns an array (``dout`` of its shape is then required) or a scalar (``dout`` omitted).
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError("numerical_gradient needs x as a float64 numpy array (it is perturbed in place)")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("x must be contiguous so that it can be perturbed in place")

    def value():
        out = f(x)
        if dout is None:
            return float(np.asarray(out).sum()) if np.ndim(out) == 0 else _needs_dout(out)
        return float(np.sum(np.asarray(out) * dout))

    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        plus = value()
        flat[i] = old - h
        minus = value()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * h)
    return grad


def _needs_dout(out):
    raise ValueError(f"f returned an array of shape {np.shape(out)}; pass dout of that shape")


@dataclass
class GradientReport:
    """Relative errors between analytic and numerical gradients, one row per quantity."""

    rows: list[tuple[str, tuple, float]]

    @property
    def max_error(self) -> float:
        return max(err for _, _, err in self.rows)

    def assert_ok(self, tol: float = 1e-7) -> None:
        bad = [(name, err) for name, _, err in self.rows if not err < tol]
        if bad:
            raise AssertionError("gradient check failed (tolerance %.0e): " % tol +
                                 ", ".join(f"{n}: relative error {e:.2e}" for n, e in bad))

    def __str__(self):
        width = max(len(n) for n, _, _ in self.rows)
        return "\n".join(f"{n:<{width}}  shape {str(s):<16} relative error {e:.1e}" for n, s, e in self.rows)

    __repr__ = __str__


def _named_parameters(layer, prefix=""):
    """``(name, param, grad)`` of a layer, and of every layer inside it (the layers of a
    :class:`~cnn_core.Sequential`, the block and projection of a :class:`~cnn_core.Residual`),
    named ``"<index>.<name>"``, e.g. ``"0.w"``."""
    for name, p in layer.params.items():
        yield prefix + name, p, layer.grads[name]
    subs = layer.children() if hasattr(layer, "children") else getattr(layer, "layers", None)
    for i, sub in enumerate(subs or []):
        yield from _named_parameters(sub, f"{prefix}{i}.")


def check_layer_gradients(layer, x, *, rng: np.random.Generator, h: float = 1e-6) -> GradientReport:
    """Compare ``layer.backward`` with central differences for the input and every parameter
    (for a :class:`~cnn_core.Sequential`, every parameter of every layer in it, named ``"0.w"`` …).

    A random upstream gradient ``dout`` from ``rng`` is used, so every output element matters.
    ``x`` and the parameters should be float64.
    """
    x = np.array(x, dtype=np.float64)
    out = layer.forward(x)
    dout = rng.standard_normal(np.shape(out))
    dx = layer.backward(dout)
    params = list(_named_parameters(layer))
    analytic = {"x": np.array(dx)} | {name: g.copy() for name, _, g in params}
    rows = [("x", x.shape, rel_error(analytic["x"], numerical_gradient(layer.forward, x, dout, h=h)))]
    for name, p, _ in params:
        num = numerical_gradient(lambda _: layer.forward(x), p, dout, h=h)
        rows.append((name, p.shape, rel_error(analytic[name], num)))
    layer.forward(x)  # leave the layer's cache as it was
    return GradientReport(rows)
