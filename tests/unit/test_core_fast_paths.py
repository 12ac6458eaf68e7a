"""The core's hot-path shortcuts give the answers of the general code they bypass.

Every shortcut (an inlined argument check, a cached equity, one scan instead of two, the
KEEP actions left out for the emitter) is held here to the general path on the same
inputs: the same values to the bit, the same errors with the same messages.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal

import pytest

from mmtrio.core.book import OrderBook
from mmtrio.core.defence import DefenceParams, MarkoutDefence
from mmtrio.core.estimator_base import NotEnoughData
from mmtrio.core.events import (
    BookDelta,
    BookSnapshot,
    ExecType,
    Fill,
    OrderStatus,
    OrderUpdate,
    Side,
    TimeInForce,
)
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.intensity import IntensityEstimator
from mmtrio.core.ledger import Ledger
from mmtrio.core.microprice import microprice
from mmtrio.core.orders import Order, OrderTracker
from mmtrio.core.quoting import Quote
from mmtrio.core.slots import ActionKind, Tolerances, reconcile
from mmtrio.core.volatility import EwmaVolatility
from mmtrio.errors import BookError, ParameterError

# --- argument checks inlined for the usual case -------------------------------------------


def test_microprice_of_the_books_int_touch_is_the_float_answer() -> None:
    for bid, bq, ask, aq in ((100, 3, 102, 5), (281_451, 1, 281_452, 40_000), (7, 9, 8, 1)):
        assert microprice(bid, bq, ask, aq) == microprice(
            float(bid), float(bq), float(ask), float(aq)
        )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 3, 102, 5), "bid price must be positive and finite, got 0"),
        ((100, 0, 102, 5), "bid size must be positive and finite, got 0"),
        ((100, 3, 102, -5), "ask size must be positive and finite, got -5"),
        ((100, True, 102, 5), "bid size must be a number, got True"),
        ((102, 3, 100, 5), "book is crossed or locked"),
    ],
)
def test_microprice_refuses_what_it_refused(args: tuple[int, int, int, int], message: str) -> None:
    bid, bq, ask, aq = args
    with pytest.raises(ParameterError, match=message):
        microprice(bid, bq, ask, aq)


def test_intensity_takes_int_prices_and_refuses_bad_ones_as_before() -> None:
    def fed(price_type: type) -> IntensityEstimator:
        est = IntensityEstimator(60_000, 50.0, 5, fallback_a=1.0, fallback_k=0.5)
        for i in range(200):
            est.on_mid(price_type(1000 + i % 3), 10 * i)
            est.on_trade(price_type(1000 + i % 7), Side.BUY if i % 2 else Side.SELL, 10 * i + 5)
        return est

    assert fed(int).fit() == fed(float).fit()
    est = fed(float)
    for bad in (-1.0, 0.0, math.nan, math.inf):
        with pytest.raises(ParameterError, match="trade price must be positive and finite"):
            est.on_trade(bad, Side.BUY, 5_000)
        with pytest.raises(ParameterError, match="mid must be positive and finite"):
            est.on_mid(bad, 5_000)
    with pytest.raises(ParameterError, match="time must be int ms, got True"):
        est.on_trade(1000.0, Side.BUY, True)
    with pytest.raises(ParameterError, match=r"time must be int ms, got 5\.0"):
        est.on_mid(1000.0, 5.0)  # type: ignore[arg-type]


def test_an_earlier_time_never_moves_the_intensity_clock_back() -> None:
    a = IntensityEstimator(1_000, 50.0, 1, fallback_a=1.0, fallback_k=0.5)
    b = IntensityEstimator(1_000, 50.0, 1, fallback_a=1.0, fallback_k=0.5)
    for est in (a, b):
        est.on_mid(1000.0, 0)
        est.on_trade(1001.0, Side.BUY, 900)
        est.on_trade(1003.0, Side.SELL, 950)
    a.on_trade(1002.0, Side.BUY, 500)  # late: the window still ends at 950
    a.on_mid(1000.0, 400)
    b.on_trade(1002.0, Side.BUY, 500)
    assert a.fit() == b.fit()
    assert a.fit(5_000) == b.fit(5_000)  # both windows now empty of the old arrivals


def test_ewma_sigma_price_is_sigma_times_the_last_mid() -> None:
    vol = EwmaVolatility(10_000.0, 5)
    assert isinstance(vol.sigma_price(1000.0), NotEnoughData)
    mids = [100_000.0 + 3.5 * math.sin(i / 3) for i in range(50)]
    for i, mid in enumerate(mids):
        vol.update(mid, 7 * i)
    sig = vol.sigma(1000.0)
    assert isinstance(sig, float)
    assert vol.sigma_price(1000.0) == sig * mids[-1]
    assert vol.sigma_price(250) == vol.sigma(250) * mids[-1]  # type: ignore[operator]
    with pytest.raises(ParameterError, match="volatility unit"):
        vol.sigma_price(-1.0)


def test_ewma_update_refuses_what_it_refused() -> None:
    vol = EwmaVolatility(10_000.0, 5)
    vol.update(100, 10)  # an int mid is a mid
    with pytest.raises(ParameterError, match="older than the previous one at 10 ms"):
        vol.update(100.0, 9)
    with pytest.raises(ParameterError, match="time must be int ms, got False"):
        vol.update(100.0, False)
    with pytest.raises(ParameterError, match="mid must be positive and finite"):
        vol.update(math.nan, 11)
    vol.update(101.0, 10)  # the same millisecond: no return, the clock does not move
    vol.update(102.0, 20)
    assert vol.n_returns == 1


def test_a_bad_book_level_names_its_message_only_when_raised() -> None:
    book = OrderBook("BTCUSDT")
    with pytest.raises(BookError, match=r"^BTCUSDT snapshot asks: level \(5 ticks, -1 lots\)"):
        book.apply_snapshot(BookSnapshot("BTCUSDT", ((4, 1),), ((5, -1),), 1, 3))
    book.apply_snapshot(BookSnapshot("BTCUSDT", ((4, 1),), ((6, 2),), 1, 3))
    with pytest.raises(BookError, match=r"^BTCUSDT delta 4 bids: level \(0 ticks, 1 lots\)"):
        book.apply_delta(BookDelta("BTCUSDT", ((0, 1),), (), 2, seq=4, prev_seq=3))


# --- the order tracker and the reconciliation ---------------------------------------------


def _update(cid: str, status: OrderStatus, ts: int, side: Side = Side.BUY) -> OrderUpdate:
    return OrderUpdate(
        "BTCUSDT",
        cid,
        77,
        side,
        ExecType.NEW,
        status,
        1000,
        10,
        0,
        TimeInForce.POST_ONLY,
        False,
        ts,
        None,
    )


def _holders_the_long_way(tr: OrderTracker) -> tuple[list[Order], list[Order]]:
    holders = [o for o in tr.live_orders() if tr.slot_order(o.slot) is o]
    return holders, tr.orphans()


def test_slot_holders_are_the_slot_owners_and_the_orphans() -> None:
    tr = OrderTracker()
    tr.new_order("a", (Side.BUY, 0), Side.BUY, 1000, 10, TimeInForce.POST_ONLY, False, ts=1)
    tr.new_order("b", (Side.SELL, 0), Side.SELL, 1002, 10, TimeInForce.POST_ONLY, False, ts=1)
    tr.on_event(_update("a", OrderStatus.NEW, 2))
    assert tr.slot_holders() == _holders_the_long_way(tr)
    # a's cancel times out: UNKNOWN, its slot freed (neither a holder nor an orphan)
    tr.request_cancel("a", 10, 20)
    assert tr.expire_cancels(20) == ["a"]
    assert tr.slot_holders() == _holders_the_long_way(tr) == ([tr.get("b")], [])
    tr.new_order("c", (Side.BUY, 0), Side.BUY, 999, 5, TimeInForce.POST_ONLY, False, ts=21)
    # the query finds a still open: an orphan now, c holds the slot
    tr.on_event(_update("a", OrderStatus.NEW, 30))
    holders, orphans = tr.slot_holders()
    assert (holders, orphans) == _holders_the_long_way(tr)
    assert [o.client_id for o in holders] == ["b", "c"]
    assert [o.client_id for o in orphans] == ["a"]


def test_reconcile_without_keeps_is_reconcile_less_its_keeps() -> None:
    def order(cid: str, side: Side, level: int, price: int, state: OrderStatus) -> Order:
        tr = OrderTracker()
        tr.new_order(cid, (side, level), side, price, 4, TimeInForce.POST_ONLY, False, ts=1)
        tr.on_event(_update(cid, state, 2, side))
        found = tr.get(cid)
        assert found is not None
        return found

    held = {
        (Side.BUY, 0): order("b0", Side.BUY, 0, 1000, OrderStatus.NEW),  # kept
        (Side.BUY, 1): order("b1", Side.BUY, 1, 990, OrderStatus.NEW),  # repriced
        (Side.SELL, 0): order("s0", Side.SELL, 0, 1010, OrderStatus.NEW),  # not quoted
        (Side.SELL, 2): order("s2", Side.SELL, 2, 1030, OrderStatus.NEW),  # kept
    }
    desired = {
        (Side.BUY, 0): Quote(Side.BUY, 0, 1000, 4),
        (Side.BUY, 1): Quote(Side.BUY, 1, 995, 4),
        (Side.SELL, 1): Quote(Side.SELL, 1, 1020, 4),  # free slot, paced
        (Side.SELL, 2): Quote(Side.SELL, 2, 1030, 4),
        (Side.SELL, 3): Quote(Side.SELL, 3, 1040, 4),  # free slot
    }
    tol = Tolerances(1, 0, 100, True)
    paced = {(Side.SELL, 1): 50}
    full = reconcile(desired, held, now=100, last_action=paced, tol=tol)
    lean = reconcile(desired, held, now=100, last_action=paced, tol=tol, keeps=False)
    assert [a.kind for a in full].count(ActionKind.KEEP) == 2
    assert lean == [a for a in full if a.kind is not ActionKind.KEEP]
    assert {a.kind for a in lean} == {
        ActionKind.CANCEL,
        ActionKind.AMEND,
        ActionKind.PLACE,
        ActionKind.WAIT,
    }


# --- the equity, cached between its inputs' changes ---------------------------------------


def _fill(trade_id: int, side: Side, price: str, qty: str, fee: str, asset: str) -> Fill:
    return Fill(
        "BTCUSDT",
        trade_id,
        f"c{trade_id}",
        trade_id,
        side,
        BTCUSDT.price_to_ticks(price),
        BTCUSDT.qty_to_lots(qty),
        Decimal(fee),
        asset,
        True,
        trade_id,
    )


def _fresh_equity(led: Ledger) -> Decimal:
    """The equity computed anew (equity_at shares nothing with equity's cache)."""
    return led.equity_at(led.valuation_price())


def test_equity_follows_every_input_and_prints_as_a_fresh_computation() -> None:
    led = Ledger(BTCUSDT)
    steps: list[Callable[[], object]] = [
        lambda: None,
        lambda: led.on_fill(_fill(1, Side.BUY, "60000.0", "0.010", "0.12", "USDT"), None),
        lambda: led.mark(Decimal("60010.0")),
        lambda: led.mark(Decimal("60010.00")),  # equal value, another exponent
        lambda: led.on_fill(_fill(2, Side.SELL, "60020.0", "0.004", "0.05", "USDT"), None),
        lambda: led.on_funding(Decimal("-0.013"), ts=9),
        lambda: led.on_fill(_fill(3, Side.SELL, "60030.0", "0.006", "0.001", "BNB"), None),
        lambda: led.on_asset_price("BNB", Decimal("500.5")),
        lambda: led.mark(Decimal("59990.0")),
    ]
    seen = []
    for step in steps:
        step()
        first, again = led.equity(), led.equity()
        assert str(first) == str(again) == str(_fresh_equity(led))
        seen.append(str(first))
    assert len(set(seen)) >= 6  # the inputs did move it


# --- the markout defence's both-sides shortcut ---------------------------------------------


def test_extra_ticks_both_is_each_side_asked_alone_to_the_bit() -> None:
    p = DefenceParams(markout_half_life_ms=5_000, markout_threshold_ticks=0.2, markout_gain=1.5)
    both, alone = MarkoutDefence(), MarkoutDefence()
    markouts = [(Side.BUY, -2.5), (Side.SELL, 0.7), (Side.BUY, -1.1), (Side.SELL, -3.3)]
    t = 0
    for i in range(400):
        t += 37 + i % 11
        if i % 23 == 0:
            side, ticks = markouts[(i // 23) % len(markouts)]
            for d in (both, alone):
                d.on_markout(side, ticks, t, p.markout_half_life_ms)
        assert both.extra_ticks_both(t, p) == (
            alone.extra_ticks(Side.BUY, t, p),
            alone.extra_ticks(Side.SELL, t, p),
        )
    assert both._sum == alone._sum and both._weight == alone._weight
