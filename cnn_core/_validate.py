"""Argument checking shared by every public function.

Validation happens once, at the public boundary, and every message names the argument, what was
received and what was expected, so a reader never meets a bare numpy broadcasting error.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["as_float_array", "check_ndim", "as_pair", "as_labels", "as_int", "as_real",
           "check_pool_args", "check_rng", "check_axis", "check_pair", "as_real_array"]


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


def as_real_array(x, name: str) -> np.ndarray:
    """``np.asarray(x)`` with its dtype kept (an array is not copied) when it is real numeric:
    bool, integer or floating; otherwise the ``TypeError`` of :func:`as_float_array`, naming
    ``name`` and the dtype. For functions such as :func:`cnn_core.rot180` that keep the dtype."""
    if not (isinstance(x, np.ndarray) and x.dtype.kind in "biuf"):
        as_float_array(x, name)                    # raises for complex, object, str ...
    return np.asarray(x)


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


def check_pair(value, name: str, *, minimum: int = 1) -> tuple[int, int]:
    """A pair ``(h, w)`` of ints, each at least ``minimum``, for a function that takes its sizes
    resolved already (an int alone, which :func:`as_pair` would accept, is a ``TypeError``)."""
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise TypeError(f"{name} must be a pair of ints (h, w); got {value!r} "
                        f"({type(value).__name__})")
    return as_pair(value, name, minimum=minimum)


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


def as_int(value, name: str, *, minimum: int = 1) -> int:
    """A Python int of at least ``minimum`` (bool is not an int here)."""
    if not _is_int(value):
        raise TypeError(f"{name} must be an int >= {minimum}; got {value!r} "
                        f"({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}")
    return int(value)


def as_real(value, name: str, *, low: float | None = None, high: float | None = None,
            low_open: bool = False, high_open: bool = False) -> float:
    """A finite real number in the range given by ``low``/``high`` (open ends by ``*_open``).

    ``TypeError`` for a non-number (str, None, bool, complex), ``ValueError`` for NaN, ±∞ or a
    value out of range; both messages state the expected range, e.g.
    ``momentum must lie in [0, 1); got 1.0``.
    """
    if low is not None and high is not None:
        rule = (f"lie in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}")
    elif low is not None:
        rule = f"be {'>' if low_open else '>='} {low:g}"
    elif high is not None:
        rule = f"be {'<' if high_open else '<='} {high:g}"
    else:
        rule = ""
    finite = f"{name} must be a finite real number" + (f" and {rule}" if rule else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{finite}; got {value!r} ({type(value).__name__})")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{finite}; got {value!r}")
    if (low is not None and (v <= low if low_open else v < low)) or (
            high is not None and (v >= high if high_open else v > high)):
        raise ValueError(f"{name} must {rule}; got {value!r}")
    return v


def check_pool_args(kernel_size, stride, padding) -> None:
    """The rules of :func:`cnn_core.max_pool2d` for its window, stride and padding, checked
    without an input (so that a pooling layer can reject them in its constructor)."""
    k = as_pair(kernel_size, "kernel_size")
    if stride is not None:
        as_pair(stride, "stride")
    if isinstance(padding, str):
        raise ValueError(f"padding of a pooling layer must be an int or (ph, pw); got {padding!r}")
    p = as_pair(padding, "padding", minimum=0)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"padding must be at most half the window: padding={padding} with "
                         f"kernel_size={kernel_size} (a window must hold at least one real "
                         f"element)")


def check_rng(rng, name: str = "rng") -> None:
    """``TypeError`` unless ``rng`` is a ``numpy.random.Generator``."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name} must be a numpy.random.Generator (np.random.default_rng(seed)); "
                        f"got {type(rng).__name__}")


def check_axis(axis, ndim: int, name: str = "axis") -> int:
    """An axis of an array of ``ndim`` dimensions (negative counts from the end)."""
    if not _is_int(axis):
        raise TypeError(f"{name} must be an int; got {axis!r} ({type(axis).__name__})")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name} must lie in [-{ndim}, {ndim}) for an array of {ndim} "
                         f"dimensions; got {axis}")
    return int(axis) % ndim
