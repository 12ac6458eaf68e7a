"""Read a journal file into the plain records the report needs (stdlib sqlite3, read-only).

The journal may belong to a running bot: the file is opened read-only (``mode=ro``), which in
WAL mode reads a consistent snapshot without blocking the writer. The record kinds and payload
fields used here are the ones ``mmtrio.runtime.journal_schema`` documents; they are repeated as
plain strings because reporting may not import the runtime (a test checks they agree).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from mmtrio.core.events import Fill, FundingPayment
from mmtrio.core.fill_record import fill_from_payload, touch_of
from mmtrio.core.instruments import Instrument
from mmtrio.core.ledger import Ledger
from mmtrio.errors import InstrumentError, JournalError, MmtrioError
from mmtrio.reporting.pnl import (
    MidSample,
    OpeningPosition,
    OrderCounts,
    PositionSet,
    ReportInput,
)

KIND_START = "start"
KIND_FILL = "fill"
KIND_MID = "mid_sample"
KIND_FUNDING = "funding"
KIND_ORDER_SENT = "order_sent"
KIND_INSTRUMENT = "instrument"
KIND_RECONCILE = "reconcile"
ADOPTING_PHASES = ("start",)  # reconcile phases that adopt the venue's position

# Journals written before the instrument was recorded (mmtrio 0.1, Binance BTCUSDT/ETHUSDT
# only): the rules those versions traded on, so their reports still render.
_LEGACY: dict[str, dict[str, object]] = {
    "BTCUSDT": {
        "symbol": "BTCUSDT", "tick_size": "0.10", "lot_size": "0.001", "min_qty": 1,
        "max_qty": 1_000_000, "min_notional": "100", "min_price_ticks": 2_611,
        "max_price_ticks": 8_098_600, "base_asset": "BTC",
    },
    "ETHUSDT": {
        "symbol": "ETHUSDT", "tick_size": "0.01", "lot_size": "0.001", "min_qty": 1,
        "max_qty": 10_000_000, "min_notional": "20", "min_price_ticks": 3_986,
        "max_price_ticks": 30_642_200, "base_asset": "ETH",
    },
}  # fmt: skip


def connect_readonly(path: Path | str) -> sqlite3.Connection:
    """Open ``path`` read-only; a missing or non-journal file raises :class:`JournalError`."""
    path = Path(path)
    if not path.is_file():
        raise JournalError(
            f"no journal at {path}: pass --journal <state_dir>/journal.sqlite3 of a bot"
        )
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        conn.execute("SELECT 1 FROM records LIMIT 1").fetchall()
    except sqlite3.Error as exc:
        raise JournalError(f"{path} is not a readable mmtrio journal: {exc}") from exc
    return conn


def last_session_start(conn: sqlite3.Connection) -> int | None:
    """``local_ts_ms`` of the latest ``start`` record (None if the bot never started)."""
    row = conn.execute(
        "SELECT local_ts_ms FROM records WHERE kind = ? ORDER BY seq DESC LIMIT 1", (KIND_START,)
    ).fetchone()
    return None if row is None else int(row[0])


def symbols_in(conn: sqlite3.Connection, since_ms: int) -> list[str]:
    """Symbols that have fills or mid samples at or after ``since_ms``."""
    rows = conn.execute(
        "SELECT DISTINCT json_extract(payload, '$.symbol') FROM records "
        "WHERE kind IN (?, ?) AND local_ts_ms >= ?",
        (KIND_FILL, KIND_MID, since_ms),
    )
    return sorted(str(r[0]) for r in rows if r[0] is not None)


def instrument_of(conn: sqlite3.Connection, symbol: str, until_ms: int) -> Instrument:
    """The instrument rules the journal recorded for ``symbol`` (the latest at or before
    ``until_ms``); JournalError when it never recorded them."""
    row = conn.execute(
        "SELECT seq, payload FROM records WHERE kind = ? AND local_ts_ms <= ? "
        "AND json_extract(payload, '$.symbol') = ? ORDER BY seq DESC LIMIT 1",
        (KIND_INSTRUMENT, until_ms, symbol),
    ).fetchone()
    data = json.loads(row[1]) if row is not None else _LEGACY.get(symbol)
    if data is None:
        raise JournalError(
            f"the journal holds no instrument record for {symbol}: it was written by a bot "
            "that never reached the venue, or by an mmtrio that did not record it"
        )
    try:
        return Instrument.from_json(data)
    except InstrumentError as exc:
        where = f"record seq {row[0]}" if row is not None else "legacy table"
        raise JournalError(f"journal {where}: {exc}") from exc


def _malformed(seq: int, kind: str, exc: Exception) -> JournalError:
    return JournalError(
        f"journal record seq {seq} ({kind}) has a malformed payload: {type(exc).__name__}: {exc}"
    )


def opening_position(
    conn: sqlite3.Connection, inst: Instrument, since_ms: int
) -> OpeningPosition | None:
    """The position the journal implies at ``since_ms`` (None: flat).

    It starts from the latest ``reconcile`` record before ``since_ms`` (the books' position
    and average entry after that pass: a recovery after a restart, a periodic check, or the
    venue's position adopted over a gap), or from flat when there is none (a new journal,
    or one whose older records retention pruned), then books every fill journaled after that
    record and before ``since_ms``. That is how the bot's own recovery rebuilds its books
    (``runtime.recovery``). The position is valued at the last mid at or before ``since_ms``,
    else the first one after it, else its cost basis.
    """
    ledger = Ledger(inst)
    after_seq = 0
    row = conn.execute(
        "SELECT seq, payload FROM records WHERE kind = ? AND local_ts_ms < ? "
        "AND json_extract(payload, '$.symbol') = ? "
        "AND json_extract(payload, '$.position_lots') IS NOT NULL ORDER BY seq DESC LIMIT 1",
        (KIND_RECONCILE, since_ms, inst.symbol),
    ).fetchone()
    if row is not None:
        try:
            p = json.loads(row[1])
            ledger.set_position(int(p["position_lots"]), Decimal(str(p["entry_price"])))
        except (KeyError, ValueError, TypeError, InvalidOperation, MmtrioError) as exc:
            raise _malformed(row[0], KIND_RECONCILE, exc) from exc
        after_seq = int(row[0])
    fills = conn.execute(
        "SELECT seq, local_ts_ms, payload FROM records WHERE kind = ? AND seq > ? "
        "AND local_ts_ms < ? AND json_extract(payload, '$.symbol') = ? ORDER BY seq",
        (KIND_FILL, after_seq, since_ms, inst.symbol),
    )
    for seq, ts, text in fills:
        try:
            ledger.on_fill(fill_from_payload(json.loads(text), ts), None)
        except (KeyError, ValueError, TypeError, InvalidOperation, MmtrioError) as exc:
            raise _malformed(seq, KIND_FILL, exc) from exc
    if ledger.position_lots == 0:
        return None
    mid = (
        conn.execute(
            "SELECT payload FROM records WHERE kind = ? AND json_extract(payload, '$.symbol') = ? "
            "AND local_ts_ms <= ? ORDER BY seq DESC LIMIT 1",
            (KIND_MID, inst.symbol, since_ms),
        ).fetchone()
        or conn.execute(
            "SELECT payload FROM records WHERE kind = ? AND json_extract(payload, '$.symbol') = ? "
            "AND local_ts_ms > ? ORDER BY seq LIMIT 1",
            (KIND_MID, inst.symbol, since_ms),
        ).fetchone()
    )
    valued_at = ledger.entry_price
    if mid is not None:
        p = json.loads(mid[0])
        valued_at = inst.ticks_to_price(int(p["bid"]) + int(p["ask"])) / 2
    return OpeningPosition(ledger.position_lots, ledger.entry_price, valued_at)


def adopted(p: dict[str, Any]) -> bool:
    """A ``reconcile`` payload whose pass set the books to the venue's position over a gap:
    a start-up's (``phase = "start"``). A periodic or stop pass only compares: its
    ``position_lots`` are the books' and a gap there (a halt) adopted nothing."""
    return (
        bool(p.get("position_gap_lots"))
        and p.get("position_lots") is not None
        and p.get("phase") in ADOPTING_PHASES
    )


def read_report_input(
    conn: sqlite3.Connection, symbol: str, since_ms: int, until_ms: int | None = None
) -> ReportInput:
    """Fills, mids, funding and order counts of ``symbol`` in ``[since_ms, until_ms]``.

    Times are the journal's ``local_ts_ms`` (one clock for all kinds, so markout horizons
    are measured on the same clock as the mids). A fill's own bid/ask becomes a mid sample at
    the fill's time, so spread capture uses the book the engine saw when it booked the fill.
    The window opens with the position the journal implies at ``since_ms``
    (:func:`opening_position`); a ``reconcile`` record inside it that adopted the venue's
    position over a gap sets the books as the bot did.
    """
    until = until_ms if until_ms is not None else 2**62
    inst = instrument_of(conn, symbol, until)
    # A window over several sessions can hold prices in another tick (Hyperliquid's tick is
    # the venue's step at each start's price): each record's ticks are read in the tick of the
    # instrument record before it.
    ticks = [
        (int(at), Decimal(str(json.loads(text).get("tick_size", inst.tick_size))))
        for at, text in conn.execute(
            "SELECT seq, payload FROM records WHERE kind = ? "
            "AND json_extract(payload, '$.symbol') = ? ORDER BY seq",
            (KIND_INSTRUMENT, symbol),
        )
    ]

    def price(seq: int, value: object) -> int:
        tick = next((t for at, t in reversed(ticks) if at < seq), inst.tick_size)
        return inst.ticks_from(int(str(value)), tick)

    fills: list[Fill] = []
    mids: list[MidSample] = []
    funding: list[FundingPayment] = []
    position_sets: list[PositionSet] = []
    counts = {"place": 0, "amend": 0, "cancel": 0}
    last_ts: int | None = None
    rows = conn.execute(
        "SELECT seq, kind, local_ts_ms, payload FROM records "
        "WHERE kind IN (?, ?, ?, ?, ?) AND local_ts_ms BETWEEN ? AND ? "
        "AND json_extract(payload, '$.symbol') = ? ORDER BY seq",
        (
            KIND_FILL,
            KIND_MID,
            KIND_FUNDING,
            KIND_ORDER_SENT,
            KIND_RECONCILE,
            since_ms,
            until,
            inst.symbol,
        ),
    )
    for seq, kind, ts, text in rows:
        try:
            p = json.loads(text)
            if kind == KIND_FILL:
                fills.append(replace(fill_from_payload(p, ts), price=price(seq, p["price"])))
                touch = touch_of(p)  # a one-sided or unrecorded touch is no mid sample
                if touch is not None:
                    mids.append(MidSample(ts, price(seq, touch[0]), price(seq, touch[1])))
            elif kind == KIND_MID:
                mids.append(MidSample(ts, price(seq, p["bid"]), price(seq, p["ask"])))
            elif kind == KIND_FUNDING:
                funding.append(FundingPayment(inst.symbol, Decimal(str(p["amount"])), ts))
            elif kind == KIND_RECONCILE:
                if adopted(p):
                    lots = int(p["position_lots"])
                    position_sets.append(PositionSet(ts, lots, Decimal(str(p["entry_price"]))))
                continue  # a check, not activity: it does not move the report's end
            elif p.get("op") in counts:
                counts[p["op"]] += 1
            elif p.get("op") == "cancel_all":
                counts["cancel"] += 1  # one cancel message, whatever it cancelled
        except (KeyError, ValueError, TypeError, InvalidOperation) as exc:
            raise _malformed(seq, kind, exc) from exc
        last_ts = ts
    return ReportInput(
        instrument=inst,
        fills=fills,
        mids=mids,
        funding=funding,
        orders=OrderCounts(**counts),
        start_ms=since_ms,
        end_ms=until_ms if until_ms is not None else last_ts,
        opening=opening_position(conn, inst, since_ms),
        position_sets=position_sets,
    )
