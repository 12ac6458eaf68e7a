"""Matching engine: post-only, taking, IOC, queue position, trade-through, amend, fees.

The engine is venue-neutral: a refusal is a :class:`Refusal` (with the core's reject kind);
the Binance codes the simulated venue answers with are checked here too, through the sim's
Binance front end (``sim/binance/words.py``), where they now live.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from mmtrio.core.events import (
    BookDelta,
    BookSnapshot,
    ExecType,
    OrderStatus,
    Side,
    TimeInForce,
    Trade,
)
from mmtrio.core.instruments import BTCUSDT, Instrument
from mmtrio.core.rejects import RejectKind
from mmtrio.errors import MmtrioError
from mmtrio.exchange.matching import (
    FeeSchedule,
    MatchingEngine,
    MatchingReject,
    NewOrder,
    QueueModel,
    Refusal,
)
from mmtrio.sim.binance.words import REFUSALS, api_error, status_text

BID, ASK = 600_000, 600_001  # 60000.0 / 60000.1


def engine(model: QueueModel = QueueModel.PROBABILISTIC) -> MatchingEngine:
    eng = MatchingEngine(BTCUSDT, FeeSchedule(), model)
    eng.on_snapshot(
        BookSnapshot(
            "BTCUSDT",
            bids=((BID, 10), (BID - 1, 20), (BID - 2, 30)),
            asks=((ASK, 10), (ASK + 1, 20), (ASK + 2, 30)),
            ts=0,
            seq=100,
        )
    )
    return eng


def diff(
    uid: int, bids: tuple[tuple[int, int], ...] = (), asks: tuple[tuple[int, int], ...] = ()
) -> BookDelta:
    return BookDelta("BTCUSDT", bids, asks, ts=uid, seq=uid, prev_seq=uid - 1, first_seq=uid)


def sell_trade(price: int, qty: int, tid: int = 1) -> Trade:
    return Trade("BTCUSDT", tid, price, qty, buyer_is_maker=True, ts=50)


def buy_trade(price: int, qty: int, tid: int = 1) -> Trade:
    return Trade("BTCUSDT", tid, price, qty, buyer_is_maker=False, ts=50)


def test_post_only_that_would_take_is_refused_would_take() -> None:
    eng = engine()
    with pytest.raises(MatchingReject) as exc:
        eng.place(NewOrder("a", Side.BUY, ASK, 5, TimeInForce.POST_ONLY), ts=1)
    assert exc.value.refusal is Refusal.WOULD_TAKE
    assert exc.value.refusal.kind is RejectKind.WOULD_CROSS
    assert api_error(exc.value).code == -5022  # what the sim's Binance front end answers
    assert eng.get("a") is None
    with pytest.raises(MatchingReject):
        eng.place(NewOrder("b", Side.SELL, BID, 5, TimeInForce.POST_ONLY), ts=1)


def test_post_only_rests_with_queue_ahead_equal_displayed_size() -> None:
    eng = engine()
    ups = eng.place(NewOrder("a", Side.BUY, BID, 5, TimeInForce.POST_ONLY), ts=1)
    assert [u.exec_type for u in ups] == [ExecType.NEW]
    view = eng.get("a")
    assert view is not None and view.queue_ahead == 10 and view.status is OrderStatus.NEW
    assert eng.our_levels(Side.BUY) == {BID: 5}
    # Our orders are not in the market book.
    assert eng.best_bid() == (BID, 10)


def test_gtc_taking_fills_at_market_levels_as_taker_and_consumes_them() -> None:
    eng = engine()
    ups = eng.place(NewOrder("t", Side.BUY, ASK + 1, 25, TimeInForce.GTC), ts=1)
    fills = [u.fill for u in ups if u.fill is not None]
    assert [(f.price, f.qty, f.is_maker) for f in fills] == [(ASK, 10, False), (ASK + 1, 15, False)]
    assert ups[-1].status is OrderStatus.FILLED and ups[-1].cum_qty == 25
    assert eng.market_levels(Side.SELL, 2) == [(ASK + 1, 5), (ASK + 2, 30)]
    # The next diff touching a consumed level restores the recorded size.
    eng.on_delta(diff(101, asks=((ASK, 7),)))
    assert eng.best_ask() == (ASK, 7)


def test_gtc_taking_rest_rests_at_limit() -> None:
    eng = engine()
    ups = eng.place(NewOrder("t", Side.BUY, ASK, 15, TimeInForce.GTC), ts=1)
    assert ups[-1].status is OrderStatus.PARTIALLY_FILLED
    view = eng.get("t")
    assert view is not None and view.cum_qty == 10 and view.queue_ahead == 0
    assert eng.our_levels(Side.BUY) == {ASK: 5}


def test_ioc_partial_fill_then_expires() -> None:
    eng = engine()
    ups = eng.place(NewOrder("i", Side.SELL, BID, 14, TimeInForce.IOC), ts=1)
    assert [u.exec_type for u in ups] == [ExecType.NEW, ExecType.TRADE, ExecType.EXPIRED]
    assert ups[1].fill is not None and ups[1].fill.qty == 10
    assert ups[-1].status is OrderStatus.EXPIRED and ups[-1].cum_qty == 10
    assert eng.open_orders() == []
    assert eng.our_levels(Side.SELL) == {}


@pytest.mark.parametrize("model", list(QueueModel))
def test_trades_at_our_price_eat_queue_ahead_first(model: QueueModel) -> None:
    eng = engine(model)
    eng.place(NewOrder("a", Side.BUY, BID, 5, TimeInForce.POST_ONLY), ts=1)
    assert eng.on_trade(sell_trade(BID, 6)) == []
    view = eng.get("a")
    assert view is not None and view.queue_ahead == 4
    ups = eng.on_trade(sell_trade(BID, 6, tid=2))
    assert len(ups) == 1 and ups[0].fill is not None
    assert ups[0].fill.qty == 2 and ups[0].fill.is_maker and ups[0].fill.price == BID
    # A trade on the other side (buy aggressor at the ask) does not touch our bid.
    assert eng.on_trade(buy_trade(ASK, 100, tid=3)) == []


def test_cancellation_at_level_probabilistic_advances_by_expected_value() -> None:
    eng = engine(QueueModel.PROBABILISTIC)
    eng.place(NewOrder("a", Side.BUY, BID - 2, 5, TimeInForce.POST_ONLY), ts=1)  # ahead 30
    eng.on_delta(diff(101, bids=((BID - 2, 50),)))  # +20 joins behind us: ahead 30, behind 20
    eng.on_delta(diff(102, bids=((BID - 2, 40),)))  # 10 cancelled: 10 * 30/50 = 6 ahead of us
    view = eng.get("a")
    assert view is not None and view.queue_ahead == 24


def test_cancellation_at_level_conservative_does_not_advance() -> None:
    eng = engine(QueueModel.CONSERVATIVE)
    eng.place(NewOrder("a", Side.BUY, BID - 2, 5, TimeInForce.POST_ONLY), ts=1)
    eng.on_delta(diff(101, bids=((BID - 2, 50),)))
    eng.on_delta(diff(102, bids=((BID - 2, 40),)))
    view = eng.get("a")
    assert view is not None and view.queue_ahead == 30
    # ...but never more ahead than displayed.
    eng.on_delta(diff(103, bids=((BID - 2, 12),)))
    view = eng.get("a")
    assert view is not None and view.queue_ahead == 12


def test_size_decrease_explained_by_trades_is_not_a_cancellation() -> None:
    eng = engine(QueueModel.PROBABILISTIC)
    eng.place(NewOrder("a", Side.BUY, BID - 2, 5, TimeInForce.POST_ONLY), ts=1)  # ahead 30
    eng.on_trade(sell_trade(BID - 2, 10))  # ahead 20
    eng.on_delta(diff(101, bids=((BID - 2, 20),)))  # the 10 traded, nothing cancelled
    view = eng.get("a")
    assert view is not None and view.queue_ahead == 20


def test_trade_through_our_price_fills_fully() -> None:
    eng = engine()
    eng.place(NewOrder("b", Side.BUY, BID - 1, 5, TimeInForce.POST_ONLY), ts=1)
    eng.place(NewOrder("s", Side.SELL, ASK + 1, 7, TimeInForce.POST_ONLY), ts=1)
    ups = eng.on_trade(sell_trade(BID - 2, 1))
    assert len(ups) == 1 and ups[0].client_id == "b"
    assert ups[0].status is OrderStatus.FILLED and ups[0].fill is not None
    assert ups[0].fill.price == BID - 1 and ups[0].fill.qty == 5 and ups[0].fill.is_maker
    ups = eng.on_trade(buy_trade(ASK + 2, 1, tid=2))
    assert [(u.client_id, u.cum_qty) for u in ups] == [("s", 7)]


def test_diff_moving_opposite_best_through_our_price_fills_us_as_maker() -> None:
    eng = engine()
    eng.place(NewOrder("b", Side.BUY, BID, 8, TimeInForce.POST_ONLY), ts=1)
    ups = eng.on_delta(diff(101, asks=((BID, 3),)))  # best ask now at our bid, size 3
    assert len(ups) == 1 and ups[0].fill is not None
    assert ups[0].fill.qty == 3 and ups[0].fill.price == BID and ups[0].fill.is_maker
    assert eng.best_ask() == (ASK, 10)  # the crossing size was consumed


def test_amend_loses_priority() -> None:
    eng = engine()
    eng.place(NewOrder("a", Side.BUY, BID, 5, TimeInForce.POST_ONLY), ts=1)
    eng.on_trade(sell_trade(BID, 8))
    before = eng.get("a")
    assert before is not None and before.queue_ahead == 2
    ups = eng.amend("a", BID, 4, ts=2)
    assert [u.exec_type for u in ups] == [ExecType.AMENDMENT]
    after = eng.get("a")
    assert after is not None and after.queue_ahead == 10 and after.qty == 4
    eng.amend("a", BID - 1, 4, ts=3)
    moved = eng.get("a")
    assert moved is not None and moved.queue_ahead == 20 and moved.price == BID - 1


def test_gtx_amend_that_would_cross_expires() -> None:
    eng = engine()
    eng.place(NewOrder("a", Side.BUY, BID, 5, TimeInForce.POST_ONLY), ts=1)
    ups = eng.amend("a", ASK, 5, ts=2)
    assert [(u.exec_type, u.status) for u in ups] == [(ExecType.EXPIRED, OrderStatus.EXPIRED)]
    assert eng.open_orders() == []
    with pytest.raises(MatchingReject) as exc:
        eng.amend("a", BID, 5, ts=3)
    assert exc.value.refusal is Refusal.NO_SUCH_ORDER
    assert exc.value.refusal.kind is RejectKind.UNKNOWN_ORDER
    assert api_error(exc.value).code == -2013


def test_cancel_unknown_or_closed_is_unknown_order() -> None:
    eng = engine()
    with pytest.raises(MatchingReject) as exc:
        eng.cancel("nope", ts=1)
    assert exc.value.refusal is Refusal.UNKNOWN_ORDER
    assert exc.value.refusal.kind is RejectKind.UNKNOWN_ORDER
    assert api_error(exc.value).code == -2011
    eng.place(NewOrder("a", Side.BUY, BID, 5, TimeInForce.POST_ONLY), ts=1)
    ups = eng.cancel("a", ts=2)
    assert ups[0].status is OrderStatus.CANCELED
    with pytest.raises(MatchingReject) as exc:
        eng.cancel("a", ts=3)
    assert exc.value.refusal is Refusal.UNKNOWN_ORDER
    closed = eng.get("a")
    assert closed is not None and closed.status is OrderStatus.CANCELED


def test_fees_maker_and_taker() -> None:
    eng = engine()
    ups = eng.place(NewOrder("t", Side.BUY, ASK, 10, TimeInForce.IOC), ts=1)
    taker = ups[1].fill
    assert taker is not None and not taker.is_maker
    assert taker.fee == Decimal("60000.1") * Decimal("0.010") * Decimal("0.0005")
    eng.place(NewOrder("m", Side.SELL, ASK + 1, 10, TimeInForce.POST_ONLY), ts=1)
    ups = eng.on_trade(buy_trade(ASK + 2, 1))
    maker = ups[0].fill
    assert maker is not None and maker.is_maker and maker.fee_asset == "USDT"
    assert maker.fee == Decimal("60000.2") * Decimal("0.010") * Decimal("0.0002")
    assert maker.trade_id == taker.trade_id + 1


def test_an_order_without_a_price_is_counted_at_its_notional_price() -> None:
    """A market order sweeps from the far end of the price filter; its minimum notional is
    counted at the reference price the venue gives (``notional_price``), not at that far
    end, where every sell would be too small."""
    eng = engine()
    floor = eng.instrument.min_price_ticks
    with pytest.raises(MatchingReject) as exc:  # counted at the floor: far below the minimum
        eng.place(NewOrder("s", Side.SELL, floor, 5, TimeInForce.IOC), ts=1)
    assert exc.value.refusal is Refusal.NOTIONAL_BELOW_MIN
    ups = eng.place(NewOrder("s", Side.SELL, floor, 5, TimeInForce.IOC, notional_price=BID), ts=1)
    assert sum(u.fill.qty for u in ups if u.fill is not None) == 5  # sold into the bids
    with pytest.raises(MatchingReject) as exc:  # 1 lot at the reference is still too small
        eng.place(NewOrder("t", Side.SELL, floor, 1, TimeInForce.IOC, notional_price=BID), ts=1)
    assert exc.value.refusal is Refusal.NOTIONAL_BELOW_MIN


def test_filters_and_duplicates_are_rejected() -> None:
    eng = engine()
    with pytest.raises(MatchingReject) as exc:
        eng.place(NewOrder("a", Side.BUY, BID, 1, TimeInForce.POST_ONLY), ts=1)  # 60 USDT
    assert exc.value.refusal is Refusal.NOTIONAL_BELOW_MIN
    assert exc.value.refusal.kind is RejectKind.INVALID_SIZE
    assert api_error(exc.value).code == -4164
    eng.place(NewOrder("a", Side.BUY, BID, 5, TimeInForce.POST_ONLY), ts=1)
    with pytest.raises(MatchingReject) as exc:
        eng.place(NewOrder("a", Side.BUY, BID, 5, TimeInForce.POST_ONLY), ts=1)
    assert exc.value.refusal is Refusal.DUPLICATE_CLIENT_ID
    assert api_error(exc.value).code == -4116
    with pytest.raises(MatchingReject) as exc:
        eng.place(NewOrder("r", Side.SELL, ASK, 5, TimeInForce.POST_ONLY, reduce_only=True), ts=1)
    assert exc.value.refusal is Refusal.REDUCE_ONLY
    assert exc.value.refusal.kind is RejectKind.REDUCE_ONLY
    assert api_error(exc.value).code == -2022
    # Client-id syntax is each front end's rule, not the engine's (the sim's Binance front end
    # answers -1100 for a bad newClientOrderId: tests/integration/test_sim_rest.py).
    ups = eng.place(NewOrder("any id!", Side.BUY, BID - 1, 5, TimeInForce.POST_ONLY), ts=1)
    assert [u.exec_type for u in ups] == [ExecType.NEW]
    with pytest.raises(MmtrioError):
        eng.place(NewOrder("", Side.BUY, BID - 1, 5, TimeInForce.POST_ONLY), ts=1)


def test_price_off_a_price_dependent_grid_is_refused() -> None:
    # A 5-significant-figure grid (Hyperliquid's rule): 60000.1 has 6 figures.
    inst = Instrument(
        "TESTUSDT", Decimal("0.1"), Decimal("0.001"), 1, 10**6, Decimal(5), sig_figs=5
    )
    eng = MatchingEngine(inst)
    eng.on_snapshot(BookSnapshot("TESTUSDT", ((599_990, 10),), ((600_010, 10),), ts=0))
    with pytest.raises(MatchingReject) as exc:
        eng.place(NewOrder("a", Side.BUY, 600_001, 5, TimeInForce.POST_ONLY), ts=1)
    assert exc.value.refusal is Refusal.PRICE_OFF_GRID
    assert exc.value.refusal.kind is RejectKind.INVALID_PRICE
    assert api_error(exc.value).code == -4014
    assert eng.get("a") is None
    ups = eng.place(NewOrder("a", Side.BUY, 600_000, 5, TimeInForce.POST_ONLY), ts=1)
    assert [u.exec_type for u in ups] == [ExecType.NEW]
    with pytest.raises(MatchingReject) as exc:
        eng.amend("a", 599_999, 5, ts=2)  # 59999.9: 6 figures
    assert exc.value.refusal is Refusal.PRICE_OFF_GRID
    view = eng.get("a")
    assert view is not None and view.price == 600_000  # the refused amend changed nothing


def test_every_refusal_has_a_kind_and_a_binance_code() -> None:
    for refusal in Refusal:
        assert isinstance(refusal.kind, RejectKind)
        code, msg = REFUSALS[refusal]
        assert code < 0 and msg


def test_self_trade_prevention_expires_taker() -> None:
    eng = engine()
    eng.place(NewOrder("s", Side.SELL, ASK, 5, TimeInForce.POST_ONLY), ts=1)
    ups = eng.place(NewOrder("b", Side.BUY, ASK + 2, 5, TimeInForce.GTC), ts=2)
    assert ups[-1].status is OrderStatus.EXPIRED
    assert all(u.fill is None for u in ups)
    taker = eng.get("b")
    assert taker is not None and taker.expiry_cause == "self_trade"
    # The sim's Binance front end says a self-trade expiry the way Binance does.
    assert status_text(ups[-1].status.value, taker.expiry_cause) == "EXPIRED_IN_MATCH"
    assert status_text(OrderStatus.EXPIRED.value, "ioc") == "EXPIRED"
    resting = eng.get("s")
    assert resting is not None and resting.status is OrderStatus.NEW


def test_closed_orders_are_bounded() -> None:
    eng = MatchingEngine(BTCUSDT, closed_cap=3)
    for i in range(10):
        eng.place(NewOrder(f"o{i}", Side.BUY, BID, 5, TimeInForce.POST_ONLY), ts=i)
        eng.cancel(f"o{i}", ts=i)
    assert eng.get("o9") is not None and eng.get("o7") is not None
    assert eng.get("o6") is None


def test_cancel_all_and_expire() -> None:
    eng = engine()
    eng.place(NewOrder("a", Side.BUY, BID, 5, TimeInForce.POST_ONLY), ts=1)
    eng.place(NewOrder("b", Side.SELL, ASK, 5, TimeInForce.POST_ONLY), ts=1)
    eng.place(NewOrder("c", Side.SELL, ASK + 1, 5, TimeInForce.POST_ONLY), ts=1)
    ups = eng.expire("c", ts=2)
    assert ups[0].status is OrderStatus.EXPIRED
    ups = eng.cancel_all(ts=3)
    assert [u.client_id for u in ups] == ["a", "b"]
    assert eng.open_orders() == [] and eng.our_levels(Side.BUY) == {}
