"""Checkers for the exercises of chapter 9, other convolutions.

The references are independent of the loops a student writes: the
library's ``conv_transpose2d`` and ``conv_transpose_output_size``, and for
the dilated kernel a loop that places every tap by its index.
"""

import numpy as np

import cnn_core as cc

from ._core import Case, Exercise, Mistake, register

# ex-tconv-loop: the transposed convolution as a scatter


def _tconv_cases(rng):
    def case(H, k, s, a):
        return Case((rng.standard_normal((H, H)), rng.standard_normal((k, k)),
                     s, a))
    return [case(3, 3, 2, 1),            # overlaps and output_padding
            case(2, 2, 1, 0),
            case(4, 3, 1, 0),
            case(3, 2, 3, 0),            # stride larger than the kernel
            case(3, 4, 2, 1)]


def _tconv_ref(y, K, s, a):
    return cc.conv_transpose2d(y[None, None], K[None, None], stride=s,
                               output_padding=a)[0, 0]


def _tconv_scatter(y, K, s, a, *, add=True, size_a=True):
    H, k = y.shape[0], K.shape[0]
    size = s * (H - 1) + k + (a if size_a else 0)
    out = np.zeros((size, size))
    for i in range(H):
        for j in range(H):
            block = (slice(s * i, s * i + k), slice(s * j, s * j + k))
            if add:
                out[block] += y[i, j] * K
            else:
                out[block] = y[i, j] * K
    return out


register(Exercise(
    label="ex-tconv-loop",
    what="the transposed convolution of y with K, written as a scatter",
    reference=_tconv_ref,
    cases=_tconv_cases,
    mistakes=(
        Mistake("assigned instead of accumulated",
                lambda y, K, s, a: _tconv_scatter(y, K, s, a, add=False),
                "where kernel copies overlap you kept only the last one: "
                "add the copies (+=) instead of assigning them (=)"),
        Mistake("output_padding ignored",
                lambda y, K, s, a: _tconv_scatter(y, K, s, a, size_a=False),
                "the output is a rows and columns short: its size is "
                "s*(H'-1) + k + a, output_padding a included"),
        Mistake("kernel flipped",
                lambda y, K, s, a: _tconv_scatter(y, K[::-1, ::-1], s, a),
                "you scattered the kernel rotated by 180°: the transposed "
                "convolution scatters K as it is"),
    ),
))

# ex-dilate-kernel: the kernel with d - 1 zeros between its taps


def _dilate_ref(K, dilation):
    kh, kw = K.shape
    out = np.zeros((dilation * (kh - 1) + 1, dilation * (kw - 1) + 1))
    for u in range(kh):
        for v in range(kw):
            out[dilation * u, dilation * v] = K[u, v]
    return out


def _dilate_cases(rng):
    return [Case((rng.standard_normal((3, 2)), 2)),
            Case((rng.standard_normal((3, 3)), 3)),
            Case((rng.standard_normal((2, 4)), 1)),
            Case((rng.standard_normal((1, 3)), 2))]


def _dilate_step(K, step, extra=0):
    kh, kw = K.shape
    out = np.zeros((step * (kh - 1) + 1 + extra, step * (kw - 1) + 1 + extra))
    out[:step * (kh - 1) + 1:step, :step * (kw - 1) + 1:step] = K
    return out


register(Exercise(
    label="ex-dilate-kernel",
    what="the kernel K with dilation - 1 zeros between its taps",
    reference=_dilate_ref,
    cases=_dilate_cases,
    mistakes=(
        Mistake("d zeros instead of d - 1",
                lambda K, dilation: _dilate_step(K, dilation + 1),
                "you put d zeros between the taps: dilation d puts the taps "
                "d apart, so d - 1 zeros lie between them and the size is "
                "d(k-1)+1"),
        Mistake("zeros after the last tap",
                lambda K, dilation: _dilate_step(K, dilation, dilation - 1),
                "your kernel is d*k wide: the zeros go only between taps, "
                "none after the last one, so the size is d(k-1)+1"),
    ),
))

# ex-tconv-size: the output size of a transposed convolution

_GEOMETRIES = [(3, 3, 2, 1, 1, 1), (4, 3, 1, 0, 1, 0), (5, 4, 2, 1, 1, 0),
               (3, 3, 2, 0, 2, 1), (2, 3, 3, 0, 1, 2), (6, 5, 1, 2, 1, 0),
               (4, 3, 3, 1, 2, 2), (7, 1, 2, 0, 1, 1), (5, 3, 1, 1, 3, 0),
               (3, 2, 2, 0, 1, 0), (4, 5, 2, 2, 2, 1), (1, 3, 1, 0, 1, 0)]


register(Exercise(
    label="ex-tconv-size",
    what="the output size of a transposed convolution (an int)",
    reference=lambda Ho, k, s, P, d, a: cc.conv_transpose_output_size(
        Ho, k, stride=s, padding=P, output_padding=a, dilation=d),
    cases=[Case(g) for g in _GEOMETRIES],
    mistakes=(
        Mistake("dilation forgotten",
                lambda Ho, k, s, P, d, a: s * (Ho - 1) + k - 2 * P + a,
                "you used k where the dilated kernel spans d(k-1)+1 pixels"),
        Mistake("padding added",
                lambda Ho, k, s, P, d, a:
                s * (Ho - 1) + d * (k - 1) + 1 + 2 * P + a,
                "the padding of the convolution is removed from the "
                "transposed convolution's output: subtract 2P, do not add "
                "it"),
        Mistake("output_padding forgotten",
                lambda Ho, k, s, P, d, a: s * (Ho - 1) + d * (k - 1) + 1 - 2 * P,
                "the a = output_padding extra rows are part of the size"),
        Mistake("size times the stride",
                lambda Ho, k, s, P, d, a: s * Ho,
                "a transposed convolution does not simply multiply the "
                "size by s: the kernel, the padding and a count too"),
    ),
))

# ex-tconv-adjoint-1d: the adjoint of a stride-2 correlation, derived


def _adj_cases(rng):
    def case(H, k):
        Ho = (H - k) // 2 + 1
        return Case((rng.standard_normal(Ho), rng.standard_normal(k), H))
    return [case(9, 3), case(10, 3), case(8, 4), case(7, 2), case(5, 5)]


def _adj_ref(y, w, H):
    k = len(w)
    a = (H - k) % 2
    return cc.conv_transpose2d(y[None, None, None], w[None, None, None],
                               stride=(1, 2), output_padding=(0, a))[0, 0, 0]


def _adj_scatter(y, w, H, *, length=None):
    out = np.zeros(H if length is None else length)
    for i in range(len(y)):
        out[2 * i:2 * i + len(w)] += w * y[i]
    return out


register(Exercise(
    label="ex-tconv-adjoint-1d",
    what="A^T y for the stride-2 valid correlation A, of length H",
    reference=_adj_ref,
    cases=_adj_cases,
    mistakes=(
        Mistake("kernel flipped",
                lambda y, w, H: _adj_scatter(y, w[::-1], H),
                "w_u multiplies y_i at position 2i + u: scatter the kernel "
                "as it is; the flip appears only in the full-convolution "
                "form"),
        Mistake("last position dropped",
                lambda y, w, H: _adj_scatter(y, w, H,
                                             length=2 * (len(y) - 1) + len(w)),
                "A^T y has the length H of x: a position that lies in no "
                "window gets a zero (the row output_padding adds)"),
        Mistake("stride forgotten",
                lambda y, w, H: np.pad(np.convolve(y, w),
                                       (0, max(0, H - len(y) - len(w) + 1)))[:H],
                "the copies of w start at 2i, two positions apart, not at i"),
    ),
))
