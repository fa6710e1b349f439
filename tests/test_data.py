"""cnn_core.data: the bundled digits (sizes, ranges, stratified deterministic disjoint split) and
the IDX reader on small files written here byte by byte (the layout of MNIST's files)."""

from __future__ import annotations

import gzip
import struct
from collections import Counter

import numpy as np
import pytest

import cnn_core as cc

# ---------------------------------------------------------------------------------------------
# load_digits
# ---------------------------------------------------------------------------------------------

sklearn_datasets = pytest.importorskip("sklearn.datasets")


@pytest.fixture(scope="module")
def digits():
    return cc.data.load_digits()


@pytest.fixture(scope="module")
def full():
    bunch = sklearn_datasets.load_digits()
    return bunch.images / 16.0, bunch.target


def test_digits_sizes_shapes_ranges(digits):
    assert len(digits.x_train) + len(digits.x_test) == 1797
    assert len(digits.x_train) == len(digits.y_train) and len(digits.x_test) == len(digits.y_test)
    for x in (digits.x_train, digits.x_test):
        assert x.ndim == 4 and x.shape[1:] == (1, 8, 8)
        assert x.dtype == np.float64
        assert x.min() >= 0.0 and x.max() <= 1.0
    assert digits.x_train.max() == 1.0 and digits.x_train.min() == 0.0   # 16/16 and 0/16 occur
    for y in (digits.y_train, digits.y_test):
        assert np.issubdtype(y.dtype, np.integer)
        assert set(np.unique(y)) == set(range(10))
    # pixel values are the 17 levels k/16
    levels = np.unique(np.concatenate([digits.x_train.ravel(), digits.x_test.ravel()]) * 16)
    np.testing.assert_array_equal(levels, np.arange(17))


def test_digits_split_is_stratified(digits, full):
    _, labels = full
    assert len(digits.x_test) == sum(int(round(0.2 * np.sum(labels == d))) for d in range(10))
    for d in range(10):
        total = np.sum(labels == d)
        assert np.sum(digits.y_test == d) == int(round(0.2 * total)), f"digit {d}"
        assert np.sum(digits.y_train == d) == total - int(round(0.2 * total)), f"digit {d}"


def _rows(x, y):
    return Counter(xi.tobytes() + bytes([int(yi)]) for xi, yi in zip(x.reshape(len(x), -1), y))


def test_digits_split_is_a_partition(digits, full):
    """train and test together are exactly the 1,797 samples, each used once (disjoint split)."""
    images, labels = full
    assert _rows(digits.x_train, digits.y_train) + _rows(digits.x_test, digits.y_test) == _rows(images, labels)


def test_digits_deterministic_and_seeded(digits):
    again = cc.data.load_digits()
    for name in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(again, name), getattr(digits, name))
    other = cc.data.load_digits(seed=1)
    assert not np.array_equal(other.y_test, digits.y_test) or not np.array_equal(other.x_test, digits.x_test)
    half = cc.data.load_digits(test_fraction=0.5)
    assert abs(len(half.x_test) - 1797 / 2) <= 10


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5])
def test_digits_bad_fraction(fraction):
    with pytest.raises(ValueError, match=f"test_fraction must lie strictly between 0 and 1; got {fraction}"):
        cc.data.load_digits(test_fraction=fraction)


# ---------------------------------------------------------------------------------------------
# load_idx
# ---------------------------------------------------------------------------------------------

def _idx_bytes(code: int, shape, payload: bytes) -> bytes:
    """IDX layout: 0, 0, type code, ndim, each dimension as a big-endian uint32, then the data."""
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + payload


def _write(tmp_path, name, raw, gz=False):
    path = tmp_path / (name + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzipped"])
def test_load_idx_uint8_images(tmp_path, gz):
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5) * 4      # values up to 236
    images[0, 0, 0] = 255
    path = _write(tmp_path, "images-idx3-ubyte", _idx_bytes(0x08, (3, 4, 5), images.tobytes()), gz)
    got = cc.data.load_idx(path)
    assert got.dtype == np.uint8 and got.shape == (3, 4, 5)
    np.testing.assert_array_equal(got, images)
    assert cc.data.load_idx(str(path)).shape == (3, 4, 5)                  # str paths too


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzipped"])
def test_load_idx_labels(tmp_path, gz):
    labels = bytes([7, 2, 1, 0, 4, 9])                                      # MNIST-style uint8 labels
    got = cc.data.load_idx(_write(tmp_path, "labels-idx1-ubyte", _idx_bytes(0x08, (6,), labels), gz))
    np.testing.assert_array_equal(got, [7, 2, 1, 0, 4, 9])
    # int32 labels, big-endian in the file, native in memory
    values = [3, -1, 70000]
    got = cc.data.load_idx(_write(tmp_path, "i32", _idx_bytes(0x0C, (3,), struct.pack(">3i", *values)), gz))
    assert got.dtype == np.int32 and got.dtype.isnative
    np.testing.assert_array_equal(got, values)


@pytest.mark.parametrize("code,fmt,dtype,values", [
    pytest.param(0x09, ">4b", np.int8, [-128, -1, 0, 127], id="int8"),
    pytest.param(0x0B, ">4h", np.int16, [-32768, -2, 3, 32767], id="int16"),
    pytest.param(0x0D, ">4f", np.float32, [0.5, -1.25, 3.0e10, 0.0], id="float32"),
    pytest.param(0x0E, ">4d", np.float64, [np.pi, -np.e, 1e-300, 2.0], id="float64"),
])
def test_load_idx_types(tmp_path, code, fmt, dtype, values):
    got = cc.data.load_idx(_write(tmp_path, "t", _idx_bytes(code, (2, 2), struct.pack(fmt, *values))))
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative and got.shape == (2, 2)
    np.testing.assert_array_equal(got.ravel(), np.array(values, dtype=dtype))


def test_load_idx_bad_magic(tmp_path):
    raw = _idx_bytes(0x08, (2,), b"\x01\x02")
    path = _write(tmp_path, "bad", b"\x01" + raw[1:])
    with pytest.raises(ValueError, match="not an IDX file .*two zero bytes"):
        cc.data.load_idx(path)
    with pytest.raises(ValueError, match="not an IDX file"):
        cc.data.load_idx(_write(tmp_path, "tiny", b"\x00\x00"))


def test_load_idx_unknown_type(tmp_path):
    path = _write(tmp_path, "bad", _idx_bytes(0x07, (2,), b"\x01\x02"))
    with pytest.raises(ValueError, match="unknown IDX data type 0x07; expected one of 0x08, 0x09"):
        cc.data.load_idx(path)


def test_load_idx_truncated(tmp_path):
    full = _idx_bytes(0x08, (2, 3), bytes(range(6)))
    with pytest.raises(ValueError, match=r"shape \(2, 3\) of uint8 needs 18 bytes; the file has 17"):
        cc.data.load_idx(_write(tmp_path, "short-data", full[:-1]))
    with pytest.raises(ValueError, match=r"needs 18 bytes; the file has 19"):
        cc.data.load_idx(_write(tmp_path, "long-data", full + b"\x00"))
    with pytest.raises(ValueError, match=r"truncated header \(9 bytes for 2 dimensions\)"):
        cc.data.load_idx(_write(tmp_path, "short-header", full[:9]))
    with pytest.raises(ValueError, match="needs 18 bytes; the file has 17"):
        cc.data.load_idx(_write(tmp_path, "short-gz", full[:-1], gz=True))


def test_load_idx_truncated_or_corrupt_gzip(tmp_path):
    """An interrupted download of a .gz file gives a ValueError naming the file."""
    raw = gzip.compress(_idx_bytes(0x08, (100,), bytes(100)))
    path = _write(tmp_path, "cut.gz", raw[:-10])
    with pytest.raises(ValueError, match=r"cut\.gz: corrupt or truncated gzip file"):
        cc.data.load_idx(path)
    path = _write(tmp_path, "garbage.gz", b"\x1f\x8b" + b"not deflate data at all")
    with pytest.raises(ValueError, match=r"garbage\.gz: corrupt or truncated gzip file"):
        cc.data.load_idx(path)
