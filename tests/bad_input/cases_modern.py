"""Bad input to the building blocks of modern CNNs (batch norm, dropout, global average pooling,
residual connections, Adam, the train/eval switch, MNIST loading)."""

from __future__ import annotations

import numpy as np

import cnn_core as cc

from framework import Case, Result

X = np.ones((2, 3, 4, 4))
G, B = np.ones(3), np.zeros(3)


def _ok(predicate, what):
    """A Result check that fails with ``what`` unless ``predicate(value)`` is true."""
    def check(value):
        assert predicate(value), f"{what}; got {value!r}"[:300]
    return check


def _rng():
    return np.random.default_rng(0)


def _bn_after_forward():
    layer = cc.BatchNorm2D(3)
    layer.forward(np.arange(96.0).reshape(2, 3, 4, 4))
    return layer


def _bn_gradients_with_and_without_statistics():
    x = np.arange(96.0).reshape(X.shape) % 7
    dout = np.cos(np.arange(96.0)).reshape(X.shape)
    _, mean, var = cc.batch_norm2d(x, G, B, return_stats=True)
    return (cc.batch_norm2d_backward(dout, x, G),
            cc.batch_norm2d_backward(dout, x, G, mean=mean, var=var))


def _bn_empty_batch_backward():
    layer = cc.BatchNorm2D(3)
    layer.grads["gamma"][...] = layer.grads["beta"][...] = 1.0    # stale values to overwrite
    layer.forward(np.ones((0, 3, 4, 4)))
    dx = layer.backward(np.ones((0, 3, 4, 4)))
    return dx, layer.grads["gamma"], layer.grads["beta"]


def _dropout_after_forward():
    layer = cc.Dropout(0.5, rng=_rng())
    layer.forward(X)
    return layer


def _residual():
    return cc.Residual(cc.Sequential(cc.Conv2D(3, 3, 3, padding=1, rng=_rng())))


def _adam(**kw):
    return cc.Adam(cc.Dense(2, 2, rng=_rng()), **kw)


CASES = {
    "batch_norm2d": [
        Case("batch_norm2d: x 3-D", lambda: cc.batch_norm2d(X[0], G, B), ValueError,
             ("x", "4-D")),
        Case("batch_norm2d: gamma of 2 channels", lambda: cc.batch_norm2d(X, G[:2], B),
             ValueError, ("gamma", "(3,)")),
        Case("batch_norm2d: beta 2-D", lambda: cc.batch_norm2d(X, G, B[None]), ValueError,
             ("beta", "(3,)")),
        Case("batch_norm2d: complex x", lambda: cc.batch_norm2d(X.astype(complex), G, B),
             TypeError, ("x", "complex")),
        Case("batch_norm2d: eps 0", lambda: cc.batch_norm2d(X, G, B, eps=0.0), ValueError,
             ("eps",)),
        Case("batch_norm2d: eps NaN", lambda: cc.batch_norm2d(X, G, B, eps=float("nan")),
             ValueError, ("eps",)),
        Case("batch_norm2d: one value per channel",
             lambda: cc.batch_norm2d(np.ones((1, 3, 1, 1)), G, B), ValueError,
             ("more than 1 value",)),
        Result("batch_norm2d: empty batch gives an empty result",
               lambda: cc.batch_norm2d(np.ones((0, 3, 4, 4)), G, B),
               _ok(lambda y: y.shape == (0, 3, 4, 4), "unexpected result")),
        Case("batch_norm2d: return_stats = 1 (not a bool)",
             lambda: cc.batch_norm2d(X, G, B, return_stats=1), TypeError,
             ("return_stats", "True or False")),
        Result("batch_norm2d: return_stats of an empty batch gives NaN statistics",
               lambda: cc.batch_norm2d(np.ones((0, 3, 4, 4)), G, B, return_stats=True),
               _ok(lambda r: r[0].shape == (0, 3, 4, 4) and np.isnan(r[1]).all()
                   and np.isnan(r[2]).all(), "unexpected result")),
    ],
    "batch_norm2d_backward": [
        Case("batch_norm2d_backward: dout of another shape",
             lambda: cc.batch_norm2d_backward(X[:1], X, G), ValueError, ("dout", "shape")),
        Case("batch_norm2d_backward: gamma of 4 channels",
             lambda: cc.batch_norm2d_backward(X, X, np.ones(4)), ValueError, ("gamma",)),
        Case("batch_norm2d_backward: str x",
             lambda: cc.batch_norm2d_backward(X, X.astype(str), G), TypeError, ("x",)),
        Case("batch_norm2d_backward: mean without var",
             lambda: cc.batch_norm2d_backward(X, X, G, mean=np.zeros(3)), ValueError,
             ("mean", "without var", "both")),
        Case("batch_norm2d_backward: var without mean",
             lambda: cc.batch_norm2d_backward(X, X, G, var=np.ones(3)), ValueError,
             ("var", "without mean", "both")),
        Case("batch_norm2d_backward: mean of 2 channels",
             lambda: cc.batch_norm2d_backward(X, X, G, mean=np.zeros(2), var=np.ones(3)),
             ValueError, ("mean", "(3,)", "(2,)")),
        Case("batch_norm2d_backward: var 2-D",
             lambda: cc.batch_norm2d_backward(X, X, G, mean=np.zeros(3), var=np.ones((1, 3))),
             ValueError, ("var", "(3,)", "(1, 3)")),
        Case("batch_norm2d_backward: mean NaN",
             lambda: cc.batch_norm2d_backward(X, X, G, mean=np.array([0.0, np.nan, 0.0]),
                                              var=np.ones(3)), ValueError, ("mean", "finite")),
        Case("batch_norm2d_backward: var negative",
             lambda: cc.batch_norm2d_backward(X, X, G, mean=np.zeros(3),
                                              var=np.array([1.0, -1.0, 1.0])), ValueError,
             ("var", ">= 0")),
        Case("batch_norm2d_backward: var inf",
             lambda: cc.batch_norm2d_backward(X, X, G, mean=np.zeros(3),
                                              var=np.full(3, np.inf)), ValueError,
             ("var", "finite")),
        Case("batch_norm2d_backward: str mean",
             lambda: cc.batch_norm2d_backward(X, X, G, mean=np.array(["0"] * 3),
                                              var=np.ones(3)), TypeError, ("mean",)),
        Result("batch_norm2d_backward: the statistics of batch_norm2d give the same gradients",
               _bn_gradients_with_and_without_statistics,
               _ok(lambda r: all(np.allclose(a, b) for a, b in zip(*r)), "gradients differ")),
    ],
    "BatchNorm2D": [
        Case("BatchNorm2D: channels 0", lambda: cc.BatchNorm2D(0), ValueError, ("channels",)),
        Case("BatchNorm2D: channels 2.5", lambda: cc.BatchNorm2D(2.5), ValueError,
             ("channels",)),
        Case("BatchNorm2D: momentum 1.5", lambda: cc.BatchNorm2D(3, momentum=1.5), ValueError,
             ("momentum",)),
        Case("BatchNorm2D: eps -1", lambda: cc.BatchNorm2D(3, eps=-1.0), ValueError, ("eps",)),
        Result("BatchNorm2D: an empty batch, forward and backward, gives zero gradients",
               _bn_empty_batch_backward,
               _ok(lambda r: r[0].shape == (0, 3, 4, 4) and not r[1].any() and not r[2].any(),
                   "unexpected result")),
    ],
    "BatchNorm2D.forward": [
        Case("BatchNorm2D.forward: 4 channels for a 3-channel layer",
             lambda: cc.BatchNorm2D(3).forward(np.ones((2, 4, 2, 2))), ValueError,
             ("3 channels", "(2, 4, 2, 2)")),
    ],
    "BatchNorm2D.backward": [
        Case("BatchNorm2D.backward: before forward", lambda: cc.BatchNorm2D(3).backward(X),
             RuntimeError, ("before forward",)),
        Case("BatchNorm2D.backward: dout of another shape",
             lambda: _bn_after_forward().backward(X[:1]), ValueError, ("dout", "shape")),
    ],
    "dropout": [
        Case("dropout: p 1.5", lambda: cc.dropout(X, 1.5, rng=_rng()), ValueError, ("p",)),
        Case("dropout: p NaN", lambda: cc.dropout(X, float("nan"), rng=_rng()), ValueError,
             ("p",)),
        Case("dropout: rng an int", lambda: cc.dropout(X, 0.5, rng=0), TypeError, ("rng",)),
        Case("dropout: object x", lambda: cc.dropout(X.astype(object), 0.5, rng=_rng()),
             TypeError, ("x",)),
        Case("dropout: training 'yes'", lambda: cc.dropout(X, 0.5, rng=_rng(), training="yes"),
             TypeError, ("training",)),
        Result("dropout: empty input gives an empty result",
               lambda: cc.dropout(np.ones((0, 3)), 0.5, rng=_rng()),
               _ok(lambda y: y.shape == (0, 3), "unexpected result")),
    ],
    "Dropout": [
        Case("Dropout: p -0.1", lambda: cc.Dropout(-0.1, rng=_rng()), ValueError, ("p",)),
        Case("Dropout: no generator", lambda: cc.Dropout(0.5, rng=None), TypeError, ("rng",)),
    ],
    "Dropout.forward": [
        Case("Dropout.forward: complex x",
             lambda: cc.Dropout(0.5, rng=_rng()).forward(X.astype(complex)), TypeError, ("x",)),
    ],
    "Dropout.backward": [
        Case("Dropout.backward: dout of another shape",
             lambda: _dropout_after_forward().backward(X[:1]), ValueError, ("dout", "shape")),
        Case("Dropout.backward: before forward",
             lambda: cc.Dropout(0.5, rng=_rng()).backward(X), RuntimeError, ("before forward",)),
    ],
    "global_avg_pool2d": [
        Case("global_avg_pool2d: x 2-D", lambda: cc.global_avg_pool2d(np.ones((2, 3))),
             ValueError, ("x", "4-D")),
        Case("global_avg_pool2d: bool x is fine, str x is not",
             lambda: cc.global_avg_pool2d(X.astype(str)), TypeError, ("x",)),
        Result("global_avg_pool2d: empty maps give NaN",
               lambda: cc.global_avg_pool2d(np.ones((2, 3, 0, 4))),
               _ok(lambda y: y.shape == (2, 3) and np.isnan(y).all(), "unexpected result")),
    ],
    "global_avg_pool2d_backward": [
        Case("global_avg_pool2d_backward: dout (2, 4) for 3 channels",
             lambda: cc.global_avg_pool2d_backward(np.ones((2, 4)), (2, 3, 4, 4)), ValueError,
             ("dout", "(2, 3)")),
        Case("global_avg_pool2d_backward: x_shape of 3 sizes",
             lambda: cc.global_avg_pool2d_backward(np.ones((2, 3)), (2, 3, 4)), ValueError,
             ("x_shape",)),
    ],
    "GlobalAvgPool2D": [
        Result("GlobalAvgPool2D: no arguments", lambda: cc.GlobalAvgPool2D(),
               _ok(lambda layer: isinstance(layer, cc.Layer), "unexpected result")),
    ],
    "GlobalAvgPool2D.forward": [
        Case("GlobalAvgPool2D.forward: x 3-D", lambda: cc.GlobalAvgPool2D().forward(X[0]),
             ValueError, ("x", "4-D")),
    ],
    "GlobalAvgPool2D.backward": [
        Case("GlobalAvgPool2D.backward: before forward",
             lambda: cc.GlobalAvgPool2D().backward(np.ones((2, 3))), RuntimeError,
             ("before forward",)),
    ],
    "Residual": [
        Case("Residual: block not a layer", lambda: cc.Residual(np.ones(3)), TypeError,
             ("block",)),
        Case("Residual: projection not a layer",
             lambda: cc.Residual(cc.ReLU(), projection="conv"), TypeError, ("projection",)),
    ],
    "Residual.forward": [
        Case("Residual.forward: block changes the shape and no projection",
             lambda: cc.Residual(cc.Conv2D(3, 4, 1, rng=_rng())).forward(X), ValueError,
             ("shape", "projection")),
    ],
    "Residual.backward": [
        Case("Residual.backward: before forward", lambda: _residual().backward(X), RuntimeError,
             ("before forward",)),
    ],
    "Adam": [
        Case("Adam: lr NaN", lambda: _adam(lr=float("nan")), ValueError, ("lr",)),
        Case("Adam: lr 0", lambda: _adam(lr=0.0), ValueError, ("lr",)),
        Case("Adam: beta1 1", lambda: _adam(betas=(1.0, 0.999)), ValueError, ("betas[0]",)),
        Case("Adam: betas of 3", lambda: _adam(betas=(0.9, 0.99, 0.9)), ValueError, ("betas",)),
        Case("Adam: eps -1", lambda: _adam(eps=-1.0), ValueError, ("eps",)),
        Case("Adam: weight_decay inf", lambda: _adam(weight_decay=float("inf")), ValueError,
             ("weight_decay",)),
        Case("Adam: model without parameters()", lambda: cc.Adam(object()), TypeError,
             ("parameters",)),
    ],
    "Adam.step": [
        Result("Adam.step: a model without parameters steps nothing",
               lambda: cc.Adam(cc.ReLU()).step(), _ok(lambda out: out is None, "unexpected result")),
    ],
    "Layer.train": [
        Case("Layer.train: mode 'eval'", lambda: cc.ReLU().train("eval"), TypeError,
             ("mode",)),
        Result("Layer.train: train(False) reaches the layers inside",
               lambda: cc.Sequential(cc.Residual(cc.ReLU())).train(False),
               _ok(lambda m: not m.training and not m.layers[0].block.training,
                   "evaluation mode not set inside")),
    ],
}


# Every layer class inherits train(mode): one row each, with a layer made by its factory.
_FACTORIES = {
    "Conv2D": lambda: cc.Conv2D(3, 2, 3, rng=_rng()),
    "Dense": lambda: cc.Dense(4, 2, rng=_rng()),
    "MaxPool2D": lambda: cc.MaxPool2D(2), "AvgPool2D": lambda: cc.AvgPool2D(2),
    "ReLU": cc.ReLU, "LeakyReLU": cc.LeakyReLU, "Sigmoid": cc.Sigmoid, "Tanh": cc.Tanh,
    "Flatten": cc.Flatten, "Subsample2D": lambda: cc.Subsample2D(3),
    "Sequential": lambda: cc.Sequential(cc.ReLU()),
    "MapCombination": lambda: cc.MapCombination(3, 2, 3, rng=_rng()),
    "BatchNorm2D": lambda: cc.BatchNorm2D(3), "Dropout": lambda: cc.Dropout(0.5, rng=_rng()),
    "GlobalAvgPool2D": cc.GlobalAvgPool2D, "Residual": _residual,
}
for _name, _make in _FACTORIES.items():
    CASES.setdefault(f"{_name}.train", []).append(
        Case(f"{_name}.train: mode = 1 (not a bool)",
             lambda _make=_make: _make().train(1), TypeError, ("mode", "True or False")))

CASES["BatchNorm2D.__call__"] = [
    Case("BatchNorm2D.__call__: x 2-D", lambda: cc.BatchNorm2D(3)(np.ones((2, 3))), ValueError,
         ("x", "4-D"))]
CASES["Dropout.__call__"] = [
    Case("Dropout.__call__: str x", lambda: cc.Dropout(0.5, rng=_rng())(X.astype(str)),
         TypeError, ("x",))]
CASES["GlobalAvgPool2D.__call__"] = [
    Case("GlobalAvgPool2D.__call__: x 5-D", lambda: cc.GlobalAvgPool2D()(X[None]), ValueError,
         ("x", "4-D"))]
CASES["Residual.__call__"] = [
    Case("Residual.__call__: 4 channels into a 3-channel block",
         lambda: _residual()(np.ones((1, 4, 3, 3))), ValueError, ("x",))]
CASES["data.load_mnist"] = [
    Case("data.load_mnist: test_fraction 1.5",
         lambda: cc.data.load_mnist(test_fraction=1.5), ValueError, ("test_fraction",)),
    Case("data.load_mnist: seed -1", lambda: cc.data.load_mnist(seed=-1), ValueError,
         ("seed",)),
    Case("data.load_mnist: seed 'a'", lambda: cc.data.load_mnist(seed="a"), TypeError,
         ("seed",)),
]
CASES["data.download_mnist"] = [
    Case("data.download_mnist: files not a mapping",
         lambda: cc.data.download_mnist("/nonexistent-dir", files=["a"]), TypeError,
         ("files",)),
    Case("data.download_mnist: timeout 0",
         lambda: cc.data.download_mnist("/nonexistent-dir", timeout=0), ValueError,
         ("timeout",)),
]
