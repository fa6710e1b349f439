"""Real data: scikit-learn's bundled handwritten digits, and a reader for MNIST's IDX files."""

from __future__ import annotations

import gzip
import os
import zlib
from dataclasses import dataclass

import numpy as np

from ._validate import as_int

__all__ = ["Digits", "load_digits", "load_idx"]


@dataclass(frozen=True)
class Digits:
    """Images (N, 1, 8, 8) in [0, 1] and integer labels (N,), split into train and test."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _check_fraction(test_fraction):
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float, np.floating)):
        raise TypeError(f"test_fraction must be a number strictly between 0 and 1; "
                        f"got {test_fraction!r}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1; got {test_fraction}")


def load_digits(*, test_fraction: float = 0.2, seed: int = 0) -> Digits:
    """The 1,797 real 8×8 handwritten digits (UCI optdigits) bundled with scikit-learn.

    Pixel values 0–16 are scaled to [0, 1]. The split is stratified (each digit keeps its share in
    both parts) and fixed by ``seed``: the same call always gives the same split.
    """
    _check_fraction(test_fraction)
    seed = as_int(seed, "seed", minimum=0)
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as exc:  # pragma: no cover - scikit-learn is in requirements.txt
        raise ImportError("load_digits needs scikit-learn (pip install scikit-learn)") from exc
    bunch = _sk_load_digits()
    images = (bunch.images / 16.0)[:, None, :, :]
    labels = bunch.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), dtype=bool)
    for digit in np.unique(labels):
        idx = np.flatnonzero(labels == digit)
        test[rng.choice(idx, size=int(round(test_fraction * len(idx))), replace=False)] = True
    train_idx = rng.permutation(np.flatnonzero(~test))
    test_idx = np.flatnonzero(test)
    return Digits(images[train_idx], labels[train_idx], images[test_idx], labels[test_idx])


_IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def load_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the format of MNIST: ``train-images-idx3-ubyte`` …), gzipped or not.

    Layout: two zero bytes, a type byte (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions, then each dimension as a big-endian
    uint32, then the data in row-major order. Returns an array of that shape and type.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file name (str or os.PathLike); got {path!r}")
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:   # e.g. an interrupted download
            raise ValueError(f"{path}: corrupt or truncated gzip file ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (it must start with two zero bytes)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise ValueError(f"{path}: unknown IDX data type 0x{code:02X}; expected one of "
                         + ", ".join(f"0x{c:02X}" for c in _IDX_TYPES))
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated header ({len(raw)} bytes for {ndim} dimensions)")
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_TYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{path}: shape {shape} of {dtype} needs {expected} bytes; the file has {len(raw)}")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))
