"""Run the pieces of a batch on several CPU cores (internal).

numpy runs its copies and element-wise loops on one core; only the matrix products use BLAS's
threads, and on the small products of a CNN layer OpenBLAS's own threading gains little. So the
kernels split the batch into one part per core and run the parts in threads (numpy releases the
GIL inside its loops), each with a single-threaded BLAS: every step, not only the products, then
runs on all cores.

The number of workers is the number of threads BLAS is configured to use (``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS`` or ``threadpoolctl.threadpool_limits``), so limiting BLAS to one thread
limits ``cnn_core`` to one core too. Without ``threadpoolctl`` (a dependency of scikit-learn)
everything runs serially in the calling thread.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

try:
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover - serial fallback
    ThreadpoolController = None

_lock = threading.Lock()
_state = {"blas": None, "pool": None, "pool_size": 0, "active": 0, "saved": None}


def _blas():
    """The BLAS library controllers (found once), or ``()`` when that is not possible."""
    if _state["blas"] is None:
        found = ()
        if ThreadpoolController is not None:
            try:
                found = tuple(lc for lc in ThreadpoolController().lib_controllers
                              if lc.user_api == "blas")
            except Exception:  # pragma: no cover - an unusual BLAS: stay serial
                found = ()
        _state["blas"] = found
    return _state["blas"]


def workers() -> int:
    """How many parts to split work into: BLAS's configured thread count (1 if unknown), at
    most the number of CPUs."""
    blas = _blas()
    if not blas:
        return 1
    if _state["active"]:                 # called from inside a parallel section: BLAS is at 1
        return 1
    return max(1, min(blas[0].get_num_threads(), os.cpu_count() or 1))


def bounds(n: int, parts: int) -> list[int]:
    """``[0, ..., n]``: the edges of ``parts`` contiguous, near-equal parts of ``range(n)``."""
    return [n * i // parts for i in range(parts + 1)]


def _enter() -> None:
    with _lock:
        if _state["active"] == 0:
            _state["saved"] = [lc.get_num_threads() for lc in _blas()]
            for lc in _blas():
                lc.set_num_threads(1)
        _state["active"] += 1


def _exit() -> None:
    with _lock:
        _state["active"] -= 1
        if _state["active"] == 0:
            for lc, n in zip(_blas(), _state["saved"]):
                lc.set_num_threads(n)


def _pool(size: int) -> ThreadPoolExecutor:
    with _lock:
        if _state["pool_size"] < size:
            if _state["pool"] is not None:
                _state["pool"].shutdown(wait=False)
            _state["pool"] = ThreadPoolExecutor(size, thread_name_prefix="cnn_core")
            _state["pool_size"] = size
        return _state["pool"]


def _after_fork_in_child() -> None:
    """A forked child (``multiprocessing`` on Linux) inherits the pool object but not its threads:
    start afresh, or the first parallel call would wait forever for a worker that does not exist."""
    global _lock
    _lock = threading.Lock()
    _state.update(pool=None, pool_size=0, active=0, saved=None)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def run(fn, parts: list) -> list:
    """``[fn(p) for p in parts]``, the parts in parallel (the first in the calling thread) with
    BLAS single-threaded meanwhile. Exceptions propagate; the BLAS setting is always restored."""
    if len(parts) <= 1:
        return [fn(p) for p in parts]
    pool = _pool(len(parts) - 1)
    _enter()
    try:
        futures = [pool.submit(fn, p) for p in parts[1:]]
        try:
            first = fn(parts[0])
        finally:
            wait(futures)  # never return while a worker may still write into shared output
        return [first, *(f.result() for f in futures)]
    finally:
        _exit()
