"""Orders that ended at the venue while their user-stream updates were lost (QA: a brief
disconnect, 10 s without quotes while ACTIVE): the reconcile pass resolves them at once.

The halt's cancel-all goes out while the sockets are down; the venue cancels both quotes,
the cancels' updates are lost with the socket. The pass after the reconnect lists no open
order: both quote slots must be free after it, and new quotes placed in the same step, not
after ``cancel_deadline_ms``. One of them may have filled instead: its fill is booked from
the trade list, once. And an order acknowledged while the open-orders read was in flight is
not resolved (it may simply not be listed yet).
"""

from __future__ import annotations

from dataclasses import replace

from mmtrio.core.commands import CancelAll, PlaceOrder
from mmtrio.core.events import (
    BookInvalid,
    ExecType,
    OrderStatus,
    OrderUpdate,
    PlaceAccepted,
    Side,
    TimeInForce,
    Timer,
)
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.orders import OrderState
from mmtrio.core.risk import TradingState
from mmtrio.runtime.reconcile import ReconcileReport, reconcile
from tests.unit.test_reconcile import IDS, FakeVenue, order, trade
from tests.unit.test_strategy import SYM, Session, quoting_session


def _halted_then_resynced() -> tuple[Session, PlaceOrder, PlaceOrder]:
    """Both quotes acknowledged, then the market stream drops (halt: CancelAll, both
    pending cancel), then the book is back: ACTIVE, but both slots wait on the cancels."""
    s, bid, ask = quoting_session()
    cmds = s.step(BookInvalid(SYM, "market stream down", s.now))
    assert any(isinstance(c, CancelAll) for c in cmds)
    for cid in (bid.client_id, ask.client_id):
        assert s.mm.orders.get(cid).state is OrderState.PENDING_CANCEL  # type: ignore[union-attr]
    cmds = s.snapshot()
    assert s.mm.status(s.now).trading_state is TradingState.ACTIVE
    assert not [c for c in cmds if isinstance(c, PlaceOrder)]  # slots held by the cancels
    return s, bid, ask


async def run(venue: FakeVenue, s: Session, *, since: int | None) -> ReconcileReport:
    """A later pass, stepped at the session's own clock: well before any cancel deadline
    (``cancel_deadline_ms`` 1 s), so nothing here is freed by the deadline."""
    return await reconcile(
        venue,
        s.mm,
        SYM,
        adopt=False,
        tolerance_lots=0,
        known_trade_ids=set(),
        is_ours=IDS.is_ours,
        clock_ms=lambda: s.now + 1,
        startup=False,
        since_trade_id=since,
        confirm_delay_s=0.0,
    )


def _no_deadline_passed(s: Session) -> None:
    deadline = s.mm.orders.next_deadline()
    assert deadline is None or s.now + 1 < deadline


def _requoted(s: Session, report: ReconcileReport) -> set[Side]:
    """The sides quoted by the pass or by the requote timer right after it (the pacing
    interval, 100 ms: far before the 1 s cancel deadline)."""
    cmds = list(report.commands)
    cmds += s.step(Timer(s.now + 150), dt=150)
    return {c.side for c in cmds if isinstance(c, PlaceOrder)}


def _ended(o: PlaceOrder, status: OrderStatus, cum: int = 0, oid: int = 1) -> OrderUpdate:
    exec_type = ExecType.CANCELED if status is OrderStatus.CANCELED else ExecType.NEW
    return OrderUpdate(
        SYM, o.client_id, oid, o.side, exec_type, status, o.price, o.qty, cum,
        TimeInForce.POST_ONLY, False, 2_000,
    )  # fmt: skip


async def test_cancels_lost_with_the_socket_free_both_slots_within_the_pass() -> None:
    s, bid, ask = _halted_then_resynced()
    venue = FakeVenue()  # the venue cancelled both; it lists nothing open
    venue.states = {
        bid.client_id: _ended(bid, OrderStatus.CANCELED),
        ask.client_id: _ended(ask, OrderStatus.CANCELED, oid=2),
    }
    _no_deadline_passed(s)
    report = await run(venue, s, since=None)
    assert sorted(report.gone) == sorted([bid.client_id, ask.client_id])
    for cid in (bid.client_id, ask.client_id):
        assert s.mm.orders.get(cid).state is OrderState.CANCELED  # type: ignore[union-attr]
    assert _requoted(s, report) == {Side.BUY, Side.SELL}
    assert "ended unseen 2" in report.summary(BTCUSDT)


async def test_one_of_them_filled_instead_its_fill_is_booked_once() -> None:
    s, bid, ask = _halted_then_resynced()
    venue = FakeVenue()
    venue.fill(trade(10, Side.BUY, qty=bid.qty, order_id=1))  # userTrades: no client id
    venue.states = {
        bid.client_id: _ended(bid, OrderStatus.FILLED, cum=bid.qty),
        ask.client_id: _ended(ask, OrderStatus.CANCELED, oid=2),
    }
    _no_deadline_passed(s)
    report = await run(venue, s, since=9)
    assert report.missed_fills == [10] and not report.halted
    assert s.mm.ledger.position_lots == bid.qty and s.mm.status(s.now).ledger.fills == 1
    assert s.mm.orders.get(bid.client_id).state is OrderState.FILLED  # type: ignore[union-attr]
    assert s.mm.orders.get(ask.client_id).state is OrderState.CANCELED  # type: ignore[union-attr]
    assert report.gone == [ask.client_id]  # the bid's fate came with its fill
    assert _requoted(s, report)
    # The next pass (and a late stream echo) books nothing more.
    again = await run(venue, s, since=9)
    assert again.missed_fills == [] and again.gone == []
    assert s.mm.status(s.now).ledger.fills == 1


async def test_an_order_the_venue_does_not_know_after_its_ack_is_gone() -> None:
    s, bid, ask = _halted_then_resynced()
    venue = FakeVenue()  # no state for either: the venue does not know them
    _no_deadline_passed(s)
    report = await run(venue, s, since=None)
    assert sorted(report.gone) == sorted([bid.client_id, ask.client_id])
    for cid in (bid.client_id, ask.client_id):
        assert s.mm.orders.get(cid).state is OrderState.CANCELED  # type: ignore[union-attr]
    assert _requoted(s, report) == {Side.BUY, Side.SELL}


async def test_an_order_still_listed_open_is_left_alone() -> None:
    s, bid, ask = quoting_session()
    venue = FakeVenue()
    venue.open = {bid.client_id: order(bid.client_id)}
    venue.states = {ask.client_id: _ended(ask, OrderStatus.CANCELED, oid=2)}
    report = await run(venue, s, since=None)
    assert report.gone == [ask.client_id]
    assert s.mm.orders.get(bid.client_id).state is OrderState.OPEN  # type: ignore[union-attr]


class _AckDuringRead(FakeVenue):
    """The places are acknowledged while the open-orders read is in flight, and the venue's
    list predates them."""

    def __init__(self, s: Session, cids: list[str]) -> None:
        super().__init__()
        self.s, self.cids, self.queried = s, cids, list[str]()

    async def open_orders(self, symbol: str) -> list[OrderUpdate]:
        for i, cid in enumerate(self.cids):
            self.s.step(PlaceAccepted(cid, 100 + i, self.s.now))
        return []

    async def query(self, symbol: str, client_id: str) -> OrderUpdate | None:
        self.queried.append(client_id)
        return await super().query(symbol, client_id)


async def test_an_order_acknowledged_after_the_read_was_sent_is_not_resolved() -> None:
    s = Session()
    places = [c for c in s.snapshot() if isinstance(c, PlaceOrder)]
    cids = [p.client_id for p in places]
    venue = _AckDuringRead(s, cids)
    report = await run(venue, s, since=None)
    assert report.gone == [] and venue.queried == []
    for cid in cids:
        assert s.mm.orders.get(cid).state is OrderState.OPEN  # type: ignore[union-attr]


async def test_a_listed_late_answer_changes_nothing() -> None:
    s, bid, _ = _halted_then_resynced()
    venue = FakeVenue()
    venue.open = {}
    venue.states = {bid.client_id: replace(_ended(bid, OrderStatus.NEW), exec_type=ExecType.NEW)}
    report = await run(venue, s, since=None)
    assert bid.client_id not in report.gone
    assert s.mm.orders.get(bid.client_id).state is OrderState.PENDING_CANCEL  # type: ignore[union-attr]


async def test_an_ended_order_is_logged_in_the_instruments_units() -> None:
    """QA on Extended: every stop logged "… CANCELED (filled 0 of 3 lots)" (the journal's
    lots) where every other operator line says the size in the base asset."""
    from loguru import logger

    s, bid, ask = _halted_then_resynced()
    venue = FakeVenue()
    venue.states = {
        bid.client_id: _ended(bid, OrderStatus.CANCELED),
        ask.client_id: _ended(ask, OrderStatus.CANCELED, cum=1, oid=2),
    }
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="INFO")
    try:
        await run(venue, s, since=None)
    finally:
        logger.remove(sink)
    said = [line for line in lines if "is not open at the venue" in line]
    assert said == [
        f"reconcile: {bid.client_id} is not open at the venue: CANCELED (filled 0.000 of "
        "0.003 BTC)",
        f"reconcile: {ask.client_id} is not open at the venue: CANCELED (filled 0.001 of "
        "0.003 BTC)",
    ]
