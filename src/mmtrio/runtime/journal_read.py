"""Reading the journal: what the previous sessions left, for start-up recovery.

:class:`JournalReader` is the read side of :class:`~mmtrio.runtime.journal.Journal` (which
opens the connection): the epoch, the journaled trade ids, and :class:`RecoveryState`, the
starting point the start-up reconciliation with the venue corrects.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from mmtrio.runtime.journal_schema import META_EPOCH, Kind

_TERMINAL_STATUSES = frozenset({"FILLED", "CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED"})


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """An order we placed whose terminal state the journal never saw."""

    client_id: str
    symbol: str
    side: str | None
    price: int | None
    qty: int | None
    seq: int


@dataclass(frozen=True, slots=True)
class RecoveryState:
    """What the journal knows at startup, for the engine to seed its state before reconciling."""

    epoch: int  # the highest epoch handed out so far (the previous process's, before next_epoch)
    known_trade_ids: dict[str, frozenset[int]]  # per symbol, the last ``max_trade_ids``
    last_trade_id: dict[str, int]  # per symbol: the highest journaled venue trade id
    open_orders: tuple[OpenOrder, ...]
    positions: dict[str, tuple[int, str, int]]  # symbol -> (lots, entry price, local ts ms)
    unreconciled_fills: int
    last_session_clean: bool | None  # None: no previous session; False: it never wrote `stop`
    last_start: dict[str, Any] | None = None  # the previous session's `start` record payload


class JournalReader:
    """The queries of :class:`~mmtrio.runtime.journal.Journal` (a layer of it)."""

    _conn: sqlite3.Connection

    # --- reading ------------------------------------------------------------------------
    def epoch(self) -> int:
        """The highest epoch handed out so far."""
        (value,) = self._conn.execute(
            "SELECT value FROM meta WHERE key = ?", (META_EPOCH,)
        ).fetchone()
        return int(value)

    def _max_seq(self) -> int:
        return int(self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM records").fetchone()[0])

    def fills_since(self, symbol: str, trade_id: int) -> list[int]:
        """Journaled trade ids of ``symbol`` greater than ``trade_id``, ascending."""
        rows = self._conn.execute(
            "SELECT trade_id FROM fills WHERE symbol = ? AND trade_id > ? ORDER BY trade_id",
            (symbol, trade_id),
        )
        return [int(r[0]) for r in rows]

    def load_recovery_state(
        self, max_trade_ids: int = 10_000, max_order_records: int = 200_000
    ) -> RecoveryState:
        """What the previous sessions left: epoch, trade ids, open orders, last position.

        Call before :meth:`next_epoch`. Open orders are the client ids placed (``order_sent``
        op=place) without a terminal ``order_update`` or a definite ``order_outcome``
        (rejected / not_found), looking back ``max_order_records`` order records — far more
        than any session leaves open; the startup reconciliation with the venue is the
        authority, this is its starting point.
        """
        conn = self._conn
        known: dict[str, set[int]] = {}
        for symbol, trade_id in conn.execute(
            "SELECT symbol, trade_id FROM fills ORDER BY seq DESC LIMIT ?", (max_trade_ids,)
        ):
            known.setdefault(symbol, set()).add(int(trade_id))
        last_ids = {
            str(s): int(t)
            for s, t in conn.execute("SELECT symbol, MAX(trade_id) FROM fills GROUP BY symbol")
        }
        open_orders: dict[str, OpenOrder] = {}
        rows = conn.execute(
            "SELECT seq, kind, payload FROM (SELECT seq, kind, payload FROM records "
            "WHERE kind IN (?, ?, ?) ORDER BY seq DESC LIMIT ?) ORDER BY seq",
            (Kind.ORDER_SENT, Kind.ORDER_OUTCOME, Kind.ORDER_UPDATE, max_order_records),
        )
        for seq, kind, text in rows:
            p = json.loads(text)
            cid = p.get("client_id")
            if kind == Kind.ORDER_SENT and p.get("op") == "place" and cid:
                open_orders[cid] = OpenOrder(
                    cid, p.get("symbol", ""), p.get("side"), p.get("price"), p.get("qty"), seq
                )
            elif (kind == Kind.ORDER_UPDATE and p.get("status") in _TERMINAL_STATUSES) or (
                kind == Kind.ORDER_OUTCOME
                and (
                    p.get("outcome") == "not_found"
                    or (p.get("outcome") == "rejected" and p.get("op") == "place")
                )
            ):
                open_orders.pop(cid, None)
        positions: dict[str, tuple[int, str, int]] = {}
        for text, ts in conn.execute(
            "SELECT payload, local_ts_ms FROM records WHERE kind = ? ORDER BY seq",
            (Kind.POSITION,),
        ):
            p = json.loads(text)
            positions[p["symbol"]] = (int(p["lots"]), str(p["entry_price"]), int(ts))
        (unreconciled,) = conn.execute("SELECT COUNT(*) FROM fills WHERE reconciled = 0").fetchone()
        last = conn.execute(
            "SELECT kind FROM records WHERE kind IN (?, ?) ORDER BY seq DESC LIMIT 1",
            (Kind.START, Kind.STOP),
        ).fetchone()
        start_row = conn.execute(
            "SELECT payload FROM records WHERE kind = ? ORDER BY seq DESC LIMIT 1", (Kind.START,)
        ).fetchone()
        return RecoveryState(
            last_start=None if start_row is None else json.loads(start_row[0]),
            epoch=self.epoch(),
            known_trade_ids={s: frozenset(ids) for s, ids in known.items()},
            last_trade_id=last_ids,
            open_orders=tuple(open_orders.values()),
            positions=positions,
            unreconciled_fills=int(unreconciled),
            last_session_clean=None if last is None else last[0] == Kind.STOP,
        )
