"""Benchmark the building blocks of modern CNNs against PyTorch CPU, same threads, same run.

    python benchmarks/bench_blocks.py                    # batch norm, then a LeNet-5 epoch
    python benchmarks/bench_blocks.py --only bn --repeats 31

- Batch normalization, forward + backward (dx, dgamma, dbeta) in training mode, float64 and
  float32, timed interleaved with PyTorch's ``F.batch_norm`` + autograd exactly as ``bench.py``
  times the convolution (minimum over the repeats, median in brackets). Both sides do the same
  work: PyTorch's autograd keeps the batch's mean and 1/std from the forward pass for the
  backward pass, and ``cnn_core`` is timed the same way, ``batch_norm2d(..., return_stats=True)``
  handing its mean and variance to ``batch_norm2d_backward(..., mean=, var=)`` (as the layer
  ``BatchNorm2D`` does). The last column is the ratio of the backward pass that computes the
  statistics again from ``x`` (the call without ``mean``/``var``), for comparison.
- One epoch of LeNet-5 (conv 6@5×5 pad 2, ReLU, max pool 2, conv 16@5×5, ReLU, max pool 2,
  dense 400→120→84→10 with ReLU) on the 4,000 training images of ``load_mnist``'s sample, batch
  32, Adam 1e-3; the same initial weights and batch order in both libraries, whose first-epoch
  losses are printed to show they computed the same thing.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import cnn_core as cc  # noqa: E402
from bench import (compare_epochs, copy_weights, epoch_batches, fmt_ms,  # noqa: E402
                   interleaved, print_epochs, set_threads)

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None

BN_CASES = [(64, 6, 28, 28), (64, 16, 10, 10), (32, 32, 32, 32)]


def bench_bn(repeats):
    print(f"\n## batch norm forward + backward, training mode  [ms, minimum of {repeats} "
          "interleaved runs; median in brackets]")
    print(f"{'dtype':8} {'x':18} {'numpy':>18} {'torch':>18} {'numpy/torch':>11} "
          f"{'(stats again)':>13}")
    rng = np.random.default_rng(0)
    for dtype in ("float64", "float32"):
        for shape in BN_CASES:
            x = rng.standard_normal(shape).astype(dtype)
            gamma = rng.standard_normal(shape[1]).astype(dtype)
            beta = rng.standard_normal(shape[1]).astype(dtype)
            dout = rng.standard_normal(shape).astype(dtype)

            def ours():                      # the statistics kept, as PyTorch's autograd does
                _, mean, var = cc.batch_norm2d(x, gamma, beta, return_stats=True)
                return cc.batch_norm2d_backward(dout, x, gamma, mean=mean, var=var)

            def ours_again():                # the backward pass computes them again from x
                cc.batch_norm2d(x, gamma, beta)
                return cc.batch_norm2d_backward(dout, x, gamma)
            fns = {"numpy": ours, "numpy, stats again": ours_again}
            if torch is not None:
                tx = torch.tensor(x, requires_grad=True)
                tg = torch.tensor(gamma, requires_grad=True)
                tb = torch.tensor(beta, requires_grad=True)
                td = torch.tensor(dout)

                def theirs():
                    tx.grad = tg.grad = tb.grad = None
                    F.batch_norm(tx, None, None, tg, tb, training=True).backward(td)
                fns["torch"] = theirs
            res = interleaved(fns, repeats)
            n = res["numpy"]
            line = f"{dtype:8} {str(shape):18} {fmt_ms(n[0])} [{fmt_ms(n[1]).strip():>6}]"
            if "torch" in res:
                t = res["torch"]
                again = res["numpy, stats again"][0] / t[0]
                line += (f" {fmt_ms(t[0])} [{fmt_ms(t[1]).strip():>6}] {n[0] / t[0]:11.2f} "
                         f"{again:13.2f}")
            print(line)


def lenet5(rng):
    return cc.Sequential(
        cc.Conv2D(1, 6, 5, padding=2, rng=rng), cc.ReLU(), cc.MaxPool2D(2),
        cc.Conv2D(6, 16, 5, rng=rng), cc.ReLU(), cc.MaxPool2D(2), cc.Flatten(),
        cc.Dense(400, 120, rng=rng), cc.ReLU(), cc.Dense(120, 84, rng=rng), cc.ReLU(),
        cc.Dense(84, 10, rng=rng))


def lenet5_torch(ours, dtype):
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10)).to(dtype)
    return copy_weights(ours, model)


def bench_lenet(repeats, batch=32, lr=1e-3):
    data = cc.data.load_mnist(verbose=False)
    x, y = data.x_train, data.y_train
    batches = epoch_batches(len(x), batch)
    print(f"\n## one epoch of LeNet-5 on MNIST ({len(x)} images 28x28, batch {batch}, Adam "
          f"{lr})  [s, minimum of {repeats} interleaved epochs]")
    model = lenet5(np.random.default_rng(0))
    opt = cc.Adam(model, lr)

    def make_torch(tdtype):
        tmodel = lenet5_torch(lenet5(np.random.default_rng(0)), tdtype)
        return tmodel, torch.optim.Adam(tmodel.parameters(), lr=lr)
    print_epochs(compare_epochs(model, opt, make_torch, x, y, batches, repeats))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="bn,lenet", help="comma-separated sections: bn, lenet")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--epoch-repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args(argv)
    threads = set_threads(args.threads)
    print(f"numpy {np.__version__} (BLAS threads: {threads}); torch "
          f"{torch.__version__ if torch else 'not installed'}; load average "
          f"{os.getloadavg()[0]:.2f}")
    sections = set(args.only.split(","))
    if "bn" in sections:
        bench_bn(args.repeats)
    if "lenet" in sections:
        bench_lenet(args.epoch_repeats)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
