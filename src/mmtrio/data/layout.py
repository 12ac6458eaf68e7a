"""The event store's layout: two numpy record arrays and a JSON description.

A store is a directory holding

- ``messages.npy``: one row per neutral market event, in the order the recording delivered
  them (``MSG_DTYPE``, 80 bytes a row);
- ``levels.npy``: the book levels of snapshots and deltas (``LEVEL_DTYPE``: price ticks, size
  lots; a message's bids then its asks, from row ``start``);
- ``meta.json``: what the data is (instrument, symbol, counts, time span, price range), where
  it came from (the content hash of the input), a CRC-32 per block of rows of each array, and
  the texts the arrays cannot hold (the reasons of book-invalid events).

Why plain ``.npy`` (decided for issue 19, against Arrow IPC and Parquet):

- **Memory map with no copy and no decode.** ``np.load(mmap_mode="r")`` hands the replay core
  the file's pages as an ndarray; numba compiles straight against it. Parquet pages are
  encoded and compressed, so every run would decode them (the per-run parsing the store
  exists to remove). Arrow IPC maps too, but numba cannot read Arrow buffers directly: the
  columns would be wrapped back into numpy arrays anyway.
- **No new dependency.** numpy is already required; pyarrow is a 40 MB wheel for a format
  whose only reader here would be ourselves. The hftbacktest exchange format is ``.npz`` of
  the same kind of record array, so import and export stay numpy-to-numpy.
- **Row records, not columns per file.** The replay walks events in order and reads most
  fields of each row; one record array keeps a row in one or two cache lines, where a
  column per file would touch eight pages per event.
- **Costs accepted:** no compression (a day of BTCUSDT depth is ~1.5 GB on disk: the store
  is a cache, keyed by the input's hash, and can be rebuilt from the recording at any time).

Prices and sizes are integer ticks and lots of the store's instrument, as in the core.
Decimal amounts of mark-price events are (mantissa, exponent) pairs, exact.
"""

from __future__ import annotations

from typing import Final

import numpy as np

FORMAT: Final = "mmtrio-event-store"
VERSION: Final = 1
BLOCK_ROWS: Final = 1 << 20
"""Rows per CRC-32 block (messages: 80 MB, levels: 16 MB)."""

# Message kinds (``kind``). 0 is never written: a zeroed (holed) region reads as corrupt.
K_SNAPSHOT: Final = 1
K_DELTA: Final = 2
K_TRADE: Final = 3
K_TICKER: Final = 4
K_MARK: Final = 5
K_INVALID: Final = 6
KIND_NAMES: Final = {
    K_SNAPSHOT: "snapshot",
    K_DELTA: "delta",
    K_TRADE: "trade",
    K_TICKER: "ticker",
    K_MARK: "mark",
    K_INVALID: "invalid",
}

# Field use per kind (a..e are int64):
#   snapshot: a = seq                                   levels: start, n_bids, n_asks
#   delta:    a = seq, b = prev_seq, c = first_seq      levels: start, n_bids, n_asks
#   trade:    a = trade id, b = price, c = qty, flag = 1 when the buyer was the maker
#   ticker:   a = seq, b = bid price, c = bid qty, d = ask price, e = ask qty
#   mark:     a = next funding ts, b/c/d = mantissas of mark, index, funding rate,
#             e = their three exponents packed (see pack_exponents)
#   invalid:  a = index of the reason in meta["reasons"]
MSG_DTYPE: Final = np.dtype(
    [
        ("kind", "u1"),
        ("flag", "u1"),
        ("_pad", "u2"),
        ("n_bids", "<u4"),
        ("local_ns", "<i8"),
        ("ts", "<i8"),
        ("a", "<i8"),
        ("b", "<i8"),
        ("c", "<i8"),
        ("d", "<i8"),
        ("e", "<i8"),
        ("start", "<i8"),
        ("n_asks", "<i8"),
    ]
)
LEVEL_DTYPE: Final = np.dtype([("px", "<i8"), ("qty", "<i8")])

MESSAGES: Final = "messages.npy"
LEVELS: Final = "levels.npy"
META: Final = "meta.json"


def pack_exponents(e1: int, e2: int, e3: int) -> int:
    """Three decimal exponents (each in [-128, 127]) in one int64."""
    return ((e1 & 0xFF) << 16) | ((e2 & 0xFF) << 8) | (e3 & 0xFF)


def unpack_exponents(packed: int) -> tuple[int, int, int]:
    def signed(b: int) -> int:
        return b - 256 if b >= 128 else b

    return signed((packed >> 16) & 0xFF), signed((packed >> 8) & 0xFF), signed(packed & 0xFF)
