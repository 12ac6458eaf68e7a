"""The rate budget's protective tier (core/ratelimit.py, "Tiers"): reads can never fill the
share a venue keeps for its dead-man refresh and cancels; a venue that declares no such share
budgets exactly as before; Hyperliquid's table puts its reads, refresh and cancels where the
decision in its costs.py says; the pace check start-up arms the dead-man by
(``RateBudget.pace_wait_ms``)."""

from __future__ import annotations

import pytest

from mmtrio.core.ratelimit import (
    MINUTE_MS,
    RateBudget,
    RateLimits,
    RateWindow,
    RequestCost,
)
from mmtrio.errors import ParameterError
from mmtrio.venues.hyperliquid import costs as hl

T0 = 1_750_000_000_000
W = "weight_1m"
READ = RequestCost(((W, 20),), essential=True)
REFRESH = RequestCost(((W, 1),)).protective()
QUOTE = RequestCost(((W, 1),))


def limits(protect: float) -> RateLimits:
    return RateLimits(
        (RateWindow(W, MINUTE_MS, 1200, sliding=True),),
        orders_per_minute=1200,
        protect_reserve=protect,
    )


def fill_with_reads(budget: RateBudget, at: int) -> int:
    n = 0
    while budget.try_acquire(READ, at):
        n += 1
    return n


def test_reads_stop_below_the_protective_share_and_the_refresh_still_goes() -> None:
    budget = RateBudget(limits(0.10), margin=0.8)
    assert fill_with_reads(budget, T0) == 51  # 1,020 weight: 1,200 − 5 % stop − 10 %
    assert budget.wait_ms(READ, T0) > 0
    # the refresh has the 120 between the reads' ceiling and the stop's reserve
    for i in range(120):
        assert budget.try_acquire(REFRESH, T0 + i), i
    assert not budget.try_acquire(REFRESH, T0 + 120)
    assert budget.try_acquire(READ.for_stop(), T0 + 121)  # the stop's reserve is untouched


def test_without_a_protective_share_reads_fill_the_refresh_out() -> None:
    """The old behaviour, kept for a venue that declares no share (Binance, OKX, Extended):
    reads and the refresh share the essential band, and reads can fill it."""
    budget = RateBudget(limits(0.0), margin=0.8)
    assert fill_with_reads(budget, T0) == 57  # 1,140: the hard limit less the stop's 5 %
    assert budget.wait_ms(REFRESH, T0) > 0


@pytest.mark.parametrize("protect", [0.0, 0.10])
def test_tier_ceilings(protect: float) -> None:
    budget = RateBudget(limits(protect), margin=0.8)
    reads = 1140 - round(1200 * protect)
    assert budget.ceiling(W, QUOTE) == min(960, reads)
    assert budget.ceiling(W, READ) == reads
    assert budget.ceiling(W, REFRESH) == 1140
    assert budget.ceiling(W, READ.for_stop()) == 1200


def test_quotes_never_above_reads_when_the_share_is_large() -> None:
    budget = RateBudget(limits(0.30), margin=0.8)
    assert budget.ceiling(W, READ) == 780
    assert budget.ceiling(W, QUOTE) == 780  # quotes rank below reads, whatever the margin


@pytest.mark.parametrize("bad", [-0.1, 0.95, 1.0, True, "0.1"])
def test_a_protective_share_must_leave_reads_room(bad: object) -> None:
    with pytest.raises(ParameterError):
        limits(bad)  # type: ignore[arg-type]


def test_a_protective_cost_is_essential() -> None:
    with pytest.raises(ParameterError):
        RequestCost(((W, 1),), protect=True)
    assert REFRESH.protect and REFRESH.essential
    assert REFRESH.for_stop().stop


def test_hyperliquid_reads_rank_below_its_refresh_and_cancels() -> None:
    budget = RateBudget(hl.DEFAULT_LIMITS, margin=0.8)
    read = RequestCost(((hl.WEIGHT, hl.info_weight("openOrders")),), essential=True)
    for cost in (hl.ACTION, hl.COSTS.cancel, hl.COSTS.cancel_all):
        assert cost.protect
        assert budget.ceiling(hl.WEIGHT, cost) == 1140
    assert hl.COSTS.deadman is hl.ACTION
    for cost in (hl.COSTS.query, hl.COSTS.open_orders, read):
        assert not cost.protect
        assert budget.ceiling(hl.WEIGHT, cost) == 1020
    assert budget.ceiling(hl.WEIGHT, hl.COSTS.place) == 960
    # a minute of reconciliation passes and restarts cannot take the refresh's share
    while budget.try_acquire(read, T0):
        pass
    assert budget.try_acquire(hl.ACTION, T0)
    assert budget.try_acquire(hl.COSTS.cancel, T0)


def test_the_other_venues_declare_no_protective_share() -> None:
    from mmtrio.venues.binance import costs as binance
    from mmtrio.venues.extended import costs as extended
    from mmtrio.venues.okx import costs as okx

    for table in (binance.DEFAULT_LIMITS, okx.DEFAULT_LIMITS, extended.DEFAULT_LIMITS):
        assert table.protect_reserve == 0.0
    for venue_costs in (binance.COSTS, okx.COSTS, extended.COSTS):
        assert venue_costs.deadman is None  # start-up's pace check is Hyperliquid's only


def test_pace_wait_asks_for_a_window_of_refreshes() -> None:
    budget = RateBudget(limits(0.10), margin=0.8)
    fill_with_reads(budget, T0)  # 1,020 at T0
    assert budget.pace_wait_ms(REFRESH, 1_000, T0) == 0  # 60 more fit under 1,140
    for i in range(61):  # another process's refreshes and cancels: 1,081 counted
        budget.charge(REFRESH, T0 + i)
    # 60 refreshes no longer fit: wait until enough of the reads (at T0) leave the window
    assert budget.pace_wait_ms(REFRESH, 1_000, T0 + 100) == MINUTE_MS - 100
    assert budget.pace_wait_ms(REFRESH, 10_000, T0 + 100) == 0  # 6 a minute still fit
    with pytest.raises(ParameterError):
        budget.pace_wait_ms(REFRESH, 0, T0)


def test_pace_wait_waits_out_a_block() -> None:
    budget = RateBudget(limits(0.10), margin=0.8)
    budget.on_retry_after(2.0, T0)
    assert budget.pace_wait_ms(REFRESH, 1_000, T0) == 2_000
