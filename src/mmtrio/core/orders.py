"""Our orders: the tracker, with quoting slots, worst-case exposure and deadlines.

The state machine (states, triggers, the one transition table) is
:mod:`mmtrio.core.order_states`; client order ids are :mod:`mmtrio.core.client_ids`.
:class:`OrderTracker` turns events into triggers and changes an order's state only through
``OrderTracker._apply`` (which reads the table), also the only place a quoting slot is
released (:meth:`OrderTracker._release_slot`).

Its state, queries, our own requests and ``_apply`` are the base layer
:class:`~mmtrio.core.orders_base.OrderTrackerBase` (:mod:`mmtrio.core.orders_base`); this
module keeps the venue's side: events turned into triggers.

Decisions where the venue documentation is silent (each is what a careful desk does):

* **Pending states do not remember where they came from.** A rejected cancel or amend goes
  to the pseudo-target ``RESTING``, resolved from the order's facts: PENDING_AMEND if an amend
  is still in flight, else PARTIALLY_FILLED if anything filled, else OPEN.
* **Venue events are total; our own requests are not.** Every (state, venue/execution
  trigger) pair is in the table, so no venue message, however late, duplicated or reordered,
  raises. Request triggers (cancel/amend requested) exist only where they make sense; asking
  to cancel a filled order raises :class:`OrderStateError` (a strategy bug, not venue noise).
* **Terminal states absorb.** FILLED, CANCELED, REJECTED and EXPIRED map every venue trigger
  to themselves. Fills still count: cumulative filled qty is updated and a fill with a new
  trade id is returned in :class:`OrderChange` ``fill`` even when the state does not change,
  so the ledger books a fill that arrives after a cancel. A CANCELED order may therefore end
  with ``filled == qty``; the ledger books fills, not states.
* **Cumulative filled never decreases** (``max`` of everything seen) and fills are deduped by
  venue trade id per order. For an order the tracker no longer knows (evicted, or not ours:
  ``autoclose-…``) the fill is passed through with ``order=None``; the ledger's own trade-id
  dedupe is the last line.
* **A cancel answered UNKNOWN_ORDER means gone** (CANCELED; final fills may still arrive and
  are booked). Each venue package maps its own code for it to that kind.
* **UNKNOWN** (a request's outcome is unknown) counts at its worst case in exposure and is
  resolved only by venue facts: an OrderUpdate (stream or query) moves it to the state the
  venue reports; ``OrderNotFound`` moves it to REJECTED when no venue fact ever showed the
  order existed and the unknown request was the place ("never existed"), else CANCELED
  ("gone"). The runtime must query only after the request's ``recvWindow`` has elapsed, so a
  delayed place can no longer create the order behind the query's back.
* **Cancels before the place is acknowledged are refused** (raise): a cancel racing its own
  place can be answered UNKNOWN_ORDER while the place still lands. The strategy waits for the ack.
* **A cancel that is not confirmed by its deadline** releases the slot through the same
  function as a confirmed cancel and moves the order to UNKNOWN (still in exposure). If the
  venue later says the order is still open, it is live without a slot: :meth:`orphans`.
* Venue price/qty replace ours only from an AMENDMENT update, an accepted amend, or an update
  resolving UNKNOWN, and never from an update older (venue ``ts``) than the price/qty we hold:
  a reordered NEW cannot undo an amend. A live status (NEW/PARTIALLY_FILLED) stamped at or
  before the request whose outcome is unknown cannot resolve UNKNOWN (it predates the
  request); its fill is still booked. Fates (FILLED, CANCELED, EXPIRED…) are permanent and
  always count. Request ``ts`` and venue ``ts`` are both epoch ms; the runtime stamps a query
  result with the time the query was answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mmtrio.core.events import (
    AmendAccepted,
    AmendRejected,
    CancelAccepted,
    CancelRejected,
    ExecType,
    Fill,
    OrderNotFound,
    OrderStatus,
    OrderUpdate,
    OutcomeUnknown,
    PlaceAccepted,
    PlaceRejected,
)
from mmtrio.core.frozen import fast_init
from mmtrio.core.order_states import (
    FATES,
    REQUEST_TRIGGERS,
    RESTING,
    TERMINAL_STATES,
    TRANSITIONS,
    VENUE_TRIGGERS,
    Order,
    OrderState,
    Slot,
    Trigger,
    next_state,
)
from mmtrio.core.orders_base import OrderTrackerBase
from mmtrio.core.rejects import RejectKind

T = Trigger
S = OrderState
__all__ = [
    "REQUEST_TRIGGERS",
    "RESTING",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "VENUE_TRIGGERS",
    "Order",
    "OrderChange",
    "OrderEvent",
    "OrderState",
    "OrderTracker",
    "Slot",
    "Trigger",
    "next_state",
]


@fast_init
@dataclass(frozen=True, slots=True)
class OrderChange:
    """What one event did. ``fill`` is a new (deduplicated) fill to book, even if nothing else
    changed; ``order`` is None when the client id is not (or no longer) tracked."""

    client_id: str
    order: Order | None
    previous: OrderState | None
    fill: Fill | None = None
    released_slot: Slot | None = None

    @property
    def state(self) -> OrderState | None:
        return None if self.order is None else self.order.state

    @property
    def changed(self) -> bool:
        return self.order is not None and self.previous is not self.order.state


OrderEvent = (
    PlaceAccepted
    | PlaceRejected
    | AmendAccepted
    | AmendRejected
    | CancelAccepted
    | CancelRejected
    | OutcomeUnknown
    | OrderNotFound
    | OrderUpdate
)


def _said(kind: RejectKind, code: str) -> str:
    """A reject as the log says it: the kind, with the venue's own code when it gave one."""
    return f"{kind.value} ({code})" if code else kind.value


_LIVE_STATUSES: Final = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})

_STATUS_TRIGGER: dict[OrderStatus, Trigger] = {
    OrderStatus.NEW: T.VENUE_NEW,
    OrderStatus.PARTIALLY_FILLED: T.PARTIAL_FILL,
    OrderStatus.FILLED: T.FULL_FILL,
    OrderStatus.CANCELED: T.VENUE_CANCELED,
    OrderStatus.EXPIRED: T.VENUE_EXPIRED,
    OrderStatus.REJECTED: T.VENUE_REJECTED,
}


class OrderTracker(OrderTrackerBase):
    """All our orders by client id, the quoting slots, and worst-case exposure.

    Terminal orders are kept (for late fills and duplicate events) up to ``max_terminal``,
    oldest evicted first, so memory is flat over a long run.
    """

    # --- events -------------------------------------------------------------------------
    def on_event(self, event: OrderEvent) -> OrderChange:
        """Apply an execution outcome or a venue order update; never raises for venue input."""
        if isinstance(event, OrderUpdate):
            return self._on_update(event)
        self._released = None
        order = self._orders.get(event.client_id)
        if order is None:
            return OrderChange(event.client_id, None, None)
        before = order.state
        ts = event.ts
        if isinstance(event, PlaceAccepted):
            order = self._apply(
                order, T.PLACE_ACCEPTED, ts, order_id=event.order_id, seen_at_venue=True
            )
        elif isinstance(event, PlaceRejected):
            order = self._apply(
                order,
                T.PLACE_REJECTED,
                ts,
                reason=f"rejected {_said(event.kind, event.code)}: {event.reason}",
            )
        elif isinstance(event, AmendAccepted):
            if order.pending_amend is not None and (event.price, event.qty) != order.pending_amend:
                # A late ack of an EARLIER amend: the stream's AMENDMENT confirmed that one
                # first, the order went back to resting and a newer amend is now in flight.
                # Applying this ack would clear the newer amend's worst case while the venue
                # may already hold its size, so it changes nothing.
                pass
            elif order.pending_amend is not None:
                order = self._apply(
                    order,
                    T.AMEND_ACCEPTED,
                    ts,
                    price=event.price,
                    qty=event.qty,
                    pending_amend=None,
                    seen_at_venue=True,
                    facts_ts=max(order.facts_ts, ts),
                )
            else:
                order = self._apply(order, T.AMEND_ACCEPTED, ts)
        elif isinstance(event, AmendRejected):
            # UNKNOWN_ORDER: the venue no longer has the order (filled or canceled; a fill
            # still reaches the ledger by its trade), as for a cancel so refused.
            gone = event.kind is RejectKind.UNKNOWN_ORDER
            order = self._apply(
                order,
                T.AMEND_GONE if gone else T.AMEND_REJECTED,
                ts,
                pending_amend=None,
                reason=f"amend rejected {_said(event.kind, event.code)}: {event.reason}",
            )
        elif isinstance(event, CancelAccepted):
            order = self._apply(order, T.CANCEL_ACCEPTED, ts, cancel_deadline=None)
        elif isinstance(event, CancelRejected):
            if event.kind is RejectKind.UNKNOWN_ORDER:
                order = self._apply(
                    order,
                    T.CANCEL_GONE,
                    ts,
                    cancel_deadline=None,
                    reason=(
                        f"gone: cancel answered {_said(event.kind, event.code)} ({event.reason})"
                    ),
                )
            else:
                order = self._apply(
                    order,
                    T.CANCEL_REJECTED,
                    ts,
                    cancel_deadline=None,
                    reason=f"cancel rejected {_said(event.kind, event.code)}: {event.reason}",
                )
        elif isinstance(event, OutcomeUnknown):
            # A failed query leaves the request it asks about unknown: that request's
            # operation stays (a place that never landed is still "never existed" when a
            # later query finds nothing, not "gone").
            op = order.unknown_op if event.operation == "query" and order.unknown_op else None
            order = self._apply(
                order,
                T.OUTCOME_UNKNOWN,
                ts,
                cancel_deadline=None,
                unknown_op=op or event.operation,
                reason=f"{event.operation} outcome unknown: {event.reason}",
            )
        else:  # OrderNotFound
            never_existed = (
                not order.seen_at_venue and order.filled == 0 and order.unknown_op == "place"
            )
            trig = T.NOT_FOUND_UNPLACED if never_existed else T.NOT_FOUND
            order = self._apply(
                order,
                trig,
                ts,
                cancel_deadline=None,
                reason="never existed (not found)" if never_existed else "gone (not found)",
            )
        return self._change(order, before)

    def _on_update(self, update: OrderUpdate) -> OrderChange:
        self._released = None
        fill = update.fill
        order = self._orders.get(update.client_id)
        if order is None:
            # Not ours or evicted: the fill still has to reach the ledger.
            return OrderChange(update.client_id, None, None, fill=fill)
        before = order.state
        seen = self._trade_ids[order.client_id]
        new_fill: Fill | None = None
        filled = max(order.filled, update.cum_qty)
        if fill is not None and fill.trade_id not in seen:
            seen.add(fill.trade_id)
            new_fill = fill
        facts: dict[str, object] = {
            "filled": filled,
            "seen_at_venue": True,
            "order_id": order.order_id if order.order_id is not None else update.order_id,
        }
        is_amendment = update.exec_type is ExecType.AMENDMENT
        if is_amendment and order.pending_amend not in (None, (update.price, update.qty)):
            # An echo of an EARLIER amend (late or duplicated) while a newer amend is in
            # flight: it must not resolve the newer one, whose size the venue may hold.
            is_amendment = False
        live_status = update.status in _LIVE_STATUSES
        if is_amendment and live_status:
            trig = T.VENUE_AMENDED
        else:
            trig = _STATUS_TRIGGER[update.status]
        # A live status older than (or as old as) the request whose outcome is unknown cannot
        # tell that outcome; fates (filled, canceled…) are permanent and always count.
        stale = order.state is OrderState.UNKNOWN and update.ts <= order.unknown_since
        if stale and live_status:
            trig = T.VENUE_STALE
        if (is_amendment or (order.state is OrderState.UNKNOWN and not stale)) and (
            update.ts >= order.facts_ts
        ):
            # The venue's own price/qty, newer than what we hold (see module docstring).
            facts.update(price=update.price, qty=update.qty, pending_amend=None, facts_ts=update.ts)
        qty = update.qty if "qty" in facts else order.worst_case_qty
        if filled >= qty and trig in (T.VENUE_NEW, T.VENUE_AMENDED, T.PARTIAL_FILL):
            trig = T.FULL_FILL  # everything is filled whatever the (older) status says
        if trig in FATES or trig is T.VENUE_CANCELED:
            facts["cancel_deadline"] = None
        order = self._apply(order, trig, update.ts, **facts)
        return self._change(order, before, new_fill)

    def _change(self, order: Order, before: OrderState, fill: Fill | None = None) -> OrderChange:
        return OrderChange(order.client_id, order, before, fill=fill, released_slot=self._released)
