"""The order state machine and the tracker (slots, exposure, deadlines)."""

from __future__ import annotations

from decimal import Decimal

import pytest

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
from mmtrio.core.orders import (
    REQUEST_TRIGGERS,
    TERMINAL_STATES,
    TRANSITIONS,
    VENUE_TRIGGERS,
    OrderState,
    OrderTracker,
    Trigger,
)
from mmtrio.core.rejects import RejectKind
from mmtrio.errors import OrderStateError

S = OrderState
BID0 = (Side.BUY, 0)
ASK0 = (Side.SELL, 0)
CID = "mm1-1"
_trade_ids = iter(range(1, 10**9))


def place(tr: OrderTracker, cid: str = CID, slot: tuple[Side, int] = BID0, qty: int = 10) -> None:
    tr.new_order(cid, slot, slot[0], 1000, qty, TimeInForce.POST_ONLY, False, ts=1)


def update(
    status: OrderStatus,
    cum: int,
    *,
    cid: str = CID,
    last: int = 0,
    trade_id: int | None = None,
    exec_type: ExecType | None = None,
    price: int = 1000,
    qty: int = 10,
    side: Side = Side.BUY,
    ts: int = 5,
) -> OrderUpdate:
    fill = None
    if last:
        fill = Fill(
            "BTCUSDT",
            trade_id if trade_id is not None else next(_trade_ids),
            cid,
            77,
            side,
            price,
            last,
            Decimal("0.01"),
            "USDT",
            True,
            5,
        )
    if exec_type is None:
        exec_type = ExecType.TRADE if last else ExecType.NEW
        if status in (OrderStatus.CANCELED,):
            exec_type = ExecType.CANCELED
        if status in (OrderStatus.EXPIRED,):
            exec_type = ExecType.EXPIRED
    return OrderUpdate(
        "BTCUSDT",
        cid,
        77,
        side,
        exec_type,
        status,
        price,
        qty,
        cum,
        TimeInForce.POST_ONLY,
        False,
        ts,
        fill,
    )


def state(tr: OrderTracker, cid: str = CID) -> OrderState:
    order = tr.get(cid)
    assert order is not None
    return order.state


@pytest.fixture
def tr() -> OrderTracker:
    return OrderTracker()


@pytest.fixture
def open_tr(tr: OrderTracker) -> OrderTracker:
    place(tr)
    tr.on_event(PlaceAccepted(CID, 77, 2))
    assert state(tr) is S.OPEN
    return tr


# --- the table itself ------------------------------------------------------------------------


def test_table_is_total_for_venue_triggers() -> None:
    for st in OrderState:
        for trig in VENUE_TRIGGERS:
            assert (st, trig) in TRANSITIONS, (st, trig)


def test_terminal_states_absorb_in_the_table() -> None:
    for st in TERMINAL_STATES:
        for trig in VENUE_TRIGGERS:
            assert TRANSITIONS[(st, trig)] is st
        for trig in REQUEST_TRIGGERS:
            assert (st, trig) not in TRANSITIONS


# --- place outcomes ---------------------------------------------------------------------------


def test_place_accepted(tr: OrderTracker) -> None:
    place(tr)
    assert state(tr) is S.PENDING_NEW
    change = tr.on_event(PlaceAccepted(CID, 77, 2))
    assert change.previous is S.PENDING_NEW and change.state is S.OPEN and change.changed
    order = tr.get(CID)
    assert order is not None and order.order_id == 77


def test_place_rejected_frees_slot(tr: OrderTracker) -> None:
    place(tr)
    change = tr.on_event(
        PlaceRejected(CID, RejectKind.WOULD_CROSS, "-5022", "post only would take", 2)
    )
    assert change.state is S.REJECTED
    assert change.released_slot == BID0
    assert tr.slot_order(BID0) is None
    assert "-5022" in tr.get(CID).reason  # type: ignore[union-attr]
    assert tr.worst_case_exposure() == (0, 0)


def test_stream_new_before_rest_ack(tr: OrderTracker) -> None:
    place(tr)
    assert tr.on_event(update(OrderStatus.NEW, 0)).state is S.OPEN
    assert tr.on_event(PlaceAccepted(CID, 77, 2)).state is S.OPEN  # duplicate: no-op
    assert not tr.on_event(PlaceAccepted(CID, 77, 2)).changed


def test_trade_before_new(tr: OrderTracker) -> None:
    place(tr)
    change = tr.on_event(update(OrderStatus.PARTIALLY_FILLED, 4, last=4))
    assert change.state is S.PARTIALLY_FILLED and change.fill is not None
    assert tr.on_event(update(OrderStatus.NEW, 0)).state is S.PARTIALLY_FILLED
    assert tr.on_event(PlaceAccepted(CID, 77, 2)).state is S.PARTIALLY_FILLED
    assert tr.get(CID).filled == 4  # type: ignore[union-attr]


def test_place_unknown_then_query_found(tr: OrderTracker) -> None:
    place(tr)
    assert tr.on_event(OutcomeUnknown(CID, "place", "timeout", 2)).state is S.UNKNOWN
    assert tr.slot_order(BID0) is not None  # slot held until resolved
    assert tr.worst_case_exposure() == (10, 0)
    assert tr.on_event(update(OrderStatus.NEW, 0)).state is S.OPEN


def test_place_unknown_then_not_found_never_existed(tr: OrderTracker) -> None:
    place(tr)
    tr.on_event(OutcomeUnknown(CID, "place", "HTTP 503", 2))
    change = tr.on_event(OrderNotFound(CID, 3))
    assert change.state is S.REJECTED and change.released_slot == BID0
    assert "never existed" in tr.get(CID).reason  # type: ignore[union-attr]


def test_not_found_while_pending_new_is_inconclusive(tr: OrderTracker) -> None:
    place(tr)
    assert tr.on_event(OrderNotFound(CID, 3)).state is S.PENDING_NEW
    assert tr.on_event(
        CancelRejected(CID, RejectKind.UNKNOWN_ORDER, "-2011", "Unknown order sent.", 3)
    ).state is (S.PENDING_NEW)


# --- fills -------------------------------------------------------------------------------------


def test_partial_then_full_fill(open_tr: OrderTracker) -> None:
    tr = open_tr
    c1 = tr.on_event(update(OrderStatus.PARTIALLY_FILLED, 3, last=3))
    assert c1.state is S.PARTIALLY_FILLED and c1.fill is not None and c1.fill.qty == 3
    assert tr.worst_case_exposure() == (7, 0)
    c2 = tr.on_event(update(OrderStatus.FILLED, 10, last=7))
    assert c2.state is S.FILLED and c2.released_slot == BID0
    assert tr.worst_case_exposure() == (0, 0)
    assert tr.live_orders() == []


def test_duplicate_fill_is_a_noop(open_tr: OrderTracker) -> None:
    ev = update(OrderStatus.PARTIALLY_FILLED, 3, last=3, trade_id=555)
    assert open_tr.on_event(ev).fill is not None
    again = open_tr.on_event(ev)
    assert again.fill is None and not again.changed
    assert open_tr.get(CID).filled == 3  # type: ignore[union-attr]


def test_filled_before_partially_filled(open_tr: OrderTracker) -> None:
    tr = open_tr
    full = tr.on_event(update(OrderStatus.FILLED, 10, last=6, trade_id=2))
    assert full.state is S.FILLED
    late = tr.on_event(update(OrderStatus.PARTIALLY_FILLED, 4, last=4, trade_id=1))
    assert late.state is S.FILLED and not late.changed
    assert late.fill is not None and late.fill.trade_id == 1  # still booked
    assert tr.get(CID).filled == 10  # type: ignore[union-attr]  # never decreases


def test_cum_qty_reaching_qty_is_filled_whatever_the_status(open_tr: OrderTracker) -> None:
    assert open_tr.on_event(update(OrderStatus.NEW, 10)).state is S.FILLED


# --- cancels -------------------------------------------------------------------------------


def test_cancel_confirmed(open_tr: OrderTracker) -> None:
    tr = open_tr
    assert tr.request_cancel(CID, 10, 1010).state is S.PENDING_CANCEL
    assert tr.next_deadline() == 1010
    assert tr.slot_order(BID0) is not None
    change = tr.on_event(CancelAccepted(CID, 20))
    assert change.state is S.CANCELED and change.released_slot == BID0
    assert tr.next_deadline() is None
    assert tr.worst_case_exposure() == (0, 0)


def test_cancel_confirmed_by_stream(open_tr: OrderTracker) -> None:
    open_tr.request_cancel(CID, 10, 1010)
    change = open_tr.on_event(update(OrderStatus.CANCELED, 0))
    assert change.state is S.CANCELED and change.released_slot == BID0


def test_fill_after_cancel_request(open_tr: OrderTracker) -> None:
    tr = open_tr
    tr.request_cancel(CID, 10, 1010)
    c = tr.on_event(update(OrderStatus.PARTIALLY_FILLED, 4, last=4))
    assert c.state is S.PENDING_CANCEL and c.fill is not None
    assert tr.worst_case_exposure() == (6, 0)
    c = tr.on_event(update(OrderStatus.FILLED, 10, last=6))
    assert c.state is S.FILLED and c.released_slot == BID0


def test_late_fill_on_canceled_order_is_reported(open_tr: OrderTracker) -> None:
    tr = open_tr
    tr.request_cancel(CID, 10, 1010)
    tr.on_event(CancelAccepted(CID, 20))
    late = tr.on_event(update(OrderStatus.PARTIALLY_FILLED, 2, last=2))
    assert late.state is S.CANCELED and not late.changed
    assert late.fill is not None and late.fill.qty == 2
    assert late.released_slot is None
    assert tr.get(CID).filled == 2  # type: ignore[union-attr]


@pytest.mark.parametrize("filled", [0, 3])
def test_cancel_rejected_returns_to_previous_state(open_tr: OrderTracker, filled: int) -> None:
    tr = open_tr
    if filled:
        tr.on_event(update(OrderStatus.PARTIALLY_FILLED, filled, last=filled))
    before = state(tr)
    tr.request_cancel(CID, 10, 1010)
    change = tr.on_event(
        CancelRejected(CID, RejectKind.RATE_LIMITED, "-1003", "too many requests", 20)
    )
    assert change.state is before
    assert tr.next_deadline() is None
    assert tr.slot_order(BID0) is not None


def test_cancel_rejected_unknown_order_means_gone(open_tr: OrderTracker) -> None:
    tr = open_tr
    tr.request_cancel(CID, 10, 1010)
    change = tr.on_event(
        CancelRejected(CID, RejectKind.UNKNOWN_ORDER, "-2011", "Unknown order sent.", 20)
    )
    assert change.state is S.CANCELED and change.released_slot == BID0
    assert "gone" in tr.get(CID).reason  # type: ignore[union-attr]
    # its final fills still arrive and are booked
    late = tr.on_event(update(OrderStatus.FILLED, 10, last=10))
    assert late.fill is not None and late.state is S.CANCELED


def test_cancel_timeout_frees_slot_and_goes_unknown(open_tr: OrderTracker) -> None:
    tr = open_tr
    tr.request_cancel(CID, 10, 1010)
    assert tr.expire_cancels(1009) == []
    assert tr.expire_cancels(1010) == [CID]
    assert state(tr) is S.UNKNOWN
    assert tr.slot_order(BID0) is None  # slot free for a new quote
    assert tr.worst_case_exposure() == (10, 0)  # still counted until resolved
    assert tr.next_deadline() is None
    # a new order can take the slot
    place(tr, cid="mm1-2")
    assert tr.worst_case_exposure() == (20, 0)
    # an update older than the cancel request cannot say whether the cancel worked
    assert tr.on_event(update(OrderStatus.NEW, 0, ts=9)).state is S.UNKNOWN
    # the query says it is still open: it is an orphan to cancel, not the slot's holder
    assert tr.on_event(update(OrderStatus.NEW, 0, ts=1500)).state is S.OPEN
    assert [o.client_id for o in tr.orphans()] == [CID]
    assert tr.slot_order(BID0).client_id == "mm1-2"  # type: ignore[union-attr]
    tr.request_cancel(CID, 2000, 3000)
    change = tr.on_event(CancelAccepted(CID, 2001))
    assert change.state is S.CANCELED and change.released_slot is None
    assert tr.slot_order(BID0).client_id == "mm1-2"  # type: ignore[union-attr]


def test_cancel_timeout_then_not_found_is_gone(open_tr: OrderTracker) -> None:
    open_tr.request_cancel(CID, 10, 1010)
    open_tr.expire_cancels(2000)
    change = open_tr.on_event(OrderNotFound(CID, 2001))
    assert change.state is S.CANCELED
    assert open_tr.worst_case_exposure() == (0, 0)


def test_cancel_outcome_unknown(open_tr: OrderTracker) -> None:
    open_tr.request_cancel(CID, 10, 1010)
    assert open_tr.on_event(OutcomeUnknown(CID, "cancel", "timeout", 11)).state is S.UNKNOWN
    assert open_tr.next_deadline() is None
    assert open_tr.on_event(update(OrderStatus.CANCELED, 0)).state is S.CANCELED


def test_requests_not_allowed(tr: OrderTracker) -> None:
    place(tr)
    with pytest.raises(OrderStateError, match="PENDING_NEW"):
        tr.request_cancel(CID, 1, 2)
    with pytest.raises(OrderStateError):
        tr.request_amend(CID, 1001, 10, 1)
    tr.on_event(PlaceAccepted(CID, 77, 2))
    tr.request_cancel(CID, 3, 10)
    with pytest.raises(OrderStateError, match="PENDING_CANCEL"):
        tr.request_cancel(CID, 4, 10)
    with pytest.raises(OrderStateError):
        tr.request_amend(CID, 1001, 10, 4)
    tr.on_event(CancelAccepted(CID, 5))
    with pytest.raises(OrderStateError, match="CANCELED"):
        tr.request_cancel(CID, 6, 10)
    with pytest.raises(OrderStateError, match="no tracked order"):
        tr.request_cancel("nope", 6, 10)
    assert state(tr) is S.CANCELED


def test_cancel_deadline_before_request_is_refused(open_tr: OrderTracker) -> None:
    with pytest.raises(OrderStateError, match="deadline"):
        open_tr.request_cancel(CID, 10, 5)
    assert state(open_tr) is S.OPEN


# --- amends --------------------------------------------------------------------------------


def test_amend_accepted(open_tr: OrderTracker) -> None:
    tr = open_tr
    assert tr.request_amend(CID, 1001, 15, 10).state is S.PENDING_AMEND
    assert tr.worst_case_exposure() == (15, 0)  # max of old and new
    change = tr.on_event(AmendAccepted(CID, 1001, 15, 11))
    assert change.state is S.OPEN
    order = tr.get(CID)
    assert order is not None and (order.price, order.qty, order.pending_amend) == (1001, 15, None)


def test_amend_down_counts_old_qty_until_confirmed(open_tr: OrderTracker) -> None:
    tr = open_tr
    tr.request_amend(CID, 999, 4, 10)
    assert tr.worst_case_exposure() == (10, 0)
    tr.on_event(AmendRejected(CID, RejectKind.INVALID_SIZE, "-1102", "bad", 11))
    assert state(tr) is S.OPEN
    assert tr.get(CID).qty == 10  # type: ignore[union-attr]


def test_amend_rejected_returns_to_partially_filled(open_tr: OrderTracker) -> None:
    tr = open_tr
    tr.on_event(update(OrderStatus.PARTIALLY_FILLED, 2, last=2))
    tr.request_amend(CID, 999, 6, 10)
    assert (
        tr.on_event(AmendRejected(CID, RejectKind.INVALID_SIZE, "-1102", "bad", 11)).state
        is S.PARTIALLY_FILLED
    )


def test_amend_confirmed_by_stream_amendment(open_tr: OrderTracker) -> None:
    tr = open_tr
    tr.request_amend(CID, 1003, 12, 10)
    ev = update(OrderStatus.NEW, 0, exec_type=ExecType.AMENDMENT, price=1003, qty=12)
    assert tr.on_event(ev).state is S.OPEN
    assert tr.get(CID).price == 1003  # type: ignore[union-attr]


def test_late_ack_of_an_earlier_amend_keeps_the_newer_amend_in_exposure(
    open_tr: OrderTracker,
) -> None:
    # Found by the stateful test: amend #1 is confirmed by the stream before its REST ack,
    # amend #2 goes out, then #1's ack arrives. The venue may already hold #2's size.
    tr = open_tr
    tr.request_amend(CID, 1003, 12, 10)
    ev = update(OrderStatus.NEW, 0, exec_type=ExecType.AMENDMENT, price=1003, qty=12)
    assert tr.on_event(ev).state is S.OPEN
    tr.request_amend(CID, 1004, 20, 12)
    assert tr.on_event(AmendAccepted(CID, 1003, 12, 13)).state is S.PENDING_AMEND
    assert tr.worst_case_exposure() == (20, 0)
    assert tr.on_event(AmendAccepted(CID, 1004, 20, 14)).state is S.OPEN
    order = tr.get(CID)
    assert order is not None and (order.price, order.qty) == (1004, 20)


def test_duplicated_amendment_echo_does_not_resolve_a_newer_amend(open_tr: OrderTracker) -> None:
    tr = open_tr
    tr.request_amend(CID, 1003, 12, 10)
    echo = update(OrderStatus.NEW, 0, exec_type=ExecType.AMENDMENT, price=1003, qty=12)
    tr.on_event(echo)
    tr.request_amend(CID, 1004, 20, 12)
    assert tr.on_event(echo).state is S.PENDING_AMEND  # the venue re-sent amend #1's echo
    assert tr.worst_case_exposure() == (20, 0)
    newer = update(OrderStatus.NEW, 0, exec_type=ExecType.AMENDMENT, price=1004, qty=20)
    assert tr.on_event(newer).state is S.OPEN
    assert tr.worst_case_exposure() == (20, 0)


def test_amend_below_filled_is_refused(open_tr: OrderTracker) -> None:
    open_tr.on_event(update(OrderStatus.PARTIALLY_FILLED, 5, last=5))
    with pytest.raises(OrderStateError, match="already filled"):
        open_tr.request_amend(CID, 1000, 5, 10)


def test_cancel_during_amend_then_cancel_rejected(open_tr: OrderTracker) -> None:
    tr = open_tr
    tr.request_amend(CID, 1001, 20, 10)
    assert tr.request_cancel(CID, 11, 100).state is S.PENDING_CANCEL
    assert tr.worst_case_exposure() == (20, 0)
    assert (
        tr.on_event(CancelRejected(CID, RejectKind.RATE_LIMITED, "-1003", "busy", 12)).state
        is S.PENDING_AMEND
    )
    assert tr.on_event(AmendAccepted(CID, 1001, 20, 13)).state is S.OPEN


def test_amend_unknown_counts_both(open_tr: OrderTracker) -> None:
    tr = open_tr
    tr.request_amend(CID, 1001, 25, 10)
    assert tr.on_event(OutcomeUnknown(CID, "amend", "timeout", 11)).state is S.UNKNOWN
    assert tr.worst_case_exposure() == (25, 0)
    # a fill from before the amend was sent books but resolves nothing, nor shrinks the qty
    stale = tr.on_event(update(OrderStatus.PARTIALLY_FILLED, 2, last=2, ts=9))
    assert stale.state is S.UNKNOWN and stale.fill is not None
    assert tr.worst_case_exposure() == (23, 0)
    ev = update(OrderStatus.PARTIALLY_FILLED, 2, price=1001, qty=25, ts=20)  # the query
    assert tr.on_event(ev).state is S.PARTIALLY_FILLED
    order = tr.get(CID)
    assert order is not None and (order.qty, order.pending_amend) == (25, None)


# --- venue-side ends -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "final"),
    [
        (OrderStatus.EXPIRED, S.EXPIRED),
        (OrderStatus.CANCELED, S.CANCELED),
        (OrderStatus.REJECTED, S.REJECTED),
    ],
)
def test_venue_side_ends(open_tr: OrderTracker, status: OrderStatus, final: S) -> None:
    change = open_tr.on_event(update(status, 0))
    assert change.state is final and change.released_slot == BID0
    # terminal absorbs any later venue event
    for ev in (
        update(OrderStatus.NEW, 0),
        PlaceAccepted(CID, 77, 9),
        CancelRejected(CID, RejectKind.RATE_LIMITED, "-1003", "x", 9),
        OutcomeUnknown(CID, "cancel", "x", 9),
        OrderNotFound(CID, 9),
    ):
        assert open_tr.on_event(ev).state is final


# --- tracker bookkeeping -------------------------------------------------------------------


def test_slots_hold_one_live_order(tr: OrderTracker) -> None:
    place(tr)
    with pytest.raises(OrderStateError, match="held by live order"):
        place(tr, cid="mm1-2")
    with pytest.raises(OrderStateError, match="already used"):
        place(tr, slot=ASK0)
    with pytest.raises(OrderStateError, match="SELL slot"):
        tr.new_order("mm1-3", ASK0, Side.BUY, 1000, 1, TimeInForce.POST_ONLY, False, 1)
    with pytest.raises(OrderStateError, match="positive"):
        tr.new_order("mm1-3", ASK0, Side.SELL, 1000, 0, TimeInForce.POST_ONLY, False, 1)
    place(tr, cid="mm1-4", slot=ASK0, qty=3)
    assert tr.worst_case_exposure() == (10, 3)
    assert [o.client_id for o in tr.live_orders()] == [CID, "mm1-4"]
    assert tr.slot_order(ASK0).client_id == "mm1-4"  # type: ignore[union-attr]


def test_unknown_client_id_events(tr: OrderTracker) -> None:
    change = tr.on_event(PlaceAccepted("ghost", 1, 1))
    assert change.order is None and change.fill is None and not change.changed
    liq = update(OrderStatus.FILLED, 5, cid="autoclose-123", last=5)
    change = tr.on_event(liq)
    assert change.order is None and change.fill is liq.fill  # the ledger must still book it


def test_terminal_orders_are_bounded() -> None:
    tr = OrderTracker(max_terminal=3)
    for i in range(6):
        cid = f"mm1-{i}"
        place(tr, cid=cid)
        tr.on_event(PlaceRejected(cid, RejectKind.WOULD_CROSS, "-5022", "would take", 2))
    assert tr.get("mm1-0") is None and tr.get("mm1-2") is None
    assert tr.get("mm1-3") is not None and tr.get("mm1-5") is not None
    # a late event for an evicted order still passes its fill through
    late = tr.on_event(update(OrderStatus.FILLED, 1, cid="mm1-0", last=1))
    assert late.order is None and late.fill is not None
    with pytest.raises(OrderStateError):
        OrderTracker(max_terminal=0)


def test_next_deadline_is_the_earliest(tr: OrderTracker) -> None:
    place(tr)
    place(tr, cid="b", slot=ASK0)
    tr.on_event(PlaceAccepted(CID, 1, 1))
    tr.on_event(PlaceAccepted("b", 2, 1))
    tr.request_cancel(CID, 10, 500)
    tr.request_cancel("b", 10, 300)
    assert tr.next_deadline() == 300
    assert tr.expire_cancels(400) == ["b"]
    assert tr.next_deadline() == 500


def test_request_triggers_are_reachable() -> None:
    # every request trigger has at least one state that allows it
    for trig in (Trigger.CANCEL_REQUESTED, Trigger.AMEND_REQUESTED, Trigger.CANCEL_TIMEOUT):
        assert any(t is trig for (_, t) in TRANSITIONS)


def test_amend_rejected_unknown_order_means_gone(open_tr: OrderTracker) -> None:
    # The venue no longer has the order (Binance -2013, OKX 51503/51509/51510, Hyperliquid
    # "cannot modify canceled or filled order"): closed and its slot freed, as for a cancel so
    # refused (the reject policy's rule), not back to resting until a cancel learns the same.
    tr = open_tr
    tr.request_amend(CID, 999, 12, 10)
    change = tr.on_event(
        AmendRejected(CID, RejectKind.UNKNOWN_ORDER, "-2013", "Order does not exist.", 11)
    )
    assert change.state is S.CANCELED and change.released_slot == BID0
    assert tr.get(CID).worst_case_remaining == 0  # type: ignore[union-attr]
    # its final fills still arrive and are booked
    late = tr.on_event(update(OrderStatus.FILLED, 10, last=10))
    assert late.fill is not None and late.state is S.CANCELED
