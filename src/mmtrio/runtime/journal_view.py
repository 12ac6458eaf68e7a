"""What the journal says at start-up about one symbol: its baseline, watermark and fills.

:func:`read_journal` reads, on its own read-only SQLite connection (WAL readers see every
committed record), the facts start-up recovery (:mod:`mmtrio.runtime.recovery`, whose
docstring explains them) is built on: the baseline of the latest ``phase = "start"``
reconcile record, the watermark (the highest checkpoint trade id, else the highest journaled
one), the journaled fills after the baseline, in this start's ticks, and the last risk state
(:func:`read_limits`). :func:`journaled_ids` answers the periodic checkpointer's question:
which venue trade ids in a range are journaled already.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from mmtrio.core.events import Fill
from mmtrio.core.fill_record import MALFORMED, fill_from_payload, touch_of
from mmtrio.core.instruments import Instrument
from mmtrio.core.loss_limits import LimitsState
from mmtrio.errors import JournalError, ParameterError
from mmtrio.runtime import journal_schema as js

# The ``phase`` of a ``reconcile`` record: written by recovery and the periodic pass.
PHASE_START, PHASE_PERIODIC, PHASE_STOP = "start", "periodic", "stop"


@dataclass(frozen=True, slots=True)
class Baseline:
    lots: int
    entry_price: Decimal
    trade_id: int | None


@dataclass(frozen=True, slots=True)
class JournalView:
    """What the journal says about one symbol's fills and position, and the last risk state
    (loss limits and kill switch) to continue."""

    baseline: Baseline | None
    fills: tuple[tuple[Fill, Decimal | None], ...]  # after the baseline, by trade id; (fill, mid)
    watermark: int | None
    limits: LimitsState | None = None

    @property
    def is_new(self) -> bool:
        """No start record and no fill: nothing this journal knows predates the venue's
        history (a start record with trade id None is a past: the venue had no trade then)."""
        return self.baseline is None and self.watermark is None


def _connect(path: Path) -> sqlite3.Connection:
    try:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    except sqlite3.Error as exc:
        raise JournalError(f"cannot read the journal {path}: {exc}") from exc


def _ticks_recorded(conn: sqlite3.Connection, symbol: str) -> list[tuple[int, Decimal]]:
    """(seq, tick size) of every ``instrument`` record of ``symbol``, oldest first."""
    out = []
    for seq, text in conn.execute(
        "SELECT seq, payload FROM records WHERE kind = ? AND json_extract(payload, '$.symbol') = ?"
        " ORDER BY seq",
        (js.Kind.INSTRUMENT.value, symbol),
    ):
        tick = json.loads(text).get("tick_size")
        if tick is not None:
            out.append((int(seq), Decimal(str(tick))))
    return out


def _in_ticks_of(p: dict[str, Any], seq: int, ticks: list[tuple[int, Decimal]],
                 inst: Instrument) -> dict[str, Any]:  # fmt: skip
    """A fill record's prices in ``inst``'s ticks. A venue whose tick follows the price level
    (Hyperliquid: the step at the start's price) can journal fills in another tick than this
    start's: those are converted with the tick of the instrument record before the fill
    (to the nearest tick when the old price is not on the new grid)."""
    old = next((tick for at, tick in reversed(ticks) if at < seq), inst.tick_size)
    if old == inst.tick_size:
        return p
    out = dict(p)
    for key in ("price", "bid", "ask"):
        if isinstance(p.get(key), int):
            out[key] = inst.ticks_from(p[key], old)
    return out


def _unreadable(seq: int, kind: str, exc: Exception) -> JournalError:
    return JournalError(
        f"journal record seq {seq} ({kind}) cannot be read: {type(exc).__name__}: {exc}; "
        "start-up recovery cannot count the position and fills it holds. Move the journal "
        "aside to start afresh (the venue reconciliation rebuilds orders and position)"
    )


def _baseline_from(seq: int, text: str) -> Baseline:
    try:
        p = json.loads(text)
        checkpoint = p.get("checkpoint_trade_id")
        return Baseline(
            int(p["position_lots"]),
            Decimal(str(p["entry_price"])),
            None if checkpoint is None else int(checkpoint),
        )
    except MALFORMED as exc:
        raise _unreadable(seq, "reconcile", exc) from exc


def _fill_from(seq: int, p: dict[str, Any], inst: Instrument) -> tuple[Fill, Decimal | None]:
    try:
        fill = fill_from_payload(p, 0)
    except MALFORMED as exc:
        raise _unreadable(seq, "fill", exc) from exc
    touch = touch_of(p)
    mid = None if touch is None else inst.tick_size * Decimal(touch[0] + touch[1]) / 2
    return fill, mid


def read_journal(path: Path, instrument: Instrument) -> JournalView:
    """Baseline, watermark and the fills after the baseline (blocking: run in a thread)."""
    if not path.exists():
        return JournalView(None, (), None)
    limits = read_limits(path)
    symbol = instrument.symbol
    conn = _connect(path)
    try:
        row = conn.execute(
            "SELECT seq, payload FROM records WHERE kind = ?"
            " AND json_extract(payload, '$.phase') = ?"
            " AND json_extract(payload, '$.symbol') = ? ORDER BY seq DESC LIMIT 1",
            (js.Kind.RECONCILE.value, PHASE_START, symbol),
        ).fetchone()
        baseline = None if row is None else _baseline_from(row[0], row[1])
        (checkpoint,) = conn.execute(
            "SELECT MAX(json_extract(payload, '$.checkpoint_trade_id')) FROM records "
            "WHERE kind = ? AND json_extract(payload, '$.symbol') = ?",
            (js.Kind.RECONCILE.value, symbol),
        ).fetchone()
        (last_fill,) = conn.execute(
            "SELECT MAX(trade_id) FROM fills WHERE symbol = ?", (symbol,)
        ).fetchone()
        after = -1 if baseline is None or baseline.trade_id is None else baseline.trade_id
        ticks = _ticks_recorded(conn, symbol)
        fills = tuple(
            _fill_from(seq, _in_ticks_of(json.loads(text), seq, ticks, instrument), instrument)
            for (seq, text) in conn.execute(
                "SELECT r.seq, r.payload FROM fills f JOIN records r ON r.seq = f.seq "
                "WHERE f.symbol = ? AND f.trade_id > ? ORDER BY f.trade_id",
                (symbol, after),
            )
        )
    except sqlite3.Error as exc:
        raise JournalError(f"cannot read the journal {path}: {exc}") from exc
    finally:
        conn.close()
    watermark = int(checkpoint) if checkpoint is not None else last_fill
    return JournalView(baseline, fills, None if watermark is None else int(watermark), limits)


def read_limits(path: Path) -> LimitsState | None:
    """The journal's last ``risk_state`` (None: none written yet). A record that cannot be
    read refuses the start: trading on with fresh limits would hand out a new loss budget."""
    conn = _connect(path)
    try:
        row = conn.execute(
            "SELECT payload FROM records WHERE kind = ? ORDER BY seq DESC LIMIT 1",
            (js.Kind.RISK_STATE.value,),
        ).fetchone()
    except sqlite3.Error as exc:
        raise JournalError(f"cannot read the journal {path}: {exc}") from exc
    finally:
        conn.close()
    if row is None:
        return None
    try:
        return LimitsState.from_json(json.loads(row[0]))
    except (ValueError, ParameterError) as exc:
        raise JournalError(
            f"journal {path}: the last risk_state record cannot be read ({exc}); the loss "
            "limits and the kill switch cannot be continued. Move the journal aside to start "
            "with fresh limits (the venue reconciliation rebuilds orders and position)"
        ) from exc


def journaled_ids(path: Path, symbol: str, low: int, high: int) -> set[int]:
    """Journaled trade ids of ``symbol`` in [low, high] (blocking: run in a thread)."""
    conn = _connect(path)
    try:
        rows = conn.execute(
            "SELECT trade_id FROM fills WHERE symbol = ? AND trade_id BETWEEN ? AND ?",
            (symbol, low, high),
        )
        return {int(r[0]) for r in rows}
    except sqlite3.Error as exc:
        raise JournalError(f"cannot read the journal {path}: {exc}") from exc
    finally:
        conn.close()


__all__ = [
    "PHASE_PERIODIC",
    "PHASE_START",
    "PHASE_STOP",
    "Baseline",
    "JournalView",
    "journaled_ids",
    "read_journal",
    "read_limits",
]
