"""Empty batches (N = 0) and empty class axes give what PyTorch gives (issue 15): an empty
result of the right shape, NaN for a mean over nothing, 0 for a sum over nothing, and zero
parameter gradients. Compared with PyTorch itself where it is installed (skipped otherwise)."""

from __future__ import annotations

import numpy as np
import pytest

import cnn_core as cc

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _t(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("name,torch_loss", [
    ("mse_loss", None), ("mae_loss", F.l1_loss), ("binary_cross_entropy_with_logits",
                                                  F.binary_cross_entropy_with_logits)])
def test_elementwise_losses_of_nothing(name, torch_loss):
    y, t = np.zeros((0, 3)), np.zeros((0, 3))
    value, grad = getattr(cc, name)(y, t)
    yt = _t(y)
    expected = (torch_loss or F.mse_loss)(yt, torch.tensor(t))
    expected.backward()
    assert np.isnan(value) and torch.isnan(expected)
    assert grad.shape == tuple(yt.grad.shape) == (0, 3)


def test_mse_sum_of_nothing_is_zero():
    value, grad = cc.mse_loss(np.zeros((0, 3)), np.zeros((0, 3)), reduction="sum")
    nothing = torch.zeros(0, 3, dtype=torch.float64)
    expected = F.mse_loss(nothing, nothing, reduction="sum")
    assert value == expected.item() == 0.0 and grad.shape == (0, 3)


def test_cross_entropy_of_nothing():
    value, grad = cc.cross_entropy(np.zeros((0, 4)), np.zeros(0, dtype=int))
    z = _t(np.zeros((0, 4)))
    expected = F.cross_entropy(z, torch.zeros(0, dtype=torch.long))
    expected.backward()
    assert np.isnan(value) and torch.isnan(expected)
    assert grad.shape == tuple(z.grad.shape)


@pytest.mark.parametrize("shape,axis", [((2, 0), -1), ((0, 3), -1), ((2, 0, 3), 1)])
def test_softmax_over_an_empty_axis(shape, axis):
    z = np.zeros(shape)
    for ours, theirs in ((cc.softmax, torch.softmax), (cc.log_softmax, torch.log_softmax)):
        assert ours(z, axis=axis).shape == tuple(theirs(torch.tensor(z), axis).shape)


def test_layers_on_an_empty_batch_match_pytorch():
    rng = np.random.default_rng(0)
    model = cc.Sequential(cc.Conv2D(1, 2, 3, rng=rng), cc.ReLU(), cc.MaxPool2D(2), cc.Flatten(),
                          cc.Dense(8, 3, rng=rng))
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(8, 3)).double()
    x = np.zeros((0, 1, 6, 6))
    out = model.forward(x)
    xt = _t(x)
    out_t = net(xt)
    assert out.shape == tuple(out_t.shape) == (0, 3)
    dx = model.backward(np.zeros(out.shape))
    out_t.sum().backward()
    assert dx.shape == tuple(xt.grad.shape)
    for (_, g), p in zip(model.parameters(), net.parameters()):
        assert g.shape == tuple(p.grad.shape) and not g.any() and not p.grad.any()
    assert cc.predict(model, x).shape == (0, 3)
    loss, accuracy = cc.evaluate(model, x, np.zeros(0, dtype=int))
    assert np.isnan(loss) and np.isnan(accuracy)
