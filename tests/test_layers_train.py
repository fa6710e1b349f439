"""Layers API (summary, parameter pairs shared in place), the SGD update rule against its formula,
fit() on a tiny separable problem, the exercise checkers' messages, and weight initialisation
statistics."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

import cnn_core as cc
from testhelpers import randn

# ---------------------------------------------------------------------------------------------
# layers API
# ---------------------------------------------------------------------------------------------


def _small_cnn(seed=0):
    rng = np.random.default_rng(seed)
    return cc.Sequential(cc.Conv2D(1, 4, 3, rng=rng), cc.ReLU(), cc.MaxPool2D(2), cc.Flatten(),
                         cc.Dense(4 * 3 * 3, 10, rng=rng))


def test_sequential_summary():
    model = _small_cnn()
    text = model.summary((1, 8, 8))
    lines = text.splitlines()
    assert len(lines) == 1 + 5 + 1                      # input, five layers, total
    assert lines[0].split()[0] == "input" and "(1, 8, 8)" in lines[0]
    # conv: 4*1*3*3 + 4 = 40 parameters; dense: 36*10 + 10 = 370; total 410
    expected = [("Conv2D(1, 4, kernel_size=(3, 3))", "(4, 6, 6)", "40"), ("ReLU()", "(4, 6, 6)", "0"),
                ("MaxPool2D(kernel_size=2, padding=0)", "(4, 3, 3)", "0"), ("Flatten()", "(36,)", "0"),
                ("Dense(36, 10)", "(10,)", "370")]
    for line, (name, shape, count) in zip(lines[1:6], expected):
        assert line.startswith(name) and shape in line and line.split()[-1] == count, line
    assert lines[-1].split() == ["total", "410"]
    assert model.num_parameters() == 410 == sum(p.size for p, _ in model.parameters())
    assert "Sequential(" in repr(model) and "Dense(36, 10)" in repr(model)


def test_layer_reprs():
    rng = np.random.default_rng(0)
    assert repr(cc.Conv2D(3, 8, (3, 5), stride=2, padding=1, rng=rng)) == \
        "Conv2D(3, 8, kernel_size=(3, 5), stride=2, padding=1)"
    assert repr(cc.Conv2D(3, 8, 3, padding="same", dilation=(1, 2), rng=rng)) == \
        "Conv2D(3, 8, kernel_size=(3, 3), padding='same', dilation=(1, 2))"
    assert repr(cc.Conv2D(3, 8, 3, rng=rng)) == "Conv2D(3, 8, kernel_size=(3, 3))"
    assert repr(cc.AvgPool2D(3, stride=2)) == "AvgPool2D(kernel_size=3, stride=2, padding=0)"
    assert repr(cc.LeakyReLU(0.2)) == "LeakyReLU(slope=0.2)"
    assert repr(cc.Subsample2D(6, n=2)) == "Subsample2D(6, n=2)"


def test_parameters_are_shared_and_updated_in_place():
    model = _small_cnn()
    pairs = model.parameters()
    conv, dense = model.layers[0], model.layers[4]
    assert [id(p) for p, _ in pairs] == [id(conv.params["w"]), id(conv.params["b"]),
                                        id(dense.params["w"]), id(dense.params["b"])]
    assert [id(g) for _, g in pairs] == [id(conv.grads["w"]), id(conv.grads["b"]),
                                        id(dense.grads["w"]), id(dense.grads["b"])]
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(5, 1, 8, 8))
    out = model.forward(x)
    dout = rng.standard_normal(out.shape)
    model.backward(dout)
    # the grads seen through the pairs are the layers' gradients (written in place)
    h = cc.relu(cc.conv2d(x, conv.params["w"], conv.params["b"]))
    hp = cc.max_pool2d(h, 2)
    np.testing.assert_allclose(pairs[2][1], dout.T @ hp.reshape(5, -1), rtol=1e-12)
    np.testing.assert_allclose(pairs[3][1], dout.sum(axis=0), rtol=1e-12)
    assert np.abs(pairs[0][1]).sum() > 0
    before = [p.copy() for p, _ in pairs]
    cc.SGD(model, lr=0.1).step()
    for (p, g), b in zip(pairs, before):
        np.testing.assert_allclose(p, b - 0.1 * g, rtol=1e-12, atol=1e-15)
    assert conv.params["w"] is pairs[0][0]                 # still the same array, now changed


def test_conv2d_layer_matches_function_and_defaults():
    rng = np.random.default_rng(2)
    layer = cc.Conv2D(2, 3, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), rng=rng)
    assert layer.params["w"].shape == (3, 2, 3, 2)
    np.testing.assert_array_equal(layer.params["b"], 0.0)
    x = randn(rng, 2, 2, 7, 6)
    np.testing.assert_array_equal(
        layer.forward(x),
        cc.conv2d(x, layer.params["w"], layer.params["b"], stride=(2, 1), padding=1, dilation=(1, 2)))
    with pytest.raises(ValueError, match="init must be 'he' or 'xavier'; got 'zeros'"):
        cc.Conv2D(1, 1, 3, rng=rng, init="zeros")


def test_subsample2d_default_beta_is_average_pooling():
    x = randn(np.random.default_rng(3), 2, 3, 4, 6)
    np.testing.assert_allclose(cc.Subsample2D(3, 2).forward(x), cc.avg_pool2d(x, 2), rtol=1e-12)
    np.testing.assert_allclose(cc.Subsample2D(3, (2, 3)).forward(x), cc.avg_pool2d(x, (2, 3)), rtol=1e-12)
    with pytest.raises(ValueError, match="n must be >= 1 in both directions; got 0"):
        cc.Subsample2D(3, 0)


def test_flatten_order_is_channel_row_column():
    x = np.arange(2 * 2 * 2 * 3).reshape(2, 2, 2, 3)
    flat = cc.Flatten().forward(x)
    assert flat.shape == (2, 12)
    np.testing.assert_array_equal(flat[1], np.arange(12, 24))


# ---------------------------------------------------------------------------------------------
# SGD
# ---------------------------------------------------------------------------------------------

class _Model:
    def __init__(self, pairs):
        self._pairs = pairs

    def parameters(self):
        return self._pairs


@pytest.mark.parametrize("momentum,weight_decay", [(0.0, 0.0), (0.9, 0.0), (0.0, 0.01), (0.8, 0.05)],
                         ids=["plain", "momentum", "weight-decay", "both"])
def test_sgd_update_rule(momentum, weight_decay):
    rng = np.random.default_rng(4)
    p = rng.standard_normal((3, 2))
    g = np.zeros_like(p)
    p0 = p.copy()
    lr = 0.1
    opt = cc.SGD(_Model([(p, g)]), lr, momentum=momentum, weight_decay=weight_decay)
    g1, g2, g3 = (rng.standard_normal(p.shape) for _ in range(3))
    # v <- mu v - lr (g + lambda p);  p <- p + v, written out for three steps
    v = np.zeros_like(p0)
    expected = p0.copy()
    for gk in (g1, g2, g3):
        g[...] = gk                                     # the layer writes its gradient in place
        opt.step()
        v = momentum * v - lr * (gk + weight_decay * expected)
        expected = expected + v
        np.testing.assert_allclose(p, expected, rtol=1e-13, atol=1e-15)
    if momentum == weight_decay == 0:                  # Bouvrie's plain rule: dW = -lr dE/dW
        np.testing.assert_allclose(p, p0 - lr * (g1 + g2 + g3), rtol=1e-13)


@pytest.mark.parametrize("kwargs,message", [
    ({"lr": 0}, "lr must be > 0; got 0"),
    ({"lr": 0.1, "momentum": 1.0}, r"momentum must lie in \[0, 1\); got 1.0"),
    ({"lr": 0.1, "momentum": -0.1}, r"momentum must lie in \[0, 1\); got -0.1"),
    ({"lr": 0.1, "weight_decay": -1e-4}, "weight_decay must be >= 0; got -0.0001"),
])
def test_sgd_bad_hyperparameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cc.SGD(_Model([]), **kwargs)


# ---------------------------------------------------------------------------------------------
# fit
# ---------------------------------------------------------------------------------------------

def _blobs(rng, n_per_class=40):
    centres = np.array([[4.0, 0.0], [-4.0, 0.0], [0.0, 4.0]])
    x = np.concatenate([c + rng.standard_normal((n_per_class, 2)) for c in centres])
    y = np.repeat(np.arange(3), n_per_class)
    return x, y


LINE = re.compile(r"^epoch +(\d+)/8  loss \d+\.\d{4}  train acc +\d+\.\d%  val acc +\d+\.\d%$")


def _train(seed):
    rng = np.random.default_rng(seed)
    x, y = _blobs(rng)
    xv, yv = _blobs(rng, 10)
    model = cc.Sequential(cc.Dense(2, 3, rng=rng))
    out = io.StringIO()
    hist = cc.fit(model, x, y, optimizer=cc.SGD(model, 0.1, momentum=0.5), epochs=8, batch_size=16,
                  rng=rng, x_val=xv, y_val=yv, out=out)
    return model, hist, out.getvalue(), (x, y, xv, yv)


def test_fit_separable_problem():
    model, hist, text, (x, y, xv, yv) = _train(5)
    lines = text.splitlines()
    assert len(lines) == 8
    for epoch, line in enumerate(lines, 1):
        m = LINE.match(line)
        assert m and int(m.group(1)) == epoch, line
    assert len(hist.train_loss) == len(hist.train_acc) == len(hist.val_acc) == len(hist.seconds) == 8
    assert hist.train_acc[-1] >= 0.97 and hist.val_acc[-1] >= 0.95
    assert hist.train_loss[-1] < hist.train_loss[0]
    loss, acc = cc.evaluate(model, xv, yv)
    assert acc == hist.val_acc[-1] and loss == pytest.approx(hist.val_loss[-1])
    assert cc.predict(model, x, batch_size=7).shape == (len(x), 3)
    np.testing.assert_allclose(cc.predict(model, x, batch_size=7), model.forward(x), rtol=1e-12)
    # the printed record is reproducible: same seed, same text
    assert _train(5)[2] == text


def test_fit_progress_off_and_errors():
    rng = np.random.default_rng(6)
    x, y = _blobs(rng, 5)
    model = cc.Sequential(cc.Dense(2, 3, rng=rng))
    out = io.StringIO()
    hist = cc.fit(model, x, y, optimizer=cc.SGD(model, 0.1), epochs=2, batch_size=4, rng=rng,
                  progress=False, out=out)
    assert out.getvalue() == "" and len(hist.train_loss) == 2 and hist.val_acc == []
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        cc.fit(model, x, y, optimizer=cc.SGD(model, 0.1), epochs=1, batch_size=4, rng=0)
    with pytest.raises(ValueError, match="same length; got 15 and 14"):
        cc.fit(model, x, y[:-1], optimizer=cc.SGD(model, 0.1), epochs=1, batch_size=4, rng=rng)
    for kwargs, exc, message in (
            ({"batch_size": 0}, ValueError, "batch_size must be an int >= 1; got 0"),
            ({"batch_size": 2.5}, TypeError, "batch_size must be an int >= 1; got 2.5"),
            ({"epochs": -1}, ValueError, "epochs must be an int >= 0; got -1")):
        conf = dict(epochs=1, batch_size=4) | kwargs
        with pytest.raises(exc, match=re.escape(message)):
            cc.fit(model, x, y, optimizer=cc.SGD(model, 0.1), rng=rng, **conf)


def test_fit_show_time_and_stdout(capsys):
    rng = np.random.default_rng(7)
    x, y = _blobs(rng, 5)
    model = cc.Sequential(cc.Dense(2, 3, rng=rng))
    cc.fit(model, x, y, optimizer=cc.SGD(model, 0.1), epochs=2, batch_size=8, rng=rng, show_time=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(re.search(r"\(\d+\.\d\d s\)$", line) for line in lines)


# ---------------------------------------------------------------------------------------------
# checks: assert_close and check_implementation say what is wrong
# ---------------------------------------------------------------------------------------------

def test_assert_close_messages():
    cc.assert_close([1.0, 2.0], [1.0, 2.0 + 1e-12])                      # passes silently
    cc.assert_close([np.nan, 1.0], [np.nan, 1.0])                         # NaN where expected is NaN
    with pytest.raises(AssertionError, match=r"^your result has shape \(2,\), but the expected shape is \(3,\)$"):
        cc.assert_close([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(AssertionError, match=re.escape(
            "y: 2 of 4 elements differ; the first at index (0, 1): got 5, expected 3 (off by +2)")):
        cc.assert_close([[1.0, 5.0], [3.0, 0.0]], [[1.0, 3.0], [3.0, 1.0]], name="y")
    with pytest.raises(AssertionError, match=re.escape("dx contains NaN, first at index (1, 0)")):
        cc.assert_close([[1.0, 1.0], [np.nan, 1.0]], np.ones((2, 2)), name="dx")
    with pytest.raises(AssertionError, match=re.escape("your result is not a numeric array (got str)")):
        cc.assert_close("abc", [1.0])
    with pytest.raises(AssertionError, match=re.escape("got 1.001, expected 1 (off by +0.001)")):
        cc.assert_close([1.001], [1.0], rtol=1e-4, atol=0)
    cc.assert_close([1.001], [1.0], rtol=1e-2)


def test_check_implementation_messages(capsys):
    def reference(x, k=1):
        return np.asarray(x) * k

    def wrong(x, k=1):
        out = np.asarray(x, dtype=float) * k
        if k == 2:
            out[1] += 0.5
        return out

    cases = [((np.ones(3),), {}), ((np.arange(3.0),), {"k": 2})]
    cc.check_implementation(reference, reference, cases, name="scale")
    assert capsys.readouterr().out.strip() == "scale: all 2 cases match"
    # scalars are shown by value
    with pytest.raises(AssertionError, match=re.escape("wrong, case 1 (array of shape (3,), 2.0)")):
        cc.check_implementation(wrong, reference, [((np.arange(3.0), 2.0), {})])
    with pytest.raises(AssertionError, match=re.escape(
            "wrong, case 2 (array of shape (3,), k=2): 1 of 3 elements differ; the first at index (1,): "
            "got 2.5, expected 2 (off by +0.5)")):
        cc.check_implementation(wrong, reference, cases)

    def crashes(x, k=1):
        return 1 / 0

    with pytest.raises(AssertionError, match=re.escape("crashes raised ZeroDivisionError on case 1 (array of shape (3,)): division by zero")):
        cc.check_implementation(crashes, reference, cases)

    def wrong_shape(x, k=1):
        return np.zeros(4)

    with pytest.raises(AssertionError, match=re.escape("case 1 (array of shape (3,)) has shape (4,), but the expected shape is (3,)")):
        cc.check_implementation(wrong_shape, reference, cases)


# ---------------------------------------------------------------------------------------------
# initialisation
# ---------------------------------------------------------------------------------------------

def test_he_normal_statistics():
    shape = (256, 64, 3, 3)                             # fan_in = 64*9 = 576
    w = cc.he_normal(shape, np.random.default_rng(8))
    assert w.shape == shape and w.dtype == np.float64
    # sample variance of 147,456 normal draws: standard error ~ var * sqrt(2/n) = 0.4 %
    assert w.var() == pytest.approx(2.0 / 576, rel=0.02)
    assert abs(w.mean()) < 5 * np.sqrt(2.0 / 576 / w.size)
    assert cc.he_normal((300, 100), np.random.default_rng(9)).var() == pytest.approx(2.0 / 100, rel=0.03)


def test_xavier_uniform_statistics():
    w = cc.xavier_uniform((300, 200), np.random.default_rng(10))   # fan_in 200, fan_out 300
    a = np.sqrt(6.0 / 500)
    assert np.abs(w).max() <= a and np.abs(w).max() > 0.99 * a
    assert w.var() == pytest.approx(a * a / 3, rel=0.02)           # = 2 / (fan_in + fan_out)
    assert w.var() == pytest.approx(2.0 / 500, rel=0.02)
    wc = cc.xavier_uniform((32, 16, 5, 5), np.random.default_rng(11))  # fans 16*25, 32*25
    assert wc.var() == pytest.approx(2.0 / (400 + 800), rel=0.03)


def test_init_dtype_determinism_and_fans():
    assert cc.he_normal((4, 3), np.random.default_rng(0), dtype=np.float32).dtype == np.float32
    np.testing.assert_array_equal(cc.xavier_uniform((4, 3), np.random.default_rng(1)),
                                  cc.xavier_uniform((4, 3), np.random.default_rng(1)))
    assert cc.init.fans((10, 20)) == (20, 10)
    assert cc.init.fans((8, 3, 5, 5)) == (75, 200)
    with pytest.raises(ValueError, match=r"shape must be \(out, in\) or \(F, C, kh, kw\); got \(3, 4, 5\)"):
        cc.he_normal((3, 4, 5), np.random.default_rng(0))


@pytest.mark.parametrize("bad_rng", [None, 0, np.random.RandomState(0), np.random],
                         ids=["None", "int", "RandomState", "module"])
@pytest.mark.parametrize("init", [cc.he_normal, cc.xavier_uniform], ids=["he_normal", "xavier_uniform"])
def test_init_needs_a_generator(init, bad_rng):
    with pytest.raises(TypeError, match=r"rng must be a numpy.random.Generator \(np.random.default_rng\(seed\)\); got"):
        init((3, 3), bad_rng)
