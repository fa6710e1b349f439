"""Checkers for the exercises of chapter 13, initialisation."""

from __future__ import annotations

import numpy as np

import cnn_core as cc

from ._core import Case, Exercise, Mistake, register

_SHAPES = [(16, 8, 3, 3), (6, 3, 5, 5), (4, 2, 3, 1), (3, 7, 1, 5), (5, 2, 2, 4)]


# --- ex-init-fans: (fan_in, fan_out) of a kernel bank, counted by convolving ----------------

def _counted_fans(shape):
    """Count the inputs one interior output reads and the outputs one interior input feeds,
    with every weight set to one (independent of the formula C k_h k_w)."""
    n_filters, n_channels, k_h, k_w = shape
    ones = np.ones(shape)
    size = 2 * max(k_h, k_w) + 3
    x = np.zeros((1, n_channels, size, size))
    z = cc.conv2d(x, ones)
    one_output = np.zeros_like(z)
    one_output[0, 0, z.shape[2] // 2, z.shape[3] // 2] = 1.0
    dx, _, _ = cc.conv2d_backward(one_output, x, ones)
    x[0, 0, size // 2, size // 2] = 1.0
    return int(np.count_nonzero(dx)), int(np.count_nonzero(cc.conv2d(x, ones)))


register(Exercise(
    label="ex-init-fans",
    what="(fan_in, fan_out) of a kernel bank (F, C, k_h, k_w)",
    reference=_counted_fans,
    cases=[Case((s,)) for s in _SHAPES],
    mistakes=(
        Mistake("kernel area forgotten", lambda s: (s[1], s[0]),
                "you returned (C, F): one output reads every channel at every tap of "
                "the kernel, so fan_in = C k_h k_w and fan_out = F k_h k_w."),
        Mistake("C and F swapped", lambda s: (s[0] * s[2] * s[3], s[1] * s[2] * s[3]),
                "fan_in and fan_out are swapped: fan_in counts the input channels C = "
                "shape[1] (times k_h k_w), fan_out the filters F = shape[0]."),
        Mistake("k_h squared", lambda s: (s[1] * s[2] ** 2, s[0] * s[2] ** 2),
                "you used k_h * k_h: for a non-square kernel the area is k_h k_w."),
    ),
))


# --- ex-init-xavier-bound: the bound of Xavier's uniform distribution ------------------------

def _xavier_bound_reference(shape):
    fan_in, fan_out = cc.init.fans(shape)
    variance = 2.0 / (fan_in + fan_out)            # eq-init-xavier
    return np.sqrt(3.0 * variance)                 # Var = w_max^2 / 3


def _fans_no_area(shape):
    return np.sqrt(6.0 / (shape[0] + shape[1]))


def _std_as_bound(shape):
    fan_in, fan_out = cc.init.fans(shape)
    return np.sqrt(2.0 / (fan_in + fan_out))


def _fan_in_only(shape):
    fan_in, _ = cc.init.fans(shape)
    return np.sqrt(6.0 / fan_in)


register(Exercise(
    label="ex-init-xavier-bound",
    what="the bound w_max of Xavier's Uniform(-w_max, w_max) for a weight "
         "of this shape",
    reference=_xavier_bound_reference,
    cases=[Case(((64, 32),))] + [Case((s,)) for s in _SHAPES[:4]],
    mistakes=(
        Mistake("std as the bound", _std_as_bound,
                "that is the standard deviation sqrt(2/(fan_in + fan_out)); "
                "Uniform(-w_max, w_max) "
                "has variance w_max^2/3, so the bound is sqrt(3) times larger: "
                "sqrt(6/(fan_in + fan_out))."),
        Mistake("kernel area forgotten", _fans_no_area,
                "you used C + F: for a kernel bank the fans are C k_h k_w and "
                "F k_h k_w."),
        Mistake("fan_in only", _fan_in_only,
                "you used sqrt(6/fan_in), a uniform He-style bound: Xavier averages "
                "the two passes, sqrt(6/(fan_in + fan_out))."),
    ),
))


# --- ex-init-leaky-he: He initialisation for leaky ReLU -------------------------------------

def _leaky_second_moment(slope):
    """E[phi(z)^2] for z ~ N(0, 1), by the trapezoidal rule (not the closed form)."""
    z = np.linspace(-14.0, 14.0, 280_001)
    density = np.exp(-z**2 / 2) / np.sqrt(2 * np.pi)
    phi = np.where(z > 0, z, slope * z)
    values = phi**2 * density
    return float(np.sum((values[1:] + values[:-1]) / 2 * np.diff(z)))


def _leaky_he_reference(fan_in, slope):
    return np.sqrt(1.0 / (fan_in * _leaky_second_moment(slope)))


register(Exercise(
    label="ex-init-leaky-he",
    what="the std of the weights for leaky-ReLU layers (fan_in, slope)",
    reference=_leaky_he_reference,
    cases=[Case((144, 0.01)), Case((72, 0.2)), Case((9, 0.5)), Case((100, 1.0)),
           Case((50, 0.0))],
    rtol=1e-6,
    mistakes=(
        Mistake("slope ignored", lambda fan_in, slope: np.sqrt(2.0 / fan_in),
                "that is plain He, sqrt(2/fan_in): the negative half keeps slope^2 of "
                "its second moment, E[phi(z)^2] = (1 + slope^2)/2 Var[z]."),
        Mistake("1 + slope", lambda fan_in, slope: np.sqrt(2.0 / ((1.0 + slope) * fan_in)),
                "the negative half contributes slope^2 (the output is squared), not "
                "slope: (1 + slope^2)/2."),
        Mistake("variance", lambda fan_in, slope: 2.0 / ((1.0 + slope**2) * fan_in),
                "that is the variance; return its square root, the standard "
                "deviation."),
    ),
))
