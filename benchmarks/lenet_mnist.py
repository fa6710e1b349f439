"""LeNet-5 on the 5,000-image MNIST sample: which training tools matter.

Every variant is trained once per seed; a seed fixes the stratified split
of the sample (4,000 training and 1,000 test images,
``cc.data.load_mnist(seed=seed)``), the initial weights, the order of the
mini-batches and the random shifts. Adam (η = 1e-3), batch 32,
cross-entropy, 10 epochs. The variants add the tools of Part IV:

  plain          LeNet-5 (LeCun et al. 1998) with ReLU and max pooling
  shifts         + random shifts of each training image by up to ±2 pixels
  shifts+bn      + batch normalization after both convolutions
  shifts+wd      + weight decay λ = 5e-4 (Adam's L2 form)
  shifts+cosine  + a cosine learning-rate schedule from η to 0

Run (about 8 minutes of CPU time; on a shared machine, run it niced):

    PYTHONPATH=. nice -n 10 python benchmarks/lenet_mnist.py

It writes book/data/lenet_mnist.json: per variant and seed the final test
accuracy, the test accuracy and training loss after every epoch, the
training wall-clock and CPU seconds (evaluation excluded), plus the
settings, threads, load average, numpy version, date and the SHA-256 of
this script, which chapter 16 and tests/test_lenet_mnist.py compare with
the script on disk. Results are written after every run, so an
interrupted sweep keeps what it finished. ``--variants`` and ``--seeds``
select part of the sweep, ``--out`` names the file, and ``--combine A.json
B.json ...`` joins the files of parts run as separate processes (same
script and settings) into ``--out``.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

import cnn_core as cc

HERE = Path(__file__).resolve()
OUT = HERE.parent.parent / "book" / "data" / "lenet_mnist.json"

VARIANTS = {
    "plain": dict(shift=0, bn=False, weight_decay=0.0,
                  schedule="constant"),
    "shifts": dict(shift=2, bn=False, weight_decay=0.0,
                   schedule="constant"),
    "shifts+bn": dict(shift=2, bn=True, weight_decay=0.0,
                      schedule="constant"),
    "shifts+wd": dict(shift=2, bn=False, weight_decay=5e-4,
                      schedule="constant"),
    "shifts+cosine": dict(shift=2, bn=False, weight_decay=0.0,
                          schedule="cosine"),
}
SEEDS = (0, 1, 2, 3, 4)
SETTINGS = dict(epochs=10, batch_size=32, lr=1e-3, test_fraction=0.2)
TARGET = dict(accuracy=0.97, train_seconds=60.0)


def script_sha256(path=HERE) -> str:
    """The SHA-256 of this script's bytes (recorded in the result file)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def lenet5(rng: np.random.Generator, *, bn: bool = False) -> cc.Sequential:
    """LeNet-5 for 1×28×28 digits: conv 6@5×5 (padding 2), ReLU, max
    pool 2, conv 16@5×5, ReLU, max pool 2, dense 400 → 120 → 84 → 10;
    with ``bn`` a BatchNorm2D after each convolution, before its ReLU."""
    def block(c_in, c_out, padding):
        layers = [cc.Conv2D(c_in, c_out, 5, padding=padding, rng=rng)]
        if bn:
            layers.append(cc.BatchNorm2D(c_out))
        return layers + [cc.ReLU(), cc.MaxPool2D(2)]
    return cc.Sequential(
        *block(1, 6, 2), *block(6, 16, 0), cc.Flatten(),
        cc.Dense(400, 120, rng=rng), cc.ReLU(),
        cc.Dense(120, 84, rng=rng), cc.ReLU(),
        cc.Dense(84, 10, rng=rng))


def random_shift(x: np.ndarray, offsets) -> np.ndarray:
    """Translate image n of ``x`` (N, C, H, W) by ``offsets[n] = (a, b)``
    pixels (down, right), filling with zeros:
    ``out[n, c, i, j] = x[n, c, i - a, j - b]`` where that index lies
    inside the image, else 0. Vectorised: pad by the largest offset s,
    then cut one H×W window per image, at row s - a and column s - b,
    with fancy indexing."""
    x = np.asarray(x)
    offsets = np.asarray(offsets)
    if x.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W); got shape {x.shape}")
    n, c, h, w = x.shape
    if (offsets.shape != (n, 2)
            or not np.issubdtype(offsets.dtype, np.integer)):
        raise ValueError(f"offsets must be integers of shape ({n}, 2); "
                         f"got {offsets.dtype} {offsets.shape}")
    s = int(np.abs(offsets).max(initial=0))
    if s >= min(h, w):
        raise ValueError(f"offsets must be smaller than the image "
                         f"({h}×{w}); got a shift of {s}")
    xp = np.pad(x, ((0, 0), (0, 0), (s, s), (s, s)))
    rows = s - offsets[:, 0, None] + np.arange(h)        # (N, H)
    cols = s - offsets[:, 1, None] + np.arange(w)        # (N, W)
    n_idx = np.arange(n)[:, None, None, None]
    c_idx = np.arange(c)[None, :, None, None]
    return xp[n_idx, c_idx, rows[:, None, :, None], cols[:, None, None, :]]


def random_offsets(rng: np.random.Generator, n: int,
                   shift: int) -> np.ndarray:
    """``n`` offsets (dy, dx), each uniform on {-shift, ..., shift}."""
    return rng.integers(-shift, shift + 1, size=(n, 2))


def learning_rate(step: int, total: int, lr: float, schedule: str) -> float:
    """η at optimiser step ``step`` (0-based) of ``total``: constant, or
    cosine from η to 0: η · (1 + cos(π · step / total)) / 2."""
    if schedule == "constant":
        return lr
    if schedule == "cosine":
        return lr * 0.5 * (1.0 + np.cos(np.pi * step / total))
    raise ValueError(f"schedule must be 'constant' or 'cosine'; "
                     f"got {schedule!r}")


def train_run(data, seed: int, *, shift=0, bn=False, weight_decay=0.0,
              schedule="constant", epochs=10, batch_size=32, lr=1e-3,
              log=None, keep_model=False) -> dict:
    """Train LeNet-5 once; return the final test accuracy, the test
    accuracy and the mean training loss after every epoch, and the training
    wall-clock and CPU seconds (evaluation excluded); with ``keep_model``
    also the trained model (under "model")."""
    rng = np.random.default_rng(seed)
    model = lenet5(rng, bn=bn)
    opt = cc.Adam(model, lr=lr, weight_decay=weight_decay)
    x, y = data.x_train, data.y_train
    n = len(y)
    steps_per_epoch = -(-n // batch_size)
    total = epochs * steps_per_epoch
    curve, losses, wall, cpu, step = [], [], 0.0, 0.0, 0
    for epoch in range(epochs):
        model.train()
        t0, c0 = time.perf_counter(), time.process_time()
        order = rng.permutation(n)
        total_loss = 0.0
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            xb = x[idx]
            if shift:
                xb = random_shift(xb, random_offsets(rng, len(idx), shift))
            logits = model.forward(xb)
            loss, grad = cc.cross_entropy(logits, y[idx])
            total_loss += loss * len(idx)
            model.backward(grad)
            opt.lr = learning_rate(step, total, lr, schedule)
            opt.step()
            step += 1
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
        losses.append(total_loss / n)
        _, acc = cc.evaluate(model, data.x_test, data.y_test)
        curve.append(acc)
        if log:
            log(f"  epoch {epoch + 1:2d}  test acc {100 * acc:5.2f} %  "
                f"({wall:.1f} s, CPU {cpu:.1f} s)")
    run = dict(seed=seed, test_accuracy=curve[-1], curve=curve,
               train_loss=losses, train_seconds=wall, cpu_seconds=cpu,
               epochs=epochs)
    if keep_model:
        run["model"] = model
    return run


def summary(result: dict) -> dict:
    """Per variant: mean and (population) std of the final test accuracy
    over its runs, the smallest and the largest, and the largest training
    wall-clock and CPU seconds of a run."""
    out = {}
    for name, runs in result["runs"].items():
        acc = np.array([r["test_accuracy"] for r in runs])
        out[name] = dict(
            n=len(runs), mean=float(acc.mean()), std=float(acc.std()),
            min=float(acc.min()), max=float(acc.max()),
            max_train_seconds=max(r["train_seconds"] for r in runs),
            max_cpu_seconds=max(r["cpu_seconds"] for r in runs))
    return out


def _threads(n: int | None) -> int:
    """Limit BLAS (and so cnn_core's parallel parts) to ``n`` threads;
    return the count."""
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:  # pragma: no cover
        return int(os.environ.get("OPENBLAS_NUM_THREADS", 0) or 0)
    if n:
        threadpool_limits(n)
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return int(blas[0]["num_threads"]) if blas else 1


def combine(parts: list, out: Path) -> dict:
    """Join the result files ``parts`` (written by this script with the
    same settings) into one file ``out``; a (variant, seed) present twice
    is an error."""
    results = [json.loads(Path(p).read_text()) for p in parts]
    first = results[0]
    for p, r in zip(parts, results):
        if r["script_sha256"] != script_sha256():
            sys.exit(f"{p} was written by another version of this script")
        if r["settings"] != first["settings"]:
            sys.exit(f"{p}: settings {r['settings']} differ from "
                     f"{first['settings']}")
    joined = dict(first, runs={}, machine=[])
    for r in results:
        joined["machine"] += r["machine"]
        for name, runs in r["runs"].items():
            have = {x["seed"] for x in joined["runs"].get(name, [])}
            if have & {x["seed"] for x in runs}:
                sys.exit(f"{name}: a seed appears in two parts")
            joined["runs"][name] = sorted(
                joined["runs"].get(name, []) + runs,
                key=lambda x: x["seed"])
    joined["runs"] = {v: joined["runs"][v] for v in VARIANTS
                      if v in joined["runs"]}
    joined["summary"] = summary(joined)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(joined, indent=1) + "\n")
    return joined


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    ap.add_argument("--epochs", type=int, default=SETTINGS["epochs"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--merge", action="store_true",
                    help="add the runs to an existing result file")
    ap.add_argument("--combine", nargs="+", metavar="PART",
                    help="join result files of parts into --out")
    args = ap.parse_args(argv)
    if args.combine:
        combine([Path(p) for p in args.combine], Path(args.out))
        return
    names = args.variants.split(",")
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variants {unknown}; "
                 f"choose from {list(VARIANTS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    threads = _threads(args.threads)
    out = Path(args.out)
    settings = dict(SETTINGS, epochs=args.epochs)
    result = None
    if args.merge and out.is_file():
        result = json.loads(out.read_text())
        if result["script_sha256"] != script_sha256():
            sys.exit(f"{out} was written by another version of this script")
        if result["settings"] != settings:
            sys.exit(f"{out}: settings {result['settings']} differ from "
                     f"{settings}")
    if result is None:
        result = dict(
            script="benchmarks/lenet_mnist.py",
            script_sha256=script_sha256(),
            command="PYTHONPATH=. nice -n 10 python "
                    "benchmarks/lenet_mnist.py",
            settings=settings, target=TARGET, variants=VARIANTS,
            runs={}, machine=[])
    now = datetime.datetime.now(datetime.timezone.utc)
    result["machine"].append(dict(
        date=now.isoformat(timespec="seconds"),
        argv=sys.argv[1:] if argv is None else list(argv),
        threads=threads, cpus=os.cpu_count(), nice=os.nice(0),
        numpy=np.__version__, python=sys.version.split()[0],
        load_average_start=list(os.getloadavg())))
    out.parent.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        data = cc.data.load_mnist(
            seed=seed, test_fraction=settings["test_fraction"],
            verbose=False)
        for name in names:
            print(f"{name}, seed {seed}", flush=True)
            load0 = os.getloadavg()[0]
            run = train_run(data, seed, **VARIANTS[name],
                            epochs=settings["epochs"],
                            batch_size=settings["batch_size"],
                            lr=settings["lr"], log=print)
            run["load_average"] = [load0, os.getloadavg()[0]]
            runs = [r for r in result["runs"].get(name, [])
                    if r["seed"] != seed]
            result["runs"][name] = sorted(runs + [run],
                                          key=lambda r: r["seed"])
            machine = result["machine"][-1]
            machine["load_average_end"] = list(os.getloadavg())
            result["summary"] = summary(result)
            tmp = out.with_suffix(".tmp")
            tmp.write_text(json.dumps(result, indent=1) + "\n")
            tmp.replace(out)
    for name, s in result["summary"].items():
        print(f"{name:14s} {100 * s['mean']:5.2f} ± "
              f"{100 * s['std']:4.2f} %"
              f"  (n={s['n']}, ≤ {s['max_train_seconds']:.0f} s, "
              f"CPU ≤ {s['max_cpu_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
