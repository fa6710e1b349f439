r"""Weight initialisation; every random draw comes from an explicit ``numpy.random.Generator``."""

from __future__ import annotations

import numpy as np

__all__ = ["fans", "he_normal", "xavier_uniform"]


def fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a dense weight ``(out, in)`` or a conv kernel ``(F, C, kh, kw)``."""
    shape = tuple(shape)
    if len(shape) == 2:
        return shape[1], shape[0]
    if len(shape) == 4:
        rf = shape[2] * shape[3]
        return shape[1] * rf, shape[0] * rf
    raise ValueError(f"shape must be (out, in) or (F, C, kh, kw); got {shape}")


def _check_rng(rng):
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)); got {type(rng).__name__}")


def he_normal(shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    r"""He et al. (2015): :math:`w \sim \mathcal N(0, 2/\mathrm{fan}_{\mathrm{in}})`, for ReLU
    networks."""
    _check_rng(rng)
    fan_in, _ = fans(shape)
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def xavier_uniform(shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    r"""Glorot & Bengio (2010): :math:`w \sim U(-a, a)`,
    :math:`a = \sqrt{6/(\mathrm{fan}_{\mathrm{in}} + \mathrm{fan}_{\mathrm{out}})}`, for tanh and
    sigmoid networks."""
    _check_rng(rng)
    fan_in, fan_out = fans(shape)
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=shape).astype(dtype)
