"""Argument checking shared by every public function.

Validation happens once, at the public boundary, and every message names the argument, what was
received and what was expected, so a reader never meets a bare numpy broadcasting error.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["as_float_array", "check_ndim", "as_pair", "as_labels"]


def as_float_array(x, name: str) -> np.ndarray:
    """Return ``x`` as a float array: float32/float64 are kept, bool and integers become float64.

    Raises ``TypeError`` naming ``name`` for complex, object, string or other non-numeric input.
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # e.g. ragged nested lists
        raise TypeError(f"{name} must be a numeric array; could not convert it ({exc})") from None
    if arr.dtype == np.float64 or arr.dtype == np.float32:
        return arr
    if arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.float64)
    if np.issubdtype(arr.dtype, np.floating):  # float16, longdouble
        return arr.astype(np.float64)
    raise TypeError(
        f"{name} must be a real numeric array (float, int or bool); got dtype {arr.dtype}"
    )


def check_ndim(x: np.ndarray, ndim: int, name: str, layout: str) -> None:
    """Raise ``ValueError`` unless ``x.ndim == ndim``; ``layout`` names the axes, e.g. "(N, C, H, W)"."""
    if x.ndim != ndim:
        raise ValueError(
            f"{name} must be a {ndim}-D array {layout}; got shape {x.shape} ({x.ndim}-D)"
        )


def _is_int(v) -> bool:
    return type(v) is int or (isinstance(v, numbers.Integral) and not isinstance(v, bool))


def as_pair(value, name: str, *, minimum: int = 1) -> tuple[int, int]:
    """Normalise an int or a pair of ints to ``(h, w)``, each at least ``minimum``."""
    if _is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_int(v) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name} must be an int or a pair of ints (h, w); got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum} in both directions; got {value!r}")
    return pair


def as_labels(labels, n: int, num_classes: int, name: str = "labels") -> np.ndarray:
    """Integer class labels of shape ``(n,)`` with values in ``[0, num_classes)``."""
    arr = np.asarray(labels)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class indices; got dtype {arr.dtype}")
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), one class index per row; got {arr.shape}")
    if n and (arr.min() < 0 or arr.max() >= num_classes):
        bad = arr[(arr < 0) | (arr >= num_classes)][0]
        raise ValueError(
            f"{name} must lie in [0, {num_classes}) for {num_classes} classes; found {bad}"
        )
    return arr.astype(np.intp, copy=False)
