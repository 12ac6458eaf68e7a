"""Our orders: the tracker, with quoting slots, worst-case exposure and deadlines.

The state machine (states, triggers, the one transition table) is
:mod:`mmtrio.core.order_states`; client order ids are :mod:`mmtrio.core.client_ids`.
:class:`OrderTracker` turns events into triggers and changes an order's state only through
``OrderTracker._apply`` (which reads the table), also the only place a quoting slot is
released (:meth:`OrderTracker._release_slot`).

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

from collections import OrderedDict
from dataclasses import dataclass, replace
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
    Side,
    TimeInForce,
)
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
from mmtrio.core.rejects import RejectKind
from mmtrio.errors import OrderStateError

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


class OrderTracker:
    """All our orders by client id, the quoting slots, and worst-case exposure.

    Terminal orders are kept (for late fills and duplicate events) up to ``max_terminal``,
    oldest evicted first, so memory is flat over a long run.
    """

    def __init__(self, max_terminal: int = 1_000) -> None:
        if max_terminal < 1:
            raise OrderStateError(f"max_terminal must be >= 1, got {max_terminal}")
        self._max_terminal = max_terminal
        self._orders: dict[str, Order] = {}
        self._trade_ids: dict[str, set[int]] = {}
        self._live: dict[str, None] = {}  # insertion-ordered set of non-terminal client ids
        self._terminal: OrderedDict[str, None] = OrderedDict()
        self._slots: dict[Slot, str] = {}
        self._released: Slot | None = None  # slot freed while handling the current call
        # Bumped by every state change (a new order, every transition): the strategy skips
        # planning while nothing that feeds it changed, and this is "our orders" in that test.
        self.version = 0

    # --- queries ------------------------------------------------------------------------
    def get(self, client_id: str) -> Order | None:
        """The order with ``client_id``, if tracked (live or recently terminal)."""
        return self._orders.get(client_id)

    def slot_order(self, slot: Slot) -> Order | None:
        """The live order holding ``slot``, if any."""
        cid = self._slots.get(slot)
        return None if cid is None else self._orders[cid]

    def live_orders(self) -> list[Order]:
        """Every non-terminal order (UNKNOWN included), oldest first."""
        return [self._orders[cid] for cid in self._live]

    def orphans(self) -> list[Order]:
        """Live orders that hold no slot (a timed-out cancel that turned out open): cancel them."""
        held = set(self._slots.values())
        return [
            self._orders[cid]
            for cid in self._live
            if cid not in held and self._orders[cid].state is not OrderState.UNKNOWN
        ]

    def worst_case_exposure(self) -> tuple[int, int]:
        """(buy lots, sell lots) that could still fill: every non-terminal order at its worst."""
        buy = sell = 0
        for cid in self._live:
            order = self._orders[cid]
            if order.side is Side.BUY:
                buy += order.worst_case_remaining
            else:
                sell += order.worst_case_remaining
        return buy, sell

    def next_deadline(self) -> int | None:
        """The earliest pending-cancel deadline (ms), for the runtime's timer."""
        deadlines = [
            o.cancel_deadline
            for o in (self._orders[cid] for cid in self._live)
            if o.cancel_deadline is not None
        ]
        return min(deadlines) if deadlines else None

    # --- our requests -------------------------------------------------------------------
    def new_order(  # noqa: PLR0917 - the documented positional signature
        self,
        client_id: str,
        slot: Slot,
        side: Side,
        price: int,
        qty: int,
        tif: TimeInForce,
        reduce_only: bool,
        ts: int,
    ) -> Order:
        """Register an order about to be placed (PENDING_NEW) in ``slot``."""
        if client_id in self._orders:
            raise OrderStateError(f"client id {client_id!r} is already used; ids must be unique")
        if slot[0] is not side:
            raise OrderStateError(
                f"slot {slot} is a {slot[0].name} slot, order side is {side.name}"
            )
        holder = self._slots.get(slot)
        if holder is not None:
            raise OrderStateError(
                f"slot {slot[0].name}/{slot[1]} is held by live order {holder}; "
                f"cancel it (or wait for its cancel deadline) before placing another"
            )
        if price <= 0 or qty <= 0:
            raise OrderStateError(
                f"order {client_id}: price {price} ticks and qty {qty} lots must be positive"
            )
        order = Order(
            client_id,
            slot,
            side,
            price,
            qty,
            tif,
            reduce_only,
            ts,
            updated_ts=ts,
            last_request_ts=ts,
            facts_ts=ts,
        )
        self._orders[client_id] = order
        self.version += 1
        self._trade_ids[client_id] = set()
        self._live[client_id] = None
        self._slots[slot] = client_id
        return order

    def request_cancel(self, client_id: str, ts: int, deadline_ts: int) -> Order:
        """Mark a cancel as sent; if unconfirmed at ``deadline_ts`` the slot is freed anyway."""
        order = self._require(client_id)
        if deadline_ts < ts:
            raise OrderStateError(f"cancel deadline {deadline_ts} is before the request ts {ts}")
        return self._apply(
            order, T.CANCEL_REQUESTED, ts, cancel_deadline=deadline_ts, last_request_ts=ts
        )

    def request_amend(self, client_id: str, price: int, qty: int, ts: int) -> Order:
        """Mark an amend (new price and total qty, as Binance modify takes) as sent."""
        order = self._require(client_id)
        if price <= 0 or qty <= order.filled:
            raise OrderStateError(
                f"order {client_id}: amend to {qty} lots @ {price} ticks is invalid: the price "
                f"must be positive and the qty above the {order.filled} lots already filled "
                f"(Binance cancels an order amended to qty <= executed; cancel it instead)"
            )
        return self._apply(
            order, T.AMEND_REQUESTED, ts, pending_amend=(price, qty), last_request_ts=ts
        )

    def expire_cancels(self, now: int) -> list[str]:
        """Give up on cancels past their deadline: free their slots, move them to UNKNOWN."""
        expired = [
            cid
            for cid in self._live
            if self._orders[cid].state is OrderState.PENDING_CANCEL
            and (dl := self._orders[cid].cancel_deadline) is not None
            and dl <= now
        ]
        for cid in expired:
            self._apply(
                self._orders[cid],
                T.CANCEL_TIMEOUT,
                now,
                unknown_op="cancel",
                reason=f"cancel unconfirmed by its deadline (now {now})",
            )
        return expired

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
            order = self._apply(
                order,
                T.AMEND_REJECTED,
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
            order = self._apply(
                order,
                T.OUTCOME_UNKNOWN,
                ts,
                cancel_deadline=None,
                unknown_op=event.operation,
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

    # --- the one place state changes ----------------------------------------------------
    def _require(self, client_id: str) -> Order:
        order = self._orders.get(client_id)
        if order is None:
            raise OrderStateError(f"no tracked order with client id {client_id!r}")
        return order

    def _apply(self, order: Order, trigger: Trigger, ts: int, **facts: object) -> Order:
        # One new record (it was four copies): the target is read from the order with
        # ``facts`` applied, as next_state would read it, then the state's own rules.
        target = TRANSITIONS.get((order.state, trigger))
        if isinstance(target, OrderState):
            state = target
        elif target is None:
            state = next_state(order, trigger)  # raises the explanatory OrderStateError
        elif facts.get("pending_amend", order.pending_amend) is not None:  # RESTING
            state = OrderState.PENDING_AMEND
        else:
            filled = facts.get("filled", order.filled)
            state = (
                OrderState.PARTIALLY_FILLED
                if isinstance(filled, int) and filled > 0
                else OrderState.OPEN
            )
        facts["updated_ts"] = max(order.updated_ts, ts)
        facts["state"] = state
        if (
            state is not OrderState.PENDING_CANCEL
            and facts.get("cancel_deadline", order.cancel_deadline) is not None
        ):
            facts["cancel_deadline"] = None
        if state is OrderState.UNKNOWN and order.state is not OrderState.UNKNOWN:
            facts["unknown_since"] = facts.get("last_request_ts", order.last_request_ts)
        if state is not OrderState.UNKNOWN and facts.get("unknown_op", order.unknown_op):
            facts["unknown_op"] = ""  # resolved
        updated = replace(order, **facts)  # type: ignore[arg-type]
        self._orders[order.client_id] = updated
        self.version += 1
        if state.terminal or trigger is T.CANCEL_TIMEOUT:
            self._release_slot(updated)
        if state.terminal and order.client_id in self._live:
            del self._live[order.client_id]
            self._remember_terminal(order.client_id)
        return updated

    def _release_slot(self, order: Order) -> Slot | None:
        """Free the order's slot if it holds it: the single path for confirmed cancels, fills,
        rejections and cancel timeouts alike."""
        if self._slots.get(order.slot) == order.client_id:
            del self._slots[order.slot]
            self._released = order.slot
            return order.slot
        return None

    def _remember_terminal(self, client_id: str) -> None:
        self._terminal[client_id] = None
        while len(self._terminal) > self._max_terminal:
            old, _ = self._terminal.popitem(last=False)
            del self._orders[old]
            del self._trade_ids[old]

    def _change(self, order: Order, before: OrderState, fill: Fill | None = None) -> OrderChange:
        return OrderChange(order.client_id, order, before, fill=fill, released_slot=self._released)
