"""A training loop you can read in one go: shuffle, forward, loss, backward, step."""

from __future__ import annotations

import numbers
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .losses import cross_entropy

__all__ = ["History", "fit", "evaluate", "predict"]


@dataclass
class History:
    """Per-epoch record of a :func:`fit` run (accuracies are fractions in [0, 1])."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def predict(model, x, *, batch_size: int = 512) -> np.ndarray:
    """The model's outputs (e.g. logits) for every row of ``x``, computed in batches in
    evaluation mode (dropout off, batch norm with its running statistics); the model's mode is
    restored afterwards."""
    was_training = getattr(model, "training", None)
    if was_training is not None:
        model.eval()
    try:
        return np.concatenate([model.forward(x[i:i + batch_size])
                               for i in range(0, len(x), batch_size)])
    finally:
        if was_training is not None:
            model.train(was_training)


def evaluate(model, x, y, *, loss=cross_entropy, batch_size: int = 512) -> tuple[float, float]:
    """``(mean loss, accuracy)`` of ``model`` on ``(x, y)``."""
    logits = predict(model, x, batch_size=batch_size)
    value, _ = loss(logits, y)
    return value, float((logits.argmax(axis=1) == y).mean())


def fit(model, x, y, *, optimizer, epochs: int, batch_size: int, rng: np.random.Generator,
        loss=cross_entropy, x_val=None, y_val=None, progress: bool = True,
        show_time: bool = False, out=None) -> History:
    """Train ``model`` with mini-batch gradient descent and return its :class:`History`.

    Each epoch visits the training set in an order drawn from ``rng``. With ``progress`` one line
    per epoch is printed (to ``out``, default stdout): training loss and accuracy, and validation
    accuracy when ``x_val``/``y_val`` are given. Times are printed only with ``show_time`` so that the
    printed record is reproducible.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator")
    for value, label, minimum in ((epochs, "epochs", 0), (batch_size, "batch_size", 1)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"{label} must be an int >= {minimum}; got {value!r}")
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length; got {len(x)} and {len(y)}")
    out = sys.stdout if out is None else out
    if hasattr(model, "train"):
        model.train()                   # dropout and batch statistics on while training
    hist = History()
    n = len(x)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = rng.permutation(n)
        total_loss = correct = 0.0
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            logits = model.forward(x[idx])
            value, grad = loss(logits, y[idx])
            model.backward(grad)
            optimizer.step()
            total_loss += value * len(idx)
            correct += float((logits.argmax(axis=1) == y[idx]).sum())
        hist.seconds.append(time.perf_counter() - start)
        hist.train_loss.append(total_loss / n)
        hist.train_acc.append(correct / n)
        line = f"epoch {epoch:>{len(str(epochs))}}/{epochs}  loss {hist.train_loss[-1]:.4f}  train acc {100 * hist.train_acc[-1]:5.1f}%"
        if x_val is not None:
            vl, va = evaluate(model, x_val, y_val, loss=loss)
            hist.val_loss.append(vl)
            hist.val_acc.append(va)
            line += f"  val acc {100 * va:5.1f}%"
        if show_time:
            line += f"  ({hist.seconds[-1]:.2f} s)"
        if progress:
            print(line, file=out, flush=True)
    return hist
