"""Switches for the tuned paths of ``cnn_core`` (internal: for tests and measurements).

Every public operation has one general implementation that reads like its equation; each tuned
path below is reached from it by one visible line that first reads its switch here. With a
switch off the general path runs instead, and it must give the same results (``tests/
test_tuning.py`` runs the sweeps both ways). Set ``CNN_CORE_TUNED=0`` in the environment to start
with every switch off (the whole test suite then checks the general paths alone).

- ``CONV_BATCHED``: convolution forward and backward per chunk of the batch in reused work
  arrays, the chunks shared among the cores (``_conv_fast``); off: the whole batch at once.
- ``RECORD_COPY``: im2col copying runs of ``W'`` pixels as opaque records (``_conv_fast._cols``).
- ``SHIFTED_COL2IM``: col2im for stride 1 as one sum over shifted views (``_conv_fast``).
- ``THREADS``: split batches into one part per core (``_workspace``); off: one part.
- ``POOL_TILES``: pooling with stride = window (tiles) reduced as columns then rows, and its
  gradients spread and scattered per tile (``_pool_tiles``).
- ``TILE_ARGMAX``: the first maximum of every tile found in the same two stages (``_pool_tiles``).
- ``AVG_PRODUCT``: average pooling of narrow tiles as one matrix product (``_pool_tiles``).
- ``MAX_BY_EQUALITY``: the max-pooling gradient of overlapping windows, without an argmax, by
  comparing every element with its window's maximum (``_pool_max``).
- ``BN_FUSED``: batch normalization's statistics as sums along the contiguous H·W axis and its
  gradient as one affine map per channel, in few passes over memory (``_norm_fast``).
"""

from __future__ import annotations

import contextlib
import os

SWITCHES = ("CONV_BATCHED", "RECORD_COPY", "SHIFTED_COL2IM", "THREADS", "POOL_TILES",
            "TILE_ARGMAX", "AVG_PRODUCT", "MAX_BY_EQUALITY", "BN_FUSED")

_DEFAULT = os.environ.get("CNN_CORE_TUNED", "1") != "0"
CONV_BATCHED = RECORD_COPY = SHIFTED_COL2IM = THREADS = _DEFAULT
POOL_TILES = TILE_ARGMAX = AVG_PRODUCT = MAX_BY_EQUALITY = _DEFAULT
BN_FUSED = _DEFAULT


@contextlib.contextmanager
def switched(**flags: bool):
    """``with switched(POOL_TILES=False): ...`` runs the block with those switches set (not
    thread-safe: for tests and measurements), and restores them afterwards."""
    unknown = set(flags) - set(SWITCHES)
    if unknown:
        raise ValueError(f"unknown switches {sorted(unknown)}; the switches are {SWITCHES}")
    saved = {name: globals()[name] for name in flags}
    globals().update(flags)
    try:
        yield
    finally:
        globals().update(saved)


def general():
    """Every tuned path off: ``with general(): ...`` runs the general paths alone."""
    return switched(**dict.fromkeys(SWITCHES, False))
