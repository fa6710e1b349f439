"""Helpers shared by the cnn_core tests: tolerances, seeded inputs, gradient and array checks.

Test modules import them as ``from testhelpers import ...`` (pytest puts tests/ on sys.path, as
the folder of the rootmost conftest.py); tests/conftest.py holds the fixtures and the Hypothesis
profile.

- Tolerances: forward comparisons against naive loops in float64 use ``rtol=1e-10``; gradient
  checks use :func:`cnn_core.rel_error` < 1e-7 (the acceptance criterion).
"""

from __future__ import annotations

import numpy as np

import cnn_core as cc

GRAD_TOL = 1e-7     # relative error accepted between an analytic and a central-difference gradient
FWD_RTOL = 1e-10    # float64 agreement of a vectorised op with its naive loop reference


def randn(rng: np.random.Generator, *shape) -> np.ndarray:
    """Standard normal float64 array of the given shape."""
    return rng.standard_normal(shape)


def distinct(rng: np.random.Generator, *shape, gap: float = 0.1) -> np.ndarray:
    """Float64 array whose entries are pairwise at least ``gap`` apart (a shuffled arithmetic
    sequence plus a little noise), so max pooling has no ties and stays differentiable under the
    central-difference step h = 1e-6."""
    n = int(np.prod(shape))
    vals = (rng.permutation(n) - n / 2) * gap + rng.uniform(0, gap / 10, size=n)
    return vals.reshape(shape)


def away_from_zero(rng: np.random.Generator, *shape, margin: float = 0.05) -> np.ndarray:
    """Normal draws pushed at least ``margin`` away from 0 (no kink of ReLU, |x|, sign within h)."""
    x = rng.standard_normal(shape)
    return np.where(x >= 0, x + margin, x - margin)


def inner(a, b) -> float:
    """Frobenius inner product <a, b> in float64."""
    return float(np.sum(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64)))


def assert_grad(analytic, numeric, name: str = "gradient", tol: float = GRAD_TOL) -> None:
    """Assert shapes agree and ``cc.rel_error(analytic, numeric) < tol``, with a helpful message."""
    analytic, numeric = np.asarray(analytic), np.asarray(numeric)
    assert analytic.shape == numeric.shape, f"{name}: shape {analytic.shape} != {numeric.shape}"
    assert np.abs(numeric).max() > 0, f"{name}: the numerical gradient is identically zero"
    err = cc.rel_error(analytic, numeric)
    assert err < tol, f"{name}: relative error {err:.2e} >= {tol:.0e}"


def assert_allclose(got, expected, rtol: float = FWD_RTOL, atol: float = 1e-12, name: str = "") -> None:
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, f"{name}: shape {got.shape} != expected {expected.shape}"
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=name)


def case_id(**kw) -> str:
    """A readable pytest id from keyword arguments, e.g. ``x2x3x5x5-k3x3-s1-pvalid-d1``."""
    return "-".join(f"{k}{v}" for k, v in kw.items()).replace(" ", "").replace("'", "")
