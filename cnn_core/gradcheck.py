r"""Numerical gradients by central differences, and a report comparing them with a backward pass.

.. math:: \frac{\partial}{\partial x_i}\,\langle f(x), g\rangle \approx
          \frac{\langle f(x + h e_i), g\rangle - \langle f(x - h e_i), g\rangle}{2h}

where ``g`` is the upstream gradient (``dout``). The error of the central difference is
:math:`O(h^2)`; in float64 with :math:`h = 10^{-6}` relative errors of about 1e-9 or less are typical.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import as_float_array, as_real, check_rng

__all__ = ["numerical_gradient", "rel_error", "GradientReport", "check_layer_gradients"]


def rel_error(a, b) -> float:
    r"""Relative error :math:`\max|a - b| / \max(\max|a| + \max|b|,\ 10^{-30})` (0 when both are 0).

    Normalising by the largest magnitudes, not element by element, keeps tiny entries whose
    difference is pure round-off from dominating.
    """
    a = as_float_array(a, "a").astype(np.float64, copy=False)
    b = as_float_array(b, "b").astype(np.float64, copy=False)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs equal shapes; got {a.shape} and {b.shape} (a and b "
                         f"must have the same shape)")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)) + np.max(np.abs(b)), 1e-30))


def numerical_gradient(f, x: np.ndarray, dout=None, *, h: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of ``sum(f(x) * dout)`` with respect to ``x``.

    ``x`` must be a float64 array; it is perturbed in place, one element at a time, and restored.
    ``f`` returns an array (``dout`` of its shape is then required) or a scalar (``dout`` omitted).
    """
    if not callable(f):
        raise TypeError(f"f must be a callable f(x) -> array or scalar; got {f!r}")
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError("numerical_gradient needs x as a float64 numpy array (it is perturbed in place)")
    h = as_real(h, "h", low=0, low_open=True)
    out_shape = np.shape(f(x))                    # checked once, before x is perturbed
    if dout is None and out_shape != ():
        raise ValueError(f"f returned an array of shape {out_shape}; pass dout of that shape")
    if dout is not None:
        dout = as_float_array(dout, "dout")
        if dout.shape != out_shape:
            raise ValueError(f"dout must have the shape of f(x), {out_shape}; got {dout.shape}")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("x must be contiguous so that it can be perturbed in place")

    def value():
        out = f(x)
        if dout is None:
            return float(np.asarray(out).sum())
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


@dataclass
class GradientReport:
    """Relative errors between analytic and numerical gradients, one row per quantity."""

    rows: list[tuple[str, tuple, float]]

    def __post_init__(self):
        if not isinstance(self.rows, list) or not all(
                isinstance(r, tuple) and len(r) == 3 and isinstance(r[0], str) for r in self.rows):
            raise TypeError(f"rows must be a list of (name, shape, relative error) triples; "
                            f"got {self.rows!r}")

    @property
    def max_error(self) -> float:
        """The largest relative error (NaN for a report with no rows)."""
        return max((err for _, _, err in self.rows), default=float("nan"))

    def assert_ok(self, tol: float = 1e-7) -> None:
        tol = as_real(tol, "tol", low=0, low_open=True)
        if not self.rows:
            raise AssertionError("gradient check failed: the report has no rows (nothing was "
                                 "compared)")
        bad = [(name, err) for name, _, err in self.rows if not err < tol]
        if bad:
            raise AssertionError("gradient check failed (tolerance %.0e): " % tol +
                                 ", ".join(f"{n}: relative error {e:.2e}" for n, e in bad))

    def __str__(self):
        if not self.rows:
            return "(no gradients compared)"
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
    if not all(callable(getattr(layer, m, None)) for m in ("forward", "backward")):
        raise TypeError(f"layer must have forward() and backward() (a Layer or Sequential); "
                        f"got {type(layer).__name__}")
    check_rng(rng)
    h = as_real(h, "h", low=0, low_open=True)
    x = np.array(as_float_array(x, "x"), dtype=np.float64)
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
