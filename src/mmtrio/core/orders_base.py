"""The order tracker's base layer: its state, its queries, our requests, the one state change.

:class:`OrderTrackerBase` holds our orders by client id, the quoting slots and the terminal
orders kept for late fills; it registers our own requests (place, cancel, amend, cancel
deadlines) and changes an order's state only through ``_apply`` (which reads
:data:`~mmtrio.core.order_states.TRANSITIONS`), releasing slots through ``_release_slot``.
:class:`~mmtrio.core.orders.OrderTracker` adds the venue's side on top: execution outcomes
and order updates turned into triggers. The rules both follow are in the docstring of
:mod:`mmtrio.core.orders`.
"""

from __future__ import annotations

from collections import OrderedDict

from mmtrio.core.events import Side, TimeInForce
from mmtrio.core.order_states import (
    TERMINAL,
    TRANSITIONS,
    Order,
    OrderState,
    Slot,
    Trigger,
    next_state,
    replace_order,
)
from mmtrio.errors import OrderStateError

T = Trigger


class OrderTrackerBase:
    """The tracker's state, queries, our requests and the one place an order's state changes
    (the layer under :class:`~mmtrio.core.orders.OrderTracker`; see the module docstring)."""

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
        # (version, earliest cancel deadline, any live order UNKNOWN) of the live orders: the
        # strategy asks every decision; they can only change with the version (_live_summary).
        self._summary: tuple[int, int | None, bool] | None = None

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

    def slot_holders(self) -> tuple[list[Order], list[Order]]:
        """(live orders holding their slot, :meth:`orphans`), each oldest first (new lists):
        the emitter's every reconciliation reads both, in one scan."""
        holding = set(self._slots.values())  # an order's slot never changes: its own slot
        orders = self._orders
        holders: list[Order] = []
        orphans: list[Order] = []
        for cid in self._live:
            order = orders[cid]
            if cid in holding:
                holders.append(order)
            elif order.state is not OrderState.UNKNOWN:
                orphans.append(order)
        return holders, orphans

    def worst_case_exposure(self) -> tuple[int, int]:
        """(buy lots, sell lots) that could still fill: every non-terminal order at its worst."""
        buy = sell = 0
        orders = self._orders
        for cid in self._live:
            order = orders[cid]
            # Order.worst_case_remaining written out (every place and amend asks).
            if order.state in TERMINAL:
                continue
            amend = order.pending_amend
            qty = order.qty if amend is None else max(order.qty, amend[1])
            remaining = qty - order.filled
            if remaining > 0:
                if order.side is Side.BUY:
                    buy += remaining
                else:
                    sell += remaining
        return buy, sell

    def next_deadline(self) -> int | None:
        """The earliest pending-cancel deadline (ms), for the runtime's timer."""
        return self._live_summary()[0]

    def has_unknown(self) -> bool:
        """True when a live order's last request has an unknown outcome (UNKNOWN)."""
        return self._live_summary()[1]

    def _live_summary(self) -> tuple[int | None, bool]:
        # The live orders and their records change only with ``version`` (new_order and
        # _apply, the only writers, bump it): one scan per version.
        memo = self._summary
        if memo is not None and memo[0] == self.version:
            return memo[1], memo[2]
        earliest: int | None = None
        unknown = False
        for cid in self._live:
            order = self._orders[cid]
            deadline = order.cancel_deadline
            if deadline is not None and (earliest is None or deadline < earliest):
                earliest = deadline
            if order.state is OrderState.UNKNOWN:
                unknown = True
        self._summary = (self.version, earliest, unknown)
        return earliest, unknown

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
        earliest = self.next_deadline()  # every pending cancel's deadline is at or after it
        if earliest is None or earliest > now:
            return []
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
        updated = replace_order(order, facts)
        self._orders[order.client_id] = updated
        self.version += 1
        terminal = state in TERMINAL  # state.terminal, asked once
        if terminal or trigger is T.CANCEL_TIMEOUT:
            self._release_slot(updated)
        if terminal and order.client_id in self._live:
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
