"""The updates that book the fills one reconciliation pass found missed (:mod:`.reconcile`).

Each fill goes to the strategy as a TRADE OrderUpdate carrying its order's queried status, so
the tracker learns the order's fate with the fill. The fill is the fact; the status only
names the fate. So:

- a fill's order is named by the client id the venue gives with it (OKX, Hyperliquid,
  Extended), else by its venue order id: an order the tracker holds, one the venue lists
  open, one the gateway placed, and at start one the journal knows (``journaled``: an
  earlier process's order that filled while no process ran, :mod:`.journal_orders`), or
  one the earlier process sent but was killed before journaling its accept (``unacked``:
  the venue, asked by client id, tells its order id);
- a fill of an order the venue no longer knows but the journal does is booked with the
  journal's facts of the order, advanced by the fill (its filled size counted on from the
  journal's; FILLED once that reaches the order's size): a restart used to book the bot's
  own missed fill without a client id, as PARTIALLY_FILLED with ``cum_qty`` 0, and name it
  "an order this bot does not know";
- a fill whose order cannot be named at all is booked as an update carrying the fill only
  (the core names it as another client's or the venue's own order);
- a fill whose order's status query fails (a 5xx, a lost answer, a lost connection, a clock
  skew, a 429) is booked the same way, and the order is then marked unknown
  (``OutcomeUnknown``, operation "query", as the execution layer answers a failed query), so
  the strategy queries it until the venue tells its state. The whole pass used to fail with
  the fill in hand: deterministic simulation seeds 101565 and 104095, a lost order.status
  answer, then 503s, kept a fill the pass had already listed out of the bot's position for
  2.6 s, and in 104095 until the bot stopped. After a 429 no further order is queried (no
  request into the venue's wait); the caller delivers the fills, then raises it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from loguru import logger

from mmtrio.core.events import ExecType, Fill, OrderStatus, OrderUpdate, OutcomeUnknown, TimeInForce
from mmtrio.core.orders import Order
from mmtrio.errors import ClockSkewError, ConnectionFailed, OutcomeUnknownError, RateLimited
from mmtrio.venues.protocol import Gateway

# The reads the reconciler tries again later (it retries a pass on the same errors): one of
# them failing on a status query is no reason to drop the fill already listed.
QUERY_FAILURES = (OutcomeUnknownError, ConnectionFailed, ClockSkewError, RateLimited)


# At start: the journal's last state of this bot's orders by venue order id or client id,
# keyed by venue order id (recovery reads it, :func:`.journal_orders.journaled_orders`).
Journaled = Callable[[set[int], set[str]], Awaitable[dict[int, OrderUpdate]]]
# At start: the client ids of the earlier process's latest placements whose accept it never
# journaled (killed in between), newest first (:func:`.journal_orders.unacked_places`).
Unacked = Callable[[], Awaitable[list[str]]]


class _Live(Protocol):
    def live_orders(self) -> list[Order]: ...


@dataclass(slots=True)
class MissedFills:
    """The updates that book the missed fills, in the venue's order; one ``OutcomeUnknown``
    per order whose state could not be read (delivered after the fills: the fill is booked
    whatever the order's state); the 429 that ended the queries, if one did."""

    updates: list[OrderUpdate] = field(default_factory=list)
    unread: list[OutcomeUnknown] = field(default_factory=list)
    limited: RateLimited | None = None


def fill_only_update(fill: Fill, order: Order | None = None) -> OrderUpdate:
    """The fill itself, without its order's state (which could not be read).

    For an order we track, the update carries the order's own facts (its price, the
    worst-case qty of an amend in flight, what we know filled): the fill is booked and the
    tracker learns nothing new of the order. Carrying the fill's price and qty instead told
    the tracker of an order whose outcome was already unknown that it was a 2-lot order
    (its worst case came down to the fill's size until a query answered; DST seed 104095)."""
    if order is None:
        price, qty, cum, tif, reduce_only = fill.price, fill.qty, 0, TimeInForce.GTC, False
    else:
        price, qty, cum = order.price, order.worst_case_qty, order.filled
        tif, reduce_only = order.time_in_force, order.reduce_only
    return OrderUpdate(
        symbol=fill.symbol,
        client_id=fill.client_id,
        order_id=fill.order_id,
        side=fill.side,
        exec_type=ExecType.TRADE,
        status=OrderStatus.PARTIALLY_FILLED,
        price=price,
        qty=qty,
        cum_qty=cum,
        time_in_force=tif,
        reduce_only=reduce_only,
        ts=fill.ts,
        fill=fill,
    )


def _with_state(st: OrderUpdate, fill: Fill) -> OrderUpdate:
    """The fill, carrying its order's queried state."""
    return replace(
        st, client_id=fill.client_id, exec_type=ExecType.TRADE, ts=max(st.ts, fill.ts), fill=fill
    )


def _journal_state(known: OrderUpdate, fill: Fill, cum: int) -> OrderUpdate:
    """The fill, carrying its order's journaled facts advanced by it (``cum``: the order's
    filled size with this fill)."""
    status = OrderStatus.FILLED if cum >= known.qty else OrderStatus.PARTIALLY_FILLED
    return replace(
        known,
        exec_type=ExecType.TRADE,
        status=status,
        cum_qty=min(cum, known.qty),
        ts=max(known.ts, fill.ts),
        fill=fill,
    )


async def missed_fill_updates(
    gateway: Gateway,
    orders: _Live,
    symbol: str,
    fills: list[Fill],
    venue_open: list[OrderUpdate],
    *,
    clock_ms: Callable[[], int],
    journaled: Journaled | None = None,
    unacked: Unacked | None = None,
) -> MissedFills:
    """The updates that book ``fills`` (see the module docstring)."""
    live = orders.live_orders()
    tracked = {o.client_id: o for o in live}
    names = {o.order_id: o.client_id for o in live if o.order_id is not None}
    names.update({u.order_id: u.client_id for u in venue_open})
    lookup = getattr(gateway, "client_id_for", None)

    def named(f: Fill) -> str:
        return (
            f.client_id
            or names.get(f.order_id)
            or (lookup(f.order_id) if callable(lookup) else None)
            or ""
        )

    known: dict[str, OrderUpdate] = {}
    if journaled is not None:
        asked = [f for f in fills if not (named(f) and named(f) in tracked)]
        if asked:
            cids = {f.client_id for f in asked if f.client_id}
            by_id = await journaled({f.order_id for f in asked}, cids)
            known = {u.client_id: u for u in by_id.values()}
            names.update({oid: u.client_id for oid, u in by_id.items() if oid not in names})
    states: dict[str, OrderUpdate | None] = {}
    if unacked is not None and any(not named(f) for f in fills):
        await _name_unacked(
            gateway, symbol, fills, unacked, named=named, names=names, states=states
        )
    cums = {cid: u.cum_qty for cid, u in known.items()}
    found = MissedFills()
    for f in fills:
        cid = named(f)
        fill = replace(f, client_id=cid)
        if cid and cid not in states:
            states[cid] = await _query(gateway, symbol, cid, found, clock_ms)
        st = states.get(cid) if cid else None
        if st is not None:
            found.updates.append(_with_state(st, fill))
        elif cid in known and cid not in tracked:
            cums[cid] += fill.qty
            found.updates.append(_journal_state(known[cid], fill, cums[cid]))
        else:
            found.updates.append(fill_only_update(fill, tracked.get(cid)))
    return found


async def _name_unacked(
    gateway: Gateway,
    symbol: str,
    fills: list[Fill],
    unacked: Unacked,
    *,
    named: Callable[[Fill], str],
    names: dict[int, str],
    states: dict[str, OrderUpdate | None],
) -> None:
    """Ask the venue for the earlier process's placements it never saw accepted, newest
    first, until every fill is named: each answer tells an order id (``names``) and the
    order's state (``states``, so it is not queried twice). A query that fails names
    nothing: that fill is booked unnamed, as before."""
    for cid in await unacked():
        if all(named(f) for f in fills):
            return
        if cid in states:
            continue
        try:
            st = await gateway.query(symbol, cid)
        except QUERY_FAILURES as exc:
            logger.warning("reconcile: the placement {} could not be read ({})", cid, exc)
            if isinstance(exc, RateLimited):
                return
            continue
        if st is not None:
            states[cid] = st
            names.setdefault(st.order_id, cid)


async def _query(
    gateway: Gateway, symbol: str, cid: str, found: MissedFills, clock_ms: Callable[[], int]
) -> OrderUpdate | None:
    """The order's state, or None (not known to the venue, or not read: then noted unread)."""
    if found.limited is not None:
        found.unread.append(
            OutcomeUnknown(cid, "query", f"not queried: {found.limited}", clock_ms())
        )
        return None
    try:
        return await gateway.query(symbol, cid)
    except QUERY_FAILURES as exc:
        logger.warning(
            "reconcile: the state of {} could not be read ({}); its fill is booked and the "
            "order queried again",
            cid,
            exc,
        )
        found.unread.append(OutcomeUnknown(cid, "query", str(exc), clock_ms()))
        if isinstance(exc, RateLimited):
            found.limited = exc
        return None
