"""Checkers for the exercises of chapter 7, the complete network."""

from __future__ import annotations

import numpy as np

import cnn_core as cc

from ._core import Case, Exercise, Mistake, register


# --- ex-net-dense-backward: the three gradients of a fully connected layer -------------------

def _dense_reference(x, W, delta):
    # through cnn_core's Dense layer, with the given weights
    layer = cc.Dense(W.shape[1], W.shape[0], rng=np.random.default_rng(0))
    layer.params["w"][...] = W
    layer.forward(x)
    dx = layer.backward(delta)
    return dx, layer.grads["w"].copy(), layer.grads["b"].copy()


def _dense_cases(rng):
    shapes = ((4, 5, 3), (1, 3, 2), (6, 2, 7))           # (N, fan_in, fan_out)
    return [Case((rng.standard_normal((n, d_in)),
                  rng.standard_normal((d_out, d_in)),
                  rng.standard_normal((n, d_out))))
            for n, d_in, d_out in shapes]


register(Exercise(
    label="ex-net-dense-backward",
    what="(dE/dx, dE/dW, dE/db) of z = x W^T + b for a batch",
    reference=_dense_reference,
    cases=_dense_cases,
    mistakes=(
        Mistake("transposed weight gradient",
                lambda x, W, delta: (delta @ W, x.T @ delta, delta.sum(axis=0)),
                "your dE/dW is x^T delta, of shape (fan_in, fan_out): the transpose. "
                "The gradient has the shape of W, (fan_out, fan_in): delta^T x."),
        Mistake("bias gradient not summed",
                lambda x, W, delta: (delta @ W, delta.T @ x, delta),
                "your dE/db is delta itself, one row per example: the bias is shared "
                "by the whole batch, so its gradient is the sum over the examples."),
        Mistake("bias gradient averaged",
                lambda x, W, delta: (delta @ W, delta.T @ x, delta.mean(axis=0)),
                "your dE/db is the mean of delta over the batch: delta already "
                "carries the 1/N of the loss, so the gradient is the plain sum."),
    ),
))


# --- ex-net-sgd-step: one step of SGD with momentum and weight decay -------------------------

class _OneParameter:
    def __init__(self, w, grad):
        self.pairs = [(w, grad)]

    def parameters(self):
        return self.pairs


def _sgd_reference(w, grad, step, lr, momentum, weight_decay):
    w = w.copy()
    model = _OneParameter(w, grad.copy())
    optimizer = cc.SGD(model, lr=lr, momentum=momentum, weight_decay=weight_decay)
    optimizer.velocity[0][...] = step
    optimizer.step()
    return w, optimizer.velocity[0].copy()


def _sgd_cases(rng):
    cases = []
    for shape, lr, momentum, weight_decay in (((3, 2), 0.1, 0.9, 0.01),
                                              ((4,), 0.5, 0.5, 0.1),
                                              ((2, 2), 0.05, 0.0, 0.0)):
        cases.append(Case((rng.standard_normal(shape), rng.standard_normal(shape),
                           rng.standard_normal(shape), lr, momentum, weight_decay)))
    return cases


def _sgd_no_decay(w, grad, step, lr, momentum, weight_decay):
    new_step = momentum * step - lr * grad
    return w + new_step, new_step


def _sgd_old_step(w, grad, step, lr, momentum, weight_decay):
    new_step = momentum * step - lr * (grad + weight_decay * w)
    return w + step, new_step


def _sgd_decay_sign(w, grad, step, lr, momentum, weight_decay):
    new_step = momentum * step - lr * (grad - weight_decay * w)
    return w + new_step, new_step


register(Exercise(
    label="ex-net-sgd-step",
    what="(new w, new step) of SGD with momentum and weight decay",
    reference=_sgd_reference,
    cases=_sgd_cases,
    mistakes=(
        Mistake("weight decay forgotten", _sgd_no_decay,
                "weight decay is missing: the step uses grad + weight_decay * w, "
                "the gradient of the penalty (weight_decay / 2) |w|^2 added."),
        Mistake("old step applied", _sgd_old_step,
                "you moved w by the old step: first update the step, "
                "step <- momentum * step - lr * (grad + weight_decay * w), then "
                "w <- w + step with the new one."),
        Mistake("weight decay sign", _sgd_decay_sign,
                "the weight decay has the wrong sign: the penalty pulls w towards 0, "
                "so it adds weight_decay * w to the gradient."),
    ),
))


# --- ex-net-param-count: the parameters of a LeNet-style network for 28x28 digits -----------

def _mnist_lenet():
    rng = np.random.default_rng(0)
    return cc.Sequential(
        cc.Conv2D(1, 6, 5, padding=2, rng=rng), cc.ReLU(), cc.MaxPool2D(2),
        cc.Conv2D(6, 16, 5, rng=rng), cc.ReLU(), cc.MaxPool2D(2),
        cc.Flatten(),
        cc.Dense(16 * 5 * 5, 120, rng=rng), cc.ReLU(),
        cc.Dense(120, 84, rng=rng), cc.ReLU(),
        cc.Dense(84, 10, rng=rng),
    )


def _count_without_bias(net):
    return sum(layer.params["w"].size for layer in net.layers if "w" in layer.params)


def _count_with_flatten(net, flat):
    # the same network with the flattened size `flat` instead of 16 * 5 * 5
    first_dense = next(layer for layer in net.layers if isinstance(layer, cc.Dense))
    out = first_dense.params["w"].shape[0]
    return net.num_parameters() - first_dense.params["w"].size + flat * out


_NET = _mnist_lenet()
register(Exercise(
    label="ex-net-param-count",
    what="the number of trainable parameters of the network",
    reference=_NET.num_parameters(),
    mistakes=(
        Mistake("no biases", _count_without_bias(_NET),
                "the biases are missing: every output map of a convolution and every "
                "unit of a dense layer has one."),
        Mistake("flatten of 4x4", _count_with_flatten(_NET, 16 * 4 * 4),
                "the second convolution is valid: 14 - 5 + 1 = 10, pooled to 5, so "
                "the flattened vector has 16 * 5 * 5 entries, not 16 * 4 * 4."),
        Mistake("flatten of 7x7", _count_with_flatten(_NET, 16 * 7 * 7),
                "the second convolution has no padding, so it shrinks 14 to 10 "
                "before pooling: 16 * 5 * 5 entries reach the first dense layer."),
    ),
))


# --- ex-net-lenet-c3: LeNet-5's layer C3 with its connection table --------------------------

_INPUTS_PER_MAP = cc.LENET5_C3_TABLE.sum(axis=0)        # how many S2 maps feed each C3 map
register(Exercise(
    label="ex-net-lenet-c3",
    what="the number of trainable parameters of LeNet-5's layer C3",
    reference=int(sum(25 * c + 1 for c in _INPUTS_PER_MAP)),
    mistakes=(
        Mistake("fully connected", 16 * (6 * 25 + 1),
                "that is C3 fully connected, every map seeing all 6 S2 maps: "
                "count each map's kernels from the connection table."),
        Mistake("no biases", int(sum(25 * c for c in _INPUTS_PER_MAP)),
                "the 16 biases, one per output map, are missing."),
    ),
))
