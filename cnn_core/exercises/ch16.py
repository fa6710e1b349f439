"""Checkers for the exercises of chapter 16, LeNet-5 on real MNIST.

The references are loops written from the definitions (a shift image by
image with slices, a confusion matrix counted example by example), the
cosine formula, and the sizes computed with cc.conv_output_size.
"""

import numpy as np

import cnn_core as cc

from ._core import Case, Exercise, Mistake, register

# ex-lenet-shift: random-shift augmentation with zero fill


def _shift_ref(x, offsets):
    out = np.zeros_like(x)
    H, W = x.shape[2:]
    for n, (dy, dx) in enumerate(offsets):
        rows_out = slice(max(dy, 0), H + min(dy, 0))
        cols_out = slice(max(dx, 0), W + min(dx, 0))
        rows_in = slice(max(-dy, 0), H + min(-dy, 0))
        cols_in = slice(max(-dx, 0), W + min(-dx, 0))
        out[n, :, rows_out, cols_out] = x[n, :, rows_in, cols_in]
    return out


def _shift_cases(rng):
    def case(shape, s):
        x = rng.standard_normal(shape)
        offsets = rng.integers(-s, s + 1, size=(shape[0], 2))
        offsets[0] = (s, -s)                 # the largest shift, both signs
        return Case((x, offsets))
    return [case((4, 1, 6, 6), 2), case((3, 2, 5, 7), 1),
            Case((rng.standard_normal((2, 1, 4, 4)),
                  np.zeros((2, 2), dtype=int))),
            case((5, 1, 8, 6), 3)]


def _shift_roll(x, offsets):
    return np.stack([np.roll(img, (dy, dx), axis=(1, 2))
                     for img, (dy, dx) in zip(x, offsets)])


register(Exercise(
    label="ex-lenet-shift",
    what="the images x shifted by offsets (dy, dx), zeros filled in",
    reference=_shift_ref,
    cases=_shift_cases,
    mistakes=(
        Mistake("np.roll wraps around", _shift_roll,
                "the pixels that leave on one side come back on the "
                "other: np.roll wraps around; a shifted image gets zeros "
                "where nothing moved in"),
        Mistake("shifted the wrong way",
                lambda x, offsets: _shift_ref(x, -np.asarray(offsets)),
                "your images move up and left for positive offsets: "
                "out[i, j] = x[i - dy, j - dx] moves the content down "
                "and right"),
        Mistake("dy and dx swapped",
                lambda x, offsets: _shift_ref(x, np.asarray(offsets)[:, ::-1]),
                "dy (the first offset) moves rows, dx (the second) "
                "moves columns: you swapped them"),
    ),
))

# ex-lenet-confusion: the confusion matrix


def _confusion_ref(t, pred, M):
    cm = np.zeros((M, M), dtype=int)
    for true_class, predicted in zip(t, pred):
        cm[true_class, predicted] += 1
    return cm


def _confusion_cases(rng):
    t = rng.integers(0, 4, size=30)
    pred = np.where(rng.random(30) < 0.6, t, rng.integers(0, 4, size=30))
    t2 = rng.integers(0, 9, size=50)                 # class 9 never occurs
    pred2 = np.where(rng.random(50) < 0.7, t2, rng.integers(0, 9, size=50))
    return [Case((t, pred, 4)), Case((t2, pred2, 10)),
            Case((np.array([0, 1, 1, 2]), np.array([1, 1, 2, 2]), 3))]


def _confusion_sized_by_data(t, pred, M):
    size = int(max(t.max(), pred.max())) + 1
    return _confusion_ref(t, pred, size)


register(Exercise(
    label="ex-lenet-confusion",
    what="the M×M confusion matrix, rows true class, columns predicted",
    reference=_confusion_ref,
    cases=_confusion_cases,
    mistakes=(
        Mistake("transposed", lambda t, pred, M: _confusion_ref(t, pred, M).T,
                "your matrix is transposed: row i is the true class, "
                "column j the predicted one, so each row sums to the "
                "number of examples of its class"),
        Mistake("size from the data", _confusion_sized_by_data,
                "a class that never occurs still has its row and column: "
                "the matrix is M×M, not (largest label + 1)²"),
    ),
))

# ex-lenet-cosine: the cosine learning-rate schedule


def _cosine_ref(step, total, lr):
    return lr * 0.5 * (1.0 + np.cos(np.pi * step / total))


def _cosine_cases(rng):
    return [Case((0, 100, 1e-3)), Case((50, 100, 1e-3)),
            Case((99, 100, 1e-3)), Case((37, 250, 2e-3)),
            Case((3, 4, 0.1))]


register(Exercise(
    label="ex-lenet-cosine",
    what="η at step `step` of `total` (0-based) of the cosine schedule",
    reference=_cosine_ref,
    cases=_cosine_cases,
    mistakes=(
        Mistake("cosine not shifted and halved",
                lambda step, total, lr: lr * np.cos(np.pi * step / total),
                "lr·cos(π·step/total) becomes negative after half the "
                "steps: shift and halve it, η(1 + cos)/2, so that it falls "
                "from η to 0"),
        Mistake("a quarter period",
                lambda step, total, lr: lr * np.cos(0.5 * np.pi * step / total),
                "that is lr·cos(π/2 · step/total), a quarter period: the "
                "schedule is half a period of the cosine, shifted and "
                "halved"),
    ),
))

# ex-lenet-sizes: the sizes through LeNet-5 (a derivation)


def _lenet_sizes(padding_first):
    h = cc.conv_output_size(28, 5, padding=padding_first)     # C1
    sizes = [h]
    h = cc.conv_output_size(h, 2, stride=2)                   # S2
    sizes.append(h)
    h = cc.conv_output_size(h, 5)                             # C3
    sizes.append(h)
    h = cc.conv_output_size(h, 2, stride=2)                   # S4
    sizes.append(h)
    return tuple(sizes) + (16 * h * h,)


register(Exercise(
    label="ex-lenet-sizes",
    what="the heights after C1, S2, C3, S4 and the flattened length",
    reference=_lenet_sizes(2),
    mistakes=(
        Mistake("C1's padding forgotten", _lenet_sizes(0),
                "C1 pads by 2 on each side: 28 + 2·2 - 5 + 1 = 28, so the "
                "first convolution keeps the size"),
        Mistake("6 maps flattened", (28, 14, 10, 5, 6 * 5 * 5),
                "the flattened vector holds the 16 maps of C3, not the "
                "6 of C1"),
    ),
))
