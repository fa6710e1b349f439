r"""Single-channel 2-D operations with the textbook definitions, and Bouvrie's down() and up().

- Cross-correlation :math:`(I \star K)_{ij} = \sum_{a,b} I_{i+a,\,j+b} K_{a,b}` (no flip).
- Convolution :math:`(I * K)_{ij} = \sum_{a,b} I_{i-a,\,j-b} K_{a,b}`, i.e. correlation with the kernel
  rotated by 180°: :math:`I * K = I \star \operatorname{rot180}(K)`.

Modes, for an ``n×n`` image and an ``f×f`` kernel: ``"valid"`` (n − f + 1, only full overlaps),
``"same"`` (n; the extra padding row/column of an even kernel goes at the bottom/right, as in
PyTorch), ``"full"`` (n + f − 1, every partial overlap). Both functions match
``scipy.signal.correlate2d`` and ``scipy.signal.convolve2d`` in every mode.
"""

from __future__ import annotations

import numpy as np

from ._validate import as_float_array, as_pair, as_real_array, check_ndim
from .conv import conv2d

__all__ = ["correlate2d", "convolve2d", "rot180", "down", "up"]

_MODES = ("valid", "same", "full")


def _check_2d(a, k, mode):
    a = as_float_array(a, "a")
    k = as_float_array(k, "k")
    check_ndim(a, 2, "a", "(H, W)")
    check_ndim(k, 2, "k", "(kh, kw)")
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}; got {mode!r}")
    if mode == "valid" and (k.shape[0] > a.shape[0] or k.shape[1] > a.shape[1]):
        raise ValueError(f"mode='valid' needs the kernel to fit inside the image; got "
                         f"k.shape = {k.shape} and a.shape = {a.shape}")
    return a, k


def correlate2d(a, k, mode: str = "valid") -> np.ndarray:
    r"""2-D cross-correlation of an image ``a`` (H, W) with a kernel ``k`` (kh, kw).

    :math:`(a \star k)_{ij} = \sum_{u,v} a_{i+u,\,j+v}\, k_{u,v}` (indices into the zero-padded image).
    """
    a, k = _check_2d(a, k, mode)
    return conv2d(a[None, None], k[None, None], padding=mode)[0, 0]


def convolve2d(a, k, mode: str = "valid") -> np.ndarray:
    r"""2-D (true) convolution: the kernel is flipped.

    :math:`(a * k)_{ij} = \sum_{u,v} a_{i-u,\,j-v}\, k_{u,v} = (a \star \operatorname{rot180}(k))_{ij}`.

    ``"valid"`` and ``"full"`` equal ``correlate2d(a, rot180(k), mode)``. ``"same"`` keeps the centre
    of the full result starting at row ``(kh - 1) // 2`` (as ``scipy.signal.convolve2d`` and MATLAB's
    ``conv2`` do), whereas ``correlate2d(..., "same")`` starts at ``kh // 2``; for an even kernel the
    two "same" results are therefore shifted by one row/column against each other.
    """
    a, k = _check_2d(a, k, mode)
    if mode != "same":
        return correlate2d(a, rot180(k), mode)
    full = correlate2d(a, rot180(k), "full")
    t, l = (k.shape[0] - 1) // 2, (k.shape[1] - 1) // 2
    return full[t:t + a.shape[0], l:l + a.shape[1]].copy()


def rot180(k) -> np.ndarray:
    """Rotate the last two axes by 180° (flip up–down and left–right): ``k[..., ::-1, ::-1]``,
    a view with ``k``'s dtype (bool, int or float; any other dtype is a ``TypeError``)."""
    k = as_real_array(k, "k")
    if k.ndim < 2:
        raise ValueError(f"k must have at least 2 dimensions (..., kh, kw); got shape {k.shape} "
                         f"({k.ndim}-D)")
    return k[..., ::-1, ::-1]


def down(x, n) -> np.ndarray:
    r"""Bouvrie's down-sampling: the sum over each non-overlapping ``n×n`` block of the last two axes.

    Computed as the notes suggest: a (valid) convolution with a kernel of ones, then keeping every
    ``n``-th row and column. ``x`` (..., H, W) with H and W divisible by ``n`` → (..., H/n, W/n).
    ``n`` may be an int or ``(nh, nw)``.
    """
    x = as_float_array(x, "x")
    nh, nw = as_pair(n, "n")
    if x.ndim < 2 or x.shape[-2] % nh or x.shape[-1] % nw:
        raise ValueError(f"down(x, n) needs the last two axes of x divisible by n={n}; got x.shape {x.shape}")
    lead = x.shape[:-2]
    x4 = x.reshape(-1, 1, *x.shape[-2:])
    summed = conv2d(x4, np.ones((1, 1, nh, nw), dtype=x.dtype))   # every n×n window sum
    out = summed[:, :, ::nh, ::nw]                               # keep the non-overlapping ones
    return out.reshape(*lead, *out.shape[-2:])


def up(x, n) -> np.ndarray:
    r"""Bouvrie's up-sampling: :math:`\operatorname{up}(x) = x \otimes 1_{n\times n}` (Kronecker product),
    each element copied into an ``n×n`` block. The adjoint of :func:`down`."""
    x = as_float_array(x, "x")
    nh, nw = as_pair(n, "n")
    if x.ndim < 2:
        raise ValueError(f"up(x, n) needs at least 2 dimensions; got shape {x.shape}")
    ones = np.ones((1,) * (x.ndim - 2) + (nh, nw), dtype=x.dtype)
    return np.kron(x, ones)
