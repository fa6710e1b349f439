"""Each tuned path of cnn_core against the general path it replaces: the same call with the
path's switch in ``cnn_core._tuning`` on and off (every other switch on), alternating in one
process (an untimed call, then 3 timed calls, each in turn), minimum of ``--repeats``.

    PYTHONPATH=. .venv/bin/python benchmarks/tuning.py --threads 1
"""

from __future__ import annotations

import argparse
import time

import numpy as np

CONV_CASES = [((64, 1, 28, 28), (6, 1, 5, 5), 2), ((64, 6, 14, 14), (16, 6, 5, 5), 0),
              ((32, 16, 32, 32), (32, 16, 3, 3), 1)]
POOL_INPUTS = [(64, 6, 28, 28), (64, 16, 10, 10), (32, 32, 32, 32)]


def interleaved(fns: dict, repeats: int, block: int = 3) -> dict:
    times = {k: [] for k in fns}
    while any(len(v) < repeats for v in times.values()):
        for k, f in fns.items():
            f()
            for _ in range(block):
                t0 = time.perf_counter()
                f()
                times[k].append(time.perf_counter() - t0)
    return {k: min(v) for k, v in times.items()}


def cases(cc, rng):
    """``(switch, label, call, other switches)`` for every path and benchmark input."""
    out = []
    for dtype in ("float64", "float32"):
        for xs, ws, p in CONV_CASES:
            x, w = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)
            d = rng.standard_normal(cc.conv2d(x, w, padding=p).shape).astype(dtype)

            def conv(x=x, w=w, p=p, d=d):
                cc.conv2d(x, w, padding=p)
                cc.conv2d_backward(d, x, w, padding=p)
            for switch in ("CONV_BATCHED", "RECORD_COPY", "SHIFTED_COL2IM", "THREADS"):
                out.append((switch, f"{dtype} conv {xs} -> {ws[0]}@{ws[2]}", conv, {}))
        for xs in POOL_INPUTS:
            x = rng.standard_normal(xs).astype(dtype)
            d = rng.standard_normal((*xs[:2], xs[2] // 2, xs[3] // 2)).astype(dtype)
            d3 = rng.standard_normal(cc.max_pool2d(x, 3, stride=1).shape).astype(dtype)

            def max_kept(x=x, d=d):
                _, arg = cc.max_pool2d(x, 2, return_argmax=True)
                cc.max_pool2d_backward(d, x, 2, argmax=arg)

            def max_again(x=x, d=d):
                cc.max_pool2d(x, 2)
                cc.max_pool2d_backward(d, x, 2)

            def avg(x=x, d=d):
                cc.avg_pool2d(x, 2)
                cc.avg_pool2d_backward(d, x, 2)

            def max_overlap(x=x, d3=d3):
                cc.max_pool2d_backward(d3, x, 3, stride=1)
            out += [("TILE_ARGMAX", f"{dtype} max 2x2 {xs}", max_kept, {}),
                    ("TILE_ARGMAX", f"{dtype} max 2x2, again {xs}", max_again, {}),
                    ("POOL_TILES", f"{dtype} max 2x2 forward {xs}",
                     lambda x=x: cc.max_pool2d(x, 2), {}),
                    ("POOL_TILES", f"{dtype} avg 2x2, no product {xs}", avg,
                     {"AVG_PRODUCT": False}),
                    ("AVG_PRODUCT", f"{dtype} avg 2x2 {xs}", avg, {}),
                    ("MAX_BY_EQUALITY", f"{dtype} max 3x3/1 backward {xs}", max_overlap, {}),
                    ("THREADS", f"{dtype} max 2x2 {xs}", max_kept, {}),
                    ("THREADS", f"{dtype} avg 2x2 {xs}", avg, {})]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="threads for numpy's BLAS")
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits
    threadpool_limits(args.threads, user_api="blas")
    import cnn_core as cc
    from cnn_core import _tuning

    def run(switch, on, call, others):
        def timed():
            with _tuning.switched(**{**others, switch: on}):
                call()
        return timed
    print(f"{args.threads} thread(s): time with the tuned path / time with its switch off")
    for switch, label, call, others in cases(cc, np.random.default_rng(0)):
        if switch == "THREADS" and args.threads == 1:
            continue
        r = interleaved({"on": run(switch, True, call, others),
                         "off": run(switch, False, call, others)}, args.repeats)
        print(f"{switch:15} {label:44} on {1e3 * r['on']:8.2f} ms  off {1e3 * r['off']:8.2f} ms"
              f"  on/off {r['on'] / r['off']:5.2f}", flush=True)


if __name__ == "__main__":
    main()
