"""The max-pooling gradient of overlapping (or gapped) windows without an argmax (internal).

The general path of :mod:`cnn_core.pooling` finds each window's first maximum as an offset
``a*kw + b`` and then scatters ``dout`` by it, several masked passes per offset. When every
maximum and every ``dout`` is finite there is a cheaper way: visit the offsets in row-major
order; the first element equal to its window's maximum takes the window's gradient, and the
window is marked as taken (ties: the first wins). The marks are booleans, one byte per window.
NaN and infinities return False (the caller's exact argmax route applies), and so do tiles
(``_pool_tiles`` is faster there). Switch: ``_tuning.MAX_BY_EQUALITY``.
"""

from __future__ import annotations

import numpy as np

from .shapes import ConvGeometry, window_slices


def backward(dout: np.ndarray, xp: np.ndarray, g: ConvGeometry, out: np.ndarray) -> bool:
    """The gradient of max pooling of the (−∞-padded) ``xp`` into ``out`` (n, C, H, W), or False
    (nothing written) for tiles or for non-finite maxima or ``dout``."""
    if g.stride == g.kernel:
        return False
    offsets = [index for _, _, index in window_slices(g)]
    y = xp[offsets[0]].copy()
    for index in offsets[1:]:
        np.maximum(y, xp[index], out=y)
    if not (np.isfinite(y).all() and np.isfinite(dout).all()):
        return False
    overlapping = g.stride[0] < g.kernel[0] or g.stride[1] < g.kernel[1]
    padded = g.padded_hw != g.in_hw
    dxp = np.zeros((*out.shape[:2], *g.padded_hw), dtype=out.dtype) if padded else out
    if not padded:
        dxp.fill(0)
    taken = hit = None
    for number, index in enumerate(offsets):
        if taken is None:
            taken = np.equal(xp[index], y)
            hit = taken.copy() if len(offsets) > 1 else taken
        else:
            np.equal(xp[index], y, out=hit)
            np.greater(hit, taken, out=hit)            # hit and not already taken
            if number < len(offsets) - 1:
                np.logical_or(taken, hit, out=taken)
        chosen = hit if number else taken
        if overlapping:
            dxp[index] += dout * chosen
        else:                              # each element belongs to one window: write, don't add
            np.multiply(dout, chosen, out=dxp[index])
    if padded:
        (pt, _), (pl, _) = g.pads
        np.copyto(out, dxp[:, :, pt:pt + g.in_hw[0], pl:pl + g.in_hw[1]])
    return True
