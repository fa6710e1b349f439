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

try:
    from threadpoolctl import ThreadpoolController
except ImportError:  # pragma: no cover - serial fallback
    ThreadpoolController = None

_lock = threading.Lock()
_state = {"blas": None, "workers": [], "active": 0, "saved": None}
_busy = threading.Lock()        # held by the one call whose parts the workers are running


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


class _Worker:
    """A thread that runs one part at a time, handed to it and back with two bare locks.

    A ``ThreadPoolExecutor``'s futures and condition variables took 45-55 µs per hand-over on
    the machine measured (benchmarks/README.md), two locks 12 µs."""

    def __init__(self, name: str):
        self._go, self._done = threading.Lock(), threading.Lock()
        self._go.acquire()
        self._done.acquire()
        self._job = self._outcome = None
        threading.Thread(target=self._loop, name=name, daemon=True).start()

    def start(self, fn, part) -> None:
        self._job = (fn, part)
        self._go.release()

    def finish(self):
        """Wait for the part; its result, or ``(None, exception)`` if it raised."""
        self._done.acquire()
        outcome, self._outcome = self._outcome, None
        return outcome

    def _loop(self) -> None:
        while True:
            self._go.acquire()
            fn, part = self._job
            self._job = None
            try:
                outcome = (fn(part), None)
            except BaseException as exc:  # handed to the caller, which raises it
                outcome = (None, exc)
            del fn, part                  # keep nothing of the call alive until the next one
            self._outcome, outcome = outcome, None
            self._done.release()


def _finish(started: list) -> list:
    """Every started worker's outcome. If the wait is interrupted (Ctrl-C), the workers are
    let go and new ones made next time, so no part still running can be mistaken for a new one."""
    try:
        return [worker.finish() for worker in started]
    except BaseException:
        _state["workers"] = []
        raise


def _workers_for(parts: int) -> list:
    while len(_state["workers"]) < parts:
        _state["workers"].append(_Worker(f"cnn_core_{len(_state['workers'])}"))
    return _state["workers"][:parts]


def _after_fork_in_child() -> None:
    """A forked child (``multiprocessing`` on Linux) inherits the worker objects but not their
    threads: start afresh, or the first parallel call would wait forever for a worker that does
    not exist."""
    global _lock, _busy
    _lock, _busy = threading.Lock(), threading.Lock()
    _state.update(workers=[], active=0, saved=None)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def run(fn, parts: list) -> list:
    """``[fn(p) for p in parts]``, the parts in parallel (the first in the calling thread) with
    BLAS single-threaded meanwhile. Exceptions propagate; the BLAS setting is always restored.
    While another thread's call has the workers, the parts run one after another here."""
    if len(parts) <= 1 or not _busy.acquire(blocking=False):
        return [fn(p) for p in parts]
    try:
        _enter()
        try:
            workers = _workers_for(len(parts) - 1)
            started = []
            try:
                for worker, part in zip(workers, parts[1:]):
                    worker.start(fn, part)
                    started.append(worker)
                first = fn(parts[0])
            finally:   # never return while a worker may still write into shared output
                outcomes = _finish(started)
            for _, error in outcomes:
                if error is not None:
                    raise error
            return [first, *(result for result, _ in outcomes)]
        finally:
            _exit()
    finally:
        _busy.release()
