"""A cancel the venue made without our asking is named once ("venue_cancel" notice, logged
at INFO); our own cancels, the halt's CancelAll and a post-only refusal are not."""

from __future__ import annotations

from mmtrio.core.commands import CancelOrder, PlaceOrder
from mmtrio.core.events import (
    BookInvalid,
    CancelRejected,
    ExecType,
    OrderStatus,
    OrderUpdate,
    TimeInForce,
)
from mmtrio.core.orders import OrderState
from mmtrio.core.rejects import RejectKind
from tests.unit.test_strategy import SYM, Session, quoting_session


def _update(o: PlaceOrder, status: OrderStatus, ts: int, oid: int = 1) -> OrderUpdate:
    exec_type = ExecType.CANCELED if status is OrderStatus.CANCELED else ExecType.EXPIRED
    return OrderUpdate(
        SYM, o.client_id, oid, o.side, exec_type, status, o.price, o.qty, 0,
        TimeInForce.POST_ONLY, False, ts,
    )  # fmt: skip


def _venue_cancels(s: Session) -> list[str]:
    return [n.message for n in s.mm.log.drain() if n.kind == "venue_cancel"]


def test_a_cancel_we_did_not_ask_for_is_named() -> None:
    s, bid, _ = quoting_session()
    s.mm.log.drain()
    s.step(_update(bid, OrderStatus.CANCELED, s.now))
    (msg,) = _venue_cancels(s)
    assert msg.startswith(f"the venue cancelled {bid.client_id}: ")
    s.step(_update(bid, OrderStatus.CANCELED, s.now))  # a duplicate: named once
    assert _venue_cancels(s) == []


def test_our_own_cancel_is_not_named() -> None:
    s, bid, _ = quoting_session()
    # Move the book: the strategy cancels or amends; force a cancel through the emitter.
    order = s.mm.orders.get(bid.client_id)
    assert order is not None
    out: list[object] = []
    s.mm.emitter.cancel(order, s.now, out, "test")  # type: ignore[arg-type]
    assert any(isinstance(c, CancelOrder) for c in out)
    s.mm.log.drain()
    s.step(_update(bid, OrderStatus.CANCELED, s.now))
    assert _venue_cancels(s) == []


def test_the_halts_cancel_all_is_not_named() -> None:
    s, bid, ask = quoting_session()
    s.step(BookInvalid(SYM, "market stream down", s.now))
    s.mm.log.drain()
    s.step(_update(bid, OrderStatus.CANCELED, s.now))
    s.step(_update(ask, OrderStatus.CANCELED, s.now, oid=2))
    assert _venue_cancels(s) == []


def test_a_post_only_refusal_is_not_named() -> None:
    s = Session()
    places = [c for c in s.snapshot() if isinstance(c, PlaceOrder)]
    s.mm.log.drain()
    # Refused at placement (never acknowledged), reported CANCELED or EXPIRED by the venue.
    s.step(_update(places[0], OrderStatus.CANCELED, s.now))
    s.step(_update(places[1], OrderStatus.EXPIRED, s.now, oid=2))
    assert _venue_cancels(s) == []


def test_an_order_older_than_the_halts_cancel_all_is_not_named() -> None:
    """The halt's CancelAll covers every order that existed when it left, even one whose
    per-order pending cancel was undone (a refused cancel put it back to OPEN)."""
    s, bid, _ = quoting_session()
    s.step(BookInvalid(SYM, "market stream down", s.now))
    s.snapshot()  # back to ACTIVE: a refused cancel is not sent again
    s.step(CancelRejected(bid.client_id, RejectKind.RATE_LIMITED, "", "busy", s.now))
    assert s.mm.orders.get(bid.client_id).state in (OrderState.OPEN, OrderState.PENDING_AMEND)  # type: ignore[union-attr]
    s.mm.log.drain()
    s.step(_update(bid, OrderStatus.CANCELED, s.now))
    assert _venue_cancels(s) == []
