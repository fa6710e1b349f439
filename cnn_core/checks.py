"""Checkers for exercises: they say *what* is wrong (shape, which element, by how much),
not just that something is."""

from __future__ import annotations

import numpy as np

from ._validate import as_float_array, as_real

__all__ = ["assert_close", "check_implementation"]


def assert_close(got, expected, *, name: str = "your result", rtol: float = 1e-7,
                 atol: float = 1e-9) -> None:
    """Raise ``AssertionError`` with a precise message unless ``got`` equals ``expected``
    within ``|got - expected| <= atol + rtol * |expected|`` element-wise."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str; got {name!r}")
    rtol = as_real(rtol, "rtol", low=0)
    atol = as_real(atol, "atol", low=0)
    e = as_float_array(expected, "expected").astype(np.float64, copy=False)
    if np.iscomplexobj(got):
        raise AssertionError(f"{name} is complex (dtype {np.asarray(got).dtype}); a real array "
                             "was expected")
    try:
        g = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"{name} is not a numeric array (got {type(got).__name__})") from None
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


def _check_cases(cases) -> list:
    """The cases as a list of ``(args, kwargs)``: a tuple or list of positional arguments and a
    dict of keyword arguments; an empty list checks nothing, so it is an error."""
    try:
        cases = list(cases)
    except TypeError:
        raise TypeError(f"cases must be a list of (args, kwargs) pairs; got {cases!r}") from None
    if not cases:
        raise ValueError("cases is empty: there is nothing to compare; give at least one "
                         "(args, kwargs) pair")
    for number, case in enumerate(cases, 1):
        if not (isinstance(case, (tuple, list)) and len(case) == 2
                and isinstance(case[0], (tuple, list)) and isinstance(case[1], dict)):
            raise TypeError(f"cases: case {number} must be a pair (args, kwargs), a tuple of "
                            f"arguments and a dict; got {case!r}")
    return cases


def check_implementation(candidate, reference, cases, *, name: str | None = None, **tol) -> None:
    """Run ``candidate(*args, **kwargs)`` and ``reference(*args, **kwargs)`` on every case
    ``(args, kwargs)`` and compare them with :func:`assert_close`; print one line when all pass."""
    for arg, what in ((candidate, "candidate"), (reference, "reference")):
        if not callable(arg):
            raise TypeError(f"{what} must be a function; got {arg!r}")
    label = name or getattr(candidate, "__name__", "candidate")
    cases = _check_cases(cases)
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
