"""Benchmark cnn_core against its naive loops and (when installed) PyTorch CPU.

    python benchmarks/bench.py                 # everything: conv, pooling, memory, epoch
    python benchmarks/bench.py --only conv,pool --repeats 21

Method
------
- Every timing is the **minimum** over ``--repeats`` runs (the median is printed as well); the
  numpy and the PyTorch version of one case are run **interleaved** in blocks (an untimed call
  and 5 timed calls of numpy, the same of torch, numpy again, ...), so that load from other
  processes on a shared machine hits both alike while each runs back to back as in training.
  The untimed call matters: PyTorch's OpenMP threads spin for milliseconds after each call and
  would otherwise slow the first numpy call after it (and numpy's thread pool with it).
- PyTorch gets the same number of threads as numpy's BLAS (``torch.set_num_threads``); both are
  reported. ``cnn_core`` splits each batch into one part per BLAS thread and runs the parts in a
  thread pool (:mod:`cnn_core._parallel`), so both libraries use the same number of cores.
- The naive loops (``cnn_core.naive``) are exactly linear in the batch size and (for the
  convolution) in the number of kernels; they are timed once on a subset of the batch (and on
  one kernel) and scaled up by ``N / N_subset`` (times ``F``).
- Memory: each measurement runs in a fresh subprocess. After a warm-up on a one-image batch the
  peak resident set size is reset (``/proc/self/clear_refs``, Linux); the "peak extra memory" is
  the peak (``VmHWM``) during one forward+backward minus the resident size before it, measured the
  same way for numpy and for PyTorch (which shares the input arrays via ``torch.from_numpy``); for
  numpy the ``tracemalloc`` peak (numpy reports its buffers to it) is printed as a cross-check.
- Epoch: a LeNet-style network on the 8×8 digits (``cnn_core.data.load_digits``), batch 32, SGD
  with momentum, the same initial weights and the same batch order in both libraries; the final
  losses are printed to show that both computed the same thing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cnn_core as cc  # noqa: E402
from cnn_core import naive  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the benchmark runs without PyTorch, just without its column
    torch = None

CONV_CASES = [  # (x shape, w shape, padding)
    ((64, 1, 28, 28), (6, 1, 5, 5), 2),
    ((64, 6, 14, 14), (16, 6, 5, 5), 0),
    ((32, 16, 32, 32), (32, 16, 3, 3), 1),
]
DTYPES = ["float64", "float32"]


def blas_threads() -> int:
    try:
        from threadpoolctl import threadpool_info
        counts = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
        if counts:
            return int(counts[0])
    except ImportError:
        pass
    return os.cpu_count() or 1


def set_threads(threads: int) -> int:
    """Limit numpy's BLAS to ``threads`` (0: leave its default) and give PyTorch as many.
    Returns the number of BLAS threads in use."""
    if threads:
        from threadpoolctl import threadpool_limits
        threadpool_limits(threads, user_api="blas")
    threads = blas_threads()
    if torch is not None:
        torch.set_num_threads(threads)
    return threads


def interleaved(fns: dict, repeats: int, block: int = 5) -> dict:
    """Time every function ``repeats`` times, in alternating blocks: one untimed call of the
    first function, then ``block`` timed calls of it, then the same for the next function, and
    round again until every function has ``repeats`` timings. Load from other processes hits all
    functions alike, and each is timed in its steady state, back to back as in a training loop:
    the untimed call absorbs what the previous library leaves behind (PyTorch's OpenMP threads
    keep spinning on the cores for several milliseconds after a call, which slows whatever runs
    next by up to 2x here). ``block=1`` runs one timed call per function per round and no
    untimed ones (after one warm-up). Returns ``{name: (min, median)}`` in seconds."""
    times = {k: [] for k in fns}
    if block <= 1:
        for f in fns.values():
            f()
    while any(len(v) < repeats for v in times.values()):
        for k, f in fns.items():
            todo = min(max(block, 1), repeats - len(times[k]))
            if todo and block > 1:
                f()
            for _ in range(todo):
                t0 = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t0)
    return {k: (min(v), statistics.median(v)) for k, v in times.items()}


def once(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def fmt_ms(t):
    return f"{1e3 * t:8.2f}"


def conv_inputs(case, dtype, rng):
    xs, ws, p = case
    x = rng.standard_normal(xs).astype(dtype)
    w = (rng.standard_normal(ws) / np.sqrt(np.prod(ws[1:]))).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    y = cc.conv2d(x, w, b, padding=p)
    dout = rng.standard_normal(y.shape).astype(dtype)
    return x, w, b, p, y, dout


def torch_conv_fn(x, w, b, p, dout):
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    td = torch.tensor(dout)

    def run():
        tx.grad = tw.grad = tb.grad = None
        F.conv2d(tx, tw, tb, padding=p).backward(td)
        return tx.grad, tw.grad, tb.grad
    return run


def bench_conv(repeats, naive_subset, rows):
    print("\n## conv2d forward + backward (dx, dw, db)  [ms, minimum of "
          f"{repeats} interleaved runs; median in brackets]")
    head = f"{'dtype':8} {'x -> w, pad':34} {'naive*':>9} {'numpy':>8} {'torch':>8}" \
           f" {'numpy/torch':>11} {'naive/numpy':>11}"
    print(head)
    for dtype in DTYPES:
        for case in CONV_CASES:
            rng = np.random.default_rng(0)
            x, w, b, p, y, dout = conv_inputs(case, dtype, rng)
            if torch is not None:   # the results agree before anything is timed
                got = torch_conv_fn(x, w, b, p, dout)()
                ours = cc.conv2d_backward(dout, x, w, padding=p)
                tol = 1e-10 if dtype == "float64" else 2e-3
                for a, t in zip(ours, got):
                    np.testing.assert_allclose(a, t.numpy(), rtol=tol, atol=tol)

            def ours_fn():
                cc.conv2d(x, w, b, padding=p)
                cc.conv2d_backward(dout, x, w, padding=p)
            fns = {"numpy": ours_fn}
            if torch is not None:
                fns["torch"] = torch_conv_fn(x, w, b, p, dout)
            res = interleaved(fns, repeats)
            m = min(naive_subset, x.shape[0])   # m images and one kernel, scaled by N·F / m
            t_naive = once(lambda: (naive.conv2d_naive(x[:m], w[:1], b[:1], padding=p),
                                    naive.conv2d_backward_naive(dout[:m, :1], x[:m], w[:1],
                                                                padding=p)))
            t_naive *= x.shape[0] * w.shape[0] / m
            tn, tt = res["numpy"][0], res.get("torch", (np.nan, np.nan))[0]
            label = f"{case[0]} -> {case[1][0]}@{case[1][2]}x{case[1][3]} p{p}"
            print(f"{dtype:8} {label:34} {fmt_ms(t_naive)} {fmt_ms(tn)} {fmt_ms(tt)}"
                  f" {tn / tt:11.2f} {t_naive / tn:11.0f}"
                  f"   [{1e3 * res['numpy'][1]:.2f} / {1e3 * res.get('torch', (0, np.nan))[1]:.2f}]")
            rows.append(dict(kind="conv", dtype=dtype, case=label, naive=t_naive, numpy=tn,
                             torch=tt, numpy_median=res["numpy"][1],
                             torch_median=res.get("torch", (np.nan, np.nan))[1]))
    print(f"* naive: timed on {naive_subset} image(s) of the batch and one kernel, scaled by "
          f"N·F/{naive_subset} (its loops are exactly linear in both)")


def bench_pool(repeats, naive_subset, rows):
    print(f"\n## 2x2 pooling forward + backward on the conv outputs  [ms, minimum of {repeats}]")
    print(f"{'dtype':8} {'pool':4} {'input':22} {'naive*':>9} {'numpy':>8} {'torch':>8}"
          f" {'numpy/torch':>11} {'naive/numpy':>11}")
    for dtype in DTYPES:
        for case in CONV_CASES:
            rng = np.random.default_rng(0)
            x, w, b, p, y, _ = conv_inputs(case, dtype, rng)
            dpool = rng.standard_normal((*y.shape[:2], y.shape[2] // 2, y.shape[3] // 2))
            dpool = dpool.astype(dtype)
            for kind in ("max", "max-", "avg"):
                # max: the forward keeps the argmax for the backward (as the MaxPool2D layer and
                # PyTorch's autograd do); max-: the backward finds the maxima again
                fwd = cc.avg_pool2d if kind == "avg" else cc.max_pool2d
                bwd = cc.avg_pool2d_backward if kind == "avg" else cc.max_pool2d_backward

                def ours_fn(fwd=fwd, bwd=bwd):
                    fwd(y, 2)
                    bwd(dpool, y, 2)

                def ours_argmax_fn():
                    _, arg = cc.max_pool2d(y, 2, return_argmax=True)
                    cc.max_pool2d_backward(dpool, y, 2, argmax=arg)
                fns = {"numpy": ours_argmax_fn if kind == "max" else ours_fn}
                if torch is not None:
                    ty = torch.tensor(y, requires_grad=True)
                    td = torch.tensor(dpool)
                    tfwd = F.avg_pool2d if kind == "avg" else F.max_pool2d

                    def torch_fn(ty=ty, td=td, tfwd=tfwd):
                        ty.grad = None
                        tfwd(ty, 2).backward(td)
                        return ty.grad
                    np.testing.assert_allclose(bwd(dpool, y, 2), torch_fn().numpy(), rtol=1e-6)
                    fns["torch"] = torch_fn
                res = interleaved(fns, repeats)
                m = min(naive_subset, y.shape[0])
                if kind == "max":
                    t_naive = once(lambda: (naive.max_pool2d_naive(y[:m], 2),
                                            naive.max_pool2d_backward_naive(dpool[:m], y[:m], 2)))
                    t_naive *= y.shape[0] / m
                    t_naive_max = t_naive
                    tn = res["numpy"][0]
                elif kind == "max-":                    # the same naive loops as for "max"
                    t_naive, tn = t_naive_max, res["numpy"][0]
                else:
                    t_naive = once(lambda: (naive.avg_pool2d_naive(y[:m], 2),
                                            naive.avg_pool2d_backward_naive(dpool[:m], y[:m], 2)))
                    t_naive *= y.shape[0] / m
                    tn = res["numpy"][0]
                tt = res.get("torch", (np.nan,))[0]
                tb = res["numpy"][0]
                print(f"{dtype:8} {kind:4} {str(y.shape):22} {fmt_ms(t_naive)} {fmt_ms(tb)}"
                      f" {fmt_ms(tt)} {tb / tt:11.2f} {t_naive / tn:11.0f}")
                rows.append(dict(kind=f"{kind}pool", dtype=dtype, case=str(y.shape),
                                 naive=t_naive, numpy=tb, torch=tt))
    print(f"* naive: timed on {naive_subset} image(s), scaled")
    print("  max: the forward keeps the argmax for the backward (return_argmax=True, as the MaxPool2D"
          " layer does and as PyTorch keeps its indices); max-: the backward searches again")


# ----------------------------------------------------------------------------------- memory
MEMORY_CHILD = r"""
import json, sys, tracemalloc
import numpy as np
sys.path.insert(0, {root!r})
sys.path.insert(0, {bench_dir!r})
lib, dtype, ci, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
from bench import CONV_CASES
import cnn_core as cc

def status(field):                       # kB -> bytes, from /proc/self/status
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024

def reset_peak():                        # Linux >= 4.0: VmHWM := VmRSS
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")

xs, ws, p = CONV_CASES[ci]
rng = np.random.default_rng(0)
x = rng.standard_normal(xs).astype(dtype)
w = rng.standard_normal(ws).astype(dtype)
b = rng.standard_normal(ws[0]).astype(dtype)
ho = cc.conv_output_size(xs[2], ws[2], padding=p)
wo = cc.conv_output_size(xs[3], ws[3], padding=p)
dout = rng.standard_normal((xs[0], ws[0], ho, wo)).astype(dtype)
if lib == "torch":
    import torch, torch.nn.functional as F
    torch.set_num_threads(threads)
    def run(x, dout):
        tx = torch.from_numpy(x).requires_grad_()
        tw = torch.from_numpy(w).requires_grad_(); tb = torch.from_numpy(b).requires_grad_()
        F.conv2d(tx, tw, tb, padding=p).backward(torch.from_numpy(dout))
        return tx.grad, tw.grad, tb.grad
    run(x[:1].copy(), dout[:1].copy())   # warm-up: kernels, thread pools
    reset_peak(); base = status("VmRSS")
    grads = run(x, dout)                 # from_numpy: the inputs are shared, not copied
    print(json.dumps(dict(rss=status("VmHWM") - base)))
else:
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(threads, user_api="blas")
    except ImportError:
        pass
    cc.conv2d(x[:1], w, b, padding=p); cc.conv2d_backward(dout[:1], x[:1], w, padding=p)
    reset_peak(); base = status("VmRSS")
    tracemalloc.start()
    y = cc.conv2d(x, w, b, padding=p)
    grads = cc.conv2d_backward(dout, x, w, padding=p)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps(dict(rss=status("VmHWM") - base, traced=traced)))
"""


def bench_memory(threads, rows):
    print("\n## peak extra memory of one conv forward + backward  [MB; peak RSS minus RSS before, "
          "fresh process, 1-image warm-up, peak reset]")
    print(f"{'dtype':8} {'x -> w':34} {'numpy RSS':>10} {'(tracemalloc)':>13} {'torch RSS':>10}"
          f" {'numpy/torch':>11} {'outputs':>8}")
    code = MEMORY_CHILD.format(root=str(ROOT), bench_dir=str(Path(__file__).parent))
    for dtype in DTYPES:
        for ci, case in enumerate(CONV_CASES):
            def child(lib):
                out = subprocess.run([sys.executable, "-c", code, lib, dtype, str(ci), str(threads)],
                                     capture_output=True, text=True, check=True)
                return json.loads(out.stdout.strip().splitlines()[-1])
            ours = child("numpy")
            theirs = child("torch") if torch is not None else {"rss": np.nan}
            x, w, b, p, y, dout = conv_inputs(case, dtype, np.random.default_rng(0))
            outputs = y.nbytes + x.nbytes + w.nbytes + b.nbytes   # y, dx, dw, db themselves
            del x, y, dout
            mb = 2.0 ** 20
            label = f"{case[0]} -> {case[1][0]}@{case[1][2]}x{case[1][3]}"
            ratio = ours["rss"] / theirs["rss"] if theirs["rss"] > 0 else np.nan
            print(f"{dtype:8} {label:34} {ours['rss'] / mb:10.1f} {ours['traced'] / mb:13.1f}"
                  f" {theirs['rss'] / mb:10.1f} {ratio:11.2f}"
                  f" {outputs / mb:8.1f}")
            rows.append(dict(kind="memory", dtype=dtype, case=label, numpy=ours["rss"],
                             numpy_traced=ours["traced"], torch=theirs["rss"], outputs=outputs))
    print("outputs = the bytes of y, dx, dw and db themselves (a lower bound for both)")


# ------------------------------------------------------------------------------------ epoch
def lenet_numpy(rng):
    return cc.Sequential(
        cc.Conv2D(1, 6, 5, padding=2, rng=rng), cc.ReLU(), cc.MaxPool2D(2),
        cc.Conv2D(6, 16, 3, rng=rng), cc.ReLU(), cc.Flatten(),
        cc.Dense(16 * 2 * 2, 64, rng=rng), cc.ReLU(), cc.Dense(64, 10, rng=rng))


def lenet_torch(np_model, dtype):
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 3), nn.ReLU(), nn.Flatten(),
        nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)).to(dtype)
    return copy_weights(np_model, model)


def copy_weights(np_model, model):
    """Give the torch ``model`` the weights of ``np_model`` (its conv and dense layers, in
    order); returns ``model``."""
    nn = torch.nn
    ours = [layer for layer in np_model.layers if layer.params]
    theirs = [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        for a, t in zip(ours, theirs):
            t.weight.copy_(torch.tensor(a.params["w"]))
            t.bias.copy_(torch.tensor(a.params["b"]))
    return model


def epoch_batches(n: int, batch: int) -> list:
    """The index batches of one epoch over ``n`` examples, in a fixed shuffled order."""
    order = np.random.default_rng(1).permutation(n)
    return [order[i:i + batch] for i in range(0, n, batch)]


def print_epochs(res: dict) -> None:
    """One line per library and dtype of :func:`compare_epochs`'s result, with numpy's ratio."""
    tn = res["numpy float64"][0]
    for name, (tmin, tmed) in res.items():
        ratio = "" if name.startswith("numpy") else f"   numpy/{name} = {tn / tmin:.2f}"
        print(f"{name:14} {tmin:7.3f} s  (median {tmed:.3f} s){ratio}")


def compare_epochs(model, opt, make_torch, x, y, batches, repeats) -> dict:
    """One epoch of ``model`` trained by ``opt`` on ``batches`` of ``(x, y)`` with cross-entropy,
    and the same in PyTorch float64 and float32 (``make_torch(dtype)`` returns a torch model
    with the same initial weights and its optimiser), timed interleaved. Prints the first epoch's
    mean losses (the libraries must agree) and returns ``{name: (min, median)}`` in seconds."""
    def np_epoch():
        total = 0.0
        for idx in batches:
            logits = model.forward(x[idx])
            loss, grad = cc.cross_entropy(logits, y[idx])
            model.backward(grad)
            opt.step()
            total += loss * len(idx)
        return total / len(x)

    fns = {}
    if torch is not None:
        for tdtype in (torch.float64, torch.float32):
            tmodel, topt = make_torch(tdtype)
            tx, ty = torch.tensor(x, dtype=tdtype), torch.tensor(y)
            tbatches = [torch.tensor(idx) for idx in batches]

            def t_epoch(tmodel=tmodel, topt=topt, tx=tx, ty=ty, tbatches=tbatches):
                total = 0.0
                for idx in tbatches:
                    topt.zero_grad()
                    loss = F.cross_entropy(tmodel(tx[idx]), ty[idx])
                    loss.backward()
                    topt.step()
                    total += loss.item() * len(idx)
                return total / len(x)
            fns["torch " + str(tdtype).split(".")[1]] = t_epoch
    # The first epoch from identical weights: both libraries must compute the same losses.
    first = {"numpy float64": np_epoch()}
    for name, f in fns.items():
        first[name] = f()
    print("mean loss of the first epoch: " + ", ".join(f"{k} {v:.6f}" for k, v in first.items()))
    return interleaved({"numpy float64": np_epoch, **fns}, repeats, block=1)


def bench_epoch(repeats, rows, lr=0.05, momentum=0.9, batch=32):
    data = cc.data.load_digits()
    x, y = data.x_train, data.y_train
    batches = epoch_batches(len(x), batch)
    print(f"\n## one training epoch, LeNet-style net on the digits ({len(x)} images, batch {batch},"
          f" SGD lr {lr} momentum {momentum})  [s, minimum of {repeats} interleaved epochs]")
    model = lenet_numpy(np.random.default_rng(0))
    opt = cc.SGD(model, lr, momentum=momentum)
    print(model.summary((1, 8, 8)))

    def make_torch(tdtype):
        tmodel = lenet_torch(lenet_numpy(np.random.default_rng(0)), tdtype)
        return tmodel, torch.optim.SGD(tmodel.parameters(), lr=lr, momentum=momentum)
    res = compare_epochs(model, opt, make_torch, x, y, batches, repeats)
    print_epochs(res)
    for name, (tmin, tmed) in res.items():
        rows.append(dict(kind="epoch", dtype=name, case="lenet-digits", seconds=tmin,
                         median=tmed))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="conv,pool,memory,epoch",
                    help="comma-separated sections: conv, pool, memory, epoch")
    ap.add_argument("--epoch", action="store_true", help="run only the training-epoch benchmark")
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--epoch-repeats", type=int, default=5)
    ap.add_argument("--naive-subset", type=int, default=1,
                    help="images of the batch the naive loops are timed on")
    ap.add_argument("--threads", type=int, default=0,
                    help="threads for numpy's BLAS and for PyTorch (default: BLAS's own default)")
    ap.add_argument("--json", help="also write the measurements to this file")
    args = ap.parse_args(argv)
    sections = {"epoch"} if args.epoch else set(args.only.split(","))
    threads = set_threads(args.threads)
    print(f"numpy {np.__version__} (BLAS threads: {threads}); torch "
          f"{torch.__version__ + f' (threads: {torch.get_num_threads()})' if torch else 'not installed'}"
          f"; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
    rows = []
    if "conv" in sections:
        bench_conv(args.repeats, args.naive_subset, rows)
    if "pool" in sections:
        bench_pool(args.repeats, args.naive_subset, rows)
    if "memory" in sections:
        bench_memory(threads, rows)
    if "epoch" in sections:
        bench_epoch(args.epoch_repeats, rows)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (the machine is shared: timings "
          "are minima over interleaved repeats, but still noisy)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
