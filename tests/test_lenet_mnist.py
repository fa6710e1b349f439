"""benchmarks/lenet_mnist.py (the LeNet-5 sweep of chapter 16) and its result file.

- the random-shift augmentation: offset (0, 0) is the identity, a shift is an exact translation
  with zero fill (against a loop), bad offsets are refused;
- the model, the schedule and one tiny training run;
- book/data/lenet_mnist.json: written by the script as it is now (SHA-256), complete (every
  variant, every seed), consistent (curves, summary), and the numbers chapter 16 prints are the
  ones computed from it, not typed by hand.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "lenet_mnist.py"
RESULT = ROOT / "book" / "data" / "lenet_mnist.json"
CHAPTER = ROOT / "book" / "16_lenet5_on_mnist.ipynb"


def _load_script():
    spec = importlib.util.spec_from_file_location("lenet_mnist", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load_script()


def _shift_loop(x, offsets):
    out = np.zeros_like(x)
    h, w = x.shape[2:]
    for n, (a, b) in enumerate(offsets):
        for i in range(h):
            for j in range(w):
                if 0 <= i - a < h and 0 <= j - b < w:
                    out[n, :, i, j] = x[n, :, i - a, j - b]
    return out


# ---------------------------------------------------------------- augmentation

def test_shift_by_zero_is_the_identity(rng):
    x = rng.standard_normal((5, 2, 7, 6))
    out = bench.random_shift(x, np.zeros((5, 2), dtype=int))
    np.testing.assert_array_equal(out, x)
    assert out is not x


@pytest.mark.parametrize("shift", [1, 2, 3])
def test_shift_is_an_exact_translation_with_zero_fill(rng, shift):
    x = rng.standard_normal((8, 2, 9, 7))
    offsets = bench.random_offsets(rng, 8, shift)
    offsets[0] = (shift, -shift)
    offsets[1] = (-shift, shift)
    np.testing.assert_array_equal(bench.random_shift(x, offsets), _shift_loop(x, offsets))


def test_shift_moves_content_down_and_right():
    x = np.zeros((1, 1, 5, 5))
    x[0, 0, 2, 2] = 1.0
    out = bench.random_shift(x, np.array([[1, -2]]))
    assert out[0, 0, 3, 0] == 1.0 and out.sum() == 1.0
    # the pixel pushed over the border disappears (no wrap-around)
    gone = bench.random_shift(x, np.array([[0, 3]]))
    assert gone.sum() == 0.0


def test_random_offsets_cover_the_range_uniformly(rng):
    offsets = bench.random_offsets(rng, 20000, 2)
    assert offsets.min() == -2 and offsets.max() == 2
    counts = np.bincount(offsets.ravel() + 2)
    assert np.all(np.abs(counts / counts.sum() - 0.2) < 0.01)


@pytest.mark.parametrize("offsets, match", [
    (np.zeros((3, 2), dtype=int), "shape"),
    (np.zeros((2, 2)), "integers"),
    (np.array([[0, 6], [0, 0]]), "smaller than the image"),
])
def test_shift_refuses_bad_offsets(rng, offsets, match):
    with pytest.raises(ValueError, match=match):
        bench.random_shift(rng.standard_normal((2, 1, 6, 6)), offsets)


# ---------------------------------------------------------------- model and schedule

def test_lenet5_shapes_and_parameter_count(rng):
    model = bench.lenet5(rng)
    assert model(np.zeros((2, 1, 28, 28))).shape == (2, 10)
    expected = 6 * 26 + 16 * 151 + 120 * 401 + 84 * 121 + 10 * 85
    assert model.num_parameters() == expected == 61706
    with_bn = bench.lenet5(rng, bn=True)
    assert with_bn.num_parameters() == expected + 2 * (6 + 16)


def test_cosine_schedule():
    lr = [bench.learning_rate(s, 100, 1e-3, "cosine") for s in range(100)]
    assert lr[0] == 1e-3 and np.isclose(lr[50], 5e-4)
    assert np.all(np.diff(lr) < 0) and lr[-1] < 1e-6
    assert bench.learning_rate(7, 100, 1e-3, "constant") == 1e-3
    with pytest.raises(ValueError, match="schedule"):
        bench.learning_rate(0, 10, 1e-3, "step")


def test_one_tiny_run_records_what_the_sweep_needs(rng):
    x = rng.random((64, 1, 28, 28))
    t = rng.integers(0, 10, 64)
    data = SimpleNamespace(x_train=x[:48], y_train=t[:48], x_test=x[48:], y_test=t[48:])
    run = bench.train_run(data, 3, shift=2, bn=True, weight_decay=5e-4,
                          schedule="cosine", epochs=2, batch_size=16)
    assert run["seed"] == 3 and run["epochs"] == 2 and len(run["curve"]) == 2
    assert run["test_accuracy"] == run["curve"][-1]
    assert run["train_seconds"] > 0 and run["cpu_seconds"] > 0


# ---------------------------------------------------------------- the result file

@pytest.fixture(scope="module")
def result():
    if not RESULT.is_file():
        pytest.fail(f"{RESULT} is missing: run benchmarks/lenet_mnist.py")
    return json.loads(RESULT.read_text())


def test_result_was_written_by_this_script(result):
    assert result["script_sha256"] == bench.script_sha256(), (
        "book/data/lenet_mnist.json was written by another version of "
        "benchmarks/lenet_mnist.py: run the sweep again")


def test_result_is_complete_and_consistent(result):
    settings = result["settings"]
    assert set(settings) == {"epochs", "batch_size", "lr", "test_fraction"}
    assert result["variants"] == bench.VARIANTS
    assert list(result["runs"]) == list(bench.VARIANTS)
    for name, runs in result["runs"].items():
        assert [r["seed"] for r in runs] == list(bench.SEEDS), name
        for r in runs:
            assert len(r["curve"]) == settings["epochs"] == r["epochs"]
            assert all(0.0 <= a <= 1.0 for a in r["curve"])
            assert r["test_accuracy"] == r["curve"][-1]
            # accuracies on 1,000 test images are multiples of 1/1000
            assert np.isclose(r["test_accuracy"] * 1000, round(r["test_accuracy"] * 1000))
            assert 0 < r["cpu_seconds"] and 0 < r["train_seconds"]
            assert len(r["load_average"]) == 2
    for m in result["machine"]:
        for key in ("date", "threads", "cpus", "numpy", "load_average_start",
                    "load_average_end"):
            assert key in m, key
    assert result["summary"] == bench.summary(result)


def _chapter_text() -> str:
    nb = nbformat.read(CHAPTER, as_version=4)
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                texts.append(out["text"])
    return "".join(texts)


def test_chapter_prints_the_numbers_of_the_result_file(result):
    """Chapter 16's table and target line are computed from the JSON: recompute them here
    and find them in the notebook's stored outputs."""
    text = _chapter_text()
    for name, runs in result["runs"].items():
        acc = 100 * np.array([r["test_accuracy"] for r in runs])
        cells = f"{name:17s} {acc.mean():6.2f} ± {acc.std():4.2f}"
        assert cells in text, f"the chapter does not show {cells!r}"
    met = [n for n, s in result["summary"].items()
           if s["mean"] >= result["target"]["accuracy"]
           and s["max_cpu_seconds"] < result["target"]["train_seconds"]]
    line = ", ".join(met) if met else "none"
    assert f"CPU time:\n  {line}\n" in text
    assert result["script_sha256"][:16] in text
