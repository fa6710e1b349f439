"""Layers compose (issue 15, item 5): for random valid stacks of layers, drawn by Hypothesis,

- every layer's output has the shape its formula gives (``conv_output_size`` for convolutions
  and pooling, division by ``n`` for subsampling, ``C·H·W`` for ``Flatten``), computed here
  independently of the layers;
- ``backward`` returns a gradient of the input's shape, and every parameter gradient has its
  parameter's shape;
- :func:`cnn_core.check_layer_gradients` finds the backward pass of the whole stack equal to
  central differences (relative error < 1e-7) for the input and every parameter.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import cnn_core as cc
from testhelpers import GRAD_TOL


def _conv_like(data, rng, shape, kind):
    """A Conv2D or MapCombination that fits ``shape`` (C, H, W), and its output shape."""
    c, h, w = shape
    k = data.draw(st.integers(1, min(3, h, w)), label="kernel")
    padding = data.draw(st.integers(0, k // 2), label="padding")
    stride = data.draw(st.integers(1, 2), label="stride")
    out = data.draw(st.integers(1, 3), label="out channels")
    if kind == "conv":
        layer = cc.Conv2D(c, out, k, stride=stride, padding=padding, rng=rng)
    else:
        layer = cc.MapCombination(c, out, k, stride=stride, padding=padding, rng=rng)
        layer.params["b"][...] = rng.standard_normal(out)
    size = [cc.conv_output_size(n, k, stride=stride, padding=padding) for n in (h, w)]
    return layer, (out, *size)


def _stack(data):
    """Draw a valid stack: an input shape (C, H, W), 1 to 3 blocks, an optional dense head.
    Returns the layers and the shape after each, worked out from the formulas."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    shape = (data.draw(st.integers(1, 2), label="C"), data.draw(st.integers(2, 7), label="H"),
             data.draw(st.integers(2, 7), label="W"))
    layers, shapes = [], [shape]
    for _ in range(data.draw(st.integers(1, 3), label="blocks")):
        c, h, w = shape
        kinds = ["conv", "map", "tanh", "sigmoid", "leaky"]
        kinds += ["max", "avg"] if min(h, w) >= 2 else []
        kinds += ["subsample"] if h % 2 == w % 2 == 0 else []
        kind = data.draw(st.sampled_from(kinds), label="layer")
        if kind in ("conv", "map"):
            layer, shape = _conv_like(data, rng, shape, kind)
        elif kind in ("max", "avg"):
            layer = (cc.MaxPool2D if kind == "max" else cc.AvgPool2D)(2, stride=1)
            shape = (c, cc.conv_output_size(h, 2), cc.conv_output_size(w, 2))
        elif kind == "subsample":
            layer = cc.Subsample2D(c, 2, beta=0.3)
            layer.params["b"][...] = rng.standard_normal(c)
            shape = (c, h // 2, w // 2)
        else:
            layer = {"tanh": cc.Tanh, "sigmoid": cc.Sigmoid,
                     "leaky": lambda: cc.LeakyReLU(0.2)}[kind]()
        layers.append(layer)
        shapes.append(shape)
    if data.draw(st.booleans(), label="dense head"):
        out = data.draw(st.integers(1, 3), label="classes")
        layers += [cc.Flatten(), cc.Dense(int(np.prod(shape)), out, rng=rng)]
        shapes += [(int(np.prod(shape)),), (out,)]
    return rng, layers, shapes


@settings(max_examples=25)
@given(st.data())
def test_random_stacks_compose(data):
    rng, layers, shapes = _stack(data)
    model = cc.Sequential(*layers)
    n = 2
    x = rng.standard_normal((n, *shapes[0]))
    out = x
    for layer, expected in zip(layers, shapes[1:]):
        out = layer.forward(out)
        assert out.shape == (n, *expected), f"{layer!r}: output {out.shape}, formula {expected}"
    y = model.forward(x)
    dx = model.backward(rng.standard_normal(y.shape))
    assert dx.shape == x.shape, f"dx {dx.shape} for x {x.shape}"
    for p, g in model.parameters():
        assert g.shape == p.shape, f"gradient {g.shape} for a parameter {p.shape}"
    report = cc.check_layer_gradients(model, x, rng=rng)
    report.assert_ok(GRAD_TOL)
