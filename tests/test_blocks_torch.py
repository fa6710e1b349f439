"""PyTorch as the oracle for the building blocks of modern CNNs (skipped without torch)."""

from __future__ import annotations

import numpy as np
import pytest

import cnn_core as cc

torch = pytest.importorskip("torch")
torch.set_num_threads(1)


@pytest.mark.parametrize("shape", [(4, 3, 5, 5), (2, 2, 1, 7), (8, 1, 2, 2)])
def test_batch_norm_layer_against_torch(shape):
    rng = np.random.default_rng(7)
    ours = cc.BatchNorm2D(shape[1], momentum=0.2, eps=1e-3)
    ref = torch.nn.BatchNorm2d(shape[1], momentum=0.2, eps=1e-3).double()
    gamma, beta = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    ours.params["gamma"][...] = gamma
    ours.params["beta"][...] = beta
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(gamma))
        ref.bias.copy_(torch.tensor(beta))
    for _ in range(3):
        x = 1 + 2 * rng.standard_normal(shape)
        xt = torch.tensor(x, requires_grad=True)
        yt = ref(xt)
        y = ours.forward(x)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-10)
        dout = rng.standard_normal(shape)
        yt.backward(torch.tensor(dout))
        dx = ours.backward(dout)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(ours.grads["gamma"], ref.weight.grad.numpy(), rtol=1e-9)
        np.testing.assert_allclose(ours.grads["beta"], ref.bias.grad.numpy(), rtol=1e-9)
        ref.zero_grad()
    np.testing.assert_allclose(ours.running_mean, ref.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.running_var, ref.running_var.numpy(), rtol=1e-12)
    ours.eval()
    ref.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(ours.forward(x), ref(torch.tensor(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.5, 0.8)])
def test_adam_against_torch(weight_decay, betas):
    rng = np.random.default_rng(1)
    model = cc.Sequential(cc.Conv2D(2, 3, 3, rng=rng), cc.Flatten(), cc.Dense(12, 4, rng=rng))
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p, _ in model.parameters()]
    ours = cc.Adam(model, lr=3e-3, betas=betas, eps=1e-7, weight_decay=weight_decay)
    ref = torch.optim.Adam(tparams, lr=3e-3, betas=betas, eps=1e-7, weight_decay=weight_decay)
    for _ in range(6):
        for (p, g), t in zip(model.parameters(), tparams):
            g[...] = rng.standard_normal(g.shape)
            t.grad = torch.tensor(g.copy())
        ours.step()
        ref.step()
    for (p, _), t in zip(model.parameters(), tparams):
        np.testing.assert_allclose(p, t.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_global_avg_pool_against_torch():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 5, 6))
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.adaptive_avg_pool2d(xt, 1).flatten(1)
    dout = rng.standard_normal((3, 4))
    yt.backward(torch.tensor(dout))
    np.testing.assert_allclose(cc.global_avg_pool2d(x), yt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(cc.global_avg_pool2d_backward(dout, x.shape), xt.grad.numpy(),
                               rtol=1e-12)
