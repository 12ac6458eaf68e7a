"""Orders the strategy tracks as live that the venue no longer lists open: their fates, now.

A reconciliation pass (:mod:`.reconcile`) reads the venue's open orders. An order of ours the
strategy still holds as live (open, partly filled, or with a cancel or amend in flight) that
the venue does not list has ended while its user-stream update was lost: typically the
halt's cancel-all sent while the sockets were down (the venue cancelled the orders, the
updates went with the socket). Left alone, each such order held its quoting slot until
``cancel_confirm_deadline_ms`` ran out (10 s without quotes while the bot said ACTIVE), and
an order resting on the other side kept new quotes "held back: would cross our own order".

So each one is queried by its client id and the answer is delivered to the strategy like any
order update: CANCELED, EXPIRED or FILLED ends the order and frees its slot at once. A
missed fill is booked from the venue's trade list, as the pass already does
(:mod:`.missed_fills`, which delivers the fill with its order's queried state): such an
order is not queried again here, and a FILLED answer for an order whose trade the venue
does not list yet ends the order while its fill is booked when the trade is listed (the
ledger and the tracker dedupe by trade id, so a fill carried twice is booked once).
An order the venue does not know at all, its place having been acknowledged, is gone:
``OrderNotFound``, which the tracker turns into CANCELED for an order seen at the venue
(core/orders.py).

The race: an order sent just before the open-orders read may not be listed yet. Only orders
the strategy held as acknowledged (or already cancelling) *before* the read was sent are
candidates (:func:`candidates`, taken before the read); an order placed while the read was
in flight, or still awaiting its ack, waits for the next pass. An unknown outcome is a
candidate only when the order was seen at the venue and the unknown request was not its
place (an unknown place is the strategy's to query, after the venue's receive window).
A query that fails leaves the order as it was (its cancel deadline or the next pass
resolves it); after a 429 nothing more is queried and the caller raises it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from typing import Final, Protocol

from loguru import logger

from mmtrio import units
from mmtrio.core.events import OrderNotFound, OrderStatus, OrderUpdate
from mmtrio.core.instruments import Instrument
from mmtrio.core.orders import Order, OrderState
from mmtrio.errors import RateLimited
from mmtrio.runtime.missed_fills import QUERY_FAILURES
from mmtrio.venues.protocol import Gateway

# Acknowledged orders the strategy believes rest at the venue (or are being cancelled or
# amended there): the venue must list them unless they ended.
_ACKED: Final = frozenset(
    {
        OrderState.OPEN,
        OrderState.PARTIALLY_FILLED,
        OrderState.PENDING_CANCEL,
        OrderState.PENDING_AMEND,
    }
)
_OPEN_STATUSES: Final = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})


class _Tracker(Protocol):
    def live_orders(self) -> list[Order]: ...
    def get(self, client_id: str) -> Order | None: ...


def _candidate(order: Order) -> bool:
    if order.state in _ACKED:
        return True
    return (
        order.state is OrderState.UNKNOWN
        and order.seen_at_venue
        and order.unknown_op not in ("", "place")
    )


def candidates(orders: _Tracker) -> dict[str, Order]:
    """The orders a pass may resolve: taken *before* the open-orders read is sent."""
    return {o.client_id: o for o in orders.live_orders() if _candidate(o)}


@dataclass(slots=True)
class Fates:
    """What the venue said of each vanished order, to deliver in this order."""

    events: list[OrderUpdate | OrderNotFound] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)  # client ids with a fate delivered
    limited: RateLimited | None = None


async def vanished_fates(
    gateway: Gateway,
    orders: _Tracker,
    symbol: str,
    before: dict[str, Order],
    venue_open: Collection[OrderUpdate],
    *,
    skip: Collection[str],
    clock_ms: Callable[[], int],
    instrument: Instrument,
) -> Fates:
    """Query each order of ``before`` the venue did not list (see the module docstring);
    ``skip``: client ids this pass already delivered a state for (missed fills)."""
    listed = {u.client_id for u in venue_open}
    fates = Fates()
    for cid in before:
        if cid in listed or cid in skip:
            continue
        now_order = orders.get(cid)
        if now_order is None or now_order.state.terminal:
            continue  # its fate arrived meanwhile
        try:
            st = await gateway.query(symbol, cid)
        except QUERY_FAILURES as exc:
            logger.warning(
                "reconcile: {} is not open at the venue and its state could not be read "
                "({}); its cancel deadline or the next pass resolves it",
                cid,
                exc,
            )
            if isinstance(exc, RateLimited):
                fates.limited = exc
                break
            continue
        if st is None:
            logger.info("reconcile: {} is unknown to the venue: gone", cid)
            fates.events.append(OrderNotFound(cid, clock_ms()))
            fates.resolved.append(cid)
            continue
        fates.events.append(replace(st, client_id=cid) if st.client_id != cid else st)
        if st.status in _OPEN_STATUSES:
            continue  # listed late: the venue says it rests; nothing ended
        logger.info(
            "reconcile: {} is not open at the venue: {} (filled {} of {})",
            cid,
            st.status.value,
            units.size(instrument, st.cum_qty),
            units.sized(instrument, st.qty),
        )
        fates.resolved.append(cid)
    return fates
