"""Shared fixtures for the cnn_core test suite (the helpers are in tests/testhelpers.py).

Conventions used throughout the suite:

- Every random draw comes from an explicit, seeded ``numpy.random.Generator``; no test depends on
  global state, so each test is reproducible on its own (also under ``pytest -n 2``).
- Tolerances: forward comparisons against naive loops in float64 use ``rtol=1e-10``; gradient checks
  use :func:`cnn_core.rel_error` < 1e-7 (the acceptance criterion).
- Hypothesis runs a modest, derandomised number of examples (``deadline=None``) so the suite is fast
  and gives the same verdict on every run.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# The helpers (tolerances, randn, distinct, assert_grad, ...) are a module of their own,
# tests/testhelpers.py: test modules import them with ``from testhelpers import ...``.

settings.register_profile(
    "cnn_core",
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("cnn_core")


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh generator with a fixed seed for every test."""
    return np.random.default_rng(20240601)
