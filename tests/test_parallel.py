"""The multi-core path (cnn_core._parallel and its use in conv and pooling): splitting the batch
over threads must not change any result, must restore BLAS's thread setting, and must pass on
exceptions. Every test forces the parallel path (two workers, no size thresholds) and compares it
with the serial path and with the naive loops, so these tests run the same on a 1-core machine."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import cnn_core as cc
from cnn_core import _norm_fast, _parallel, _tuning, _workspace, naive
from testhelpers import assert_allclose

needs_blas_control = pytest.mark.skipif(not _parallel._blas(),
                                        reason="threadpoolctl cannot control this BLAS")


@pytest.fixture
def forced(monkeypatch):
    """Two workers and no thresholds: every call below takes the threaded path."""
    monkeypatch.setattr(_parallel, "workers", lambda: 2)
    monkeypatch.setattr(_tuning, "THREADS", True)
    monkeypatch.setattr(_workspace, "PARALLEL_MIN_MACS", 0)
    monkeypatch.setattr(_workspace, "PARALLEL_MIN_ELEMENTS", 0)
    monkeypatch.setattr(_workspace, "NORM_PARALLEL_MIN_BYTES", 0)


def _serial(monkeypatch):
    monkeypatch.setattr(_parallel, "workers", lambda: 1)


# (x shape, w shape, stride, padding, dilation): stride 1 takes the shifted-view col2im, the others
# the strided-slice one; odd batch sizes give parts of different sizes.
CASES = [
    pytest.param((5, 3, 9, 8), (4, 3, 3, 3), 1, 1, 1, id="stride1-pad1"),
    pytest.param((4, 2, 10, 9), (3, 2, 5, 5), 1, 2, 1, id="5x5-pad2"),
    pytest.param((3, 2, 11, 11), (2, 2, 3, 3), 2, 1, 1, id="stride2"),
    pytest.param((6, 1, 9, 9), (2, 1, 3, 3), 1, "same", 2, id="same-dilated"),
    pytest.param((7, 2, 6, 6), (3, 2, 2, 2), 1, 0, 1, id="odd-batch"),
]


@pytest.mark.parametrize("xs,ws,stride,padding,dilation", CASES)
def test_parallel_conv_equals_serial_and_naive(forced, monkeypatch, xs, ws, stride, padding,
                                               dilation):
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    kw = dict(stride=stride, padding=padding, dilation=dilation)
    y = cc.conv2d(x, w, b, **kw)
    dout = rng.standard_normal(y.shape)
    grads = cc.conv2d_backward(dout, x, w, **kw)
    assert_allclose(y, naive.conv2d_naive(x, w, b, **kw))
    for got, want in zip(grads, naive.conv2d_backward_naive(dout, x, w, **kw)):
        assert_allclose(got, want)
    _serial(monkeypatch)
    np.testing.assert_array_equal(y, cc.conv2d(x, w, b, **kw))  # each image is computed alike
    for got, want in zip(grads, cc.conv2d_backward(dout, x, w, **kw)):
        assert_allclose(got, want)                           # dW, db: sums in another order


def test_parallel_conv_with_many_chunks(forced, monkeypatch):
    """A tiny memory budget splits each worker's part into one-image chunks."""
    monkeypatch.setattr(_workspace, "MIN_CHUNK_BYTES", 1)
    monkeypatch.setattr(_workspace, "MAX_CHUNK_BYTES", 1)
    assert _workspace.plan(5, 1, 1000, 0) == [[(0, 1), (1, 2)], [(2, 3), (3, 4), (4, 5)]]
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((5, 2, 7, 7)), rng.standard_normal((3, 2, 3, 3))
    dout = rng.standard_normal((5, 3, 7, 7))
    assert_allclose(cc.conv2d(x, w, padding=1), naive.conv2d_naive(x, w, padding=1))
    for got, want in zip(cc.conv2d_backward(dout, x, w, padding=1),
                         naive.conv2d_backward_naive(dout, x, w, padding=1)):
        assert_allclose(got, want)


def test_parallel_conv_transpose_equals_serial(forced, monkeypatch):
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((5, 3, 6, 5)), rng.standard_normal((3, 2, 3, 3))
    for kw in (dict(stride=1, padding=1), dict(stride=2, padding=1, output_padding=1)):
        y = cc.conv_transpose2d(x, w, **kw)
        _serial(monkeypatch)
        np.testing.assert_array_equal(y, cc.conv_transpose2d(x, w, **kw))
        monkeypatch.setattr(_parallel, "workers", lambda: 2)


@pytest.mark.parametrize("kernel,stride,padding", [(2, None, 0), (3, 2, 1), (3, 1, 0)])
def test_parallel_pooling_equals_serial(forced, monkeypatch, kernel, stride, padding):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((5, 3, 8, 8))
    x[0, 0, :2, :2] = 0.5                                   # a tie: the first maximum wins
    kw = dict(stride=stride, padding=padding)
    y_max, y_avg = cc.max_pool2d(x, kernel, **kw), cc.avg_pool2d(x, kernel, **kw)
    dout = rng.standard_normal(y_max.shape)
    dx_max = cc.max_pool2d_backward(dout, x, kernel, **kw)
    dx_avg = cc.avg_pool2d_backward(dout, x, kernel, **kw)
    _, arg = cc.max_pool2d(x, kernel, return_argmax=True, **kw)
    dx_arg = cc.max_pool2d_backward(dout, x, kernel, argmax=arg, **kw)
    assert_allclose(y_max, naive.max_pool2d_naive(x, kernel, **kw))
    assert_allclose(dx_max, naive.max_pool2d_backward_naive(dout, x, kernel, **kw))
    _serial(monkeypatch)
    for got, want in [(y_max, cc.max_pool2d(x, kernel, **kw)),
                      (y_avg, cc.avg_pool2d(x, kernel, **kw)),
                      (dx_max, cc.max_pool2d_backward(dout, x, kernel, **kw)),
                      (dx_avg, cc.avg_pool2d_backward(dout, x, kernel, **kw)),
                      (arg, cc.max_pool2d_argmax(x, kernel, **kw)),
                      (dx_arg, dx_max)]:
        np.testing.assert_array_equal(got, want)


def test_parallel_average_pooling_by_tiles(forced, monkeypatch):
    """A map too wide for the matrix product, and an infinity that sends a narrow one back to the
    tile path: both split over the threads."""
    rng = np.random.default_rng(10)
    for x in (rng.standard_normal((5, 2, 4, 60)), rng.standard_normal((5, 2, 6, 6))):
        x[1, 0, 0, 0] = np.inf
        y = cc.avg_pool2d(x, 2)
        dout = rng.standard_normal(y.shape)
        dx = cc.avg_pool2d_backward(dout, x, 2)
        assert np.isinf(y).sum() == 1 and np.isinf(y[1, 0, 0, 0])
        assert_allclose(y[np.isfinite(y)], naive.avg_pool2d_naive(x, 2)[np.isfinite(y)])
        _serial(monkeypatch)
        np.testing.assert_array_equal(y, cc.avg_pool2d(x, 2))
        np.testing.assert_array_equal(dx, cc.avg_pool2d_backward(dout, x, 2))
        monkeypatch.setattr(_parallel, "workers", lambda: 2)


@pytest.mark.parametrize("shape, dtype, offset", [
    ((5, 3, 6, 7), "float64", 2.0), ((4, 5, 3, 3), "float32", 1.0), ((3, 1, 4, 4), "float64", 0.0),
    ((6, 4, 5, 5), "float32", 1e3),          # 1e3: the centred, two-pass path
    ((5, 4, 3, 6), "float32", (1e3, 0.0, 0.0, 1e3))])  # off-centre in two channels of four
@pytest.mark.parametrize("chunk_bytes", [1, 256 * 2**10])
def test_parallel_batch_norm_equals_serial_bit_for_bit(forced, monkeypatch, shape, dtype, offset,
                                                       chunk_bytes):
    """Batch norm splits the batch among the threads and each part into chunks of images (one
    image each with ``chunk_bytes=1``): neither changes a single bit of any result."""
    monkeypatch.setattr(_norm_fast, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(_norm_fast, "PARALLEL_CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(11)
    x = (np.reshape(offset, (1, -1, 1, 1)) + rng.standard_normal(shape)).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    gamma, beta = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])

    def run():
        y, mean, var = cc.batch_norm2d(x, gamma, beta, return_stats=True)
        return (y, mean, var, *cc.batch_norm2d_backward(dout, x, gamma, mean=mean, var=var),
                *cc.batch_norm2d_backward(dout, x, gamma))
    threaded = run()
    tol = 1e-9 if dtype == "float64" else 1e-4
    assert_allclose(threaded[0], naive.batch_norm2d_naive(x, gamma, beta), rtol=tol, atol=tol)
    for got, want in zip(threaded[3:6], naive.batch_norm2d_backward_naive(dout, x, gamma)):
        assert_allclose(got, want, rtol=tol, atol=tol)
    _serial(monkeypatch)
    monkeypatch.setattr(_norm_fast, "CHUNK_BYTES", 256 * 2**10)
    for got, want in zip(threaded, run()):
        np.testing.assert_array_equal(got, want)


def test_padding_frame_stays_zero_between_calls(forced):
    """The padded work arrays are reused and only their interior is rewritten: a second call with
    other numbers (here: NaN-free after a call full of large values) must not see the first."""
    rng = np.random.default_rng(9)
    w = rng.standard_normal((2, 3, 3, 3))
    big = 1e6 * rng.standard_normal((4, 3, 6, 6))
    x = rng.standard_normal((4, 3, 6, 6))
    cc.conv2d(big, w, padding=1)
    assert_allclose(cc.conv2d(x, w, padding=1), naive.conv2d_naive(x, w, padding=1))


def test_framed_array_cache_is_bounded():
    for i in range(3 * _workspace.FRAMED_PER_THREAD):
        _workspace.framed_array("t", (1, i + 1), np.float64, (slice(0, 1), slice(0, 1)))
    assert len(_workspace._scratch.framed) <= _workspace.FRAMED_PER_THREAD


def test_run_returns_results_in_order_and_uses_another_thread():
    names = _parallel.run(lambda i: (i, threading.current_thread().name), [0, 1, 2])
    assert [i for i, _ in names] == [0, 1, 2]
    assert names[0][1] == threading.current_thread().name   # the first part runs in the caller
    assert all(name.startswith("cnn_core") for _, name in names[1:])


def test_run_from_two_threads_at_once():
    """Two callers at the same time: the second finds the workers busy and runs its parts itself;
    both get their own results in order."""
    barrier, results = threading.Barrier(2), {}

    def part(p):
        caller, i = p
        barrier.wait(timeout=10) if i == 0 else None     # both callers are inside run() at once
        return caller * 10 + i

    def call(caller):
        results[caller] = _parallel.run(part, [(caller, 0), (caller, 1), (caller, 2)])
    threads = [threading.Thread(target=call, args=(k,)) for k in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert results == {1: [10, 11, 12], 2: [20, 21, 22]}
    assert _parallel._state["active"] == 0


def test_workers_keep_nothing_of_a_call_alive():
    """After run() returns, the worker threads hold no reference to the parts, the function or
    the results (a batch's arrays would otherwise live on until the next parallel call)."""
    import gc
    import weakref

    class Part:
        pass
    parts, refs = [Part(), Part(), Part()], []

    def fn(part):
        result = Part()
        refs.append(weakref.ref(result))
        return result
    refs += [weakref.ref(p) for p in parts]
    _parallel.run(fn, parts)
    del parts
    gc.collect()
    assert len(refs) == 6 and all(r() is None for r in refs)


def test_run_waits_for_every_worker_when_the_first_part_raises():
    """An exception in the caller's own part is raised only after the workers have finished,
    and the next call finds them ready."""
    finished = []

    def fn(i):
        if i == 0:
            raise KeyError("first part")
        threading.Event().wait(0.05)
        finished.append(i)
        return i

    with pytest.raises(KeyError, match="first part"):
        _parallel.run(fn, [0, 1, 2])
    assert sorted(finished) == [1, 2]
    assert _parallel.run(lambda i: i * i, [1, 2, 3]) == [1, 4, 9]


@needs_blas_control
def test_run_restores_blas_threads_and_propagates_errors():
    blas = _parallel._blas()
    before = [lc.get_num_threads() for lc in blas]
    inside = []

    def fn(i):
        inside.append([lc.get_num_threads() for lc in blas])
        if i == 1:
            raise ValueError("boom in a worker")
        return i

    with pytest.raises(ValueError, match="boom in a worker"):
        _parallel.run(fn, [0, 1])
    assert all(counts == [1] * len(blas) for counts in inside)   # BLAS single-threaded inside
    assert [lc.get_num_threads() for lc in blas] == before        # and restored afterwards
    assert _parallel._state["active"] == 0


@needs_blas_control
def test_workers_follow_blas_limit():
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1, user_api="blas"):
        assert _parallel.workers() == 1
    assert _parallel.run(lambda i: _parallel.workers(), [0, 1]) == [1, 1]  # no nesting


def test_empty_batch_with_forced_threads(forced):
    x, w = np.zeros((0, 2, 5, 5)), np.ones((3, 2, 3, 3))
    assert cc.conv2d(x, w, padding=1).shape == (0, 3, 5, 5)
    dx, dw, db = cc.conv2d_backward(np.zeros((0, 3, 5, 5)), x, w, padding=1)
    assert dx.shape == x.shape and not dw.any() and not db.any()
    assert cc.max_pool2d(x, 2).shape == (0, 2, 2, 2)
    assert cc.avg_pool2d_backward(np.zeros((0, 2, 2, 2)), x, 2).shape == x.shape


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_forked_child_can_use_the_threads(forced):
    """A child forked after the pool exists gets no worker threads; cnn_core must start a new
    pool there instead of waiting forever (multiprocessing's default on Linux is fork)."""
    import multiprocessing as mp
    rng = np.random.default_rng(10)
    x, w = rng.standard_normal((4, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    expected = cc.conv2d(x, w, padding=1)               # creates the pool in the parent
    ctx = mp.get_context("fork")
    with ctx.Pool(1) as pool:
        got = pool.apply_async(_conv_in_child, (x, w)).get(timeout=20)
    np.testing.assert_array_equal(got, expected)


def _conv_in_child(x, w):
    _parallel.workers = lambda: 2                        # the fixture's patch, in the child
    _workspace.PARALLEL_MIN_MACS = 0
    return cc.conv2d(x, w, padding=1)
