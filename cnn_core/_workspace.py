"""Work arrays and batch plans for the tuned kernels (internal).

- :func:`scratch_array` and :func:`framed_array`: per-thread work arrays kept between calls, so
  that a layer does not pay the page faults of fresh multi-megabyte allocations on every call.
- :func:`plan` (convolution) and :func:`by_batch` (pooling, batch normalization): the batch as
  one contiguous part per core (run by :func:`cnn_core._parallel.run`), a convolution's parts
  further cut into chunks whose work arrays stay within a memory budget.

``_tuning.THREADS = False`` keeps every batch in one part, in the calling thread.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from . import _parallel, _tuning

_scratch = threading.local()


def scratch_array(name: str, shape, dtype) -> np.ndarray:
    """A work array from a per-thread cache that grows but is never shrunk. Reusing it saves the
    page faults of a fresh multi-megabyte allocation on every call (a measurable share of the
    time here). Internal only: such an array must never be returned to the caller."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    buf = getattr(_scratch, name, None)
    if buf is None or buf.nbytes < nbytes:
        buf = np.empty(max(nbytes, 1), dtype=np.uint8)
        setattr(_scratch, name, buf)
    return buf[:nbytes].view(dtype).reshape(shape)


FRAMED_PER_THREAD = 8


def framed_array(name: str, shape, dtype, interior: tuple) -> np.ndarray:
    """A per-thread work array that is zero outside ``interior`` (a tuple of slices), kept between
    calls for the same ``(name, shape, dtype, interior)``: callers only ever write the interior,
    so the frame stays zero and need not be cleared again (one pass instead of five for a padded
    copy). The last ``FRAMED_PER_THREAD`` such arrays are kept. Internal only, like
    :func:`scratch_array`."""
    cache = getattr(_scratch, "framed", None)
    if cache is None:
        cache = _scratch.framed = {}
    key = (name, tuple(shape), np.dtype(dtype).str,
           tuple((sl.start, sl.stop) for sl in interior))
    buf = cache.pop(key, None)
    if buf is None:
        buf = np.zeros(shape, dtype=dtype)
        while len(cache) >= FRAMED_PER_THREAD:
            cache.pop(next(iter(cache)))
    cache[key] = buf                      # most recently used last
    return buf


# A convolution's batch is split into chunks whose buffers stay within a budget: twice the bytes
# of the layer's arrays, clipped to [MIN_CHUNK_BYTES, MAX_CHUNK_BYTES], shared among the workers.
MIN_CHUNK_BYTES = 2 * 2**20
MAX_CHUNK_BYTES = 16 * 2**20

# Work below this many multiply-adds per matrix product runs in the calling thread alone: the
# threads would cost more than they save (the 8×8-digit layers of chapter 7 are below).
PARALLEL_MIN_MACS = 2_000_000

# Pooling batches with at least this many input elements are split into one part per core;
# below it the threads cost more than they save.
PARALLEL_MIN_ELEMENTS = 400_000

# Batch norm's batches are split from this many bytes on: measured on two cores, forward +
# backward, a float64 (64, 6, 28, 28) batch (2.4 MB) took 1.43 ms split against 1.85 ms in one
# thread and a float32 one (1.2 MB) 0.85 against 0.94 ms, while split, a float64
# (64, 16, 10, 10) one (0.8 MB) gained 10 % at best and a float32 one lost half (minima of 200
# alternating runs, benchmarks/README.md).
NORM_PARALLEL_MIN_BYTES = 2**20


def _workers(n: int, large_enough: bool) -> int:
    return max(1, min(_parallel.workers(), n)) if _tuning.THREADS and large_enough else 1


def chunks(n: int, bytes_per_image: int, io_bytes: int, parts: int = 1) -> list[tuple[int, int]]:
    """Split ``range(n)`` into near-equal ``(start, stop)`` chunks whose buffers fit the budget
    ``clip(2 * io_bytes, MIN_CHUNK_BYTES, MAX_CHUNK_BYTES) / parts``."""
    if n == 0:
        return []
    budget = min(max(2 * io_bytes, MIN_CHUNK_BYTES), MAX_CHUNK_BYTES) // parts
    per = max(1, budget // max(1, bytes_per_image))
    m = -(-n // per)                      # number of chunks
    size = -(-n // m)
    return [(i, min(i + size, n)) for i in range(0, n, size)]


def plan(n: int, macs: int, bytes_per_image: int, io_bytes: int) -> list[list[tuple]]:
    """The batch ``range(n)`` as one list of chunks per worker (see :mod:`cnn_core._parallel`):
    contiguous near-equal parts, each chunked so that all workers together stay in the budget."""
    parts = _workers(n, macs >= PARALLEL_MIN_MACS)
    if parts <= 1:
        return [chunks(n, bytes_per_image, io_bytes)]
    edges = _parallel.bounds(n, parts)
    return [[(p0 + a, p0 + b) for a, b in chunks(p1 - p0, bytes_per_image, io_bytes, parts)]
            for p0, p1 in zip(edges, edges[1:])]


def by_batch(fn, x: np.ndarray, large_enough: bool | None = None) -> None:
    """Run ``fn(n0, n1)`` over the batch of ``x``: in one call, or in one contiguous part per core
    when the batch is large enough (by default: ``PARALLEL_MIN_ELEMENTS``). ``fn`` writes its
    results into slices of preallocated arrays."""
    n = x.shape[0]
    if large_enough is None:
        large_enough = x.size >= PARALLEL_MIN_ELEMENTS
    edges = _parallel.bounds(n, _workers(n, large_enough))
    _parallel.run(lambda r: fn(*r), list(zip(edges, edges[1:])))
