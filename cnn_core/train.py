"""A training loop you can read in one go: shuffle, forward, loss, backward, step."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from ._validate import as_float_array, as_int, check_rng
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


def _check_model(model, name="model", methods=("forward",)):
    missing = [m for m in methods if not callable(getattr(model, m, None))]
    if missing:
        raise TypeError(f"{name} must have {' and '.join(m + '()' for m in methods)} (a Layer or "
                        f"Sequential); {type(model).__name__} has no {missing[0]}()")


def _inputs(x, name="x"):
    """``x`` as a float array with a batch axis."""
    x = as_float_array(x, name)
    if x.ndim == 0:
        raise ValueError(f"{name} must have a batch axis (N, ...); got a scalar")
    return x


def _targets(y, n, name="y", x_name="x"):
    y = np.asarray(y)
    if y.ndim == 0:
        raise ValueError(f"{name} must hold one target per row of {x_name}; got a scalar")
    if len(y) != n:
        raise ValueError(f"{x_name} and {name} must have the same length; got {n} and "
                         f"{len(y)} (one target per row)")
    if y.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers (class indices or targets); got dtype {y.dtype}")
    return y


def predict(model, x, *, batch_size: int = 512) -> np.ndarray:
    """The model's outputs (e.g. logits) for every row of ``x``, computed in batches in
    evaluation mode (dropout off, batch norm with its running statistics); the model's mode is
    restored afterwards. An empty ``x`` goes through the model once, so the result is empty with
    the right shape."""
    _check_model(model)
    x = _inputs(x)
    batch_size = as_int(batch_size, "batch_size")
    was_training = getattr(model, "training", None)
    if was_training is not None:
        model.eval()
    try:
        if len(x) == 0:
            return model.forward(x)
        return np.concatenate([model.forward(x[i:i + batch_size])
                               for i in range(0, len(x), batch_size)])
    finally:
        if was_training is not None:
            model.train(was_training)


def _accuracy(logits, y) -> float:
    """Fraction of rows whose largest logit is at the label; NaN for no rows (a mean over
    nothing)."""
    if np.ndim(logits) != 2:
        raise ValueError(f"accuracy needs logits of shape (N, K); the model gave "
                         f"{np.shape(logits)}")
    return float((logits.argmax(axis=1) == y).mean()) if len(y) else float("nan")


def evaluate(model, x, y, *, loss=cross_entropy, batch_size: int = 512) -> tuple[float, float]:
    """``(mean loss, accuracy)`` of ``model`` on ``(x, y)``; both NaN for an empty ``x``
    (a mean over nothing, as in PyTorch)."""
    _check_model(model)
    x = _inputs(x)
    y = _targets(y, len(x))
    if not callable(loss):
        raise TypeError(f"loss must be a callable loss(logits, y) -> (value, grad); got {loss!r}")
    logits = predict(model, x, batch_size=batch_size)
    value, _ = loss(logits, y)
    return value, _accuracy(logits, y)


def _check_fit(model, x, y, optimizer, epochs, batch_size, rng, loss, x_val, y_val, out):
    """Every argument of :func:`fit`, checked before training starts; returns the arrays."""
    check_rng(rng)
    _check_model(model, methods=("forward", "backward"))
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError(f"optimizer must have a step() method, e.g. cc.SGD(model, lr=0.1); "
                        f"got {type(optimizer).__name__}")
    if not callable(loss):
        raise TypeError(f"loss must be a callable loss(logits, y) -> (value, grad); got {loss!r}")
    as_int(epochs, "epochs", minimum=0)
    as_int(batch_size, "batch_size")
    x = _inputs(x)
    if len(x) == 0:
        raise ValueError(f"x is empty (shape {x.shape}): fit needs at least one training example")
    y = _targets(y, len(x))
    if (x_val is None) != (y_val is None):
        raise ValueError("x_val and y_val go together: give both or neither")
    if x_val is not None:
        x_val = _inputs(x_val, "x_val")
        y_val = _targets(y_val, len(x_val), "y_val", "x_val")
    if out is not None and not callable(getattr(out, "write", None)):
        raise TypeError(f"out must be a writable text stream (with write()); got {out!r}")
    return x, y, x_val, y_val


def fit(model, x, y, *, optimizer, epochs: int, batch_size: int, rng: np.random.Generator,
        loss=cross_entropy, x_val=None, y_val=None, progress: bool = True,
        show_time: bool = False, out=None) -> History:
    """Train ``model`` with mini-batch gradient descent and return its :class:`History`.

    Each epoch visits the training set in an order drawn from ``rng``. With ``progress`` one line
    per epoch is printed (to ``out``, default stdout): training loss and accuracy, and validation
    accuracy when ``x_val``/``y_val`` are given. Times are printed only with ``show_time`` so that the
    printed record is reproducible.

    Every argument is checked before training starts; an empty training set is an error (there
    is nothing to average the training loss over).
    """
    x, y, x_val, y_val = _check_fit(model, x, y, optimizer, epochs, batch_size, rng, loss,
                                    x_val, y_val, out)
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
