"""The benchmark's timing scheme (benchmarks/bench.py): every function gets exactly the requested
number of timings, in alternating blocks, each block after one untimed call."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("repeats,block", [(12, 5), (5, 5), (3, 1), (7, 3)])
def test_interleaved_blocks(bench, repeats, block):
    log = []
    fns = {"a": lambda: log.append("a"), "b": lambda: log.append("b")}
    result = bench.interleaved(fns, repeats, block=block)
    assert set(result) == {"a", "b"}
    assert all(lo <= med for lo, med in result.values())
    # calls per function: the timed ones plus one untimed call per block (or one warm-up)
    blocks = -(-repeats // block)
    expected = repeats + (blocks if block > 1 else 1)
    assert log.count("a") == log.count("b") == expected
    if block > 1:                       # a block of a's is followed by a block of b's
        first_b = log.index("b")
        assert log[:first_b] == ["a"] * (min(block, repeats) + 1)
