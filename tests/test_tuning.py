"""Every tuned path of cnn_core against the general path it replaces: the sweeps of test_conv.py
and test_pooling.py run with all switches of ``cnn_core._tuning`` on, with each one off in turn,
and with all off (the general paths alone), and the results must agree. The threaded paths are
forced (two workers, no size thresholds) so that they run on any machine. A spy checks that
each switch really turns its path on and off, so that none of these comparisons is vacuous."""

from __future__ import annotations

import numpy as np
import pytest

import cnn_core as cc
from cnn_core import (_conv_fast, _norm_fast, _parallel, _pool_max, _pool_tiles, _tuning,
                      _workspace, naive)
from test_conv import CONV_CASES
from test_pooling import POOL_CASES
from testhelpers import assert_allclose

CONFIGS = ["tuned", *(f"no-{name}" for name in _tuning.SWITCHES), "general"]


def _switches(config: str) -> dict:
    if config == "tuned":
        return dict.fromkeys(_tuning.SWITCHES, True)
    if config == "general":
        return dict.fromkeys(_tuning.SWITCHES, False)
    return {**dict.fromkeys(_tuning.SWITCHES, True), config[3:]: False}


@pytest.fixture
def forced(monkeypatch):
    """Two workers and no size thresholds: with THREADS on, every batch is split."""
    monkeypatch.setattr(_parallel, "workers", lambda: 2)
    monkeypatch.setattr(_workspace, "PARALLEL_MIN_MACS", 0)
    monkeypatch.setattr(_workspace, "PARALLEL_MIN_ELEMENTS", 0)


def _run(config, fn):
    with _tuning.switched(**_switches(config)):
        return fn()


def _agree(results: dict) -> None:
    reference = results["general"]
    for config, got in results.items():
        for i, (g, r) in enumerate(zip(got, reference)):
            assert_allclose(g, r, name=f"{config}, result {i}")


@pytest.mark.parametrize("xs,ws,stride,padding,dilation", CONV_CASES)
def test_conv_tuned_paths_equal_general_path(forced, xs, ws, stride, padding, dilation):
    rng = np.random.default_rng(70)
    x = rng.standard_normal(xs)
    w = rng.standard_normal((ws[0], xs[1], *ws[1:]))
    b = rng.standard_normal(ws[0])
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    y = cc.conv2d(x, w, b, **kw)
    dout = rng.standard_normal(y.shape)
    c = rng.standard_normal((xs[0], w[0].size, y.shape[2] * y.shape[3]))

    def run():
        return (cc.conv2d(x, w, b, **kw), *cc.conv2d_backward(dout, x, w, **kw),
                cc.im2col(x, ws[1:], **kw), cc.col2im(c, xs, ws[1:], **kw))
    _agree({config: _run(config, run) for config in CONFIGS})


def _pool_inputs(xs, seed):
    """Ties (values from {0, 1, 2}), the same with NaN, and the same with -inf."""
    rng = np.random.default_rng(seed)
    ties = rng.integers(0, 3, size=xs).astype(float)
    with_nan = np.where(rng.uniform(size=xs) < 0.2, np.nan, ties)
    with_inf = np.where(rng.uniform(size=xs) < 0.5, -np.inf, ties)
    return rng, [ties, with_nan, with_inf]


@pytest.mark.parametrize("xs,k,stride,padding", POOL_CASES)
def test_pool_tuned_paths_equal_general_path(forced, xs, k, stride, padding):
    rng, inputs = _pool_inputs(xs, 71)
    kw = dict(stride=stride, padding=padding)
    for x in inputs:
        dout = rng.standard_normal(cc.max_pool2d(x, k, **kw).shape)

        def run():
            y, arg = cc.max_pool2d(x, k, return_argmax=True, **kw)
            return (cc.max_pool2d(x, k, **kw), y, arg, cc.max_pool2d_backward(dout, x, k, **kw),
                    cc.max_pool2d_backward(dout, x, k, argmax=arg, **kw),
                    cc.max_pool2d_mask(x, k, **kw), cc.avg_pool2d(x, k, **kw),
                    cc.avg_pool2d_backward(dout, x, k, **kw))
        _agree({config: _run(config, run) for config in CONFIGS})


@pytest.mark.parametrize("xs,k,stride,padding", [c for c in POOL_CASES if c.values[3] == 0])
def test_lp_pool_tuned_paths_equal_general_path(forced, xs, k, stride, padding):
    rng = np.random.default_rng(72)
    x = rng.standard_normal(xs)
    dout = rng.standard_normal(cc.lp_pool2d(x, k, stride=stride).shape)

    def run():
        return (cc.lp_pool2d(x, k, p=3, stride=stride),
                cc.lp_pool2d_backward(dout, x, k, p=3, stride=stride))
    _agree({config: _run(config, run) for config in CONFIGS})


# switch -> (module, function that only its tuned path calls, a call that takes that path)
X = np.random.default_rng(73).standard_normal((4, 2, 8, 8))
W = np.random.default_rng(74).standard_normal((3, 2, 3, 3))
SPIES = {
    "CONV_BATCHED": (_conv_fast, "correlate", lambda: cc.conv2d(X, W, padding=1)),
    "RECORD_COPY": (_conv_fast, "_cols", lambda: cc.conv2d(X, W, padding=1)),
    "SHIFTED_COL2IM": (_conv_fast, "_col2im_shifted",
                       lambda: cc.conv2d_backward(np.ones((4, 3, 8, 8)), X, W, padding=1)),
    "THREADS": (_parallel, "bounds", lambda: cc.max_pool2d(X, 2)),
    "POOL_TILES": (_pool_tiles, "_tile_reduce", lambda: cc.max_pool2d(X, 2)),
    "TILE_ARGMAX": (_pool_tiles, "_tile_window_argmax",
                    lambda: cc.max_pool2d(X, 2, return_argmax=True)),
    "AVG_PRODUCT": (_pool_tiles, "_sum_by_product", lambda: cc.avg_pool2d(X, 2)),
    "MAX_BY_EQUALITY": (_pool_max, "backward",
                        lambda: cc.max_pool2d_backward(np.ones((4, 2, 6, 6)), X, 3, stride=1)),
    "BN_FUSED": (_norm_fast, "backward",
                 lambda: cc.batch_norm2d_backward(np.ones_like(X), X, np.ones(2))),
}


BN_CASES = [((3, 2, 4, 5), "float64"), ((2, 3, 1, 1), "float64"), ((4, 1, 3, 3), "float32"),
            ((1, 4, 7, 2), "float64"), ((5, 3, 6, 6), "float32")]


@pytest.mark.parametrize("shape, dtype", BN_CASES)
def test_batch_norm_fused_path_equals_general_path(forced, shape, dtype):
    rng = np.random.default_rng(75)
    x = (5 + 3 * rng.standard_normal(shape)).astype(dtype)
    gamma, beta = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    dout = rng.standard_normal(shape).astype(dtype)
    results = {}
    for on in (True, False):
        with _tuning.switched(BN_FUSED=on):
            layer = cc.BatchNorm2D(shape[1], momentum=0.3)
            y_layer = layer.forward(x)
            dx_layer = layer.backward(dout)
            y, mean, var = cc.batch_norm2d(x, gamma, beta, return_stats=True)
            results[on] = (cc.batch_norm2d(x, gamma, beta), y, mean, var,
                           *cc.batch_norm2d_backward(dout, x, gamma),
                           *cc.batch_norm2d_backward(dout, x, gamma, mean=mean, var=var),
                           y_layer, dx_layer, layer.grads["gamma"].copy(),
                           layer.running_mean.copy(), layer.running_var.copy())
    tol = 1e-12 if dtype == "float64" else 1e-5
    for got, want in zip(results[True], results[False]):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype, offset, two_passes",
                         [("float32", 1e3, True), ("float32", 2.0, False),
                          ("float64", 1e5, True), ("float64", 1e3, False)])
def test_batch_norm_fused_statistics_far_from_zero(monkeypatch, dtype, offset, two_passes):
    """Values far from zero relative to their spread: the one-pass variance Σx²/m − mean² would
    cancel, so the fused path centres them and sums again. Checked against the loops in float64
    (on the same rounded values), and shown to be needed: with the second pass switched off the
    float32 statistics are far off."""
    monkeypatch.setattr(_tuning, "BN_FUSED", True)
    rng = np.random.default_rng(76)
    x = (offset + rng.standard_normal((6, 3, 5, 5))).astype(dtype)
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    dout = rng.standard_normal(x.shape).astype(dtype)
    centred = []                          # per decision: were the values centred on the mean?
    original = _norm_fast._origin
    monkeypatch.setattr(_norm_fast, "_origin",
                        lambda *a: centred.append(original(*a)[1] is not None) or original(*a))
    y, mean, var = cc.batch_norm2d(x, gamma, beta, return_stats=True)
    grads = cc.batch_norm2d_backward(dout, x, gamma, mean=mean, var=var)
    assert centred == [two_passes] * 2    # forward (statistics and map), backward
    tol = 2e-5 if dtype == "float32" else 1e-9
    x64 = x.astype(np.float64)
    assert_allclose(var, x64.var(axis=(0, 2, 3)), rtol=tol, name="var")
    assert_allclose(y, naive.batch_norm2d_naive(x64, gamma, beta), rtol=tol, atol=tol, name="y")
    for name, got, want in zip(("dx", "dgamma", "dbeta"), grads,
                               naive.batch_norm2d_backward_naive(dout, x64, gamma)):
        scale = np.abs(want).max()
        assert_allclose(got / scale, want / scale, rtol=tol, atol=tol, name=name)
    if dtype == "float32" and two_passes:
        monkeypatch.setattr(_norm_fast, "ONE_PASS_MAX_LOSS", np.inf)
        _, _, var_one_pass = cc.batch_norm2d(x, gamma, beta, return_stats=True)
        assert np.abs(var_one_pass / x64.var(axis=(0, 2, 3)) - 1).max() > 1e-3


def test_batch_norm_layer_hands_its_statistics_to_the_backward_pass(monkeypatch):
    monkeypatch.setattr(_tuning, "BN_FUSED", True)
    seen = []
    original = _norm_fast.backward
    monkeypatch.setattr(_norm_fast, "backward", lambda *a: seen.append(a) or original(*a))
    layer = cc.BatchNorm2D(2)
    x = np.random.default_rng(77).standard_normal((3, 2, 4, 4))
    layer.forward(x)
    layer.backward(np.ones_like(x))
    (_, _, _, _, mean, var), = seen
    np.testing.assert_allclose(mean, x.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(var, x.var(axis=(0, 2, 3)), rtol=1e-12)


@pytest.mark.parametrize("switch", _tuning.SWITCHES)
def test_each_switch_turns_its_path_on_and_off(forced, monkeypatch, switch):
    module, name, call = SPIES[switch]
    original = getattr(module, name)
    calls = []

    def spy(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)
    monkeypatch.setattr(module, name, spy)
    if switch == "RECORD_COPY":                       # conv.py holds its own reference to _cols
        monkeypatch.setattr(cc.conv, "_cols", spy)
    counts = {}
    for on in (True, False):
        calls.clear()
        with _tuning.switched(**{**_switches("tuned"), switch: on}):
            call()
        counts[on] = len(calls) if switch != "THREADS" else sum(a[1] > 1 for a in calls)
    assert counts[True] > 0, f"{switch} on: {module.__name__}.{name} was not used"
    assert counts[False] == 0, f"{switch} off: {module.__name__}.{name} was still used"


def test_switched_rejects_unknown_names_and_restores():
    with pytest.raises(ValueError, match="unknown switches"):
        with _tuning.switched(TILES=False):
            pass
    before = {name: getattr(_tuning, name) for name in _tuning.SWITCHES}
    with _tuning.general():
        assert not any(getattr(_tuning, name) for name in _tuning.SWITCHES)
    assert {name: getattr(_tuning, name) for name in _tuning.SWITCHES} == before
