"""The journal's last word on orders an earlier process placed (for start-up recovery).

After a ``kill -9`` the new process's tracker knows none of the dead one's orders, and the
venue no longer lists one that filled while no process ran. A venue's trade list may name a
fill's order by the venue's order id only (Binance ``userTrades``), so without the journal
that fill could not be told from a liquidation or another client's trade: the QA's restart
logged the bot's own ``mmt1-7`` as "an order this bot does not know", booked its fill with
no client id, and journaled the order as PARTIALLY_FILLED with ``cum_qty`` 0 after a full
fill. The journal holds, for each order this bot placed, its ``order_sent`` (client id,
side, price, size, time in force), its ``order_outcome`` (the venue's order id at the
accept) and its ``order_update`` records (the venue's state and filled size):
:func:`journaled_orders` folds them into the order's last journaled state.

Decision: the lookup is by the ids asked for (the missed fills' order ids and client ids),
newest record first, over the ``records(kind, seq)`` index; it runs only for fills the
tracker, the venue's open orders and the gateway could not name, so a long journal is read
only when a start has such fills (blocking: run in a thread).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmtrio.core.events import ExecType, OrderStatus, OrderUpdate, Side, TimeInForce
from mmtrio.errors import JournalError
from mmtrio.runtime import journal_schema as js

MAX_LOOKUP_IDS = 500  # ids per SQL statement (SQLite's variable limit is far above)
UNACKED_LIMIT = 20  # unacknowledged placements a restart asks the venue about, at most
_ORDER_KINDS = (js.Kind.ORDER_SENT.value, js.Kind.ORDER_OUTCOME.value, js.Kind.ORDER_UPDATE.value)


@dataclass(slots=True)
class _Folded:
    """One order's journaled facts, folded oldest record first."""

    client_id: str
    order_id: int | None = None
    side: Side | None = None
    price: int = 0
    qty: int = 0
    cum_qty: int = 0
    status: OrderStatus = OrderStatus.NEW
    tif: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    ts: int = 0

    def add(self, kind: str, p: dict[str, Any], ts: int) -> None:
        if p.get("order_id") is not None:
            self.order_id = int(p["order_id"])
        if kind == js.Kind.ORDER_SENT.value and p.get("op") == "place":
            self.side, self.price, self.qty = Side(p["side"]), int(p["price"]), int(p["qty"])
            self.tif = TimeInForce(p.get("tif") or TimeInForce.GTC.value)
            self.reduce_only = bool(p.get("reduce_only"))
        elif kind == js.Kind.ORDER_UPDATE.value:
            self.side, self.price, self.qty = Side(p["side"]), int(p["price"]), int(p["qty"])
            self.cum_qty = max(self.cum_qty, int(p.get("cum_qty") or 0))
            self.status = OrderStatus(p["status"])
            self.ts = max(self.ts, ts)

    def update(self, symbol: str) -> OrderUpdate | None:
        """The last journaled state, or None when the journal never learnt its venue id or
        side (an order_outcome alone: nothing to book a fill against)."""
        if self.order_id is None or self.side is None:
            return None
        return OrderUpdate(
            symbol, self.client_id, self.order_id, self.side, ExecType.NEW, self.status,
            self.price, self.qty, self.cum_qty, self.tif, self.reduce_only, self.ts,
        )  # fmt: skip


def _chunks(ids: list[Any]) -> list[list[Any]]:
    return [ids[i : i + MAX_LOOKUP_IDS] for i in range(0, len(ids), MAX_LOOKUP_IDS)]


def journaled_orders(
    path: Path, symbol: str, order_ids: Collection[int], client_ids: Collection[str]
) -> dict[int, OrderUpdate]:
    """The last journaled state of each of this bot's orders of ``symbol`` whose venue order
    id is in ``order_ids`` or client id in ``client_ids``, by venue order id (blocking)."""
    if not path.exists() or not (order_ids or client_ids):
        return {}
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    except sqlite3.Error as exc:
        raise JournalError(f"cannot read the journal {path}: {exc}") from exc
    try:
        cids = {cid for cid in client_ids if cid}  # "": a fill booked unnamed, nobody's
        for chunk in _chunks(sorted(set(order_ids))):
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                "SELECT json_extract(payload, '$.client_id') FROM records WHERE kind IN (?, ?)"
                f" AND json_extract(payload, '$.order_id') IN ({marks})",
                (js.Kind.ORDER_OUTCOME.value, js.Kind.ORDER_UPDATE.value, *chunk),
            )
            cids.update(str(cid) for (cid,) in rows if cid)
        folded: dict[str, _Folded] = {}
        for chunk in _chunks(sorted(cids)):
            marks = ",".join("?" * len(chunk))
            for kind, ts, text in conn.execute(
                "SELECT kind, local_ts_ms, payload FROM records WHERE kind IN (?, ?, ?)"
                f" AND json_extract(payload, '$.client_id') IN ({marks}) ORDER BY seq",
                (*_ORDER_KINDS, *chunk),
            ):
                p = json.loads(text)
                if p.get("symbol", symbol) != symbol:
                    continue
                cid = str(p["client_id"])
                folded.setdefault(cid, _Folded(cid)).add(str(kind), p, int(ts))
    except (sqlite3.Error, ValueError, KeyError, TypeError) as exc:
        raise JournalError(f"cannot read the journal {path}: {exc}") from exc
    finally:
        conn.close()
    out: dict[int, OrderUpdate] = {}
    for f in folded.values():  # oldest order first: a venue id reused later wins
        upd = f.update(symbol)
        if upd is not None:
            out[upd.order_id] = upd
    return out


def unacked_places(path: Path, symbol: str, limit: int = UNACKED_LIMIT) -> list[str]:
    """Client ids of this bot's latest ``limit`` placements of ``symbol`` whose venue order
    id the journal never learnt, newest first (blocking).

    A process killed between sending an order and journaling its accept leaves only the
    ``order_sent``; the order may rest and fill while no process runs, and a venue that lists
    the fill by order id alone (Binance) then names no order the journal knows. The restart
    asks the venue for these ids (:mod:`.missed_fills`): it tells each one's order id."""
    if not path.exists() or limit <= 0:
        return []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    except sqlite3.Error as exc:
        raise JournalError(f"cannot read the journal {path}: {exc}") from exc
    try:
        out: list[str] = []
        for cid, sym in conn.execute(
            "SELECT json_extract(payload, '$.client_id'), json_extract(payload, '$.symbol') "
            "FROM records WHERE kind = ? AND json_extract(payload, '$.op') = 'place' "
            "ORDER BY seq DESC LIMIT ?",
            (js.Kind.ORDER_SENT.value, 4 * limit),
        ):
            if not cid or (sym is not None and sym != symbol) or cid in out:
                continue
            (acked,) = conn.execute(
                "SELECT COUNT(*) FROM records WHERE kind IN (?, ?) AND "
                "json_extract(payload, '$.client_id') = ? AND "
                "json_extract(payload, '$.order_id') IS NOT NULL",
                (js.Kind.ORDER_OUTCOME.value, js.Kind.ORDER_UPDATE.value, cid),
            ).fetchone()
            if not acked:
                out.append(str(cid))
                if len(out) >= limit:
                    break
    except (sqlite3.Error, ValueError, TypeError) as exc:
        raise JournalError(f"cannot read the journal {path}: {exc}") from exc
    finally:
        conn.close()
    return out


__all__ = ["UNACKED_LIMIT", "journaled_orders", "unacked_places"]
