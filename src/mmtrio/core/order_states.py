"""Our orders' state machine: the states, the triggers, one transition table, one function.

The shape is h11's ``_state.py``: one table ``TRANSITIONS[(state, trigger)] -> state`` and one
function (:func:`next_state`) that reads it. Only :class:`~mmtrio.core.orders.OrderTracker`
changes an order's state, and only through that function (see its module for the tracker's
rules: how venue events become triggers, fills, deadlines and slots).

Decisions encoded in the table:

* **Pending states do not remember where they came from.** A rejected cancel or amend goes
  to the pseudo-target ``RESTING``, resolved from the order's facts: PENDING_AMEND if an amend
  is still in flight, else PARTIALLY_FILLED if anything filled, else OPEN.
* **Venue events are total; our own requests are not.** Every (state, venue/execution
  trigger) pair is in the table, so no venue message, however late, duplicated or reordered,
  raises. Request triggers (cancel/amend requested) exist only where they make sense; asking
  to cancel a filled order raises :class:`OrderStateError` (a strategy bug, not venue noise).
* **Terminal states absorb.** FILLED, CANCELED, REJECTED and EXPIRED map every venue trigger
  to themselves (fills still count: the tracker books them).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Final

from mmtrio.core.events import Side, TimeInForce
from mmtrio.core.frozen import fast_init
from mmtrio.errors import OrderStateError


class OrderState(enum.Enum):
    PENDING_NEW = "PENDING_NEW"
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    PENDING_AMEND = "PENDING_AMEND"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    UNKNOWN = "UNKNOWN"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL_STATES: Final = frozenset(
    {OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED, OrderState.EXPIRED}
)
# The same states for membership tests on the hot path: ``in`` on a tuple compares enum
# members by identity in C, where a set first calls Enum.__hash__ (a Python function).
TERMINAL: Final = tuple(TERMINAL_STATES)


class Trigger(enum.Enum):
    """What happened to an order. Derived by the tracker from events and requests."""

    # our requests (partial in the table: raise where they make no sense)
    CANCEL_REQUESTED = "cancel_requested"
    AMEND_REQUESTED = "amend_requested"
    CANCEL_TIMEOUT = "cancel_timeout"
    # execution outcomes and venue facts (total in the table)
    PLACE_ACCEPTED = "place_accepted"
    PLACE_REJECTED = "place_rejected"
    AMEND_ACCEPTED = "amend_accepted"
    AMEND_REJECTED = "amend_rejected"
    CANCEL_ACCEPTED = "cancel_accepted"
    CANCEL_REJECTED = "cancel_rejected"
    CANCEL_GONE = "cancel_gone"  # cancel refused UNKNOWN_ORDER: no longer at the venue
    AMEND_GONE = "amend_gone"  # amend refused UNKNOWN_ORDER: no longer at the venue
    OUTCOME_UNKNOWN = "outcome_unknown"
    NOT_FOUND = "not_found"  # query: no such order, and it is known to have existed
    NOT_FOUND_UNPLACED = "not_found_unplaced"  # query: no such order, no sign it ever existed
    VENUE_NEW = "venue_new"
    VENUE_AMENDED = "venue_amended"
    PARTIAL_FILL = "partial_fill"
    FULL_FILL = "full_fill"
    VENUE_CANCELED = "venue_canceled"
    VENUE_EXPIRED = "venue_expired"
    VENUE_REJECTED = "venue_rejected"
    VENUE_STALE = "venue_stale"  # a live status too old to resolve UNKNOWN: facts only


class _Resting(enum.Enum):
    RESTING = "RESTING"


RESTING: Final = _Resting.RESTING
"""Pseudo-target: PENDING_AMEND if an amend is in flight, else PARTIALLY_FILLED if anything
filled, else OPEN."""

Target = OrderState | _Resting

S = OrderState
T = Trigger
REQUEST_TRIGGERS: Final = frozenset({T.CANCEL_REQUESTED, T.AMEND_REQUESTED, T.CANCEL_TIMEOUT})
VENUE_TRIGGERS: Final = frozenset(set(Trigger) - REQUEST_TRIGGERS)

# Venue facts that decide the state whatever it was (the live order's fate is known).
FATES: dict[Trigger, OrderState] = {
    T.FULL_FILL: S.FILLED,
    T.VENUE_CANCELED: S.CANCELED,
    T.VENUE_EXPIRED: S.EXPIRED,
    T.VENUE_REJECTED: S.REJECTED,
}


def _live_row(state: OrderState, **overrides: Target) -> dict[tuple[OrderState, Trigger], Target]:
    """A live state's venue-trigger row: fates as FATES, the rest as given in ``overrides``."""
    row: dict[tuple[OrderState, Trigger], Target] = {}
    for trig in VENUE_TRIGGERS:
        target: Target | None = FATES.get(trig)
        if trig.name in overrides:
            target = overrides[trig.name]
        if target is None:
            raise OrderStateError(f"transition table: {state.name} lacks {trig.name}")
        row[(state, trig)] = target
    return row


def _build_table() -> dict[tuple[OrderState, Trigger], Target]:
    table: dict[tuple[OrderState, Trigger], Target] = {}
    table |= _live_row(
        S.PENDING_NEW,
        PLACE_ACCEPTED=RESTING,
        PLACE_REJECTED=S.REJECTED,
        AMEND_ACCEPTED=S.PENDING_NEW,  # stray: no amend was sent
        AMEND_REJECTED=S.PENDING_NEW,
        CANCEL_ACCEPTED=S.CANCELED,  # the venue says it canceled it: a fact
        CANCEL_REJECTED=S.PENDING_NEW,
        CANCEL_GONE=S.PENDING_NEW,  # inconclusive while the place may still land
        AMEND_GONE=S.PENDING_NEW,  # same: no amend of an order not yet acknowledged
        OUTCOME_UNKNOWN=S.UNKNOWN,
        NOT_FOUND=S.PENDING_NEW,  # inconclusive, same reason
        NOT_FOUND_UNPLACED=S.PENDING_NEW,
        VENUE_NEW=RESTING,  # the stream's NEW overtook the REST ack
        VENUE_AMENDED=RESTING,
        PARTIAL_FILL=S.PARTIALLY_FILLED,  # a trade before the ack: it exists
        VENUE_STALE=S.PENDING_NEW,
    )
    for resting in (S.OPEN, S.PARTIALLY_FILLED):
        table |= _live_row(
            resting,
            PLACE_ACCEPTED=RESTING,  # duplicate ack
            PLACE_REJECTED=RESTING,  # contradicted by the venue's own events: keep the facts
            AMEND_ACCEPTED=RESTING,
            AMEND_REJECTED=RESTING,
            CANCEL_ACCEPTED=S.CANCELED,
            CANCEL_REJECTED=RESTING,
            CANCEL_GONE=S.CANCELED,
            AMEND_GONE=S.CANCELED,
            OUTCOME_UNKNOWN=S.UNKNOWN,
            NOT_FOUND=S.CANCELED,
            NOT_FOUND_UNPLACED=S.CANCELED,
            VENUE_NEW=RESTING,
            VENUE_AMENDED=RESTING,
            PARTIAL_FILL=S.PARTIALLY_FILLED,
            VENUE_STALE=RESTING,
        )
        table[(resting, T.CANCEL_REQUESTED)] = S.PENDING_CANCEL
        table[(resting, T.AMEND_REQUESTED)] = S.PENDING_AMEND
    table |= _live_row(
        S.PENDING_CANCEL,
        PLACE_ACCEPTED=S.PENDING_CANCEL,
        PLACE_REJECTED=S.PENDING_CANCEL,
        AMEND_ACCEPTED=S.PENDING_CANCEL,  # an amend sent before the cancel landed first
        AMEND_REJECTED=S.PENDING_CANCEL,
        CANCEL_ACCEPTED=S.CANCELED,
        CANCEL_REJECTED=RESTING,  # back to whatever it was (OPEN / PARTIALLY_FILLED / amend)
        CANCEL_GONE=S.CANCELED,
        AMEND_GONE=S.CANCELED,
        OUTCOME_UNKNOWN=S.UNKNOWN,
        NOT_FOUND=S.CANCELED,
        NOT_FOUND_UNPLACED=S.CANCELED,
        VENUE_NEW=S.PENDING_CANCEL,
        VENUE_AMENDED=S.PENDING_CANCEL,
        PARTIAL_FILL=S.PENDING_CANCEL,  # a fill racing the cancel: booked, cancel still pending
        VENUE_STALE=S.PENDING_CANCEL,
    )
    table[(S.PENDING_CANCEL, T.CANCEL_TIMEOUT)] = S.UNKNOWN
    table |= _live_row(
        S.PENDING_AMEND,
        PLACE_ACCEPTED=S.PENDING_AMEND,
        PLACE_REJECTED=S.PENDING_AMEND,
        AMEND_ACCEPTED=RESTING,
        AMEND_REJECTED=RESTING,
        CANCEL_ACCEPTED=S.CANCELED,
        CANCEL_REJECTED=S.PENDING_AMEND,
        CANCEL_GONE=S.CANCELED,
        AMEND_GONE=S.CANCELED,
        OUTCOME_UNKNOWN=S.UNKNOWN,
        NOT_FOUND=S.CANCELED,
        NOT_FOUND_UNPLACED=S.CANCELED,
        VENUE_NEW=S.PENDING_AMEND,
        VENUE_AMENDED=RESTING,  # the venue reports the amendment: confirmation
        PARTIAL_FILL=S.PENDING_AMEND,
        VENUE_STALE=S.PENDING_AMEND,
    )
    table[(S.PENDING_AMEND, T.CANCEL_REQUESTED)] = S.PENDING_CANCEL
    table |= _live_row(
        S.UNKNOWN,
        PLACE_ACCEPTED=S.UNKNOWN,  # may be stale (an unknown cancel came later): wait for facts
        PLACE_REJECTED=S.UNKNOWN,
        AMEND_ACCEPTED=S.UNKNOWN,
        AMEND_REJECTED=S.UNKNOWN,
        CANCEL_ACCEPTED=S.CANCELED,
        CANCEL_REJECTED=S.UNKNOWN,
        CANCEL_GONE=S.CANCELED,
        AMEND_GONE=S.CANCELED,
        OUTCOME_UNKNOWN=S.UNKNOWN,
        NOT_FOUND=S.CANCELED,
        NOT_FOUND_UNPLACED=S.REJECTED,  # an unknown place that never reached the book
        VENUE_NEW=RESTING,  # a query (or the stream) says it rests
        VENUE_AMENDED=RESTING,
        PARTIAL_FILL=S.PARTIALLY_FILLED,
        VENUE_STALE=S.UNKNOWN,
    )
    for terminal in TERMINAL_STATES:
        for trig in VENUE_TRIGGERS:
            table[(terminal, trig)] = terminal
    return table


TRANSITIONS: Final[dict[tuple[OrderState, Trigger], Target]] = _build_table()
"""The whole order state machine: ``(state, trigger) -> target``."""


@fast_init
@dataclass(frozen=True, slots=True)
class Order:
    """One of our orders as the tracker knows it (immutable; the tracker swaps records)."""

    client_id: str
    slot: Slot
    side: Side
    price: int
    qty: int
    time_in_force: TimeInForce
    reduce_only: bool
    created_ts: int
    state: OrderState = OrderState.PENDING_NEW
    updated_ts: int = 0
    order_id: int | None = None
    filled: int = 0
    pending_amend: tuple[int, int] | None = None  # (price, qty) of an amend in flight
    cancel_deadline: int | None = None
    unknown_op: str = ""  # the request whose outcome is unknown (place / amend / cancel)
    seen_at_venue: bool = False  # a venue fact showed this order existed
    last_request_ts: int = 0  # when we last sent a request for it (place / amend / cancel)
    unknown_since: int = 0  # last_request_ts of the request whose outcome is unknown
    facts_ts: int = 0  # venue time of the price/qty we hold; older updates do not replace it
    reason: str = ""  # why it is where it is (rejection text, gone, timeout…)

    @property
    def remaining(self) -> int:
        """Open quantity at the current qty (0 once terminal)."""
        return 0 if self.state in TERMINAL else max(0, self.qty - self.filled)

    @property
    def worst_case_qty(self) -> int:
        """The larger of the current qty and an amend's qty in flight."""
        return self.qty if self.pending_amend is None else max(self.qty, self.pending_amend[1])

    @property
    def worst_case_remaining(self) -> int:
        """The most this order could still fill: both old and new qty of an amend in flight."""
        if self.state in TERMINAL:
            return 0
        return max(0, self.worst_case_qty - self.filled)


Slot = tuple[Side, int]
"""A quoting slot: (side, level index). At most one live order holds a slot."""

_ORDER_FIELDS: Final = tuple(f.name for f in fields(Order))  # Order's __init__ order
_ORDER_INDEX: Final = {name: i for i, name in enumerate(_ORDER_FIELDS)}
_order_values: Final = attrgetter(*_ORDER_FIELDS)


def replace_order(order: Order, facts: Mapping[str, object]) -> Order:
    """``dataclasses.replace(order, **facts)`` for the tracker's hot path: every field is an
    init field and there is no ``__post_init__``, so the new record is ``Order`` of the old
    values with ``facts`` put in (all of them read in one C call; replace() loops over the
    fields in Python)."""
    values = list(_order_values(order))
    for name, value in facts.items():
        values[_ORDER_INDEX[name]] = value
    return Order(*values)


def next_state(order: Order, trigger: Trigger) -> OrderState:
    """The state ``order`` moves to on ``trigger``; raises OrderStateError if not allowed."""
    target = TRANSITIONS.get((order.state, trigger))
    if target is None:
        raise OrderStateError(
            f"order {order.client_id}: {trigger.value} is not allowed in state "
            f"{order.state.name}; check the order's state before requesting"
        )
    if target is RESTING:
        if order.pending_amend is not None:
            return OrderState.PENDING_AMEND
        return OrderState.PARTIALLY_FILLED if order.filled > 0 else OrderState.OPEN
    return target
