"""Risk layer: limits, worst-case pre-trade checks, bands, drawdown, kill switch, guards."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest

from mmtrio.core.events import Side
from mmtrio.core.guards import (
    DrawdownTracker,
    GuardVerdict,
    KillSwitch,
    OrderFlowTracker,
    TradingState,
)
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.risk import (
    InventoryBand,
    RiskDecision,
    RiskLimits,
    RiskManager,
    band_for,
    check_amend,
    check_order,
)
from mmtrio.errors import ParameterError

PX = 300_000  # 30 000.0 USDT in BTCUSDT ticks; 1 lot = 0.001 BTC = 30 USDT here
ACTIVE = GuardVerdict(TradingState.ACTIVE, "ok")
REDUCING = GuardVerdict(TradingState.REDUCING_ONLY, "feed latency")
HALTED = GuardVerdict(TradingState.HALTED, "kill switch: operator")


def limits(**kw: object) -> RiskLimits:
    base: dict[str, object] = {
        "max_position_lots": 100,
        "max_notional": Decimal("5000"),
        "max_drawdown": Decimal("200"),
        "stale_book_ms": 2_000,
        "max_feed_latency_ms": 500,
        "max_orders_per_window": 50,
        "order_rate_window_ms": 10_000,
    }
    base.update(kw)
    return RiskLimits(**base)  # type: ignore[arg-type]


def chk(
    side: Side,
    qty: int,
    *,
    pos: int = 0,
    exposure: tuple[int, int] = (0, 0),
    state: GuardVerdict = ACTIVE,
    reduce_only: bool = False,
    mark: Decimal | None = None,
    lim: RiskLimits | None = None,
    px: int = PX,
) -> tuple[bool, str]:
    d = check_order(
        lim or limits(),
        BTCUSDT,
        state,
        side=side,
        price_ticks=px,
        qty_lots=qty,
        reduce_only=reduce_only,
        position_lots=pos,
        exposure=exposure,
        mark_price=mark,
    )
    return d.allowed, d.reason


# --- limits validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"max_position_lots": 0}, "max_position_lots"),
        ({"max_position_lots": -5}, "max_position_lots"),
        ({"max_notional": Decimal("NaN")}, "max_notional"),
        ({"max_notional": Decimal("-1")}, "max_notional"),
        ({"max_drawdown": Decimal("Infinity")}, "max_drawdown"),
        ({"stale_book_ms": -1}, "stale_book_ms"),
        ({"warn_fraction": math.nan}, "warn_fraction"),
        ({"warn_fraction": 0.9, "critical_fraction": 0.8}, "warn < critical"),
        ({"hard_fraction": 1.5}, "hard_fraction"),
        ({"max_daily_loss": Decimal("0")}, "max_daily_loss"),
        ({"max_cumulative_loss": Decimal("NaN")}, "max_cumulative_loss"),
        (
            {"max_daily_loss": Decimal("300"), "max_cumulative_loss": Decimal("200")},
            "exceeds max_cumulative_loss",
        ),
        ({"day_start_hour_utc": 24}, "day_start_hour_utc"),
        ({"max_quote_to_trade": -3.0}, "max_quote_to_trade"),
        ({"order_rate_window_ms": 1500}, "whole seconds"),
    ],
)
def test_limits_validation(kw: dict[str, object], match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        limits(**kw)


# --- pre-trade check --------------------------------------------------------------------


def test_buy_within_limits_allowed() -> None:
    assert chk(Side.BUY, 10) == (True, "order within limits")


def test_worst_case_counts_open_and_in_flight_buys() -> None:
    ok, reason = chk(Side.BUY, 11, pos=40, exposure=(50, 0))
    assert not ok
    assert "worst-case position 0.101 BTC exceeds the limit 0.100 BTC" in reason
    assert chk(Side.BUY, 10, pos=40, exposure=(50, 0))[0]


def test_open_sells_do_not_offset_buy_worst_case() -> None:
    # Sells may be cancelled or never fill: a buy's worst case ignores them.
    assert not chk(Side.BUY, 11, pos=40, exposure=(50, 500))[0]


def test_short_side_worst_case() -> None:
    ok, reason = chk(Side.SELL, 30, pos=-20, exposure=(0, 60))
    assert not ok
    assert "worst-case position -0.110 BTC" in reason


def test_order_that_shrinks_a_breached_worst_case_is_allowed() -> None:
    # Over-long after a fill overshoot: a sell must still be possible.
    assert chk(Side.SELL, 10, pos=120) == (True, "order within limits")


def test_notional_limit_uses_max_of_mark_and_price() -> None:
    # 80 lots at 30 000 = 2400 USDT; a mark of 70 000 values them at 5600 > 5000.
    assert chk(Side.BUY, 80)[0]
    ok, reason = chk(Side.BUY, 80, mark=Decimal("70000"))
    assert not ok
    assert "notional 5600" in reason and "exceeds the limit 5000" in reason


def test_reduce_only_reducing_allowed_even_when_halted() -> None:
    assert chk(Side.SELL, 30, pos=30, state=HALTED, reduce_only=True)[0]
    assert chk(Side.BUY, 5, pos=-30, state=REDUCING, reduce_only=True)[0]


def test_reduce_only_that_would_not_reduce_rejected() -> None:
    ok, reason = chk(Side.BUY, 5, pos=30, state=HALTED, reduce_only=True)
    assert not ok and "would not reduce" in reason
    assert not chk(Side.SELL, 31, pos=30, reduce_only=True)[0]
    assert not chk(Side.SELL, 1, pos=0, reduce_only=True)[0]


def test_halted_rejects_everything_else_with_reason() -> None:
    assert chk(Side.SELL, 5, pos=30, state=HALTED) == (
        False,
        "trading halted: kill switch: operator",
    )


def test_reducing_only_allows_reducing_orders_only() -> None:
    assert chk(Side.SELL, 10, pos=30, exposure=(0, 15), state=REDUCING)[0]
    # Worst case would cross zero (30 - 15 - 20 = -5): not a reducing order.
    ok, reason = chk(Side.SELL, 20, pos=30, exposure=(0, 15), state=REDUCING)
    assert not ok and "reducing only (feed latency)" in reason
    assert not chk(Side.BUY, 1, pos=30, state=REDUCING)[0]
    assert not chk(Side.BUY, 1, pos=0, state=REDUCING)[0]


def test_bad_inputs_raise() -> None:
    with pytest.raises(ParameterError, match="quantity"):
        chk(Side.BUY, 0)
    with pytest.raises(ParameterError, match="price"):
        chk(Side.BUY, 1, px=0)
    with pytest.raises(ParameterError, match="exposure"):
        chk(Side.BUY, 1, exposure=(-1, 0))
    with pytest.raises(ParameterError, match="mark price"):
        chk(Side.BUY, 1, mark=Decimal("NaN"))


def amend(
    new: int, old: int, *, pos: int, exposure: tuple[int, int], state: GuardVerdict = ACTIVE
) -> RiskDecision:
    return check_amend(
        limits(),
        BTCUSDT,
        state,
        side=Side.BUY,
        new_price_ticks=PX,
        new_remaining_lots=new,
        old_remaining_lots=old,
        reduce_only=False,
        position_lots=pos,
        exposure=exposure,
        mark_price=None,
    )


def test_amend_worst_case_counts_max_of_old_and_new() -> None:
    # Position 60, this order 20 of the 40 open buys: growing it to 21 → 60+40+1 = 101.
    d = amend(21, 20, pos=60, exposure=(40, 0))
    assert not d.allowed and d.worst_case_lots == 101
    assert amend(20, 20, pos=60, exposure=(40, 0)).allowed


def test_amend_that_shrinks_is_allowed_even_over_the_limit() -> None:
    d = amend(5, 20, pos=110, exposure=(40, 0))
    assert d.allowed and d.reason == "amend does not grow the worst case"
    assert amend(5, 20, pos=110, exposure=(40, 0), state=REDUCING).allowed
    assert not amend(5, 20, pos=110, exposure=(40, 0), state=HALTED).allowed


def test_amend_old_qty_must_be_in_exposure() -> None:
    with pytest.raises(ParameterError, match="old remaining"):
        amend(5, 20, pos=0, exposure=(10, 0))


# --- bands ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pos", "band"),
    [
        (0, InventoryBand.NORMAL),
        (49, InventoryBand.NORMAL),
        (50, InventoryBand.WARN),
        (-79, InventoryBand.WARN),
        (-80, InventoryBand.CRITICAL),
        (99, InventoryBand.CRITICAL),
        (100, InventoryBand.HARD),
        (-250, InventoryBand.HARD),
    ],
)
def test_band_for(pos: int, band: InventoryBand) -> None:
    assert band_for(pos, limits()) is band


def fresh_manager(**kw: object) -> RiskManager:
    rm = RiskManager(limits(**kw), BTCUSDT)
    rm.on_book_update(1_000)
    return rm


def test_view_bands_drive_sides_and_sizes() -> None:
    rm = fresh_manager()
    v = rm.evaluate(1_000, 0)
    assert (v.state, v.allow_bid, v.allow_ask, v.warnings) == (TradingState.ACTIVE, True, True, ())
    v = rm.evaluate(1_000, 60)
    assert v.band is InventoryBand.WARN and v.allow_bid and v.bid_size_multiplier == 1.0
    assert v.warnings == ("inventory WARN: position 0.060 of max 0.100 BTC",)
    # CRITICAL: as config.toml documents it, only the reducing side quotes.
    v = rm.evaluate(1_000, 85)
    assert v.band is InventoryBand.CRITICAL
    assert (v.allow_bid, v.allow_ask, v.bid_size_multiplier, v.ask_size_multiplier) == (
        False,
        True,
        0.0,
        1.0,
    )
    v = rm.evaluate(1_000, -85)
    assert (v.allow_bid, v.allow_ask, v.bid_size_multiplier) == (True, False, 1.0)
    v = rm.evaluate(1_000, 100)
    assert (v.allow_bid, v.allow_ask, v.bid_size_multiplier) == (False, True, 0.0)
    v = rm.evaluate(1_000, -100)
    assert (v.allow_bid, v.allow_ask) == (True, False)
    assert v.state is TradingState.ACTIVE


# --- drawdown ---------------------------------------------------------------------------


def test_drawdown_peak_survives_flat_positions() -> None:
    dd = DrawdownTracker(Decimal("100"))
    # Round trip 1: up to +80, close at +50 (flat). Round trip 2: down to -40.
    for equity in ("0", "80", "50", "20", "-40"):
        dd.update(Decimal(equity), 0)
    assert dd.peak == Decimal("80")
    assert dd.drawdown == Decimal("120")
    assert dd.breached and "drawdown 120.00 exceeds the limit 100.00" in (dd.breach_reason or "")
    dd.update(Decimal("500"), 1)  # recovery does not un-latch
    assert dd.breached


def test_drawdown_rejects_nan_equity() -> None:
    with pytest.raises(ParameterError, match="equity"):
        DrawdownTracker(Decimal("1")).update(Decimal("NaN"), 0)


def test_drawdown_breach_latches_kill_switch_and_resume_needs_override() -> None:
    rm = fresh_manager()
    assert rm.evaluate(1_000, 0, Decimal("1000")).state is TradingState.ACTIVE
    v = rm.evaluate(1_100, 0, Decimal("799"))
    assert v.state is TradingState.HALTED and "drawdown 201" in v.reason
    assert v.change is not None and v.change.to_state is TradingState.HALTED
    # Equity recovers: still halted (latched).
    assert rm.evaluate(1_200, 0, Decimal("1000")).state is TradingState.HALTED
    refused = rm.resume("operator")
    assert not refused.accepted and "loss-limit override" in refused.reason
    assert rm.evaluate(1_300, 0, Decimal("1000")).state is TradingState.HALTED
    assert rm.resume("operator accepts loss", override=True).accepted
    v = rm.evaluate(1_400, 0, Decimal("1000"))
    assert v.state is TradingState.ACTIVE
    assert v.change is not None and "resumed: operator accepts loss" in v.change.reason
    assert v.peak_equity == Decimal("1000") and v.drawdown == 0


# --- kill switch and state changes -------------------------------------------------------


def test_kill_switch_latches_until_resume() -> None:
    ks = KillSwitch()
    ks.trip("first", 5)
    ks.trip("second", 6, flatten=True)
    assert (ks.reason, ks.since, ks.flatten) == ("first", 5, True)
    with pytest.raises(ParameterError, match="reason"):
        ks.trip("", 7)
    ks.resume()
    assert not ks.tripped and ks.verdict() is None


def test_manager_kill_switch_flatten_and_history() -> None:
    rm = fresh_manager()
    rm.evaluate(1_000, 10)
    rm.trip_kill_switch("operator file flag", 1_050, flatten=True)
    v = rm.evaluate(1_100, 10)
    assert (v.state, v.allow_bid, v.allow_ask, v.flatten) == (
        TradingState.HALTED,
        False,
        False,
        True,
    )
    assert v.reason == "kill switch: operator file flag"
    # The strategy can still flatten with reduce-only orders.
    d = rm.check_order(
        1_100,
        side=Side.SELL,
        price_ticks=PX,
        qty_lots=10,
        reduce_only=True,
        position_lots=10,
        exposure=(0, 0),
        mark_price=None,
    )
    assert d.allowed
    rm.on_book_update(1_500)
    assert rm.evaluate(1_500, 0).state is TradingState.HALTED  # time alone never clears it
    assert rm.resume("operator checked").accepted
    assert rm.evaluate(1_600, 0).state is TradingState.ACTIVE
    assert [(c.from_state, c.to_state, c.ts) for c in rm.history] == [
        (TradingState.HALTED, TradingState.ACTIVE, 1_000),
        (TradingState.ACTIVE, TradingState.HALTED, 1_100),
        (TradingState.HALTED, TradingState.ACTIVE, 1_600),
    ]
    assert rm.history[1].reason == "kill switch: operator file flag"


def test_resume_needs_a_reason() -> None:
    with pytest.raises(ParameterError, match="reason"):
        fresh_manager().resume("")


# --- data guards -------------------------------------------------------------------------


def test_stale_book_halts_and_clears_on_update() -> None:
    rm = RiskManager(limits(), BTCUSDT)
    v = rm.evaluate(0, 0)
    assert v.state is TradingState.HALTED and v.reason == "no book update received yet"
    rm.on_book_update(10_000)
    assert rm.evaluate(12_000, 0).state is TradingState.ACTIVE  # exactly the limit: fresh
    v = rm.evaluate(12_001, 0)
    assert v.state is TradingState.HALTED
    assert v.reason == "book stale: last update 2001 ms ago (limit 2000 ms)"
    rm.on_book_update(12_500)
    assert rm.evaluate(12_500, 0).state is TradingState.ACTIVE


def test_book_invalid_halts_until_next_update() -> None:
    rm = fresh_manager()
    rm.on_book_invalid("sequence gap pu=5 != u=4")
    v = rm.evaluate(1_000, 0)
    assert v.state is TradingState.HALTED and "sequence gap" in v.reason
    rm.on_book_update(1_100)
    assert rm.evaluate(1_100, 0).state is TradingState.ACTIVE


def test_feed_latency_reduces_only() -> None:
    rm = fresh_manager()
    rm.on_market_message(exchange_ts=900, local_ts=1_401)
    v = rm.evaluate(1_000, 30)
    assert v.state is TradingState.REDUCING_ONLY
    assert v.reason == "feed latency 501 ms exceeds 500 ms"
    assert (v.allow_bid, v.allow_ask) == (False, True)
    assert rm.evaluate(1_000, -30).allow_bid
    assert not rm.evaluate(1_000, 0).allow_ask  # flat: nothing to reduce
    rm.on_market_message(exchange_ts=1_400, local_ts=1_450)
    assert rm.evaluate(1_450, 0).state is TradingState.ACTIVE


def test_stale_book_outranks_latency() -> None:
    rm = fresh_manager()
    rm.on_market_message(0, 10_000)
    assert rm.evaluate(10_000, 0).state is TradingState.HALTED


# --- order flow --------------------------------------------------------------------------


def test_quote_to_trade_over_window_and_warning() -> None:
    rm = fresh_manager(max_quote_to_trade=5.0)
    for t in range(1_000, 1_012):
        rm.on_order_sent(t)
    rm.on_fill(1_005)
    rm.on_fill(1_006)
    v = rm.evaluate(1_100, 0)
    assert v.quote_to_trade == 6.0
    assert v.warnings == ("quote-to-trade 6.0 above 5.0 over 10000 ms",)
    # Everything ages out of the 10 s window.
    rm.on_book_update(20_000)
    assert rm.evaluate(20_000, 0).quote_to_trade == 0.0


def test_order_flow_memory_is_bounded_and_ignores_stale_samples() -> None:
    flow = OrderFlowTracker(10_000, buckets=10)
    for t in range(0, 1_000_000, 7):
        flow.on_order(t)
    assert len(flow._orders) == 10  # bounded whatever the count
    assert flow.orders(999_999) == 1429  # ~10 s of one order per 7 ms
    flow.on_order(0)  # far older than the window: dropped, not counted
    assert flow.orders(999_999) == 1429


def test_runaway_order_rate_trips_kill_switch() -> None:
    rm = fresh_manager(max_orders_per_window=3)

    def place(now: int) -> bool:
        d = rm.check_order(
            now,
            side=Side.BUY,
            price_ticks=PX,
            qty_lots=1,
            reduce_only=False,
            position_lots=0,
            exposure=(0, 0),
            mark_price=None,
        )
        if d.allowed:
            rm.on_order_sent(now)
        return d.allowed

    assert [place(1_000 + i) for i in range(4)] == [True, True, True, False]
    v = rm.evaluate(1_010, 0)
    assert v.state is TradingState.HALTED and "runaway order rate: 4" in v.reason
    rm.on_book_update(60_000)
    assert rm.evaluate(60_000, 0).state is TradingState.HALTED  # latched


def test_worst_case_is_judged_against_the_side_not_the_position() -> None:
    # Over-long at 150 with 200 lots of sells open: worst short is -50. Another 60-lot sell
    # would make it -110: beyond the limit and further out, so rejected even though 110 < 150.
    ok, reason = chk(Side.SELL, 60, pos=150, exposure=(0, 200))
    assert not ok and "worst-case position -0.110 BTC" in reason
    assert chk(Side.SELL, 50, pos=150, exposure=(0, 200))[0]


def test_hard_band_refuses_every_increasing_order() -> None:
    # hard_fraction 0.9 of 100 lots: at 90 lots no buy may leave, even one that stays under
    # the position limit; a sell (reducing) still may.
    rm = fresh_manager(hard_fraction=0.9)
    rm.evaluate(1_000, 90)
    common: dict[str, Any] = {
        "price_ticks": 100,
        "reduce_only": False,
        "position_lots": 90,
        "mark_price": None,
    }
    buy = rm.check_order(1_000, side=Side.BUY, qty_lots=5, exposure=(0, 0), **common)
    assert not buy.allowed and "HARD band" in buy.reason
    sell = rm.check_order(1_000, side=Side.SELL, qty_lots=5, exposure=(0, 0), **common)
    assert sell.allowed
    below = rm.check_order(
        1_000,
        side=Side.BUY,
        price_ticks=100,
        qty_lots=5,
        reduce_only=False,
        position_lots=80,
        exposure=(0, 0),
        mark_price=None,
    )
    assert below.allowed


def test_daily_loss_latches_and_a_new_day_does_not_clear_it() -> None:
    day = 86_400_000
    rm = fresh_manager(max_daily_loss=Decimal("50"), max_drawdown=Decimal("1000"))
    rm.on_book_update(day)
    assert rm.evaluate(day, 0, Decimal("100")).state is TradingState.ACTIVE
    v = rm.evaluate(day + 1, 0, Decimal("49"))
    assert v.state is TradingState.HALTED and "daily loss 51.00 exceeds the limit 50.00" in v.reason
    rm.on_book_update(2 * day)
    assert rm.evaluate(2 * day, 0, Decimal("49")).state is TradingState.HALTED
    assert not rm.resume("operator").accepted
    assert rm.resume("operator accepts the day", override=True).accepted
    rm.on_book_update(2 * day + 1)
    assert rm.evaluate(2 * day + 1, 0, Decimal("49")).state is TradingState.ACTIVE
    # The override restarted the day's base at the current total: 50 more may be lost.
    assert rm.evaluate(2 * day + 2, 0, Decimal("0")).state is TradingState.ACTIVE
    assert rm.evaluate(2 * day + 3, 0, Decimal("-2")).state is TradingState.HALTED


def test_daily_base_moves_at_the_configured_hour() -> None:
    day, hour = 86_400_000, 3_600_000
    rm = fresh_manager(max_daily_loss=Decimal("50"), day_start_hour_utc=8)
    rm.on_book_update(day + 7 * hour)
    rm.evaluate(day + 7 * hour, 0, Decimal("100"))
    rm.on_book_update(day + 8 * hour)
    rm.evaluate(day + 8 * hour, 0, Decimal("60"))  # a new trading day opens at 60
    assert rm.losses.daily_loss == 0
    v = rm.evaluate(day + 9 * hour, 0, Decimal("5"))
    assert v.state is TradingState.HALTED and "daily loss 55" in v.reason


def test_cumulative_loss_counts_across_days() -> None:
    day = 86_400_000
    rm = fresh_manager(
        max_daily_loss=Decimal("40"),
        max_cumulative_loss=Decimal("70"),
        max_drawdown=Decimal("1000"),
    )
    for i, equity in enumerate(("0", "-35", "-35", "-71")):
        rm.on_book_update(i * day)
        v = rm.evaluate(i * day, 0, Decimal(equity))
    assert v.state is TradingState.HALTED and "cumulative loss 71" in v.reason
