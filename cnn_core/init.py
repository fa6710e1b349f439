r"""Weight initialisation; every random draw comes from an explicit ``numpy.random.Generator``."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["fans", "he_normal", "xavier_uniform"]


def fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a dense weight ``(out, in)`` or a conv kernel ``(F, C, kh, kw)``."""
    if not isinstance(shape, (tuple, list)) or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in shape):
        raise TypeError(f"shape must be a tuple of ints, (out, in) or (F, C, kh, kw); "
                        f"got {shape!r}")
    shape = tuple(int(s) for s in shape)
    if len(shape) in (2, 4) and min(shape) < 1:
        raise ValueError(f"shape must have every size >= 1 (a fan of 0 divides by zero); "
                         f"got {shape}")
    if len(shape) == 2:
        return shape[1], shape[0]
    if len(shape) == 4:
        rf = shape[2] * shape[3]
        return shape[1] * rf, shape[0] * rf
    raise ValueError(f"shape must be (out, in) or (F, C, kh, kw); got {shape}")


def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)); got {type(rng).__name__}")


def _float_dtype(dtype) -> np.dtype:
    """A floating dtype: an integer dtype would round the weights to 0 and ±1."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a floating-point dtype such as np.float64; "
                        f"got {dtype!r}") from None
    if not np.issubdtype(dt, np.floating):
        raise TypeError(f"dtype must be a floating-point dtype such as np.float64; got {dt}")
    return dt


def he_normal(shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    r"""He et al. (2015): :math:`w \sim \mathcal N(0, 2/\mathrm{fan}_{\mathrm{in}})`, for ReLU
    networks."""
    _check_rng(rng)
    fan_in, _ = fans(shape)
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(_float_dtype(dtype))


def xavier_uniform(shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    r"""Glorot & Bengio (2010): :math:`w \sim U(-a, a)`,
    :math:`a = \sqrt{6/(\mathrm{fan}_{\mathrm{in}} + \mathrm{fan}_{\mathrm{out}})}`, for tanh and
    sigmoid networks."""
    _check_rng(rng)
    fan_in, fan_out = fans(shape)
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=shape).astype(_float_dtype(dtype))
