"""Bad input to the layers: constructors, ``forward``, ``__call__`` and ``backward``.

Each row gets its own layer, made from a fixed seed and run forward once on valid input (so a
failed call has caches and gradients to spoil); ``test_bad_input`` checks that they are left
as they were.
"""

from __future__ import annotations

import numpy as np

import cnn_core as cc

from framework import (Case, array_cases, emptied, int_cases, pair_cases, raises, real_cases,
                       returns)


def rng():
    return np.random.default_rng(0)


def _primed(make, x, *, backward=True):
    """A function making a new layer that has run forward on ``x`` (and backward once)."""
    def fresh():
        layer = make()
        out = layer.forward(x)
        if backward:
            layer.backward(np.full(np.shape(out), 0.5))
        return layer
    return fresh


def _empty_batch(make, x):
    """Forward and backward of an empty batch (N = 0) on a new layer: PyTorch gives an empty
    output, an empty input gradient and zero parameter gradients."""
    def call():
        layer = make()
        x0 = np.zeros((0, *np.shape(x)[1:]))
        out = layer.forward(x0)
        dx = layer.backward(np.zeros(out.shape))
        return out, dx, [g.copy() for _, g in layer.parameters()]

    def check(result):
        out, dx, grads = result
        reference = make().forward(x)
        assert out.shape == (0, *reference.shape[1:]), f"output shape {out.shape}"
        assert dx.shape == (0, *np.shape(x)[1:]), f"dx shape {dx.shape}"
        assert all(not g.any() for g in grads), "a parameter gradient is not zero"
    return call, check


def layer_rows(name: str, make, x, *, arg: str = "x", fixed=(), ndim=True, empty=True) -> dict:
    """The standard rows of ``forward``, ``__call__`` and ``backward`` of the layer ``make()``
    with the valid input ``x``."""
    fresh = _primed(make, x)
    out = make().forward(x)
    dout = np.linspace(-1, 1, out.size).reshape(out.shape)
    empty_rows = {0: emptied(lambda: make().forward(x))} if empty else None
    rows = {
        f"{name}.forward": array_cases(f"{name}.forward", arg, lambda o, v: o.forward(v), x,
                                       fixed=fixed, ndim=ndim, fresh=fresh, empty=empty_rows),
        f"{name}.__call__": array_cases(f"{name}.__call__", arg, lambda o, v: o(v), x,
                                        fixed=fixed, ndim=ndim, fresh=fresh, nan=None),
        f"{name}.backward": array_cases(f"{name}.backward", "dout", lambda o, v: o.backward(v),
                                        dout, fixed=range(dout.ndim), fresh=fresh) + [
            raises(f"{name}.backward", "called before forward",
                   lambda: make().backward(dout), RuntimeError, "before forward")],
    }
    if empty:
        call, check = _empty_batch(make, x)
        rows[f"{name}.backward"].append(
            returns(f"{name}.backward", "after an empty batch (N = 0)", call, check))
    return rows


X4 = np.linspace(-1, 1, 2 * 3 * 6 * 6).reshape(2, 3, 6, 6)
X_POOL = np.linspace(-1, 1, 2 * 3 * 4 * 4).reshape(2, 3, 4, 4)[:, :, ::-1]


def conv(**kw):
    conf = dict(in_channels=3, out_channels=4, kernel_size=3) | kw
    return lambda: cc.Conv2D(**(dict(rng=rng()) | conf))      # the same weights every time


CASES: dict[str, list] = {}

# ---------------------------------------------------------------- Conv2D
CASES["Conv2D"] = [
    *int_cases("Conv2D", "in_channels", lambda v: conv(in_channels=v)()),
    *int_cases("Conv2D", "out_channels", lambda v: conv(out_channels=v)()),
    *pair_cases("Conv2D", "kernel_size", lambda v: conv(kernel_size=v)()),
    *pair_cases("Conv2D", "stride", lambda v: conv(stride=v)()),
    *pair_cases("Conv2D", "dilation", lambda v: conv(dilation=v)()),
    *pair_cases("Conv2D", "padding", lambda v: conv(padding=v)(), minimum=0),
    raises("Conv2D", "padding = 'circular'", conv(padding="circular"), ValueError,
           "padding", "'circular'"),
    raises("Conv2D", "padding = 'same' with stride 2", conv(padding="same", stride=2),
           ValueError, "same", "stride"),
    raises("Conv2D", "rng = 0 (not a Generator)", conv(rng=0), TypeError, "rng", "Generator"),
    raises("Conv2D", "init = 'lecun'", conv(init="lecun"), ValueError, "init", "lecun"),
]
CASES |= layer_rows("Conv2D", conv(), X4, fixed=(1,))
CASES["Conv2D.forward"] += [
    raises("Conv2D.forward", "x smaller than the kernel (2, 3, 2, 2)",
           lambda: conv()().forward(X4[:, :, :2, :2]), ValueError, "kernel", "(2, 3, 2, 2)"),
]

# ---------------------------------------------------------------- pooling layers
for _cls in ("MaxPool2D", "AvgPool2D"):
    def _pool(cls=getattr(cc, _cls), **kw):
        return lambda: cls(**(dict(kernel_size=2) | kw))
    CASES[_cls] = [
        *pair_cases(_cls, "kernel_size", lambda v, p=_pool: p(kernel_size=v)()),
        *pair_cases(_cls, "stride", lambda v, p=_pool: p(stride=v)()),
        *pair_cases(_cls, "padding", lambda v, p=_pool: p(padding=v)(), minimum=0),
        raises(_cls, "padding = 'same'", _pool(padding="same"), ValueError, "padding", "same"),
        raises(_cls, "padding over half the window", _pool(padding=2), ValueError,
               "padding", "half"),
    ]
    CASES |= layer_rows(_cls, _pool(), X_POOL)

# ---------------------------------------------------------------- activations
for _cls in ("ReLU", "Sigmoid", "Tanh", "LeakyReLU"):
    _make = (lambda c=getattr(cc, _cls): c())
    CASES[_cls] = [raises(_cls, "an argument it does not take",
                          lambda c=getattr(cc, _cls): c(0.1, 0.2), TypeError, "argument")]
    CASES |= layer_rows(_cls, _make, X4, arg="u", ndim=False)
CASES["LeakyReLU"] += real_cases("LeakyReLU", "slope", lambda v: cc.LeakyReLU(v))
CASES["LeakyReLU.backward"].append(
    raises("LeakyReLU.backward", "dout that would broadcast (2, 3, 6, 1)",
           lambda layer=_primed(cc.LeakyReLU, X4)(): layer.backward(np.ones((2, 3, 6, 1))),
           ValueError, "dout", "(2, 3, 6, 6)", "(2, 3, 6, 1)"))

# ---------------------------------------------------------------- Flatten
CASES["Flatten"] = [raises("Flatten", "an argument it does not take", lambda: cc.Flatten(1),
                           TypeError, "argument")]
CASES |= layer_rows("Flatten", cc.Flatten, X4, ndim=False)
CASES["Flatten.forward"].append(
    raises("Flatten.forward", "x without a second axis (5,)",
           lambda layer=_primed(cc.Flatten, X4)(): layer.forward(np.ones(5)), ValueError,
           "x", "batch", "(5,)"))

# ---------------------------------------------------------------- Dense
def dense(**kw):
    conf = dict(in_features=3, out_features=2) | kw
    return lambda: cc.Dense(**(dict(rng=rng()) | conf))      # the same weights every time


CASES["Dense"] = [
    *int_cases("Dense", "in_features", lambda v: dense(in_features=v)()),
    *int_cases("Dense", "out_features", lambda v: dense(out_features=v)()),
    raises("Dense", "rng = None", dense(rng=None), TypeError, "rng", "Generator"),
    raises("Dense", "init = 'zeros'", dense(init="zeros"), ValueError, "init", "zeros"),
]
CASES |= layer_rows("Dense", dense(), np.linspace(-1, 1, 12).reshape(4, 3), fixed=(1,))

# ---------------------------------------------------------------- Subsample2D
def subsample(**kw):
    conf = dict(channels=3, n=2) | kw
    return lambda: cc.Subsample2D(**conf)


CASES["Subsample2D"] = [
    *int_cases("Subsample2D", "channels", lambda v: subsample(channels=v)()),
    *pair_cases("Subsample2D", "n", lambda v: subsample(n=v)()),
    *real_cases("Subsample2D", "beta", lambda v: subsample(beta=v)(), none_ok=True),
]
CASES |= layer_rows("Subsample2D", subsample(), X_POOL, fixed=(1,))
CASES["Subsample2D.forward"] += [
    raises("Subsample2D.forward", "one channel for a 3-channel layer (2, 1, 4, 4)",
           lambda layer=_primed(subsample(), X_POOL)(): layer.forward(X_POOL[:, :1]),
           ValueError, "x", "(2, 1, 4, 4)", "3"),
    raises("Subsample2D.forward", "height 5 not divisible by n = 2",
           lambda layer=_primed(subsample(), X_POOL)(): layer.forward(np.ones((2, 3, 5, 4))),
           ValueError, "divisible", "(2, 3, 5, 4)"),
]

# ---------------------------------------------------------------- Layer (the base class)
CASES["Layer"] = [raises("Layer", "an argument it does not take", lambda: cc.Layer(3),
                         TypeError, "argument")]
for _method in ("forward", "__call__", "backward"):
    CASES[f"Layer.{_method}"] = [
        raises(f"Layer.{_method}", "on the base class, which has no forward or backward",
               lambda m=_method: getattr(cc.Layer(), m)(X4), NotImplementedError,
               "Layer", "subclasses")]

# ---------------------------------------------------------------- Sequential
def net():
    r = rng()
    return cc.Sequential(cc.Conv2D(1, 2, 3, rng=r), cc.ReLU(), cc.Flatten(), cc.Dense(32, 3, rng=r))


X_NET = np.linspace(-1, 1, 2 * 36).reshape(2, 1, 6, 6)
CASES["Sequential"] = [
    raises("Sequential", "a layer that is not a Layer (3)", lambda: cc.Sequential(cc.ReLU(), 3),
           TypeError, "layer 1", "3"),
    raises("Sequential", "a layer class instead of a layer",
           lambda: cc.Sequential(cc.ReLU), TypeError, "layer 0"),
]
CASES |= layer_rows("Sequential", net, X_NET, fixed=(1,))
CASES["Sequential.forward"] += [
    raises("Sequential.forward", "x that only the last layer rejects (2, 1, 7, 6)",
           lambda m=_primed(net, X_NET)(): m.forward(np.ones((2, 1, 7, 6))), ValueError,
           "Dense", "(2, 40)"),
]
CASES["Sequential.summary"] = [
    raises("Sequential.summary", "input_shape = '1x6x6' (a str)",
           lambda m=_primed(net, X_NET)(): m.summary("1x6x6"), TypeError, "input_shape"),
    raises("Sequential.summary", "input_shape with a size 0",
           lambda m=_primed(net, X_NET)(): m.summary((1, 0, 6)), ValueError, "input_shape", "0"),
    raises("Sequential.summary", "input_shape that the last layer rejects (1, 7, 6)",
           lambda m=_primed(net, X_NET)(): m.summary((1, 7, 6)), ValueError, "Dense"),
    returns("Sequential.summary", "leaves the caches of the last forward pass",
            lambda m=_primed(net, X_NET)(): (m.summary((1, 6, 6)), m.layers[0].x.shape),
            lambda r: np.testing.assert_equal(r[1], X_NET.shape)),
]

# ---------------------------------------------------------------- MapCombination
def mapcomb(**kw):
    conf = dict(in_maps=3, out_maps=2, kernel_size=3) | kw
    return lambda: cc.MapCombination(**(dict(rng=rng()) | conf))      # the same weights every time


X_MC = np.linspace(-1, 1, 2 * 3 * 5 * 5).reshape(2, 3, 5, 5)
# in_maps/out_maps are checked by combination._check_positive_int, which raises ValueError
# for a value of the wrong type (TypeError elsewhere).
CASES["MapCombination"] = [
    *int_cases("MapCombination", "in_maps", lambda v: mapcomb(in_maps=v)(),
               type_error=ValueError),
    *int_cases("MapCombination", "out_maps", lambda v: mapcomb(out_maps=v)(),
               type_error=ValueError),
    *pair_cases("MapCombination", "kernel_size", lambda v: mapcomb(kernel_size=v)()),
    *pair_cases("MapCombination", "stride", lambda v: mapcomb(stride=v)()),
    *real_cases("MapCombination", "init_logits", lambda v: mapcomb(init_logits=v)(),
                none_ok=True),
    raises("MapCombination", "weighting = 'sigmoid'", mapcomb(weighting="sigmoid"), ValueError,
           "weighting", "sigmoid"),
    raises("MapCombination", "penalty = 0.1 (not callable)", mapcomb(penalty=0.1), TypeError,
           "penalty"),
    raises("MapCombination", "rng = 0", mapcomb(rng=0), TypeError, "rng", "Generator"),
]
CASES |= layer_rows("MapCombination", mapcomb(), X_MC, fixed=(1,))
CASES["MapCombination.depthwise"] = array_cases(
    "MapCombination.depthwise", "x", lambda o, v: o.depthwise(v), X_MC, fixed=(1,),
    fresh=_primed(mapcomb(), X_MC), empty={0: emptied(lambda: mapcomb()().depthwise(X_MC))})
CASES["MapCombination.backward"].append(
    raises("MapCombination.backward", "a penalty whose gradient has the wrong shape (2, 2)",
           lambda m=_primed(mapcomb(penalty=lambda c: (0.0, np.ones((2, 2)))), X_MC,
                                  backward=False)():
           m.backward(np.ones((2, 2, 3, 3))), ValueError, "penalty", "(3, 2)", "(2, 2)"))
