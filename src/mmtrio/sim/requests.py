"""Neutral requests a front end makes of the engine: place, amend, cancel, query, cancel all.

A front end parses its venue's parameters (and says its venue's refusals for malformed
ones); what reaches here is already in ticks, lots and core enums. Each function either
does what was asked, books the engine's updates (account, front end ``on_order``) and returns
the order's :class:`~mmtrio.sim.account.OrderRecord`, or raises
:class:`~mmtrio.exchange.matching.MatchingReject` with a
:class:`~mmtrio.exchange.matching.Refusal` (its ``kind`` is the core's ``RejectKind``) and had
no effect. The front end renders the record or the refusal.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mmtrio.core.events import Side, TimeInForce
from mmtrio.exchange.matching import MatchingReject, NewOrder, Refusal
from mmtrio.sim.account import OrderRecord

if TYPE_CHECKING:
    from mmtrio.sim.venue import SimVenue


class OrderType(enum.Enum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """A new order. ``price`` is ignored for a market order; ``client_id`` None: the venue
    names it (:meth:`SimVenue.new_client_id`)."""

    side: Side
    qty: int  # lots, > 0
    order_type: OrderType = OrderType.LIMIT
    price: int = 0  # ticks
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    client_id: str | None = None


def place(venue: SimVenue, req: PlaceOrder) -> OrderRecord:
    """Place ``req`` now, at the market's current time."""
    inst = venue.instrument
    cid = req.client_id or venue.new_client_id()
    if cid in venue.account.orders:
        raise MatchingReject(Refusal.DUPLICATE_CLIENT_ID, f"client id {cid!r} was used before")
    tif, price = req.time_in_force, req.price
    notional_price = None
    if req.order_type is OrderType.MARKET:
        # A market order is an IOC at the far end of the price filter (decision: the sim has
        # no price-protection band; the engine stops at the book's displayed liquidity).
        # Its minimum notional is counted at the mark price (the tick at or below it), not
        # at that far end: a sell's far end is the minimum price, which would refuse every
        # market sell as too small.
        tif = TimeInForce.IOC
        price = inst.max_price_ticks if req.side is Side.BUY else inst.min_price_ticks
        notional_price = int(venue.mark_price() / inst.tick_size)
    ts = venue.market_ts
    order = NewOrder(cid, req.side, price, req.qty, tif, req.reduce_only, notional_price)
    updates = venue.engine.place(order, ts)
    rec = OrderRecord(
        client_id=cid,
        order_id=updates[0].order_id,
        side=req.side,
        price=price,
        qty=req.qty,
        order_type=req.order_type.value,
        time_in_force=tif.value,
        reduce_only=req.reduce_only,
        created_ms=ts,
        update_ms=ts,
    )
    venue.account.record_order(rec)
    venue.apply(updates)
    venue.account.check_exposure(ts, cid, price)
    return rec


def lookup(venue: SimVenue, client_id: str | None, order_id: int | None) -> OrderRecord | None:
    """The order the venue knows by client id and/or venue id (both must agree), or None."""
    return venue.account.lookup(client_id, order_id)


def is_open(rec: OrderRecord) -> bool:
    return rec.status in ("NEW", "PARTIALLY_FILLED")


def amend(venue: SimVenue, rec: OrderRecord, price: int, qty: int) -> OrderRecord:
    """New price and size for an open order (it loses its queue priority)."""
    if not is_open(rec):
        raise MatchingReject(Refusal.NO_SUCH_ORDER, f"order {rec.client_id!r} is not open")
    venue.apply(venue.engine.amend(rec.client_id, price, qty, venue.market_ts))
    venue.account.check_exposure(venue.market_ts, rec.client_id, price)
    return rec


def cancel(venue: SimVenue, rec: OrderRecord) -> OrderRecord:
    """Cancel an open order (``Refusal.UNKNOWN_ORDER`` when it is already closed)."""
    venue.apply(venue.engine.cancel(rec.client_id, venue.market_ts))
    return rec


def cancel_all(venue: SimVenue) -> int:
    """Cancel every open order; how many were cancelled."""
    return venue.cancel_all("request")


def open_orders(venue: SimVenue) -> list[OrderRecord]:
    return venue.account.open_records()


def countdown(venue: SimVenue, ms: int) -> None:
    """The dead-man switch: cancel all in ``ms`` unless renewed; 0 disarms it."""
    venue.set_countdown(ms)
