"""Writing and opening an event store (layout in :mod:`mmtrio.data.layout`).

Writing streams: rows are buffered a block at a time and appended to ``*.npy.part`` files
behind a reserved header, which is filled in when the row count is known; the directory is
renamed into place only when complete, so a store directory either is whole or does not
exist (a crash mid-conversion leaves a ``.tmp-*`` directory that the next conversion
removes).

Opening checks what can be checked without reading every byte: the meta document, the
format version, each array's header and that its size on disk matches its row count (a
truncated file is named with its expected and actual size). Reading checks the rest, a block
at a time: the CRC-32 of each block and the rows' structure (kinds, level ranges, prices above
zero, sizes not negative and a trade's above zero), naming the
file, row and byte offset of the first bad row (:class:`~mmtrio.errors.DataFileError`, which
the CLI turns into exit 2).

Keys. A store converted from input files is named by the SHA-256 of the inputs' bytes (and the
converter's kind and version): the same recording always maps to the same store, and a changed
recording to a new one, so a store is never stale. :func:`default_root` is where the CLI keeps
them (``$MMTRIO_STORE_DIR``, else the per-user cache directory).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from mmtrio.core.instruments import Instrument
from mmtrio.data.layout import (
    BLOCK_ROWS,
    FORMAT,
    K_INVALID,
    K_SNAPSHOT,
    K_TRADE,
    LEVEL_DTYPE,
    LEVELS,
    MESSAGES,
    META,
    MSG_DTYPE,
    VERSION,
)
from mmtrio.errors import DataFileError

HEADER_BYTES = 512  # reserved .npy header (v1.0: magic, version, length, padded dict)
_HASH_CHUNK = 1 << 20


def default_root() -> Path:
    """Where converted stores live: ``$MMTRIO_STORE_DIR``, else the user cache directory."""
    env = os.environ.get("MMTRIO_STORE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("mmtrio")) / "stores"


def content_key(paths: Sequence[Path], kind: str) -> str:
    """SHA-256 (32 hex digits) of the inputs' bytes, in order, with the converter's kind."""
    h = hashlib.sha256(f"{FORMAT}/{VERSION}/{kind}\0".encode())
    for path in paths:
        try:
            size = path.stat().st_size
            h.update(f"{size}\0".encode())
            with path.open("rb") as fh:
                while chunk := fh.read(_HASH_CHUNK):
                    h.update(chunk)
        except OSError as exc:
            raise DataFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return h.hexdigest()[:32]


def npy_header(dtype: np.dtype[Any], rows: int) -> bytes:
    """A .npy v1.0 header for ``rows`` records of ``dtype``, padded to HEADER_BYTES."""
    # typed in some numpy releases, not in others
    descr = np.lib.format.dtype_to_descr(dtype)  # type: ignore[no-untyped-call,unused-ignore]
    text = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': ({rows},), }}"
    body_len = HEADER_BYTES - 10
    if len(text) + 1 > body_len:
        raise DataFileError("internal: .npy header does not fit the reserved space")
    body = text.ljust(body_len - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + body_len.to_bytes(2, "little") + body.encode("latin1")


# --- instrument in meta ------------------------------------------------------------------------


def instrument_to_json(inst: Instrument) -> dict[str, Any]:
    return {
        "symbol": inst.symbol,
        "tick_size": str(inst.tick_size),
        "lot_size": str(inst.lot_size),
        "min_qty": inst.min_qty,
        "max_qty": inst.max_qty,
        "min_notional": str(inst.min_notional),
        "min_price_ticks": inst.min_price_ticks,
        "max_price_ticks": inst.max_price_ticks,
        "base_asset": inst.base_asset,
        "quote_asset": inst.quote_asset,
        "contract_size": str(inst.contract_size),
        "sig_figs": inst.sig_figs,
    }


def instrument_from_json(doc: dict[str, Any], where: str) -> Instrument:
    from decimal import Decimal

    try:
        return Instrument(
            symbol=str(doc["symbol"]),
            tick_size=Decimal(doc["tick_size"]),
            lot_size=Decimal(doc["lot_size"]),
            min_qty=int(doc["min_qty"]),
            max_qty=int(doc["max_qty"]),
            min_notional=Decimal(doc["min_notional"]),
            min_price_ticks=int(doc["min_price_ticks"]),
            max_price_ticks=int(doc["max_price_ticks"]),
            base_asset=str(doc["base_asset"]),
            quote_asset=str(doc["quote_asset"]),
            contract_size=Decimal(doc["contract_size"]),
            sig_figs=None if doc.get("sig_figs") is None else int(doc["sig_figs"]),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise DataFileError(f"{where}: the instrument in meta.json is unreadable ({exc})") from exc


# --- writing -------------------------------------------------------------------------------------


class _ArrayWriter:
    """Appends records to ``<name>.part`` behind a reserved header; CRC per block."""

    def __init__(self, path: Path, dtype: np.dtype[Any]) -> None:
        self.path = path
        self.dtype = dtype
        self.rows = 0
        self.crcs: list[int] = []
        self._crc = 0
        self._in_block = 0
        self._fh: IO[bytes] = path.open("wb")
        self._fh.write(b"\0" * HEADER_BYTES)

    def write(self, arr: np.ndarray[Any, Any]) -> None:
        done = 0
        n = len(arr)
        while done < n:
            take = min(n - done, BLOCK_ROWS - self._in_block)
            data = arr[done : done + take].tobytes()
            self._fh.write(data)
            self._crc = zlib.crc32(data, self._crc)
            self._in_block += take
            done += take
            if self._in_block == BLOCK_ROWS:
                self.crcs.append(self._crc)
                self._crc, self._in_block = 0, 0
        self.rows += n

    def close(self) -> None:
        if self._in_block:
            self.crcs.append(self._crc)
        self._fh.seek(0)
        self._fh.write(npy_header(self.dtype, self.rows))
        self._fh.close()


class StoreWriter:
    """Builds a store in a temporary directory; :meth:`finish` moves it into place."""

    def __init__(self, final_dir: Path, instrument: Instrument, source: dict[str, Any]) -> None:
        self.final_dir = final_dir
        self.instrument = instrument
        self.source = source
        final_dir.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = final_dir.parent / f".tmp-{final_dir.name}-{os.getpid()}"
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir()
        self._msgs = _ArrayWriter(self.tmp / MESSAGES, MSG_DTYPE)
        self._levels = _ArrayWriter(self.tmp / LEVELS, LEVEL_DTYPE)
        self.reasons: list[str] = []
        self.counts: dict[str, int] = {}
        self.price_min: int | None = None
        self.price_max: int | None = None
        self.first_ts: int | None = None
        self.last_ts: int | None = None
        self.trade_min: int | None = None
        self.trade_max: int | None = None

    @property
    def level_rows(self) -> int:
        return self._levels.rows

    def write(self, msgs: np.ndarray[Any, Any], levels: np.ndarray[Any, Any]) -> None:
        """Append a block of message rows and the level rows they point into."""
        if len(levels):
            lo, hi = int(levels["px"].min()), int(levels["px"].max())
            self._span(lo, hi)
        if len(msgs):
            ts = msgs["ts"]
            first, last = int(ts.min()), int(ts.max())
            self.first_ts = first if self.first_ts is None else min(self.first_ts, first)
            self.last_ts = last if self.last_ts is None else max(self.last_ts, last)
            kinds, counts = np.unique(msgs["kind"], return_counts=True)
            from mmtrio.data.layout import KIND_NAMES

            for k, c in zip(kinds.tolist(), counts.tolist(), strict=True):
                name = KIND_NAMES.get(k, str(k))
                self.counts[name] = self.counts.get(name, 0) + c
            trades = msgs[msgs["kind"] == K_TRADE]
            if len(trades):
                lo, hi = int(trades["b"].min()), int(trades["b"].max())
                self._span(lo, hi)
                self.trade_min = lo if self.trade_min is None else min(self.trade_min, lo)
                self.trade_max = hi if self.trade_max is None else max(self.trade_max, hi)
        self._msgs.write(msgs)
        self._levels.write(levels)

    def _span(self, lo: int, hi: int) -> None:
        self.price_min = lo if self.price_min is None else min(self.price_min, lo)
        self.price_max = hi if self.price_max is None else max(self.price_max, hi)

    def abort(self) -> None:
        for w in (self._msgs, self._levels):
            if not w._fh.closed:
                w._fh.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def finish(self, extra: dict[str, Any] | None = None) -> Path:
        self._msgs.close()
        self._levels.close()
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "key": self.final_dir.name,
            "source": self.source,
            "instrument": instrument_to_json(self.instrument),
            "rows": {"messages": self._msgs.rows, "levels": self._levels.rows},
            "counts": dict(sorted(self.counts.items())),
            "price_min": self.price_min,
            "price_max": self.price_max,
            "trade_min": self.trade_min,
            "trade_max": self.trade_max,
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "reasons": self.reasons,
            "block_rows": BLOCK_ROWS,
            "crc32": {"messages": self._msgs.crcs, "levels": self._levels.crcs},
            **(extra or {}),
        }
        (self.tmp / META).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if self.final_dir.exists():
            shutil.rmtree(self.final_dir)
        self.tmp.rename(self.final_dir)
        return self.final_dir


# --- opening -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Store:
    """An opened store: its description and its two arrays, memory-mapped read-only."""

    path: Path
    meta: dict[str, Any]
    instrument: Instrument
    messages: np.ndarray[Any, Any]
    levels: np.ndarray[Any, Any]

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    @property
    def reasons(self) -> list[str]:
        return list(self.meta.get("reasons", []))

    def check_block(self, which: str, block: int) -> None:
        """Verify the CRC-32 and the structure of one block of rows (DataFileError if bad)."""
        arr = self.messages if which == "messages" else self.levels
        lo = block * BLOCK_ROWS
        hi = min(len(arr), lo + BLOCK_ROWS)
        crcs = self.meta["crc32"][which]
        if block >= len(crcs):
            raise self.corrupt(which, lo, "more rows than meta.json describes")
        data = np.ascontiguousarray(arr[lo:hi])
        if zlib.crc32(data.tobytes()) != int(crcs[block]):
            raise self.corrupt(which, lo, f"CRC-32 of rows {lo}..{hi - 1} does not match")
        if which == "messages":
            self._check_messages(data, lo)
        else:
            bad = np.flatnonzero((data["px"] <= 0) | (data["qty"] < 0))
            if len(bad):
                r = int(bad[0])
                px, qty = int(data["px"][r]), int(data["qty"][r])
                raise self.corrupt(
                    which, lo + r, f"impossible book level: price {px} ticks, size {qty} lots"
                )

    def _check_messages(self, rows: np.ndarray[Any, Any], lo: int) -> None:
        kinds = rows["kind"]
        bad = np.flatnonzero((kinds < K_SNAPSHOT) | (kinds > K_INVALID))
        if len(bad):
            r = int(bad[0])
            raise self.corrupt("messages", lo + r, f"unknown message kind {int(kinds[r])}")
        n_lv = len(self.levels)
        ends = rows["start"] + rows["n_bids"].astype(np.int64) + rows["n_asks"]
        bad = np.flatnonzero((rows["start"] < 0) | (ends > n_lv) | (rows["n_asks"] < 0))
        if len(bad):
            r = int(bad[0])
            raise self.corrupt("messages", lo + r, "book levels point outside levels.npy")
        bad = np.flatnonzero((kinds == K_TRADE) & ((rows["b"] <= 0) | (rows["c"] <= 0)))
        if len(bad):
            r = int(bad[0])
            px, qty = int(rows["b"][r]), int(rows["c"][r])
            raise self.corrupt(
                "messages", lo + r, f"impossible trade: price {px} ticks, size {qty} lots"
            )

    def corrupt(self, which: str, row: int, what: str) -> DataFileError:
        item = MSG_DTYPE.itemsize if which == "messages" else LEVEL_DTYPE.itemsize
        offset = HEADER_BYTES + row * item
        return DataFileError(
            f"store {self.path}: {which}.npy is corrupt at row {row} (byte offset {offset}): "
            f"{what}; delete the store directory and convert the recording again"
        )

    def check_all(self) -> None:
        """Every block of both arrays (what ``mmtrio data verify`` does)."""
        for which, arr in (("levels", self.levels), ("messages", self.messages)):
            for block in range((len(arr) + BLOCK_ROWS - 1) // BLOCK_ROWS):
                self.check_block(which, block)


def is_store(path: Path) -> bool:
    return path.is_dir() and (path / META).is_file()


def open_store(path: Path) -> Store:
    """Open a store directory read-only (memory maps; see the module doc for checks)."""
    path = Path(path)
    meta_path = path / META
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFileError(
            f"{path} is not an event store (no {META}); convert a recording with "
            "`mmtrio data convert`"
        ) from None
    except (OSError, ValueError) as exc:
        raise DataFileError(f"store {path}: {META} is unreadable ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataFileError(f"store {path}: {META} does not describe an mmtrio event store")
    if meta.get("version") != VERSION:
        raise DataFileError(
            f"store {path} has format version {meta.get('version')}, this mmtrio reads "
            f"{VERSION}; convert the recording again"
        )
    inst = instrument_from_json(meta.get("instrument") or {}, str(meta_path))
    rows = meta.get("rows") or {}
    arrays = []
    for name, dtype, key in ((MESSAGES, MSG_DTYPE, "messages"), (LEVELS, LEVEL_DTYPE, "levels")):
        arrays.append(_map(path / name, dtype, int(rows.get(key, -1))))
    return Store(path, meta, inst, arrays[0], arrays[1])


def _map(file: Path, dtype: np.dtype[Any], rows: int) -> np.ndarray[Any, Any]:
    try:
        size = file.stat().st_size
        with file.open("rb") as fh:
            head = fh.read(HEADER_BYTES)
    except OSError as exc:
        raise DataFileError(f"store file {file} is unreadable: {exc.strerror or exc}") from exc
    expected = HEADER_BYTES + rows * dtype.itemsize
    if rows < 0 or head[:6] != b"\x93NUMPY" or head != npy_header(dtype, rows):
        raise DataFileError(
            f"store file {file}: header does not match meta.json (byte offset 0); delete the "
            "store directory and convert the recording again"
        )
    if size != expected:
        raise DataFileError(
            f"store file {file} is truncated or padded: {size} bytes, {expected} expected for "
            f"{rows} rows (damage from byte offset {min(size, expected)}); delete the store "
            "directory and convert the recording again"
        )
    if rows == 0:
        return np.zeros(0, dtype)  # an empty region cannot be mapped
    return np.memmap(file, dtype=dtype, mode="r", offset=HEADER_BYTES, shape=(rows,))
