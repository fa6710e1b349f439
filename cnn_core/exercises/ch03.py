"""Checkers for the exercises of chapter 3, the convolutional layer.

Each reference is independent of the loops a student writes: the library's
``conv2d`` (im2col and one matrix product), or ``conv2d`` applied to basis
images, or the parameter arrays of a real layer.
"""

import numpy as np

import cnn_core as cc

from ._core import Case, Exercise, Mistake, register

# ex-layer-forward: the multi-channel forward pass of a layer, by loops


def _forward_cases(rng):
    def case(N, C, H, W, F, kh, kw, **conf):
        x = rng.standard_normal((N, C, H, W))
        w = rng.standard_normal((F, C, kh, kw))
        b = rng.standard_normal(F)
        return Case((x, w, b), conf)
    # the first case runs every mistake (C = F): each one shows its hint
    return [case(2, 3, 5, 6, 3, 3, 2),                  # non-square kernel
            case(1, 2, 7, 7, 4, 3, 3, stride=2, padding=1),
            case(2, 1, 4, 5, 3, 2, 2, padding=1),
            case(1, 3, 6, 6, 2, 1, 1)]                  # 1x1 kernel


def _forward_ref(x, w, b, stride=1, padding=0):
    return cc.conv2d(x, w, b, stride=stride, padding=padding)


register(Exercise(
    label="ex-layer-forward",
    what="the forward pass z = w ⋆ x + b of a convolutional layer",
    reference=_forward_ref,
    cases=_forward_cases,
    mistakes=(
        Mistake("bias forgotten",
                lambda x, w, b, stride=1, padding=0:
                cc.conv2d(x, w, None, stride=stride, padding=padding),
                "every output differs by the bias b_f of its channel: "
                "the bias was forgotten"),
        Mistake("kernel flipped",
                lambda x, w, b, stride=1, padding=0:
                cc.conv2d(x, w[:, :, ::-1, ::-1], b, stride=stride,
                          padding=padding),
                "you rotated the kernel by 180°: that is the true "
                "convolution; the layer computes the cross-correlation, "
                "w[f, c, u, v] multiplies x[n, c, s*i + u, s*j + v]"),
        Mistake("kernel bank transposed",
                lambda x, w, b, stride=1, padding=0:
                cc.conv2d(x, w.transpose(1, 0, 2, 3), b, stride=stride,
                          padding=padding),
                "you used w[c, f] for w[f, c]: the first axis of w is the "
                "output channel, the second the input channel summed over"),
        Mistake("input channels not summed",
                lambda x, w, b, stride=1, padding=0:
                cc.conv2d(x[:, :1], w[:, :1], b, stride=stride,
                          padding=padding),
                "only input channel 0 contributes: sum the products over "
                "every input channel c as well as over u and v"),
        Mistake("stride ignored",
                lambda x, w, b, stride=1, padding=0:
                cc.conv2d(x, w, b, padding=padding),
                "the windows start at (i, j), not at (s*i, s*j): the "
                "stride was ignored"),
    ),
))

# ex-layer-matrix: the matrix A of a single-channel convolution, padded


def _matrix_ref(K, H, W, stride=1, padding=0):
    basis = np.eye(H * W).reshape(H * W, 1, H, W)         # one image per pixel
    cols = cc.conv2d(basis, K[None, None], stride=stride, padding=padding)
    return cols.reshape(H * W, -1).T                      # column = response


def _matrix_cases(rng):
    return [Case((rng.standard_normal((2, 2)), 3, 3)),
            Case((rng.standard_normal((3, 2)), 6, 5)),      # non-square
            Case((rng.standard_normal((3, 3)), 8, 7), {"stride": 2}),
            Case((rng.standard_normal((3, 3)), 5, 4), {"padding": 1}),
            Case((rng.standard_normal((2, 3)), 7, 6),
                 {"stride": 2, "padding": 1})]


def _matrix_column_major(K, H, W, stride=1, padding=0):
    # pixels numbered ii + jj * H (column by column), a classic slip
    A = _matrix_ref(K, H, W, stride, padding)
    return A.reshape(A.shape[0], H, W).transpose(0, 2, 1).reshape(A.shape)


def _matrix_not_shifted(K, H, W, stride=1, padding=0):
    # window (i, j) taken to start at input pixel (s i, s j): the rows
    # of the padded output, but the kernel is not moved up-left by P
    basis = np.eye(H * W).reshape(H * W, 1, H, W)
    P = padding
    basis = np.pad(basis, ((0, 0), (0, 0), (0, 2 * P), (0, 2 * P)))
    cols = cc.conv2d(basis, K[None, None], stride=stride)
    return cols.reshape(H * W, -1).T


register(Exercise(
    label="ex-layer-matrix",
    what="the matrix A with A @ x.ravel() = conv2d(x).ravel()",
    reference=_matrix_ref,
    cases=_matrix_cases,
    mistakes=(
        Mistake("kernel flipped",
                lambda K, H, W, stride=1, padding=0:
                _matrix_ref(K[::-1, ::-1], H, W, stride, padding),
                "you rotated the kernel by 180°: that is the matrix of the "
                "true convolution *, not of the cross-correlation ⋆"),
        Mistake("pixels numbered column by column", _matrix_column_major,
                "the columns are in the wrong order: number pixel (ii, jj) "
                "as ii * W + jj (row-major, like x.ravel())"),
        Mistake("stride ignored",
                lambda K, H, W, stride=1, padding=0:
                _matrix_ref(K, H, W, 1, padding),
                "the rows are those of stride 1: window (i, j) starts at "
                "padded pixel (s*i, s*j)"),
        Mistake("padding not subtracted", _matrix_not_shifted,
                "every window is P pixels too far down and right (as if "
                "padded on one side only): K[u, v] lies on input pixel "
                "(s*i + u - P, s*j + v - P)"),
    ),
))

# ex-layer-params: parameters of AlexNet's first layer (a value)

_C, _F, _K = 3, 96, 11
_conv1 = cc.Conv2D(_C, _F, _K, rng=np.random.default_rng(0))
_PARAMS = sum(p.size for p, _ in _conv1.parameters())      # counted, not typed

register(Exercise(
    label="ex-layer-params",
    what="the number of parameters of AlexNet's first layer",
    reference=_PARAMS,
    mistakes=(
        Mistake("biases forgotten", _F * _C * _K * _K,
                "that is the number of weights only: each of the F "
                "kernels also has a bias"),
        Mistake("input channels forgotten", _F * (_K * _K + 1),
                "each kernel spans all C = 3 input channels: it has "
                "C * k * k weights, not k * k"),
        Mistake("both forgotten", _F * _K * _K,
                "each kernel has C * k * k weights (all input channels) "
                "and there is one bias per kernel"),
        Mistake("one kernel", _C * _K * _K + 1,
                "that is one kernel and its bias: the layer has F = 96"),
    ),
))

# ex-layer-1x1: a 1x1 convolution as a matrix product over channels


def _one_by_one_cases(rng):
    def case(N, C, H, W, F):
        return Case((rng.standard_normal((N, C, H, W)),
                     rng.standard_normal((F, C, 1, 1)),
                     rng.standard_normal(F)))
    # first case: C = F = W, so that every mistake runs and shows its hint
    return [case(2, 3, 4, 3, 3), case(1, 4, 3, 5, 2), case(3, 1, 2, 6, 5)]


def _one_by_one_ref(x, w, b):
    return cc.conv2d(x, w, b)


register(Exercise(
    label="ex-layer-1x1",
    what="a 1×1 convolution written as one matrix product over channels",
    reference=_one_by_one_ref,
    cases=_one_by_one_cases,
    mistakes=(
        Mistake("bias forgotten", lambda x, w, b: cc.conv2d(x, w),
                "every output differs by the bias b_f of its channel: "
                "add b[f] to every pixel of map f"),
        Mistake("weight matrix transposed",
                lambda x, w, b: cc.conv2d(x, w.transpose(1, 0, 2, 3), b),
                "you multiplied by the transpose of the F × C matrix: "
                "output f is sum_c w[f, c, 0, 0] * x[n, c]"),
        Mistake("bias on the wrong axis",
                lambda x, w, b: cc.conv2d(x, w) + b[None, None, None, :],
                "the bias was added along the last (width) axis: it "
                "belongs to the channel axis, b[None, :, None, None]"),
    ),
))
