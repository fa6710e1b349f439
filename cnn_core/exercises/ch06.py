"""Checkers for the exercises of chapter 6, backpropagation.

The references are the deliberately naive loops of :mod:`cnn_core.naive`
(written straight from the definitions) or explicit index loops, never the
one-line forms a student is asked to find.
"""

import numpy as np

import cnn_core as cc
from cnn_core import naive

from ._core import Case, Exercise, Mistake, register

# ex-bp-dx-full: dE/dx of a convolution as one full convolution


def _dx_cases(rng):
    def case(N, C, F, ho, wo, kh, kw):
        dout = rng.standard_normal((N, F, ho, wo))
        w = rng.standard_normal((F, C, kh, kw))
        return Case((dout, w))
    # the first case (C = F, non-square kernel) runs every mistake
    return [case(2, 3, 3, 4, 5, 3, 2), case(1, 1, 1, 6, 6, 2, 4),
            case(3, 2, 4, 2, 2, 5, 5), case(1, 3, 2, 3, 3, 1, 1)]


def _dx_ref(dout, w):
    n, _, ho, wo = dout.shape
    x = np.zeros((n, w.shape[1], ho + w.shape[2] - 1, wo + w.shape[3] - 1))
    return naive.conv2d_backward_naive(dout, x, w)[0]


def _dx_not_rotated(dout, w):
    return cc.conv2d(dout, w.transpose(1, 0, 2, 3), padding="full")


def _dx_one_side(dout, w):
    kh, kw = w.shape[-2:]
    padded = np.pad(dout, ((0, 0), (0, 0), (kh - 1, 0), (kw - 1, 0)))
    return cc.conv2d(padded, cc.rot180(w).transpose(1, 0, 2, 3))


register(Exercise(
    label="ex-bp-dx-full",
    what="dE/dx of a stride-1 convolution, from dout and w",
    reference=_dx_ref,
    cases=_dx_cases,
    mistakes=(
        Mistake("kernel not rotated", _dx_not_rotated,
                "the kernel was not rotated: the full cross-correlation "
                "of delta needs rot180(w) (or the true convolution with w)"),
        Mistake("padding on one side only", _dx_one_side,
                "delta was padded with k - 1 zeros on one side only "
                "(top/left): a full correlation pads every side, so "
                "the result has the input's size H = H' + k - 1"),
    ),
))

# ex-bp-dw-swap: dE/dw as one valid correlation of x with delta


def _dw_cases(rng):
    def case(N, C, F, H, W, kh, kw):
        x = rng.standard_normal((N, C, H, W))
        dout = rng.standard_normal((N, F, H - kh + 1, W - kw + 1))
        return Case((x, dout))
    # the first case (C = F, non-square kernel) runs every mistake
    return [case(2, 3, 3, 6, 7, 3, 2), case(5, 1, 2, 8, 8, 3, 3),
            case(1, 2, 3, 4, 4, 4, 1), case(3, 4, 1, 5, 6, 2, 3)]


def _dw_ref(x, dout):
    kh = x.shape[2] - dout.shape[2] + 1
    kw = x.shape[3] - dout.shape[3] + 1
    w = np.zeros((dout.shape[1], x.shape[1], kh, kw))
    return naive.conv2d_backward_naive(dout, x, w)[1]


def _dw_swapped(x, dout):
    return cc.conv2d(x.transpose(1, 0, 2, 3), dout.transpose(1, 0, 2, 3))


register(Exercise(
    label="ex-bp-dw-swap",
    what="dE/dw of a stride-1 convolution, from x and dout",
    reference=_dw_ref,
    cases=_dw_cases,
    mistakes=(
        Mistake("result rotated",
                lambda x, dout: cc.rot180(_dw_swapped(x, dout)
                                          .transpose(1, 0, 2, 3)),
                "the kernel gradient was rotated by 180°: with a "
                "cross-correlation forward pass dE/dw = x ⋆ delta, "
                "a valid correlation with no rotation"),
        Mistake("delta rotated",
                lambda x, dout: cc.conv2d(
                    x.transpose(1, 0, 2, 3),
                    cc.rot180(dout.transpose(1, 0, 2, 3)))
                .transpose(1, 0, 2, 3),
                "delta was rotated by 180°: that is conv2(x, delta), a "
                "true convolution; dE/dw correlates x with delta as it is"),
        Mistake("axes not swapped back", _dw_swapped,
                "the result is indexed [c, f]: transpose the two first "
                "axes back to (F, C, k_h, k_w)"),
    ),
))

# ex-bp-overlap: max-pooling backward pass, ties and overlapping windows


def _pool_cases(rng):
    overlap = rng.standard_normal((1, 1, 5, 5))
    overlap[0, 0, 2, 2] = 10.0              # wins all four 3x3 windows
    ties = rng.integers(0, 3, size=(2, 2, 6, 6)).astype(float)
    return [Case((rng.standard_normal((1, 1, 2, 2)), overlap, 3, 2)),
            Case((rng.standard_normal((2, 2, 3, 3)), ties, 2, 2)),
            Case((rng.standard_normal((2, 2, 5, 5)), ties, 2, 1)),
            Case((rng.standard_normal((1, 3, 2, 3)),
                  rng.standard_normal((1, 3, 5, 7)), 3, 2))]


def _pool_ref(dout, x, k, s):
    return naive.max_pool2d_backward_naive(dout, x, k, stride=s)


def _pool_loop(dout, x, k, s, every_max=False, accumulate=True):
    dx = np.zeros_like(x)
    N, C, Ho, Wo = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    win = x[n, c, s * i:s * i + k, s * j:s * j + k]
                    if every_max:
                        hits = np.argwhere(win == win.max())
                    else:
                        hits = [np.unravel_index(np.argmax(win), win.shape)]
                    for u, v in hits:
                        if accumulate:
                            dx[n, c, s * i + u, s * j + v] += dout[n, c, i, j]
                        else:
                            dx[n, c, s * i + u, s * j + v] = dout[n, c, i, j]
    return dx


register(Exercise(
    label="ex-bp-overlap",
    what="dE/dx of k x k max pooling with stride s",
    reference=_pool_ref,
    cases=_pool_cases,
    mistakes=(
        Mistake("not accumulated",
                lambda dout, x, k, s: _pool_loop(dout, x, k, s,
                                                 accumulate=False),
                "a pixel that wins several overlapping windows gets only "
                "the last error: the gradient must be accumulated (+=) "
                "where windows overlap"),
        Mistake("every maximum in a tie",
                lambda dout, x, k, s: _pool_loop(dout, x, k, s,
                                                 every_max=True),
                "in a tie every maximum received the whole error, so "
                "it was counted twice: send it to the first maximum "
                "only (np.argmax), as cnn_core and PyTorch do"),
    ),
))

# ex-bp-stride-adjoint: the adjoint of keeping every s-th row and column


def _stuff_cases(rng):
    return [Case((rng.standard_normal((3, 4)), 2, (5, 7))),
            Case((rng.standard_normal((2, 2)), 3, (5, 6))),   # trailing zeros
            Case((rng.standard_normal((4, 3)), 1, (4, 3))),
            Case((rng.standard_normal((2, 3)), 2, (4, 5)))]   # a trailing row


def _stuff_ref(d, s, shape):
    out = np.zeros(shape)
    for i in range(d.shape[0]):
        for j in range(d.shape[1]):
            out[s * i, s * j] = d[i, j]
    return out


def _stuff_no_tail(d, s, shape):
    out = np.zeros(((d.shape[0] - 1) * s + 1, (d.shape[1] - 1) * s + 1))
    out[::s, ::s] = d
    return out


def _stuff_s_zeros(d, s, shape):
    out = np.zeros((max(shape[0], d.shape[0] * (s + 1)),
                    max(shape[1], d.shape[1] * (s + 1))))
    out[::s + 1, ::s + 1][:d.shape[0], :d.shape[1]] = d
    return out[:shape[0], :shape[1]]


register(Exercise(
    label="ex-bp-stride-adjoint",
    what="the adjoint of z -> z[::s, ::s], an array of the given shape",
    reference=_stuff_ref,
    cases=_stuff_cases,
    mistakes=(
        Mistake("no trailing zeros", _stuff_no_tail,
                "the result stops at the last entry of delta: the adjoint "
                "maps back to the whole stride-1 output, so when s does not "
                "divide its size minus 1, zero rows or columns follow"),
        Mistake("s zeros instead of s - 1", _stuff_s_zeros,
                "s zeros were inserted between entries: the entries of "
                "delta must land s positions apart, so s - 1 zeros"),
    ),
))
