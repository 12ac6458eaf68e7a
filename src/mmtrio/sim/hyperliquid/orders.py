"""Our orders and fills in Hyperliquid's shapes, and the oids of a modify's legs.

Hyperliquid's modify is a cancel-replace: the order gets a new oid, keeps its cloid and its
size becomes the new *remaining* size. The engine amends in place (one client id, one order
id, total quantity), so this front end keeps the legs: the first leg's oid is the engine's
order id, every modify opens a new leg with a fresh oid (from ``LEG_OID_BASE`` up), and the
stream says what Hyperliquid says: the old oid ``canceled``, the new oid ``open``.

Fill ``tid``: Hyperliquid's trade ids do not increase with time; the simulated venue's do
not either: ``tid`` is a 50-bit hash of the engine's trade id (deterministic, so every answer
and the stream agree). ``hash`` likewise.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mmtrio.core.events import Fill, OrderStatus, Side
from mmtrio.sim.account import OrderRecord
from mmtrio.sim.hyperliquid.grid import Grid
from mmtrio.venues.hyperliquid.client_ids import valid_cloid

LEG_OID_BASE = 1 << 40
MAX_TRACKED = 200_000
TIF_WIRE = {"GTC": "Gtc", "IOC": "Ioc", "POST_ONLY": "Alo"}


def side_word(side: Side) -> str:
    return "B" if side is Side.BUY else "A"


def tid_of(trade_id: int) -> int:
    digest = hashlib.sha256(b"tid" + trade_id.to_bytes(16, "big", signed=True)).digest()
    return int.from_bytes(digest[:7], "big") & ((1 << 50) - 1)


def tx_hash(trade_id: int) -> str:
    return "0x" + hashlib.sha256(b"tx" + trade_id.to_bytes(16, "big", signed=True)).hexdigest()


@dataclass
class Leg:
    oid: int
    base_cum: int  # the order's cumulative fill when this leg started
    orig: int  # this leg's size


class Legs:
    """Current leg per engine client id; which oid each fill and each oid belongs to."""

    def __init__(self) -> None:
        self._legs: OrderedDict[str, Leg] = OrderedDict()
        self._cid_of_oid: OrderedDict[int, str] = OrderedDict()
        self._fill_oid: OrderedDict[int, int] = OrderedDict()
        self._next = LEG_OID_BASE

    @staticmethod
    def _bound(d: OrderedDict[Any, Any]) -> None:
        while len(d) > MAX_TRACKED:
            d.popitem(last=False)

    def leg(self, rec: OrderRecord) -> Leg:
        leg = self._legs.get(rec.client_id)
        if leg is None:
            leg = Leg(rec.order_id, 0, rec.qty)
            self._legs[rec.client_id] = leg
            self._cid_of_oid[rec.order_id] = rec.client_id
            self._bound(self._legs)
            self._bound(self._cid_of_oid)
        return leg

    def modified(self, rec: OrderRecord) -> tuple[Leg, Leg]:
        """A modify landed: (old leg, new leg)."""
        old = self.leg(rec)
        self._next += 1
        new = Leg(self._next, rec.cum_qty, rec.qty - rec.cum_qty)
        self._legs[rec.client_id] = new
        self._cid_of_oid[new.oid] = rec.client_id
        self._bound(self._cid_of_oid)
        return old, new

    def cid_of(self, oid: int) -> str | None:
        return self._cid_of_oid.get(oid)

    def note_fill(self, trade_id: int, oid: int) -> None:
        self._fill_oid[trade_id] = oid
        self._bound(self._fill_oid)

    def fill_oid(self, fill: Fill) -> int:
        return self._fill_oid.get(fill.trade_id, fill.order_id)


def status_word(status: str, cause: str = "") -> str:
    """The venue's word for an order's state (``cause``: why it was cancelled)."""
    if status in (OrderStatus.NEW.value, OrderStatus.PARTIALLY_FILLED.value):
        return "open"
    if status == OrderStatus.FILLED.value:
        return "filled"
    if status == OrderStatus.REJECTED.value:
        return "rejected"
    return cause or "canceled"  # CANCELED, EXPIRED: "scheduledCancel" at the dead-man


def order_json(
    grid: Grid, rec: OrderRecord, leg: Leg, ts: int, *, frontend: bool = False
) -> dict[str, Any]:
    """An order as ``openOrders`` (``frontendOpenOrders``, ``orderStatus`` with
    ``frontend``) and ``orderUpdates`` show it: this leg's remaining and original size."""
    # What was left when the order ended (a cancelled order keeps its unfilled size).
    remaining = max(0, rec.qty - rec.cum_qty)
    out: dict[str, Any] = {
        "coin": grid.coin,
        "side": side_word(rec.side),
        "limitPx": grid.px(rec.price),
        "sz": grid.sz(remaining),
        "oid": leg.oid,
        "timestamp": ts,
        "origSz": grid.sz(leg.orig),
    }
    if valid_cloid(rec.client_id):
        out["cloid"] = rec.client_id
    if rec.reduce_only:
        out["reduceOnly"] = True
    if frontend:
        out.update(
            {
                "triggerCondition": "N/A",
                "isTrigger": False,
                "triggerPx": "0.0",
                "children": [],
                "isPositionTpsl": False,
                "reduceOnly": rec.reduce_only,
                "orderType": "Limit",
                "tif": TIF_WIRE.get(rec.time_in_force, "Gtc"),
                "cloid": rec.client_id if valid_cloid(rec.client_id) else None,
            }
        )
    return out


def fill_json(  # noqa: PLR0917 - the fill and what the row says beside it
    grid: Grid, fill: Fill, oid: int, ts: int, realized: Decimal, position_after: int
) -> dict[str, Any]:
    """One fill as ``userFills`` (and its stream) show it."""
    signed = fill.qty * fill.side.sign
    start = position_after - signed
    if start == 0 or (start > 0) == (signed > 0):
        direction = "Open Long" if fill.side is Side.BUY else "Open Short"
    else:
        direction = "Close Short" if fill.side is Side.BUY else "Close Long"
    out: dict[str, Any] = {
        "coin": grid.coin,
        "px": grid.px(fill.price),
        "sz": grid.sz(fill.qty),
        "side": side_word(fill.side),
        "time": ts,
        "startPosition": _signed(grid, start),
        "dir": direction,
        "closedPnl": str(realized),
        "hash": tx_hash(fill.trade_id),
        "oid": oid,
        "crossed": not fill.is_maker,
        "fee": str(fill.fee),
        "tid": tid_of(fill.trade_id),
        "feeToken": "USDC",
        "twapId": None,
    }
    if valid_cloid(fill.client_id):
        out["cloid"] = fill.client_id
    return out


def _signed(grid: Grid, lots: int) -> str:
    return grid.sz(lots) if lots >= 0 else "-" + grid.sz(-lots)
