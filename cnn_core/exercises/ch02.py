"""Checkers for the exercises of chapter 2, *Convolution* (book/02_convolution.ipynb).

References are the deliberately naive loops of :mod:`cnn_core.naive`, the library's own
:func:`cnn_core.conv_output_size`, or (circular padding) a loop over the modular indices of the
definition, so that none of them shares the code path a student is likely to write.
"""

import numpy as np

import cnn_core as cc
from cnn_core import naive

from ._core import Case, Exercise, Mistake, register


def _pairs(rng, shapes):
    return [Case((rng.standard_normal(a), rng.standard_normal(k))) for a, k in shapes]


_SHAPES = [((6, 6), (3, 3)), ((5, 7), (2, 4)), ((4, 4), (4, 4)), ((6, 5), (1, 3))]

# --- ex-conv-valid: the valid cross-correlation by loops --------------------------------------


def _valid_off_by_one(I, K):
    return cc.correlate2d(I, K, "valid")[:-1, :-1]


register(Exercise(
    label="ex-conv-valid",
    what="the valid cross-correlation of I with K",
    reference=lambda I, K: naive.correlate2d_naive(I, K, "valid"),
    cases=lambda rng: _pairs(rng, _SHAPES),
    mistakes=(
        Mistake("kernel flipped", lambda I, K: cc.convolve2d(I, K, "valid"),
                "you rotated the kernel by 180 degrees: that is the true "
                "convolution; the cross-correlation slides K as it is"),
        Mistake("off by one", _valid_off_by_one,
                "off by one in the output size: a kernel of k_h rows fits in "
                "H - k_h + 1 positions (range(H - k_h + 1)), not H - k_h"),
        Mistake("kernel transposed", lambda I, K: cc.correlate2d(I, K.T, "valid"),
                "you used K transposed (K[v, u]): the kernel's rows go along the "
                "image's rows, K[u, v] meets I[i + u, j + v]"),
    ),
))


# --- ex-conv-loop: the full true convolution -------------------------------------------------

def _full_not_flipped(I, K):
    return cc.correlate2d(I, K, "full")


def _full_one_side(I, K):
    k_h, k_w = K.shape
    padded = np.pad(I, ((k_h - 1, 0), (k_w - 1, 0)))
    return cc.correlate2d(padded, cc.rot180(K), "valid")


def _full_flip_rows(I, K):
    return cc.correlate2d(I, K[::-1, :], "full")


def _full_half_padding(I, K):
    k_h, k_w = K.shape
    padded = np.pad(I, ((k_h // 2, k_h // 2), (k_w // 2, k_w // 2)))
    return cc.correlate2d(padded, cc.rot180(K), "valid")


register(Exercise(
    label="ex-conv-loop",
    what="the full true convolution I * K",
    reference=lambda I, K: naive.convolve2d_naive(I, K, "full"),
    cases=lambda rng: _pairs(rng, _SHAPES),
    mistakes=(
        Mistake("not flipped", _full_not_flipped,
                "the kernel is not flipped: that is the full cross-correlation; "
                "the true convolution uses rot180(K)"),
        Mistake("flipped along one axis", _full_flip_rows,
                "you flipped the kernel up-down only: rot180 flips both axes, "
                "K[::-1, ::-1]"),
        Mistake("padding on one side", _full_one_side,
                "you padded on one side only: the full mode adds k - 1 zeros on "
                "every side, top and bottom, left and right"),
        Mistake("same padding", _full_half_padding,
                "you padded by k // 2, which gives (about) the 'same' size; the "
                "full mode pads by k - 1 on each side"),
    ),
))


# --- ex-conv-output-size: the output-size formula ---------------------------------------------

register(Exercise(
    label="ex-conv-output-size",
    what="the output size H' along one axis",
    reference=lambda H, k, P, s: cc.conv_output_size(H, k, stride=s, padding=P),
    cases=[Case((6, 3, 0, 1)), Case((8, 5, 2, 1)), Case((7, 3, 0, 2)),
           Case((6, 3, 0, 2)),
           Case((10, 4, 2, 3)), Case((227, 11, 0, 4)), Case((224, 11, 0, 4)),
           Case((5, 5, 0, 1)), Case((7, 2, 1, 3)), Case((9, 1, 0, 4))],
    rtol=0.0, atol=1e-9,
    mistakes=(
        Mistake("no floor", lambda H, k, P, s: (H + 2 * P - k) / s + 1,
                "no floor: when s does not divide H + 2P - k the last window "
                "does not fit; use integer division, (H + 2 * P - k) // s + 1"),
        Mistake("padding counted once", lambda H, k, P, s: (H + P - k) // s + 1,
                "P zeros are added on each side, so the padded size is "
                "H + 2P, not H + P"),
        Mistake("no + 1", lambda H, k, P, s: (H + 2 * P - k) // s,
                "you forgot the + 1: (H + 2P - k) // s counts the steps between "
                "windows; the first window is one more"),
        Mistake("stride ignored", lambda H, k, P, s: H + 2 * P - k + 1,
                "that is the stride-1 size: with stride s only every s-th "
                "window is computed"),
    ),
))


# --- ex-conv-alexnet: the input sizes that give AlexNet's 55 (a value) -------------------------

_ALEXNET = [H for H in range(200, 260) if cc.conv_output_size(H, 11, stride=4) == 55]

register(Exercise(
    label="ex-conv-alexnet",
    what="the list of input sizes H in 200..259 that give 55",
    reference=_ALEXNET,
    rtol=0.0, atol=0.5,
    mistakes=(
        Mistake("only the exact fit", [227],
                "227 is the size with no pixel left over, but the floor absorbs "
                "up to s - 1 = 3 extra pixels: more sizes give 55"),
        Mistake("the paper's size", [224],
                "224 is what the paper says; put it into the formula: the floor "
                "of (224 - 11)/4 is 53, so 224 gives 54"),
    ),
))


# --- ex-conv-circular: cross-correlation with circular padding (derivation) --------------------

def _circular_reference(I, K):
    H, W = I.shape
    k_h, k_w = K.shape
    P_h, P_w = (k_h - 1) // 2, (k_w - 1) // 2
    out = np.zeros((H, W))
    for i in range(H):
        for j in range(W):
            for u in range(k_h):
                for v in range(k_w):
                    ii, jj = (i + u - P_h) % H, (j + v - P_w) % W
                    out[i, j] += I[ii, jj] * K[u, v]
    return out


def _circular_pads(K):
    k_h, k_w = K.shape
    top, left = (k_h - 1) // 2, (k_w - 1) // 2
    return ((top, k_h - 1 - top), (left, k_w - 1 - left))


def _circular_zero_padding(I, K):
    return cc.correlate2d(np.pad(I, _circular_pads(K)), K, "valid")


def _circular_one_side(I, K):
    k_h, k_w = K.shape
    padded = np.pad(I, ((0, k_h - 1), (0, k_w - 1)), mode="wrap")
    return cc.correlate2d(padded, K, "valid")


def _circular_flipped(I, K):
    return _circular_reference(I, cc.rot180(K))


register(Exercise(
    label="ex-conv-circular",
    what="the cross-correlation of I with K under circular padding",
    reference=_circular_reference,
    cases=lambda rng: _pairs(rng, [((6, 6), (3, 3)), ((5, 7), (3, 2)),
                                   ((8, 8), (5, 5)), ((3, 4), (3, 3)),
                                   ((4, 5), (1, 1))]),
    mistakes=(
        Mistake("zero padding", _circular_zero_padding,
                "you padded with zeros: circular padding wraps around, the row "
                "above row 0 is row H - 1 (np.pad(..., mode='wrap'))"),
        Mistake("padding on one side", _circular_one_side,
                "your windows start at pixel (i, j) instead of being centred "
                "on it: subtract P_h = (k_h - 1) // 2 from the row index (with "
                "np.pad: wrap P_h rows above and the rest below)"),
        Mistake("kernel flipped", _circular_flipped,
                "you rotated the kernel by 180 degrees: that is a circular true "
                "convolution; the cross-correlation uses K[u, v] as it is"),
    ),
))


# --- ex-conv-even-same: where the 'same' output sits in the full one (a value) -----------------

def _same_start(k, size=7):
    """The row (= column) of the full cross-correlation where 'same' starts."""
    rng = np.random.default_rng(k)
    I, K = rng.standard_normal((size, size)), rng.standard_normal((k, k))
    full, same = cc.correlate2d(I, K, "full"), cc.correlate2d(I, K, "same")
    starts = [o for o in range(k) if np.allclose(full[o:o + size, o:o + size], same)]
    assert len(starts) == 1
    return starts[0]


register(Exercise(
    label="ex-conv-even-same",
    what="the first row of the full result that the 'same' output keeps",
    reference=_same_start(4),
    rtol=0.0, atol=1e-9,
    mistakes=(
        Mistake("the convolution's offset", (4 - 1) // 2,
                "that is where scipy's (and MATLAB's) true convolution starts its "
                "'same' output, floor((k - 1)/2); count instead how many of the "
                "full result's k - 1 top rows of zeros the 'same' padding leaves "
                "out"),
        Mistake("not an integer", (4 - 1) / 2,
                "(k - 1)/2 = 1.5 is the padding a symmetric split would need; a "
                "row index is an integer"),
    ),
))
