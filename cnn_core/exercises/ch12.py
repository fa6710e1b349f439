"""Checkers for the exercises of chapter 12, residual connections.

The references are built from :class:`cnn_core.Residual` with
:class:`cnn_core.Dense` and :class:`cnn_core.Tanh` layers, the naive
convolution loops of :mod:`cnn_core.naive`, and the product of the factors
(Id + J_l), never the forms a student is asked to write.
"""

from math import comb

import numpy as np

import cnn_core as cc
from cnn_core import naive

from ._core import Case, Exercise, Mistake, register

# ex-res-backward: dE/dx of x + W2 tanh(W1 x), batch of rows


def _backward_cases(rng):
    def case(N, d, hidden, scale):
        x = rng.standard_normal((N, d))
        w1 = scale * rng.standard_normal((hidden, d))
        w2 = rng.standard_normal((d, hidden)) / np.sqrt(hidden)
        return Case((rng.standard_normal((N, d)), x, w1, w2))
    return [case(3, 4, 5, 1.0), case(1, 2, 6, 2.0), case(5, 3, 3, 0.3),
            case(2, 1, 1, 1.0)]


def _backward_reference(dout, x, w1, w2):
    rng = np.random.default_rng(0)
    first = cc.Dense(w1.shape[1], w1.shape[0], rng=rng)
    second = cc.Dense(w2.shape[1], w2.shape[0], rng=rng)
    first.params["w"][...], second.params["w"][...] = w1, w2
    first.params["b"][...] = second.params["b"][...] = 0.0
    block = cc.Residual(cc.Sequential(first, cc.Tanh(), second))
    block.forward(x)
    return block.backward(dout)


def _branch(dout, x, w1, w2, slope):
    return ((dout @ w2) * slope(x @ w1.T)) @ w1


register(Exercise(
    label="ex-res-backward",
    what="dE/dx of the residual block y = x + tanh(x W1^T) W2^T",
    reference=_backward_reference,
    cases=_backward_cases,
    mistakes=(
        Mistake("identity term forgotten",
                lambda d, x, w1, w2: _branch(d, x, w1, w2,
                                             cc.tanh_derivative),
                "you returned only the branch's J^T delta: the skip path "
                "adds delta itself, dE/dx = delta + J^T delta."),
        Mistake("tanh' at the wrong place",
                lambda d, x, w1, w2: d + _branch(d, x, w1, w2,
                                                 lambda z: 1 - z ** 2),
                "you used 1 - z^2 with the tanh's input z = x W1^T: "
                "its slope is tanh'(z) = 1 - tanh(z)^2."),
        Mistake("tanh' forgotten",
                lambda d, x, w1, w2: d + _branch(d, x, w1, w2,
                                                 np.ones_like),
                "the branch's backward pass goes through the tanh: "
                "multiply by tanh'(x W1^T) between the two weights."),
    ),
))

# ex-res-projection: the 1x1 projection with stride s


def _projection_cases(rng):
    def case(N, C, F, H, W, s):
        return Case((rng.standard_normal((N, C, H, W)),
                     rng.standard_normal((F, C, 1, 1)), s))
    # the first case (odd sizes, stride 2) tells the mistakes apart
    return [case(2, 3, 5, 7, 5, 2), case(1, 2, 2, 6, 6, 2),
            case(3, 1, 4, 7, 8, 3), case(2, 4, 3, 5, 5, 1)]


def _projection_reference(x, w, s):
    return naive.conv2d_naive(x, w, stride=s)


def _project(x_sub, w):
    return np.einsum("fc,ncij->nfij", w[:, :, 0, 0], x_sub)


def _floor_positions(x, w, s):
    H, W = x.shape[2:]
    return _project(x[:, :, :H // s * s:s, :W // s * s:s], w)


register(Exercise(
    label="ex-res-projection",
    what="the projection P x: a 1x1 convolution with stride s",
    reference=_projection_reference,
    cases=_projection_cases,
    mistakes=(
        Mistake("no stride", lambda x, w, s: _project(x, w),
                "the projection has the block's stride s: without it P x "
                "keeps the input's size and cannot be added to F(x)."),
        Mistake("windows start at s - 1",
                lambda x, w, s: _project(x[:, :, s - 1::s, s - 1::s], w),
                "output position (i, j) reads input (s i, s j): the first "
                "window starts at row and column 0, not s - 1."),
        Mistake("H // s positions", _floor_positions,
                "a 1x1 window with stride s fits floor((H - 1)/s) + 1 "
                "times, one more than H // s when s does not divide H."),
    ),
))

# ex-res-paths: the product of (Id + J_l) as a sum over paths


def _paths_cases(rng):
    return [Case((0.7 * rng.standard_normal((3, 4, 4)),)),
            Case((0.5 * rng.standard_normal((4, 3, 3)),)),
            Case((rng.standard_normal((1, 2, 2)),)),
            Case((0.3 * rng.standard_normal((6, 2, 2)),))]


def _ordered_product(jacobians, reverse=False):
    d = jacobians.shape[-1]
    total = np.eye(d)
    order = jacobians if not reverse else jacobians[::-1]
    for J in order:
        total = (np.eye(d) + J) @ total
    return total


register(Exercise(
    label="ex-res-paths",
    what="the sum over all paths of the ordered products of Jacobians",
    reference=_ordered_product,
    cases=_paths_cases,
    mistakes=(
        Mistake("products in the wrong order",
                lambda js: _ordered_product(js, reverse=True),
                "each product must apply the lower block first: for the "
                "path through blocks l < l' it is J_l' J_l, the later "
                "block on the left (matrices do not commute)."),
        Mistake("empty path missing",
                lambda js: _ordered_product(js) - np.eye(js.shape[-1]),
                "the path that skips every block is a path too: it "
                "contributes the identity Id."),
        Mistake("single branches only",
                lambda js: np.eye(js.shape[-1]) + js.sum(axis=0),
                "Id + sum of J_l is only the paths through at most one "
                "branch: a path may go through any subset of the blocks."),
    ),
))

# ex-res-path-count: paths through exactly 3 of 20 branches

L_BLOCKS, K_BRANCHES = 20, 3

register(Exercise(
    label="ex-res-path-count",
    what="the number of paths through exactly 3 of 20 residual branches",
    reference=comb(L_BLOCKS, K_BRANCHES),
    mistakes=(
        Mistake("ordered choices", L_BLOCKS * (L_BLOCKS - 1)
                * (L_BLOCKS - 2),
                "the order of the branches on a path is fixed by the "
                "depth: choose which 3 blocks, not in which order."),
        Mistake("with repetition", L_BLOCKS ** K_BRANCHES,
                "a path goes through each block at most once, and the "
                "order is fixed: a subset of 3 of the 20 blocks."),
        Mistake("2 to the k", 2 ** K_BRANCHES,
                "2^L counts all paths through L blocks; the paths through "
                "exactly 3 of them are the subsets of size 3."),
    ),
))
