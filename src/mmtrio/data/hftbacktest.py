"""hftbacktest's event arrays (``.npz`` with a ``data`` record array) ↔ neutral events.

The format (hftbacktest 2.x ``event_dtype``): ``ev`` (u8 flags), ``exch_ts``, ``local_ts``
(ns), ``px``, ``qty`` (floats), ``order_id``, ``ival``, ``fval``. ``ev`` holds the kind in its
low byte (1 depth, 2 trade, 3 depth clear, 4 depth snapshot, 5 BBO) and the flags EXCH (bit 31,
the exchange processes it at ``exch_ts``), LOCAL (bit 30, we see it at ``local_ts``), BUY (29)
and SELL (28): the book side of a depth row, the initiator's side of a trade. The constants
are restated here so that neither direction needs hftbacktest installed.

Export (:func:`export_npz`) writes a store's book and trades as hftbacktest's backtester reads
them, on mmtrio's own view of time (:class:`mmtrio.backtest.feed.RecordingFeed`): exchange time
made non-decreasing, local time = feed arrival (the recording host's clock offset removed), so
every row is one event for both processors (EXCH|LOCAL) and both orders agree. A snapshot is a
clear row per side (up to the snapshot's far price, as hftbacktest's converters write) and its
levels. mmtrio's ids ride in fields hftbacktest does not read for these rows: a delta's
``seq``/``prev_seq``/``first_seq`` in ``order_id``/``ival``/``fval``, a trade's id in
``order_id``. Mark prices, bookTickers and book-invalid events have no hftbacktest form and are
not exported (the count is returned). A ``mmtrio`` array in the file says symbol, steps and the
clock offset removed.

Import (:func:`read_npz`) takes the rows flagged LOCAL (each event once, in arrival order);
consecutive depth rows with the same times are one delta, a clear followed by snapshot rows one
snapshot. Ids found in ``order_id`` etc. (an mmtrio export) are kept, otherwise deltas get a
running sequence. A file of mmtrio's own export gets its clock offset back, and its
symbol, tick and lot are the ones used (:func:`npz_instrument`).
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from mmtrio.core.events import BookDelta, BookSnapshot, Event, Trade
from mmtrio.core.instruments import Instrument
from mmtrio.data.grid import float_step, float_to_steps
from mmtrio.data.layout import BLOCK_ROWS, K_DELTA, K_SNAPSHOT, K_TRADE
from mmtrio.data.store import Store
from mmtrio.errors import DataFileError, InstrumentError, ParameterError

DEPTH_EVENT = 1
TRADE_EVENT = 2
DEPTH_CLEAR_EVENT = 3
DEPTH_SNAPSHOT_EVENT = 4
DEPTH_BBO_EVENT = 5
EXCH_EVENT = 1 << 31
LOCAL_EVENT = 1 << 30
BUY_EVENT = 1 << 29
SELL_EVENT = 1 << 28
EVENT_DTYPE = np.dtype(
    [
        ("ev", "<u8"),
        ("exch_ts", "<i8"),
        ("local_ts", "<i8"),
        ("px", "<f8"),
        ("qty", "<f8"),
        ("order_id", "<u8"),
        ("ival", "<i8"),
        ("fval", "<f8"),
    ],
    align=True,
)
NS_PER_MS = 1_000_000
_ZIP_MAGIC = b"PK\x03\x04"


# --- export ---------------------------------------------------------------------------------------
def clock_offset_ms(store: Store, events: int = 20_000) -> int:
    """The recording host's clock offset, as the backtester's feed estimates it."""
    m = store.messages[: min(len(store.messages), 4 * events)]
    m = m[m["kind"] != 4][:events]  # bookTickers are not in the backtester's source
    m = m[m["kind"] != 6]
    if not len(m):
        raise DataFileError(f"store {store.path}: no timed event to estimate the clock offset")
    return int((m["local_ns"] // NS_PER_MS - m["ts"]).min())


def export_npz(store: Store, out: Path) -> dict[str, int]:
    """Write ``store`` as an hftbacktest ``.npz``; counts of rows and of events left out."""
    inst = store.instrument
    tick, lot = float(inst.tick_size), float(inst.lot_size)
    offset = clock_offset_ms(store)
    msgs, levels = store.messages, store.levels
    chunks: list[np.ndarray[Any, Any]] = []
    last_e = last_at = 0
    skipped = 0
    for lo in range(0, len(msgs), BLOCK_ROWS):
        rows = msgs[lo : lo + BLOCK_ROWS]
        kinds = rows["kind"]
        ts = rows["ts"].astype(np.int64)
        local = rows["local_ns"].astype(np.int64)
        keep = np.isin(kinds, (K_DELTA, K_SNAPSHOT, K_TRADE))
        skipped += int((~keep).sum())
        out_rows: list[np.ndarray[Any, Any]] = []
        for i in np.flatnonzero(keep).tolist():
            # Exchange time non-decreasing; local time = receive time with the host's clock
            # offset removed, never before the exchange time, non-decreasing (one order).
            e = max(int(ts[i]), last_e) * NS_PER_MS
            at = max(int(local[i]) - offset * NS_PER_MS, e, last_at)
            last_e, last_at = e // NS_PER_MS, at
            times = (e, at)
            r = rows[i]
            if kinds[i] == K_TRADE:
                a = np.zeros(1, EVENT_DTYPE)
                side = BUY_EVENT if r["flag"] == 0 else SELL_EVENT
                a["ev"] = EXCH_EVENT | LOCAL_EVENT | TRADE_EVENT | side
                a["px"], a["qty"] = int(r["b"]) * tick, int(r["c"]) * lot
                a["order_id"] = int(r["a"])
            else:
                s, nb, na = int(r["start"]), int(r["n_bids"]), int(r["n_asks"])
                lv = levels[s : s + nb + na]
                snap = kinds[i] == K_SNAPSHOT
                n = nb + na + (2 if snap else 0)
                a = np.zeros(n, EVENT_DTYPE)
                kind = DEPTH_SNAPSHOT_EVENT if snap else DEPTH_EVENT
                base = EXCH_EVENT | LOCAL_EVENT
                j = 0
                if snap:
                    for side_flag, part in ((BUY_EVENT, lv[:nb]), (SELL_EVENT, lv[nb:])):
                        a["ev"][j] = base | DEPTH_CLEAR_EVENT | side_flag
                        far = part["px"].min() if side_flag == BUY_EVENT else part["px"].max()
                        a["px"][j] = float(far) * tick if len(part) else 0.0
                        j += 1
                a["ev"][j : j + nb] = base | kind | BUY_EVENT
                a["ev"][j + nb :] = base | kind | SELL_EVENT
                a["px"][j:] = lv["px"].astype(np.float64) * tick
                a["qty"][j:] = lv["qty"].astype(np.float64) * lot
                a["order_id"][j:] = int(r["a"])
                a["ival"][j:] = int(r["b"])
                a["fval"][j:] = float(int(r["c"]))
            a["exch_ts"], a["local_ts"] = times
            out_rows.append(a)
        if out_rows:
            chunks.append(np.concatenate(out_rows))
    data = np.concatenate(chunks) if chunks else np.zeros(0, EVENT_DTYPE)
    meta = {
        "symbol": inst.symbol,
        "tick_size": str(inst.tick_size),
        "lot_size": str(inst.lot_size),
        "clock_offset_ms": offset,
        "store": store.meta.get("key"),
    }
    partial = out.with_name(out.name + ".part")
    try:
        with partial.open("wb") as fh:  # a handle: the name is exactly ``out`` (no ".npz" added)
            np.savez_compressed(fh, data=data, mmtrio=np.array(json.dumps(meta)))
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return {"rows": len(data), "events_not_exported": skipped}


# --- import ---------------------------------------------------------------------------------------
def _open_zip(path: Path) -> zipfile.ZipFile:
    """The file as a zip archive (an ``.npz`` is one); DataFileError saying why it is not."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(4)
        return zipfile.ZipFile(path)
    except OSError as exc:
        raise DataFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except zipfile.BadZipFile:
        if head == _ZIP_MAGIC:
            raise DataFileError(
                f"{path}: not a valid .npz: truncated or damaged near its end (the zip "
                f"directory is missing or unreadable, file ends at byte offset {size}); "
                "fetch or export the file again"
            ) from None
        raise DataFileError(
            f"{path}: not a valid .npz (not a zip archive: it starts with {head!r}, a .npz "
            "starts with b'PK\\x03\\x04'); give hftbacktest's .npz event file"
        ) from None


def load_npz(path: Path) -> tuple[np.ndarray[Any, Any], dict[str, Any]]:
    """The ``data`` array and mmtrio's description; DataFileError naming the file and the
    damage (a truncated archive, a member failing its CRC-32 with its byte offset)."""
    with _open_zip(path) as zf:
        members = {i.filename: i for i in zf.infolist()}
    member = "data.npy"
    try:
        with np.load(path, allow_pickle=False) as f:
            if "data" not in f.files:
                raise DataFileError(f"{path}: no 'data' array; is this an hftbacktest .npz?")
            data = f["data"]
            member = "mmtrio.npy"
            meta = json.loads(str(f["mmtrio"])) if "mmtrio" in f.files else {}
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        info = members.get(member)
        where = (
            f"member {member!r} (from byte offset {info.header_offset}, {info.compress_size} "
            "bytes compressed)"
            if info
            else f"member {member!r}"
        )
        raise DataFileError(
            f"{path}: not a valid .npz: {where} is damaged ({exc}); fetch or export the file again"
        ) from None
    except (OSError, ValueError) as exc:
        raise DataFileError(f"{path}: unreadable .npz ({exc})") from exc
    missing = [n for n in EVENT_DTYPE.names or () if n not in (data.dtype.names or ())]
    if missing:
        raise DataFileError(f"{path}: 'data' lacks hftbacktest's field(s) {missing}")
    return data, meta


def npz_instrument(
    path: Path,
    symbol: str | None,
    tick: Decimal | None,
    lot: Decimal | None,
    *,
    force: bool = False,
) -> Instrument:
    """The instrument of ``path``: the symbol, tick and lot the file records (our export's
    ``mmtrio`` array; hftbacktest's own files record none), else the ones given, else the
    steps inferred from the prices and sizes. A given tick or lot that differs from a recorded
    one is refused (ParameterError naming both) unless ``force``: a finer step than the
    venue's would let a backtest quote prices the venue never allows."""
    data, meta = load_npz(path)
    recorded = {k: Decimal(str(meta[k])) for k in ("tick_size", "lot_size") if k in meta}
    for flag, given, key in (("--tick", tick, "tick_size"), ("--lot", lot, "lot_size")):
        if given is not None and key in recorded and given != recorded[key] and not force:
            raise ParameterError(
                f"{flag} {given} differs from the {key.replace('_', ' ')} {meta[key]} that "
                f"{path} records (our export names it): drop {flag} to use the file's, or add "
                f"--force to import with {given}"
            )
    # An equal value spelt otherwise ("0.1" for "0.10") is the file's: the same store.
    tick = tick if force and tick is not None else recorded.get("tick_size", tick)
    lot = lot if force and lot is not None else recorded.get("lot_size", lot)
    named = meta.get("symbol")
    if symbol and named and symbol.upper() != str(named).upper():
        raise DataFileError(
            f"{path} holds {named} (our export names it), not {symbol}: drop --symbol or pass "
            "that symbol's file"
        )
    symbol = symbol or named
    if not symbol:
        raise DataFileError(f"{path}: an hftbacktest file does not name its symbol; give --symbol")
    sample = data[:200_000]
    if tick is None:
        tick = float_step(sample["px"][sample["px"] > 0].tolist())
    if lot is None:
        lot = float_step(sample["qty"][sample["qty"] > 0].tolist())
    if tick is None or lot is None:
        raise DataFileError(f"{path}: cannot infer the price/size steps; give --tick and --lot")
    quote = next((q for q in ("USDT", "USDC", "USD") if symbol.upper().endswith(q)), "USDT")
    try:
        return Instrument(
            symbol=symbol.upper(),
            tick_size=tick,
            lot_size=lot,
            min_qty=1,
            max_qty=10**12,
            min_notional=Decimal(5),
            base_asset=symbol.upper().removesuffix(quote),
            quote_asset=quote,
        )
    except InstrumentError as exc:
        raise DataFileError(f"{path}: cannot build an instrument: {exc}") from exc


def read_npz(path: Path, inst: Instrument) -> Iterator[tuple[int, Event]]:
    """The file's events as ``(local_ns, event)`` (see the module doc)."""
    data, meta = load_npz(path)
    offset_ns = int(meta.get("clock_offset_ms", 0)) * NS_PER_MS
    tick, lot = float(inst.tick_size), float(inst.lot_size)
    sym = inst.symbol
    rows = data[(data["ev"] & LOCAL_EVENT) != 0]
    ev = rows["ev"].tolist()
    exch = rows["exch_ts"].tolist()
    local = rows["local_ts"].tolist()
    px, qty = rows["px"].tolist(), rows["qty"].tolist()
    oid, ival, fval = rows["order_id"].tolist(), rows["ival"].tolist(), rows["fval"].tolist()
    seq = 0
    i, n = 0, len(ev)
    while i < n:
        kind = ev[i] & 0xFF
        where = f"{path} row {i}"
        ts = exch[i] // NS_PER_MS
        lns = local[i] + offset_ns
        if kind == TRADE_EVENT:
            sell = (ev[i] & SELL_EVENT) != 0
            seq += 1
            tid = oid[i] or seq
            yield (
                lns,
                Trade(
                    sym,
                    tid,
                    float_to_steps(px[i], tick, where, "price"),
                    float_to_steps(qty[i], lot, where, "qty"),
                    sell,
                    ts,
                ),
            )
            i += 1
            continue
        if kind in (DEPTH_CLEAR_EVENT, DEPTH_SNAPSHOT_EVENT):
            j = i
            while j < n and (ev[j] & 0xFF) == DEPTH_CLEAR_EVENT:
                j += 1
            k = j
            while k < n and (ev[k] & 0xFF) == DEPTH_SNAPSHOT_EVENT:
                k += 1
            bids, asks = _levels(ev, px, qty, j, k, tick, lot, str(path))
            seq += 1
            s_id = oid[j] if k > j and oid[j] else seq
            ts = exch[j] // NS_PER_MS if k > j else ts
            lns = (local[j] if k > j else local[i]) + offset_ns
            yield (
                lns,
                BookSnapshot(sym, tuple(sorted(bids, reverse=True)), tuple(sorted(asks)), ts, s_id),
            )
            i = k
            continue
        if kind == DEPTH_EVENT:
            j = i
            while (
                j < n
                and (ev[j] & 0xFF) == DEPTH_EVENT
                and exch[j] == exch[i]
                and local[j] == local[i]
                and oid[j] == oid[i]
            ):
                j += 1
            bids, asks = _levels(ev, px, qty, i, j, tick, lot, str(path))
            seq += 1
            if oid[i]:
                yield lns, BookDelta(sym, bids, asks, ts, oid[i], ival[i], int(fval[i]))
            else:
                yield lns, BookDelta(sym, bids, asks, ts, seq, seq - 1, seq)
            i = j
            continue
        i += 1  # BBO and order-by-order rows: not L2 book data


def _levels(  # noqa: PLR0917 - columns of one slice
    ev: list[int],
    px: list[float],
    qty: list[float],
    lo: int,
    hi: int,
    tick: float,
    lot: float,
    where: str,
) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
    bids: list[tuple[int, int]] = []
    asks: list[tuple[int, int]] = []
    for r in range(lo, hi):
        lvl = (
            float_to_steps(px[r], tick, f"{where} row {r}", "price"),
            float_to_steps(qty[r], lot, f"{where} row {r}", "qty"),
        )
        (bids if ev[r] & BUY_EVENT else asks).append(lvl)
    return tuple(bids), tuple(asks)
