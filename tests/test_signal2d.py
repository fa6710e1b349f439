"""Single-channel correlate2d/convolve2d against scipy.signal and the naive loops in all three
modes (odd and even kernels), rot180, and Bouvrie's down()/up()."""

from __future__ import annotations

import numpy as np
import pytest

import cnn_core as cc
from cnn_core import naive
from testhelpers import assert_allclose, randn

MODES = ["valid", "same", "full"]
KSHAPES = [
    pytest.param((1, 1), id="k1x1"),
    pytest.param((2, 2), id="k2x2-even"),
    pytest.param((3, 3), id="k3x3-odd"),
    pytest.param((4, 4), id="k4x4-even"),
    pytest.param((2, 3), id="k2x3-mixed"),
    pytest.param((5, 1), id="k5x1"),
    pytest.param((6, 7), id="k=image"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kshape", KSHAPES)
def test_correlate_convolve_vs_scipy(kshape, mode):
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(30)
    a, k = randn(rng, 6, 7), randn(rng, *kshape)
    assert_allclose(cc.correlate2d(a, k, mode), signal.correlate2d(a, k, mode), name="correlate2d")
    assert_allclose(cc.convolve2d(a, k, mode), signal.convolve2d(a, k, mode), name="convolve2d")


@pytest.mark.parametrize("mode", ["same", "full"])
def test_kernel_larger_than_image_vs_scipy(mode):
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(31)
    a, k = randn(rng, 3, 4), randn(rng, 5, 6)
    assert_allclose(cc.correlate2d(a, k, mode), signal.correlate2d(a, k, mode))
    assert_allclose(cc.convolve2d(a, k, mode), signal.convolve2d(a, k, mode))


@pytest.mark.parametrize("fn", [cc.correlate2d, cc.convolve2d,
                                naive.correlate2d_naive, naive.convolve2d_naive])
def test_valid_mode_kernel_larger_than_image_is_an_error(fn):
    """scipy swaps the arguments in this case; an empty result would be a silent wrong answer."""
    a, k = np.ones((3, 4)), np.ones((2, 5))
    with pytest.raises(ValueError, match=r"kernel to fit inside the image; got k.shape = \(2, 5\) "
                                         r"and a.shape = \(3, 4\)"):
        fn(a, k, "valid")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kshape", KSHAPES)
def test_correlate_convolve_vs_naive(kshape, mode):
    rng = np.random.default_rng(32)
    a, k = randn(rng, 6, 7), randn(rng, *kshape)
    assert_allclose(cc.correlate2d(a, k, mode), naive.correlate2d_naive(a, k, mode))
    assert_allclose(cc.convolve2d(a, k, mode), naive.convolve2d_naive(a, k, mode))


def test_same_mode_even_kernel_offset():
    """For an even kernel, correlate2d("same") starts the full result at kh // 2 and convolve2d
    ("same") at (kh - 1) // 2 (scipy/MATLAB); both keep the input's size."""
    a = np.zeros((5, 5))
    a[2, 2] = 1.0                                      # an impulse
    k = np.arange(1.0, 5.0).reshape(2, 2)              # [[1,2],[3,4]]
    corr = cc.correlate2d(a, k, "same")
    conv = cc.convolve2d(a, k, "same")
    assert corr.shape == conv.shape == (5, 5)
    # correlating an impulse gives the rot180 kernel, convolving gives the kernel itself
    assert_allclose(corr[1:3, 1:3], [[4, 3], [2, 1]])
    assert_allclose(conv[2:4, 2:4], [[1, 2], [3, 4]])


def test_rot180():
    k = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(cc.rot180(k), [[5, 4, 3], [2, 1, 0]])
    k4 = np.arange(24).reshape(2, 1, 3, 4)
    np.testing.assert_array_equal(cc.rot180(k4)[1, 0], k4[1, 0][::-1, ::-1])
    np.testing.assert_array_equal(cc.rot180(cc.rot180(k4)), k4)
    with pytest.raises(ValueError, match=r"k must have at least 2 dimensions.*got shape \(3,\)"):
        cc.rot180(np.ones(3))
    assert np.shares_memory(cc.rot180(k4), k4) and cc.rot180(k4).dtype == k4.dtype  # a view
    for bad in (k4.astype(complex), k4.astype(object), k4.astype(str)):
        with pytest.raises(TypeError, match=f"k must be a real numeric array.*{bad.dtype}"):
            cc.rot180(bad)


def test_down_hand_and_up_hand():
    x = np.arange(16.0).reshape(4, 4)
    # block sums: [[0+1+4+5, 2+3+6+7], [8+9+12+13, 10+11+14+15]]
    assert_allclose(cc.down(x, 2), [[10, 18], [42, 50]])
    assert_allclose(cc.down(x, (1, 2)), [[1, 5], [9, 13], [17, 21], [25, 29]])
    assert_allclose(cc.up(np.array([[1.0, 2.0]]), 2), [[1, 1, 2, 2], [1, 1, 2, 2]])
    # leading axes are kept
    x4 = randn(np.random.default_rng(33), 2, 3, 4, 6)
    assert cc.down(x4, 2).shape == (2, 3, 2, 3)
    assert cc.up(x4, (2, 1)).shape == (2, 3, 8, 6)


def test_down_needs_divisible_sizes():
    with pytest.raises(ValueError, match=r"divisible by n=2; got x.shape \(5, 4\)"):
        cc.down(np.ones((5, 4)), 2)


def test_signal_bad_input():
    with pytest.raises(ValueError, match="mode must be one of"):
        cc.correlate2d(np.ones((3, 3)), np.ones((2, 2)), "circular")
    with pytest.raises(ValueError, match="mode must be one of"):
        cc.convolve2d(np.ones((3, 3)), np.ones((2, 2)), "circular")
    with pytest.raises(ValueError, match=r"a must be a 2-D array \(H, W\); got shape \(1, 3, 3\)"):
        cc.correlate2d(np.ones((1, 3, 3)), np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"k must be a 2-D array \(kh, kw\); got shape \(2,\)"):
        cc.convolve2d(np.ones((3, 3)), np.ones(2))
