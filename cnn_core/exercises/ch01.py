"""Checkers for the exercises of chapter 1, *Images as data* (book/01_images_as_data.ipynb).

Each reference is computed independently of the code a student is likely to write: array
layouts by explicit per-channel loops, the matrix of a convolution from the responses of
:func:`cnn_core.correlate2d` to one-pixel images, counts by building that matrix.
"""

import numpy as np

import cnn_core as cc

from ._core import Case, Exercise, Mistake, register

# --- ex-img-4k: parameters of a dense layer on a 4K colour photograph (a value) -------------

_H4K, _W4K, _C4K, _UNITS = 2160, 3840, 3, 1000


def _dense_params(d_in, d_out):
    return d_in * d_out + d_out            # weights of bold W, then one bias per output


register(Exercise(
    label="ex-img-4k",
    what="the number of parameters of the dense layer",
    reference=_dense_params(_H4K * _W4K * _C4K, _UNITS),
    rtol=0.0, atol=0.5,                    # whole numbers: one parameter off is wrong
    mistakes=(
        Mistake("no bias", _H4K * _W4K * _C4K * _UNITS,
                "you counted the weights only: each of the 1,000 units also has "
                "a bias"),
        Mistake("no channels", _dense_params(_H4K * _W4K, _UNITS),
                "you counted the pixels, not the values: a colour image has "
                "C = 3 values per pixel, and each is one input"),
    ),
))


# --- ex-img-nchw: (N, H, W, C) bytes -> (N, C, H, W) floats in [0, 1] ------------------------

def _nchw_reference(photos):
    n_images, _, _, n_channels = photos.shape
    out = np.stack([photos[:, :, :, c] for c in range(n_channels)], axis=1)
    assert out.shape[:2] == (n_images, n_channels)
    return out.astype(np.float64) / 255.0


def _nchw_cases(rng):
    shapes = [(2, 4, 5, 3), (1, 3, 3, 3), (3, 2, 6, 3), (2, 5, 5, 1)]
    return [Case((rng.integers(0, 256, size=s, dtype=np.uint8),)) for s in shapes]


def _nchw_reshaped(photos):
    n, h, w, c = photos.shape
    return photos.reshape(n, c, h, w) / 255.0


def _nchw_hw_swapped(photos):
    return photos.transpose(0, 3, 2, 1) / 255.0


def _nchw_not_scaled(photos):
    return photos.transpose(0, 3, 1, 2).astype(np.float64)


register(Exercise(
    label="ex-img-nchw",
    what="the batch in (N, C, H, W) layout, scaled to [0, 1]",
    reference=_nchw_reference,
    cases=_nchw_cases,
    mistakes=(
        Mistake("reshape instead of transpose", _nchw_reshaped,
                "you used reshape: it keeps the order of the bytes in memory and "
                "only relabels the axes, so the values of the channels get mixed; "
                "moving an axis needs transpose (or np.moveaxis)"),
        Mistake("H and W swapped", _nchw_hw_swapped,
                "rows and columns are swapped: transpose(0, 3, 2, 1) puts W before "
                "H; the order of axes is (N, C, H, W), i.e. transpose(0, 3, 1, 2)"),
        Mistake("not scaled", _nchw_not_scaled,
                "the layout is right but the values are still 0..255: divide by "
                "255 to get intensities in [0, 1]"),
    ),
))


# --- ex-img-standardize: per-channel standardisation -----------------------------------------

def _standardize_reference(x):
    out = np.empty(x.shape, dtype=np.float64)
    for c in range(x.shape[1]):
        values = x[:, c].ravel()                      # all N*H*W values of channel c
        out[:, c] = (x[:, c] - values.mean()) / values.std()
    return out


def _standardize_cases(rng):
    cases = []
    for shape in [(4, 3, 5, 6), (2, 1, 4, 4), (5, 2, 3, 7)]:
        offset = rng.uniform(-2, 2, size=(1, shape[1], 1, 1))
        scale = rng.uniform(0.5, 3, size=(1, shape[1], 1, 1))
        cases.append(Case((offset + scale * rng.random(shape),)))
    return cases


def _standardize_global(x):
    return (x - x.mean()) / x.std()


def _standardize_per_image(x):
    mean = x.mean(axis=(2, 3), keepdims=True)
    return (x - mean) / x.std(axis=(2, 3), keepdims=True)


def _standardize_sample_std(x):
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    return (x - mean) / x.std(axis=(0, 2, 3), keepdims=True, ddof=1)


def _standardize_per_pixel(x):
    return (x - x.mean(axis=0)) / x.std(axis=0)


register(Exercise(
    label="ex-img-standardize",
    what="x with each channel standardised to mean 0 and standard deviation 1",
    reference=_standardize_reference,
    cases=_standardize_cases,
    mistakes=(
        Mistake("one mean for all channels", _standardize_global,
                "you used one mean and one standard deviation for the whole "
                "batch: each channel c needs its own, over axes (0, 2, 3)"),
        Mistake("per image", _standardize_per_image,
                "you standardised each image on its own (axis=(2, 3)): the "
                "statistics of channel c run over the whole batch, axes (0, 2, 3)"),
        Mistake("sample standard deviation", _standardize_sample_std,
                "you divided by the sample standard deviation (ddof=1): use "
                "np.std's default, ddof=0, so that the result has standard "
                "deviation exactly 1"),
        Mistake("per pixel", _standardize_per_pixel,
                "you averaged over the batch only (axis=0), i.e. per pixel: the "
                "statistics of channel c run over axes (0, 2, 3)"),
    ),
))


# --- ex-img-conv-matrix: the matrix A of a valid cross-correlation ---------------------------

def _matrix_from_responses(op, K, H, W):
    """Column q of the matrix is op(image that is 1 at flat pixel q, K)."""
    basis = np.eye(H * W).reshape(H * W, H, W)
    return np.stack([op(e, K, "valid").ravel() for e in basis], axis=1)


def _conv_matrix_reference(K, H, W):
    return _matrix_from_responses(cc.correlate2d, K, H, W)


def _conv_matrix_loops(K, H, W, out_h, out_w, flip=False):
    k_h, k_w = K.shape
    if flip:
        K = K[::-1, ::-1]
    A = np.zeros((out_h * out_w, H * W))
    for i in range(out_h):
        for j in range(out_w):
            for u in range(k_h):
                for v in range(k_w):
                    A[i * out_w + j, (i + u) * W + (j + v)] = K[u, v]
    return A


def _conv_matrix_off_by_one(K, H, W):
    k_h, k_w = K.shape
    return _conv_matrix_loops(K, H, W, H - k_h, W - k_w)


def _conv_matrix_flipped(K, H, W):
    k_h, k_w = K.shape
    return _conv_matrix_loops(K, H, W, H - k_h + 1, W - k_w + 1, flip=True)


def _conv_matrix_cases(rng):
    sizes = [((3, 3), 6, 6), ((2, 3), 5, 7), ((1, 1), 3, 4), ((4, 4), 4, 4)]
    return [Case((rng.standard_normal(k), H, W)) for k, H, W in sizes]


register(Exercise(
    label="ex-img-conv-matrix",
    what="the (H'W', HW) matrix A of the valid cross-correlation with K",
    reference=_conv_matrix_reference,
    cases=_conv_matrix_cases,
    mistakes=(
        Mistake("off by one", _conv_matrix_off_by_one,
                "off by one in the output size: a k_h-row kernel fits in "
                "H - k_h + 1 positions, not H - k_h"),
        Mistake("kernel flipped", _conv_matrix_flipped,
                "you rotated the kernel by 180 degrees: that is the matrix of the "
                "true convolution; the cross-correlation uses K[u, v] as it is"),
    ),
))


# --- ex-img-conv-nonzeros: how many entries of A are not zero (derivation) --------------------

def _nonzeros_reference(H, W, k_h, k_w):
    rng = np.random.default_rng(H * 1000 + W * 100 + k_h * 10 + k_w)
    K = rng.uniform(1.0, 2.0, size=(k_h, k_w))       # no zero weight
    return int(np.count_nonzero(_conv_matrix_reference(K, H, W)))


register(Exercise(
    label="ex-img-conv-nonzeros",
    what="the number of non-zero entries of A",
    reference=_nonzeros_reference,
    cases=[Case((6, 6, 3, 3)), Case((5, 7, 2, 3)), Case((4, 4, 4, 4)),
           Case((8, 5, 1, 2)), Case((30, 20, 5, 3))],
    rtol=0.0, atol=0.5,
    mistakes=(
        Mistake("output as large as the input",
                lambda H, W, k_h, k_w: H * W * k_h * k_w,
                "you gave A one row per input pixel: it has one row per output "
                "position, and a valid output has (H - k_h + 1)(W - k_w + 1)"),
        Mistake("off by one",
                lambda H, W, k_h, k_w: (H - k_h) * (W - k_w) * k_h * k_w,
                "off by one in the output size: H' = H - k_h + 1"),
        Mistake("one weight per row",
                lambda H, W, k_h, k_w: (H - k_h + 1) * (W - k_w + 1),
                "every row of A holds the whole kernel: k_h * k_w non-zeros, "
                "not one"),
    ),
))


# --- ex-img-levels: grey levels of 8x8 blocks of a 32x32 bitmap (a value) ----------------------

register(Exercise(
    label="ex-img-levels",
    what="the number of grey levels",
    reference=int(cc.down(np.ones((32, 32)), 8).max()) + 1,    # counts 0 .. 64
    rtol=0.0, atol=0.5,
    mistakes=(
        Mistake("zero forgotten", int(cc.down(np.ones((32, 32)), 8).max()),
                "a block can hold 0 black pixels as well as 64: count the 0"),
        Mistake("4x4 blocks", int(cc.down(np.ones((32, 32)), 4).max()) + 1,
                "that is the number for the 4x4 blocks of the digits; the "
                "exercise asks for 8x8 blocks"),
    ),
))
