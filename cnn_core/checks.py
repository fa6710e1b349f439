"""Checkers for exercises: they say *what* is wrong (shape, which element, by how much),
not just that something is."""

from __future__ import annotations

import numpy as np

__all__ = ["assert_close", "check_implementation"]


def assert_close(got, expected, *, name: str = "your result", rtol: float = 1e-7,
                 atol: float = 1e-9) -> None:
    """Raise ``AssertionError`` with a precise message unless ``got`` equals ``expected``
    within ``|got - expected| <= atol + rtol * |expected|`` element-wise."""
    try:
        g = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"{name} is not a numeric array (got {type(got).__name__})") from None
    e = np.asarray(expected, dtype=np.float64)
    if g.shape != e.shape:
        raise AssertionError(f"{name} has shape {g.shape}, but the expected shape is {e.shape}")
    if np.isnan(g).any() and not np.isnan(e).any():
        idx = tuple(int(i) for i in np.argwhere(np.isnan(g))[0])
        raise AssertionError(f"{name} contains NaN, first at index {idx}")
    bad = ~np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        diff = g[idx] - e[idx]
        raise AssertionError(
            f"{name}: {int(bad.sum())} of {bad.size} elements differ; the first at index {idx}: "
            f"got {g[idx]:.6g}, expected {e[idx]:.6g} (off by {diff:+.3g})"
        )


def _describe(arg) -> str:
    """An array by its shape, anything else by its value."""
    if isinstance(arg, np.ndarray) or (isinstance(arg, (list, tuple)) and np.ndim(arg) > 0):
        return f"array of shape {np.shape(arg)}"
    return repr(arg)


def check_implementation(candidate, reference, cases, *, name: str | None = None, **tol) -> None:
    """Run ``candidate(*args, **kwargs)`` and ``reference(*args, **kwargs)`` on every case
    ``(args, kwargs)`` and compare them with :func:`assert_close`; print one line when all pass."""
    label = name or getattr(candidate, "__name__", "candidate")
    cases = list(cases)
    for number, (args, kwargs) in enumerate(cases, 1):
        parts = [_describe(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
        desc = f"case {number} ({', '.join(parts)})"
        expected = reference(*args, **kwargs)
        try:
            got = candidate(*args, **kwargs)
        except Exception as exc:
            raise AssertionError(f"{label} raised {type(exc).__name__} on {desc}: {exc}") from exc
        assert_close(got, expected, name=f"{label}, {desc}", **tol)
    print(f"{label}: all {len(cases)} cases match")
