"""Bad input to the optimiser and the training loop: SGD, fit, evaluate, predict, History."""

from __future__ import annotations

import io

import numpy as np

import cnn_core as cc

from framework import array_cases, int_cases, raises, real_cases, returns


def model():
    return cc.Sequential(cc.Dense(2, 3, rng=np.random.default_rng(0)))


def trained():
    """A model and its optimiser after one step (so the optimiser has a velocity)."""
    m = model()
    opt = cc.SGD(m, 0.1, momentum=0.9)
    m.forward(X)
    m.backward(np.full((len(X), 3), 0.1))
    opt.step()
    return m, opt


X = np.linspace(-1, 1, 16).reshape(8, 2)
Y = np.array([0, 1, 2, 0, 1, 2, 0, 1])

CASES: dict[str, list] = {}

# ---------------------------------------------------------------- SGD
CASES["SGD"] = [
    *real_cases("SGD", "lr", lambda v: cc.SGD(model(), v), below=0.0),
    *real_cases("SGD", "momentum", lambda v: cc.SGD(model(), 0.1, momentum=v), below=-0.1,
                above=1.0),
    *real_cases("SGD", "weight_decay", lambda v: cc.SGD(model(), 0.1, weight_decay=v),
                below=-1e-4),
    raises("SGD", "model = a list of arrays", lambda: cc.SGD([np.ones(3)], 0.1), TypeError,
           "model", "parameters"),
    raises("SGD", "a model whose parameters() are not pairs",
           lambda: cc.SGD(type("M", (), {"parameters": lambda self: [np.ones(2)]})(), 0.1),
           TypeError, "(param, grad)"),
    raises("SGD", "a model with an integer parameter", lambda: cc.SGD(
        type("M", (), {"parameters": lambda self: [(np.ones(2, int), np.ones(2, int))]})(), 0.1),
        ValueError, "float", "int64"),
    raises("SGD", "a grad of another shape than its param", lambda: cc.SGD(
        type("M", (), {"parameters": lambda self: [(np.ones(2), np.ones(3))]})(), 0.1),
        ValueError, "(2,)", "(3,)"),
]


def _replaced(key):
    m, opt = trained()
    m.layers[0].params[key] = np.zeros_like(m.layers[0].params[key])   # not in place
    return opt.step


def _added():
    m, opt = trained()
    m.layers.append(cc.Dense(3, 3, rng=np.random.default_rng(1)))
    return opt.step


def _nan_gradient():
    m, opt = trained()
    m.layers[0].grads["w"][0, 0] = np.nan
    return lambda: (opt.step(), m.layers[0].params["w"])[1]


CASES["SGD.step"] = [
    raises("SGD.step", "after a parameter array was replaced (not written in place)",
           _replaced("w"), RuntimeError, "replaced", "in place"),
    raises("SGD.step", "after a layer was added to the model", _added(), RuntimeError,
           "layer was added"),
    returns("SGD.step", "a NaN gradient makes that parameter NaN (as PyTorch)", _nan_gradient(),
            lambda w: np.testing.assert_(np.isnan(w[0, 0]) and np.isfinite(w[1:]).all())),
]

# ---------------------------------------------------------------- fit
def _fit(**kw):
    m = model()
    conf = dict(optimizer=cc.SGD(m, 0.1), epochs=1, batch_size=4, rng=np.random.default_rng(0),
                progress=False) | kw
    x, y = conf.pop("x", X), conf.pop("y", Y)
    return cc.fit(m, x, y, **conf)


CASES["fit"] = [
    *array_cases("fit", "x", lambda v: _fit(x=v), X, ndim=False, nan=None, bool_ok=False,
                 empty={0: (ValueError, ("empty",))}),
    raises("fit", "x of the wrong width for the model (8, 3)", lambda: _fit(x=np.ones((8, 3))),
           ValueError, "x", "(N, 2)"),
    raises("fit", "x that the model rejects, after training (model and optimiser unchanged)",
           lambda m_opt=trained(): cc.fit(m_opt[0], np.ones((8, 3)), Y, optimizer=m_opt[1],
                                          epochs=1, batch_size=4, rng=np.random.default_rng(0)),
           ValueError, "x", "(N, 2)"),
    raises("fit", "x a scalar", lambda: _fit(x=1.0), ValueError, "x", "scalar"),
    raises("fit", "y one short", lambda: _fit(y=Y[:-1]), ValueError, "same length", "8", "7"),
    raises("fit", "y of strings", lambda: _fit(y=Y.astype(str)), TypeError, "y", "dtype"),
    raises("fit", "y with a class the model does not have",
           lambda: _fit(y=np.where(Y == 2, 3, Y)), ValueError, "labels", "3"),
    raises("fit", "model = 3", lambda: cc.fit(3, X, Y, optimizer=cc.SGD(model(), 0.1), epochs=1,
                                              batch_size=4, rng=np.random.default_rng(0)),
           TypeError, "model", "forward"),
    raises("fit", "optimizer = 0.1 (a learning rate)", lambda: _fit(optimizer=0.1), TypeError,
           "optimizer", "step"),
    raises("fit", "loss = 'mse'", lambda: _fit(loss="mse"), TypeError, "loss", "callable"),
    raises("fit", "rng = 0", lambda: _fit(rng=0), TypeError, "rng", "Generator"),
    raises("fit", "x_val without y_val", lambda: _fit(x_val=X), ValueError, "x_val", "y_val"),
    raises("fit", "y_val one short", lambda: _fit(x_val=X, y_val=Y[:-1]), ValueError,
           "x_val", "y_val", "8", "7"),
    raises("fit", "x_val complex", lambda: _fit(x_val=X + 1j, y_val=Y), TypeError, "x_val",
           "complex"),
    raises("fit", "out = 'log.txt' (a file name, not a stream)", lambda: _fit(out="log.txt"),
           TypeError, "out", "write"),
    *int_cases("fit", "epochs", lambda v: _fit(epochs=v), minimum=0),
    *int_cases("fit", "batch_size", lambda v: _fit(batch_size=v)),
    returns("fit", "epochs = 0: nothing trained, an empty history",
            lambda: _fit(epochs=0), lambda h: np.testing.assert_equal(h.train_loss, [])),
    returns("fit", "progress with out = StringIO: one line per epoch",
            lambda: (lambda out: (_fit(progress=True, out=out, epochs=2), out.getvalue()))(
                io.StringIO())[1],
            lambda text: np.testing.assert_equal(len(text.splitlines()), 2)),
]

# ---------------------------------------------------------------- evaluate and predict
CASES["evaluate"] = [
    *array_cases("evaluate", "x", lambda v: cc.evaluate(model(), v, Y), X, fixed=(1,),
                 ndim=False, nan=None),
    raises("evaluate", "y one short", lambda: cc.evaluate(model(), X, Y[:-1]), ValueError,
           "same length", "8", "7"),
    raises("evaluate", "model = None", lambda: cc.evaluate(None, X, Y), TypeError, "model"),
    raises("evaluate", "loss = None", lambda: cc.evaluate(model(), X, Y, loss=None), TypeError,
           "loss"),
    *int_cases("evaluate", "batch_size", lambda v: cc.evaluate(model(), X, Y, batch_size=v)),
    raises("evaluate", "a model whose output is not (N, K) logits",
           lambda: cc.evaluate(type("Sum", (), {"forward": lambda self, x: x.sum(axis=1)})(), X, Y,
                               loss=lambda z, y: (0.0, z)), ValueError, "logits", "(8,)"),
    returns("evaluate", "an empty batch: NaN loss and NaN accuracy (a mean over nothing)",
            lambda: cc.evaluate(model(), X[:0], Y[:0]),
            lambda r: np.testing.assert_(np.isnan(r[0]) and np.isnan(r[1]))),
]
CASES["predict"] = [
    *array_cases("predict", "x", lambda v: cc.predict(model(), v), X, fixed=(1,), ndim=False,
                 empty={0: lambda r: np.testing.assert_equal(r.shape, (0, 3))}),
    raises("predict", "x a scalar", lambda: cc.predict(model(), 1.0), ValueError, "x", "scalar"),
    raises("predict", "model = np.ones (not a model)", lambda: cc.predict(np.ones, X), TypeError,
           "model", "forward"),
    *int_cases("predict", "batch_size", lambda v: cc.predict(model(), X, batch_size=v)),
]

# ---------------------------------------------------------------- History
CASES["History"] = [
    returns("History", "two histories do not share their lists",
            lambda: (cc.History(), cc.History()),
            lambda h: np.testing.assert_(h[0].train_loss is not h[1].train_loss)),
    raises("History", "a field it does not have", lambda: cc.History(test_acc=[0.5]), TypeError,
           "test_acc"),
]
