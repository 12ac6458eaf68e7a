"""Properties of the order tracker: absorption, monotone fills, and a stateful venue model."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mmtrio.core.client_ids import ClientIdGenerator
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
from mmtrio.core.orders import TERMINAL_STATES, OrderEvent, OrderTracker
from mmtrio.core.rejects import RejectKind
from mmtrio.venues.binance.client_ids import client_id_format
from tests.strategies import order_events

CID = "p1-0"


@given(events=st.lists(order_events(CID), max_size=40))
def test_terminal_absorbs_and_fills_never_decrease(events: list[OrderEvent]) -> None:
    tr = OrderTracker()
    tr.new_order(CID, (Side.BUY, 0), Side.BUY, 1000, 10, TimeInForce.POST_ONLY, False, 0)
    terminal = None
    filled = 0
    seen_trades: set[int] = set()
    for ev in events:
        change = tr.on_event(ev)  # never raises for venue input
        order = tr.get(CID)
        assert order is not None and change.order == order
        assert order.filled >= filled
        filled = order.filled
        if terminal is not None:
            assert order.state is terminal
        elif order.state in TERMINAL_STATES:
            terminal = order.state
            assert tr.slot_order((Side.BUY, 0)) is None
            assert tr.worst_case_exposure() == (0, 0)
        if isinstance(ev, OrderUpdate) and ev.fill is not None:
            # every new trade id is returned exactly once, whatever the state (even terminal)
            if ev.fill.trade_id in seen_trades:
                assert change.fill is None
            else:
                assert change.fill is ev.fill
                seen_trades.add(ev.fill.trade_id)
        if terminal is None:
            assert tr.slot_order((Side.BUY, 0)) is order


# --- stateful: the tracker against a simulated venue -----------------------------------------

SLOTS = [(Side.BUY, 0), (Side.BUY, 1), (Side.SELL, 0), (Side.SELL, 1)]
CANCEL_TIMEOUT_MS = 100


@dataclass
class VenueOrder:
    """The venue's truth about one order."""

    side: Side
    price: int
    qty: int
    filled: int = 0
    status: OrderStatus = OrderStatus.NEW

    @property
    def live(self) -> bool:
        return self.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class TrackerVsVenue(RuleBasedStateMachine):
    """Arbitrary interleavings of requests, venue outcomes (incl. lost and unknown ones), fills,
    duplicated and reordered stream events, queries and timeouts."""

    def __init__(self) -> None:
        super().__init__()
        self.tr = OrderTracker(max_terminal=4)
        self.ids = ClientIdGenerator(client_id_format("p"), epoch=1)
        self.now = 1
        self.venue: dict[str, VenueOrder] = {}
        self.rest: list[OrderEvent] = []  # REST answers, delivered in any order
        self.stream: list[OrderUpdate] = []  # user-stream events, delivered in any order
        self.delivered: list[OrderUpdate] = []  # for duplicates
        self.trade_id = 0
        self.filled_seen: dict[str, int] = {}

    # -- helpers ---------------------------------------------------------------------------
    def tick(self, dt: int) -> None:
        self.now += dt

    def emit(self, cid: str, exec_type: ExecType, fill_qty: int = 0) -> None:
        v = self.venue[cid]
        fill = None
        if fill_qty:
            self.trade_id += 1
            fill = Fill(
                "X",
                self.trade_id,
                cid,
                1,
                v.side,
                v.price,
                fill_qty,
                Decimal(0),
                "USDT",
                True,
                self.now,
            )
        self.stream.append(
            OrderUpdate(
                "X",
                cid,
                1,
                v.side,
                exec_type,
                v.status,
                v.price,
                v.qty,
                v.filled,
                TimeInForce.POST_ONLY,
                False,
                self.now,
                fill,
            )
        )

    def _has_state(self, *names: str) -> bool:
        return any(o.state.name in names for o in self.tr.live_orders())

    def pick_order(self, data: st.DataObject) -> str | None:
        known = [o.client_id for o in self.tr.live_orders()]
        return data.draw(st.sampled_from(known)) if known else None

    # -- our requests and the venue's reaction ----------------------------------------------
    @rule(
        slot=st.sampled_from(SLOTS),
        qty=st.integers(1, 20),
        outcome=st.sampled_from(["ack", "reject", "unknown_created", "unknown_lost", "expire"]),
        dt=st.integers(1, 30),
    )
    def place(self, slot: tuple[Side, int], qty: int, outcome: str, dt: int) -> None:
        self.tick(dt)
        if self.tr.slot_order(slot) is not None:
            return
        cid = self.ids.next()
        self.tr.new_order(cid, slot, slot[0], 1000, qty, TimeInForce.POST_ONLY, False, self.now)
        if outcome == "reject":
            self.rest.append(
                PlaceRejected(cid, RejectKind.WOULD_CROSS, "-5022", "would take", self.now)
            )
            return
        if outcome == "unknown_lost":
            self.rest.append(OutcomeUnknown(cid, "place", "timeout", self.now))
            return
        self.venue[cid] = VenueOrder(slot[0], 1000, qty)
        self.emit(cid, ExecType.NEW)
        if outcome == "expire":
            self.venue[cid].status = OrderStatus.EXPIRED
            self.emit(cid, ExecType.EXPIRED)
        if outcome == "unknown_created":
            self.rest.append(OutcomeUnknown(cid, "place", "timeout", self.now))
        else:
            self.rest.append(PlaceAccepted(cid, 1, self.now))

    @precondition(lambda self: any(v.live for v in self.venue.values()))
    @rule(data=st.data(), lots=st.integers(1, 20), dt=st.integers(1, 30))
    def venue_fill(self, data: st.DataObject, lots: int, dt: int) -> None:
        self.tick(dt)
        live = [cid for cid, v in self.venue.items() if v.live]
        if not live:
            return
        cid = data.draw(st.sampled_from(live))
        v = self.venue[cid]
        q = min(lots, v.qty - v.filled)
        v.filled += q
        full = v.filled == v.qty
        v.status = OrderStatus.FILLED if full else OrderStatus.PARTIALLY_FILLED
        self.emit(cid, ExecType.TRADE, q)

    @precondition(lambda self: self._has_state("OPEN", "PARTIALLY_FILLED", "PENDING_AMEND"))
    @rule(
        data=st.data(),
        outcome=st.sampled_from(["ok", "lost", "unknown_done", "unknown_lost", "reject"]),
        dt=st.integers(1, 30),
    )
    def cancel(self, data: st.DataObject, outcome: str, dt: int) -> None:
        self.tick(dt)
        cancellable = [
            o.client_id
            for o in self.tr.live_orders()
            if o.state.name in ("OPEN", "PARTIALLY_FILLED", "PENDING_AMEND")
        ]
        if not cancellable:
            return
        cid = data.draw(st.sampled_from(cancellable))
        self.tr.request_cancel(cid, self.now, self.now + CANCEL_TIMEOUT_MS)
        v = self.venue.get(cid)
        if v is None or not v.live:
            if outcome != "lost":
                self.rest.append(
                    CancelRejected(
                        cid, RejectKind.UNKNOWN_ORDER, "-2011", "Unknown order sent.", self.now
                    )
                )
            return
        if outcome in ("ok", "unknown_done"):
            v.status = OrderStatus.CANCELED
            self.emit(cid, ExecType.CANCELED)
        if outcome == "ok":
            self.rest.append(CancelAccepted(cid, self.now))
        elif outcome.startswith("unknown"):
            self.rest.append(OutcomeUnknown(cid, "cancel", "timeout", self.now))
        elif outcome == "reject":
            self.rest.append(
                CancelRejected(cid, RejectKind.RATE_LIMITED, "-1003", "too many requests", self.now)
            )

    @precondition(lambda self: self._has_state("OPEN", "PARTIALLY_FILLED"))
    @rule(
        data=st.data(),
        new_qty=st.integers(1, 30),
        outcome=st.sampled_from(["ok", "reject", "unknown_done", "unknown_lost"]),
        dt=st.integers(1, 30),
    )
    def amend(self, data: st.DataObject, new_qty: int, outcome: str, dt: int) -> None:
        self.tick(dt)
        amendable = [
            o
            for o in self.tr.live_orders()
            if o.state.name in ("OPEN", "PARTIALLY_FILLED") and new_qty > o.filled
        ]
        if not amendable:
            return
        order = data.draw(st.sampled_from(amendable))
        cid = order.client_id
        self.tr.request_amend(cid, 1001, new_qty, self.now)
        v = self.venue.get(cid)
        if v is None or not v.live:  # -2013: the venue has no such open order (gone)
            self.rest.append(
                AmendRejected(cid, RejectKind.UNKNOWN_ORDER, "-2013", "rejected", self.now)
            )
            return
        if outcome == "reject":  # the order stays as it was (here: a post-only would cross)
            self.rest.append(
                AmendRejected(cid, RejectKind.WOULD_CROSS, "-5022", "would cross", self.now)
            )
            return
        if outcome in ("ok", "unknown_done"):
            if new_qty <= v.filled:  # Binance cancels an order amended to qty <= executed
                v.status = OrderStatus.CANCELED
                self.emit(cid, ExecType.CANCELED)
                self.rest.append(
                    AmendRejected(cid, RejectKind.UNKNOWN, "-5027", "canceled", self.now)
                )
                return
            v.price, v.qty = 1001, new_qty
            self.emit(cid, ExecType.AMENDMENT)
        if outcome == "ok":
            self.rest.append(AmendAccepted(cid, 1001, new_qty, self.now))
        else:
            self.rest.append(OutcomeUnknown(cid, "amend", "timeout", self.now))

    @precondition(lambda self: bool(self.tr.live_orders()))
    @rule(data=st.data(), dt=st.integers(1, 30))
    def query(self, data: st.DataObject, dt: int) -> None:
        """The runtime's resolution query: the venue's current truth, stamped now."""
        self.tick(dt)
        cid = self.pick_order(data)
        if cid is None:
            return
        v = self.venue.get(cid)
        if v is None:
            self.rest.append(OrderNotFound(cid, self.now))
        else:
            self.rest.append(
                OrderUpdate(
                    "X",
                    cid,
                    1,
                    v.side,
                    ExecType.NEW,
                    v.status,
                    v.price,
                    v.qty,
                    v.filled,
                    TimeInForce.POST_ONLY,
                    False,
                    self.now,
                )
            )

    @rule(dt=st.integers(1, 150))
    def timers(self, dt: int) -> None:
        self.tick(dt)
        deadline = self.tr.next_deadline()
        expired = self.tr.expire_cancels(self.now)
        if deadline is not None and deadline <= self.now:
            assert expired
        for cid in expired:
            order = self.tr.get(cid)
            assert order is not None and order.state.name == "UNKNOWN"

    # -- deliveries ---------------------------------------------------------------------------
    @precondition(lambda self: bool(self.rest))
    @rule(data=st.data())
    def deliver_rest(self, data: st.DataObject) -> None:
        if self.rest:
            i = data.draw(st.integers(0, len(self.rest) - 1))
            self.tr.on_event(self.rest.pop(i))

    @precondition(lambda self: bool(self.stream))
    @rule(data=st.data())
    def deliver_stream(self, data: st.DataObject) -> None:
        if self.stream:
            i = data.draw(st.integers(0, len(self.stream) - 1))
            ev = self.stream.pop(i)
            self.delivered.append(ev)
            change = self.tr.on_event(ev)
            if change.fill is not None:
                assert ev.fill is not None
                assert change.fill.trade_id == ev.fill.trade_id

    @precondition(lambda self: bool(self.delivered))
    @rule(data=st.data())
    def duplicate(self, data: st.DataObject) -> None:
        if self.delivered:
            ev = data.draw(st.sampled_from(self.delivered))
            change = self.tr.on_event(ev)
            assert change.fill is None or change.order is None  # dedupe by trade id

    # -- invariants ---------------------------------------------------------------------------
    @invariant()
    def slots_hold_one_live_order(self) -> None:
        holders = [self.tr.slot_order(s) for s in SLOTS]
        ids = [o.client_id for o in holders if o is not None]
        assert len(ids) == len(set(ids))
        for slot, order in zip(SLOTS, holders, strict=True):
            if order is not None:
                assert order.state not in TERMINAL_STATES
                assert order.slot == slot

    @invariant()
    def exposure_covers_venue_truth(self) -> None:
        buy, sell = self.tr.worst_case_exposure()
        true_buy = sum(
            v.qty - v.filled for v in self.venue.values() if v.live and v.side is Side.BUY
        )
        true_sell = sum(
            v.qty - v.filled for v in self.venue.values() if v.live and v.side is Side.SELL
        )
        assert buy >= true_buy, (buy, true_buy)
        assert sell >= true_sell, (sell, true_sell)

    @invariant()
    def terminal_only_when_venue_is_done(self) -> None:
        for cid, v in self.venue.items():
            order = self.tr.get(cid)
            if order is not None and order.state in TERMINAL_STATES:
                assert not v.live, (cid, order, v)

    @invariant()
    def filled_is_monotone_and_bounded_by_truth(self) -> None:
        for cid, v in self.venue.items():
            order = self.tr.get(cid)
            if order is None:
                continue
            assert order.filled <= v.filled
            assert order.filled >= self.filled_seen.get(cid, 0)
            self.filled_seen[cid] = order.filled


TrackerVsVenue.TestCase.settings = settings(stateful_step_count=50)
test_tracker_against_venue = TrackerVsVenue.TestCase
