"""Size arithmetic: conv_output_size, conv_transpose_output_size and resolve_padding, on the worked
examples of CS231n's notes and d2l, and on the padding split of "same"/"full"."""

from __future__ import annotations

import re

import numpy as np
import pytest

import cnn_core as cc


@pytest.mark.parametrize("n,k,s,p,d,expected", [
    # CS231n notes, "Convolutional Neural Networks" (spatial arrangement): a 7x7 input and a 3x3
    # filter with stride 1 and pad 0 give a 5x5 output; with stride 2, a 3x3 output
    pytest.param(7, 3, 1, 0, 1, 5, id="cs231n-7x7-k3-s1"),
    pytest.param(7, 3, 2, 0, 1, 3, id="cs231n-7x7-k3-s2"),
    # CS231n notes, real-world example (Krizhevsky et al.): 227x227 input, F=11, S=4, P=0 -> 55
    pytest.param(227, 11, 4, 0, 1, 55, id="cs231n-alexnet-227"),
    # d2l "Padding and Stride": 8x8, 3x3 kernel, padding 1 -> 8; stride 2 -> 4
    pytest.param(8, 3, 1, 1, 1, 8, id="d2l-8-k3-p1"),
    pytest.param(8, 3, 2, 1, 1, 4, id="d2l-8-k3-p1-s2"),
    # d2l: kernel (3, 5), padding (0, 1), stride (3, 4) on 8x8 -> (2, 2)
    pytest.param(8, 3, 3, 0, 1, 2, id="d2l-8-k3-p0-s3"),
    pytest.param(8, 5, 4, 1, 1, 2, id="d2l-8-k5-p1-s4"),
    # dilation: effective size d(k-1)+1 = 5 for k=3, d=2 on 7 -> 3
    pytest.param(7, 3, 1, 0, 2, 3, id="dilated-effective-5"),
    pytest.param(1, 1, 1, 0, 1, 1, id="1x1"),
    pytest.param(5, 3, 7, 1, 1, 1, id="stride-larger-than-input"),
])
def test_conv_output_size_worked_examples(n, k, s, p, d, expected):
    assert cc.conv_output_size(n, k, stride=s, padding=p, dilation=d) == expected


def test_d2l_padding_and_stride_shapes():
    # d2l "Padding and Stride", comp_conv2d on an 8x8 input: torch.Size([8, 8]) for k=3, p=1 and for
    # k=(5, 3), p=(2, 1); torch.Size([4, 4]) for k=3, p=1, s=2; torch.Size([2, 2]) for k=(3, 5),
    # p=(0, 1), s=(3, 4)
    x = np.zeros((1, 1, 8, 8))
    assert cc.conv2d(x, np.zeros((1, 1, 3, 3)), padding=1).shape[2:] == (8, 8)
    assert cc.conv2d(x, np.zeros((1, 1, 5, 3)), padding=(2, 1)).shape[2:] == (8, 8)
    assert cc.conv2d(x, np.zeros((1, 1, 3, 3)), padding=1, stride=2).shape[2:] == (4, 4)
    assert cc.conv2d(x, np.zeros((1, 1, 3, 5)), padding=(0, 1), stride=(3, 4)).shape[2:] == (2, 2)


@pytest.mark.parametrize("n,k,s,p,op,d,expected", [
    pytest.param(2, 2, 1, 0, 0, 1, 3, id="d2l-2x2-k2"),          # (2-1)1 + 1 + 1 = 3
    pytest.param(2, 2, 2, 0, 0, 1, 4, id="d2l-2x2-k2-s2"),       # (2-1)2 + 1 + 1 = 4
    pytest.param(2, 2, 1, 1, 0, 1, 1, id="d2l-2x2-k2-p1"),       # 3 - 2 = 1
    pytest.param(4, 3, 2, 1, 1, 1, 8, id="s2-p1-op1"),           # 6 - 2 + 2 + 1 + 1 = 8
    pytest.param(3, 3, 1, 0, 1, 2, 8, id="dilation2-op1"),       # 2 + 4 + 1 + 1 = 8
])
def test_conv_transpose_output_size(n, k, s, p, op, d, expected):
    assert cc.conv_transpose_output_size(n, k, stride=s, padding=p, output_padding=op, dilation=d) == expected


@pytest.mark.parametrize("n,k,s,p,d", [(n, k, s, p, d) for n in (3, 7, 8) for k in (1, 2, 3) for s in (1, 2, 3)
                                        for p in (0, 1) for d in (1, 2) if n + 2 * p >= d * (k - 1) + 1])
def test_transpose_size_inverts_conv_size(n, k, s, p, d):
    """conv_transpose_output_size(conv_output_size(n)) + the remainder lost to the floor = n."""
    m = cc.conv_output_size(n, k, stride=s, padding=p, dilation=d)
    remainder = (n + 2 * p - d * (k - 1) - 1) % s
    assert cc.conv_transpose_output_size(m, k, stride=s, padding=p, output_padding=remainder,
                                         dilation=d) == n


@pytest.mark.parametrize("padding,kernel,dilation,expected", [
    pytest.param("valid", (3, 4), (1, 1), ((0, 0), (0, 0)), id="valid"),
    pytest.param("same", (3, 3), (1, 1), ((1, 1), (1, 1)), id="same-odd"),
    pytest.param("same", (4, 2), (1, 1), ((1, 2), (0, 1)), id="same-even-extra-bottom-right"),
    pytest.param("same", (3, 2), (2, 3), ((2, 2), (1, 2)), id="same-dilated"),
    pytest.param("full", (3, 2), (1, 2), ((2, 2), (2, 2)), id="full"),
    pytest.param(2, (3, 3), (1, 1), ((2, 2), (2, 2)), id="int"),
    pytest.param((1, 0), (3, 3), (1, 1), ((1, 1), (0, 0)), id="pair"),
])
def test_resolve_padding(padding, kernel, dilation, expected):
    assert cc.resolve_padding(padding, kernel, dilation, (1, 1)) == expected


def test_size_functions_reject_bad_arguments():
    with pytest.raises(TypeError, match=r"k must be an int >= 1; got 2.5 \(float\)"):
        cc.conv_output_size(5, 2.5)
    with pytest.raises(ValueError, match="padding must be >= 0; got -1"):
        cc.conv_output_size(5, 3, padding=-1)
    with pytest.raises(ValueError, match="dilation must be >= 1; got 0"):
        cc.conv_output_size(5, 3, dilation=0)
    with pytest.raises(ValueError, match="n must be >= 1; got 0"):
        cc.conv_output_size(0, 1)
    with pytest.raises(ValueError, match="would have size 0 < 1"):
        cc.conv_transpose_output_size(1, 1, stride=2, padding=1, output_padding=1)


@pytest.mark.parametrize("kwargs, exc, words", [
    (dict(n=0), ValueError, "n must be >= 1; got 0"),
    (dict(n=1.5), TypeError, "n must be an int >= 1; got 1.5"),
    (dict(k="3"), TypeError, "k must be an int >= 1; got '3'"),
    (dict(stride=True), TypeError, "stride must be an int >= 1; got True"),
    (dict(padding=-1), ValueError, "padding must be >= 0; got -1"),
    (dict(dilation=0), ValueError, "dilation must be >= 1; got 0"),
    (dict(output_padding=-1), ValueError, "output_padding must be >= 0; got -1"),
    (dict(output_padding=2, stride=2), ValueError,
     "output_padding must be smaller than the stride or the dilation"),
])
def test_conv_transpose_output_size_rejects_bad_arguments(kwargs, exc, words):
    """Every argument is checked (before, n = 0 gave 2 and n = 1.5 gave 3.5), with PyTorch's
    rule that output_padding is smaller than the stride or the dilation."""
    args = dict(n=4, k=3) | kwargs
    with pytest.raises(exc, match=re.escape(words)):
        cc.conv_transpose_output_size(args.pop("n"), args.pop("k"), **args)


def test_resolve_padding_wants_pairs():
    """kernel_size, dilation and stride are resolved pairs: an int is a TypeError that names
    the argument (it was Python's own "'int' object is not iterable")."""
    for i, name in enumerate(("kernel_size", "dilation", "stride")):
        args = [(3, 3), (1, 1), (1, 1)]
        args[i] = 3
        with pytest.raises(TypeError, match=f"{name} must be a pair of ints"):
            cc.resolve_padding("same", *args)
        with pytest.raises(TypeError, match=f"{name} must be a pair of ints"):
            cc.resolve_padding(1, *args)
    with pytest.raises(ValueError, match="kernel_size must be >= 1"):
        cc.resolve_padding(0, (0, 3), (1, 1), (1, 1))
