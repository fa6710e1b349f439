"""Batch normalization, dropout, global average pooling, residual connections, Adam and the
train/eval switch: each against a loop written from the formula, central differences and its
algebraic properties (the PyTorch oracle is in test_blocks_torch.py)."""

from __future__ import annotations

import numpy as np
import pytest

import cnn_core as cc
from cnn_core import naive
from testhelpers import GRAD_TOL, assert_allclose, assert_grad, randn

BN_SHAPES = [(2, 3, 4, 5), (5, 1, 1, 3), (1, 2, 3, 3), (4, 2, 1, 1)]


# ------------------------------------------------------------------------------------------
# batch normalization
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_matches_loops(rng, shape):
    x = 3 + 2 * randn(rng, *shape)
    gamma, beta = randn(rng, shape[1]), randn(rng, shape[1])
    assert_allclose(cc.batch_norm2d(x, gamma, beta), naive.batch_norm2d_naive(x, gamma, beta),
                    name="batch_norm2d")


@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_backward_matches_full_jacobian_loops(rng, shape):
    x, dout = randn(rng, *shape), randn(rng, *shape)
    gamma = randn(rng, shape[1])
    got = cc.batch_norm2d_backward(dout, x, gamma)
    want = naive.batch_norm2d_backward_naive(dout, x, gamma)
    for name, g, w in zip(("dx", "dgamma", "dbeta"), got, want):
        assert_allclose(g, w, rtol=1e-9, atol=1e-11, name=name)


@pytest.mark.parametrize("shape", BN_SHAPES[:3])
def test_batch_norm_backward_central_differences(rng, shape):
    x, dout = randn(rng, *shape), randn(rng, *shape)
    gamma, beta = randn(rng, shape[1]), randn(rng, shape[1])
    dx, dgamma, dbeta = cc.batch_norm2d_backward(dout, x, gamma)
    assert_grad(dx, cc.numerical_gradient(lambda v: cc.batch_norm2d(v, gamma, beta), x, dout),
                "dx")
    assert_grad(dgamma, cc.numerical_gradient(lambda g: cc.batch_norm2d(x, g, beta), gamma,
                                              dout), "dgamma")
    assert_grad(dbeta, cc.numerical_gradient(lambda b: cc.batch_norm2d(x, gamma, b), beta,
                                             dout), "dbeta")


@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_statistics_returned_and_handed_to_the_backward_pass(rng, shape):
    """``return_stats=True`` returns the mean and biased variance the forward pass used;
    given to the backward pass they give the gradients it computes without them."""
    x, dout = 2 + 3 * randn(rng, *shape), randn(rng, *shape)
    gamma, beta = randn(rng, shape[1]), randn(rng, shape[1])
    y, mean, var = cc.batch_norm2d(x, gamma, beta, return_stats=True)
    np.testing.assert_array_equal(y, cc.batch_norm2d(x, gamma, beta))
    assert_allclose(mean, x.mean(axis=(0, 2, 3)), name="mean")
    assert_allclose(var, x.var(axis=(0, 2, 3)), name="biased variance")
    want = naive.batch_norm2d_backward_naive(dout, x, gamma)
    without = cc.batch_norm2d_backward(dout, x, gamma)
    with_stats = cc.batch_norm2d_backward(dout, x, gamma, mean=mean, var=var)
    for name, g, h, w in zip(("dx", "dgamma", "dbeta"), with_stats, without, want):
        assert_allclose(g, w, rtol=1e-9, atol=1e-11, name=name)
        assert_allclose(g, h, rtol=1e-12, atol=1e-13, name=name)


def test_batch_norm_backward_uses_the_statistics_it_is_given(rng):
    """Other statistics than the batch's give the three-term formula with those statistics
    (here the running statistics of a layer, as one may hand in)."""
    x, dout = randn(rng, 4, 2, 3, 3), randn(rng, 4, 2, 3, 3)
    gamma, mean, var = randn(rng, 2), randn(rng, 2), 0.5 + rng.uniform(size=2)
    dx, dgamma, dbeta = cc.batch_norm2d_backward(dout, x, gamma, mean=mean, var=var, eps=1e-3)
    c = (None, slice(None), None, None)
    x_hat = (x - mean[c]) / np.sqrt(var[c] + 1e-3)
    m = x.size // 2
    want = gamma[c] / np.sqrt(var[c] + 1e-3) * (
        dout - dout.sum(axis=(0, 2, 3))[c] / m - x_hat * (dout * x_hat).sum(axis=(0, 2, 3))[c] / m)
    assert_allclose(dx, want, rtol=1e-10, name="dx")
    assert_allclose(dgamma, (dout * x_hat).sum(axis=(0, 2, 3)), rtol=1e-10, name="dgamma")
    assert_allclose(dbeta, dout.sum(axis=(0, 2, 3)), rtol=1e-10, name="dbeta")


def test_batch_norm_statistics_in_float32(rng):
    x = (1 + randn(rng, 3, 2, 4, 4)).astype(np.float32)
    y, mean, var = cc.batch_norm2d(x, np.ones(2), np.zeros(2), return_stats=True)
    assert y.dtype == mean.dtype == var.dtype == np.float32
    assert_allclose(var, x.astype(np.float64).var(axis=(0, 2, 3)), rtol=1e-5, name="var")


def test_batch_norm_output_statistics_and_zero_sum_gradient(rng):
    x = 5 + 3 * randn(rng, 6, 4, 3, 3)
    y = cc.batch_norm2d(x, np.ones(4), np.zeros(4), eps=1e-12)
    assert_allclose(y.mean(axis=(0, 2, 3)), np.zeros(4), atol=1e-12, name="mean")
    assert_allclose(y.var(axis=(0, 2, 3)), np.ones(4), rtol=1e-9, name="variance")
    dx, _, _ = cc.batch_norm2d_backward(randn(rng, *x.shape), x, randn(rng, 4), eps=1e-12)
    # the batch statistics make dx sum to zero per channel and (for ε → 0) orthogonal to x̂
    assert np.abs(dx.sum(axis=(0, 2, 3))).max() < 1e-12
    assert np.abs((dx * y).sum(axis=(0, 2, 3))).max() < 1e-10


def test_batch_norm_layer_running_statistics(rng):
    layer = cc.BatchNorm2D(3, momentum=0.25)
    mean, var = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = 2 + randn(rng, 4, 3, 2, 5)
        layer.forward(x)
        m = x.shape[0] * x.shape[2] * x.shape[3]
        mean = 0.75 * mean + 0.25 * x.mean(axis=(0, 2, 3))
        var = 0.75 * var + 0.25 * x.var(axis=(0, 2, 3)) * m / (m - 1)
    assert_allclose(layer.running_mean, mean, name="running_mean")
    assert_allclose(layer.running_var, var, name="running_var (unbiased)")
    layer.eval()
    x = randn(rng, 2, 3, 2, 2)
    want = (x - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
    before = layer.running_mean.copy()
    assert_allclose(layer.forward(x), want, name="eval forward")
    assert_allclose(layer.running_mean, before, name="eval leaves running stats alone")


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_batch_norm_layer_gradients(rng, mode):
    layer = cc.BatchNorm2D(2)
    layer.params["gamma"][...] = randn(rng, 2)
    layer.params["beta"][...] = randn(rng, 2)
    layer.forward(randn(rng, 3, 2, 3, 3))           # running statistics away from 0 and 1
    getattr(layer, mode)()
    cc.check_layer_gradients(layer, randn(rng, 3, 2, 3, 3), rng=rng).assert_ok(GRAD_TOL)


def test_batch_norm_needs_more_than_one_value_and_empty_batch(rng):
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        cc.batch_norm2d(randn(rng, 1, 2, 1, 1), np.ones(2), np.zeros(2))
    layer = cc.BatchNorm2D(2)
    y = layer.forward(np.zeros((0, 2, 3, 3)))
    assert y.shape == (0, 2, 3, 3)
    assert_allclose(layer.running_mean, np.zeros(2), name="no update from an empty batch")


# ------------------------------------------------------------------------------------------
# dropout
# ------------------------------------------------------------------------------------------

def test_dropout_expectation_identity(rng):
    """E[y] = x: the mean over many masks approaches x within a few standard errors."""
    x, p, draws = randn(rng, 50), 0.3, 4000
    ys = np.stack([cc.dropout(x, p, rng=rng) for _ in range(draws)])
    std_err = np.abs(x) * np.sqrt(p / (1 - p) / draws)      # sd of y is |x|·sqrt(p/(1-p))
    assert np.all(np.abs(ys.mean(axis=0) - x) < 5 * std_err + 1e-12)
    kept = (ys != 0).mean()
    assert abs(kept - (1 - p)) < 0.01
    assert_allclose(ys[ys != 0] / np.repeat(x[None], draws, 0)[ys != 0],
                    np.full(int((ys != 0).sum()), 1 / (1 - p)), name="kept values scaled")


def test_dropout_edge_probabilities_and_eval(rng):
    x = randn(rng, 3, 4)
    assert_allclose(cc.dropout(x, 0.0, rng=rng), x, name="p = 0")
    assert not cc.dropout(x, 1.0, rng=rng).any()
    assert_allclose(cc.dropout(x, 0.7, rng=rng, training=False), x, name="evaluation")
    layer = cc.Dropout(0.5, rng=rng).eval()
    assert_allclose(layer.forward(x), x, name="Dropout.eval()")
    assert_allclose(layer.backward(x), x, name="Dropout.eval() backward")


def test_dropout_layer_backward_uses_the_forward_mask(rng):
    layer = cc.Dropout(0.4, rng=np.random.default_rng(3))
    x, dout = randn(rng, 2, 3, 4, 4), randn(rng, 2, 3, 4, 4)
    y = layer.forward(x)
    dx = layer.backward(dout)
    kept = y != 0
    assert_allclose(dx[kept], dout[kept] / 0.6, name="kept")
    assert not dx[~kept].any()


# ------------------------------------------------------------------------------------------
# global average pooling
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 1, 1, 1), (3, 2, 7, 1)])
def test_global_avg_pool_forward_backward(rng, shape):
    x = randn(rng, *shape)
    y = cc.global_avg_pool2d(x)
    assert_allclose(y, naive.global_avg_pool2d_naive(x), name="forward")
    dout = randn(rng, *shape[:2])
    dx = cc.global_avg_pool2d_backward(dout, x.shape)
    assert_grad(dx, cc.numerical_gradient(cc.global_avg_pool2d, x, dout), "dx")
    v = randn(rng, *shape[:2])      # adjoint identity <Ax, v> = <x, Aᵀv>
    assert abs(np.vdot(y, v) - np.vdot(x, cc.global_avg_pool2d_backward(v, x.shape))) < 1e-12
    layer = cc.GlobalAvgPool2D()
    cc.check_layer_gradients(layer, x, rng=rng).assert_ok(GRAD_TOL)


def test_global_avg_pool_empty_map_is_nan_and_empty_batch_is_empty():
    assert np.isnan(cc.global_avg_pool2d(np.zeros((2, 3, 0, 4)))).all()
    assert cc.global_avg_pool2d(np.zeros((0, 3, 2, 2))).shape == (0, 3)


# ------------------------------------------------------------------------------------------
# residual connections
# ------------------------------------------------------------------------------------------

def _block(rng, c_in, c_out, stride=1):
    return cc.Sequential(cc.Conv2D(c_in, c_out, 3, stride=stride, padding=1, rng=rng),
                         cc.Tanh(), cc.Conv2D(c_out, c_out, 3, padding=1, rng=rng))


def test_residual_identity_and_projection_gradients(rng):
    x = randn(rng, 2, 3, 6, 6)
    res = cc.Residual(_block(rng, 3, 3))
    assert_allclose(res.forward(x), x + res.block.forward(x), name="x + F(x)")
    cc.check_layer_gradients(res, x, rng=rng).assert_ok(GRAD_TOL)
    proj = cc.Residual(_block(rng, 3, 4, stride=2),
                       projection=cc.Conv2D(3, 4, 1, stride=2, rng=rng))
    assert proj.forward(x).shape == (2, 4, 3, 3)
    assert len(proj.parameters()) == 6
    cc.check_layer_gradients(proj, x, rng=rng).assert_ok(GRAD_TOL)


def test_residual_keeps_the_identity_path():
    """With a block whose output does not depend on x, dE/dx is δ itself."""
    zero = cc.Sequential(cc.Dense(4, 4, rng=np.random.default_rng(0)))
    zero.layers[0].params["w"][...] = 0
    res = cc.Residual(zero)
    res.forward(np.ones((2, 4)))
    dout = np.arange(8.0).reshape(2, 4)
    assert_allclose(res.backward(dout), dout, name="identity path")


def test_residual_shape_mismatch_is_explained(rng):
    res = cc.Residual(_block(rng, 3, 4))
    with pytest.raises(ValueError, match="projection"):
        res.forward(randn(rng, 1, 3, 5, 5))


# ------------------------------------------------------------------------------------------
# Adam and the train/eval switch
# ------------------------------------------------------------------------------------------

def test_adam_by_hand_and_bias_correction(rng):
    model = cc.Dense(3, 2, rng=rng)
    p0 = model.params["w"].copy()
    opt = cc.Adam(model, lr=0.01, betas=(0.8, 0.9), eps=1e-8)
    g = randn(rng, 2, 3)
    model.grads["w"][...] = g
    model.grads["b"][...] = 0
    opt.step()
    # with m = v = 0 at the start, the bias-corrected first step is lr·g/(|g| + eps)
    assert_allclose(model.params["w"], p0 - 0.01 * g / (np.abs(g) + 1e-8), name="first step")
    m, v, p = np.zeros_like(g), np.zeros_like(g), model.params["w"].copy()
    m = 0.8 * (0.2 * g)
    v = 0.9 * (0.1 * g * g)
    g2 = randn(rng, 2, 3)
    model.grads["w"][...] = g2
    opt.step()
    m = m + 0.2 * g2
    v = v + 0.1 * g2 * g2
    want = p - 0.01 * (m / (1 - 0.8 ** 2)) / (np.sqrt(v / (1 - 0.9 ** 2)) + 1e-8)
    assert_allclose(model.params["w"], want, name="second step")


def test_train_eval_reaches_nested_layers(rng):
    bn, drop = cc.BatchNorm2D(2), cc.Dropout(0.5, rng=rng)
    model = cc.Sequential(cc.Residual(cc.Sequential(bn)), drop, cc.Flatten())
    assert model.eval() is model
    assert not any(layer.training for layer in (model, bn, drop))
    model.train()
    assert all(layer.training for layer in (model, bn, drop))
    model.eval()
    cc.predict(model, randn(rng, 3, 2, 2, 2))
    assert not bn.training
    model.train()
    cc.predict(model, randn(rng, 3, 2, 2, 2))
    assert bn.training and drop.training, "predict restores the mode it found"


def test_check_layer_gradients_reaches_the_residual_branch(rng):
    res = cc.Residual(_block(rng, 2, 2))
    report = cc.check_layer_gradients(res, randn(rng, 1, 2, 4, 4), rng=rng)
    names = [name for name, _, _ in report.rows]
    assert names == ["x", "0.0.w", "0.0.b", "0.2.w", "0.2.b"]
    report.assert_ok(GRAD_TOL)
