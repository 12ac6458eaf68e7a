"""Rate-limit budgets over declared windows (core) and Binance's tables (venue package):
clock-aligned windows, usage sync, 429/ban blocks, cancel priority, endpoint costs."""

from __future__ import annotations

import pytest

from mmtrio.core.ratelimit import MINUTE_MS, RateBudget, RateLimits, RateWindow, RequestCost
from mmtrio.errors import ParameterError, ProtocolError
from mmtrio.venues.binance.costs import (
    DEFAULT_LIMITS,
    ORDERS_1M,
    ORDERS_10S,
    TEN_SECONDS_MS,
    WEIGHT,
    limits_from_exchange_info,
    order,
    request_cost,
    usage_from_headers,
    weight,
)

T0 = 1_700_000_040_000  # an exact minute boundary (divisible by 60 000)


def limits(w: int = 2400, o10: int = 300, o1m: int = 1200) -> RateLimits:
    return RateLimits(
        (
            RateWindow(WEIGHT, MINUTE_MS, w),
            RateWindow(ORDERS_10S, TEN_SECONDS_MS, o10),
            RateWindow(ORDERS_1M, MINUTE_MS, o1m),
        ),
        orders_per_minute=o1m,
    )


Q = order()  # a new order: 1 weight, 1 order in each order window
W1 = weight(1)


def test_t0_is_a_minute_boundary() -> None:
    assert T0 % MINUTE_MS == 0


def test_orders_per_10s_window_rolls_over_on_the_boundary() -> None:
    budget = RateBudget(limits(w=10_000, o10=10, o1m=1000), margin=1.0, stop_reserve=0.0)
    for i in range(10):
        assert budget.try_acquire(Q, T0 + i)
    assert not budget.try_acquire(Q, T0 + 9_999)
    assert budget.wait_ms(Q, T0 + 9_999) == 1
    # The 10 s window is aligned to the clock: it resets at T0 + 10 000 exactly.
    assert budget.try_acquire(Q, T0 + 10_000)


def test_minute_window_is_clock_aligned_not_sliding() -> None:
    budget = RateBudget(limits(w=100), margin=1.0, stop_reserve=0.0)
    assert budget.try_acquire(weight(100), T0 + 59_000)
    assert not budget.try_acquire(W1, T0 + 59_999)
    # The next minute starts fresh (a sliding window would still be full).
    assert budget.try_acquire(weight(100), T0 + 60_000)


def test_wait_ms_points_at_the_window_end() -> None:
    budget = RateBudget(limits(w=50), margin=1.0, stop_reserve=0.0)
    assert budget.try_acquire(weight(50), T0 + 12_345)
    assert budget.wait_ms(W1, T0 + 12_345) == MINUTE_MS - 12_345


def test_reported_usage_raises_local_count() -> None:
    budget = RateBudget(limits(), margin=1.0, stop_reserve=0.0)
    assert budget.try_acquire(W1, T0)
    # Another process on the same IP used weight: the venue's count is authoritative.
    budget.update_from_usage(usage_from_headers(2399, None, None), T0 + 10)
    assert budget.usage(T0 + 10)[WEIGHT] == {
        "used": 2399,
        "limit": 2400,
        "soft_limit": 2400,
        "resets_in_ms": MINUTE_MS - 10,
    }
    assert budget.try_acquire(W1, T0 + 11)
    assert not budget.try_acquire(W1, T0 + 12)


def test_reported_usage_never_lowers_below_what_we_sent() -> None:
    budget = RateBudget(limits())
    for _ in range(5):
        assert budget.try_acquire(Q, T0)
    # A stale report (processed before some of our requests) says less.
    budget.update_from_usage(usage_from_headers(2, 2, 2), T0 + 5)
    usage = budget.usage(T0 + 5)
    for name in (WEIGHT, ORDERS_10S, ORDERS_1M):
        assert usage[name]["used"] == 5  # type: ignore[index]


def test_reported_usage_rejects_malformed_counts_and_ignores_unknown_windows() -> None:
    budget = RateBudget(limits())
    with pytest.raises(ProtocolError, match=WEIGHT):
        budget.update_from_usage({WEIGHT: -1}, T0)
    budget.update_from_usage({"some_other_venue_window": 7}, T0)  # not ours to count
    assert budget.usage(T0)[WEIGHT]["used"] == 0  # type: ignore[index]


def test_retry_after_blocks_everything_until_exactly_expiry() -> None:
    budget = RateBudget(limits())
    budget.on_retry_after(7, T0 + 500)
    expiry = T0 + 500 + 7_000
    assert budget.blocked_until(T0 + 501) == expiry
    # Cancels too: a request during a 429 escalates to a 418 ban.
    assert not budget.try_acquire(weight(1, essential=True), expiry - 1)
    assert not budget.try_acquire(Q, expiry - 1)
    assert budget.wait_ms(W1, expiry - 1) == 1
    assert budget.try_acquire(W1, expiry)
    assert budget.usage(expiry)["blocked_for_ms"] == 0


def test_retry_after_never_shortens_an_existing_block() -> None:
    budget = RateBudget(limits())
    budget.on_retry_after(30, T0)
    budget.on_retry_after(1, T0 + 100)
    assert budget.blocked_until(T0 + 100) == T0 + 30_000


def test_retry_after_absent_blocks_until_the_longest_window_ends() -> None:
    budget = RateBudget(limits())
    budget.on_retry_after(None, T0 + 42_000)
    assert not budget.try_acquire(W1, T0 + 59_999)
    assert budget.try_acquire(W1, T0 + 60_000)


def test_retry_after_rejects_garbage() -> None:
    with pytest.raises(ProtocolError, match="Retry-After"):
        RateBudget(limits()).on_retry_after(float("nan"), T0)
    with pytest.raises(ProtocolError, match="Retry-After"):
        RateBudget(limits()).on_retry_after(-1, T0)


def test_a_ban_is_a_long_block_and_flags_it() -> None:
    budget = RateBudget(DEFAULT_LIMITS)
    budget.on_ban(T0)
    assert budget.banned
    assert budget.usage(T0)["block_reason"] == "banned for 120000 ms"
    assert not budget.try_acquire(weight(1, essential=True), T0 + 119_999)
    assert budget.try_acquire(weight(1, essential=True), T0 + 120_000)
    assert not budget.banned


def test_a_ban_with_a_longer_retry_after_uses_it() -> None:
    budget = RateBudget(DEFAULT_LIMITS)
    budget.on_ban(T0, retry_after_s=3600)
    assert budget.blocked_until(T0) == T0 + 3_600_000


def test_cancels_allowed_when_quotes_are_blocked_by_the_margin() -> None:
    budget = RateBudget(limits(w=100, o10=1000, o1m=1000), margin=0.8)
    granted = 0
    while budget.try_acquire(Q, T0):  # quoting until the soft ceiling
        granted += 1
    assert granted == 80
    cancel = request_cost("DELETE", "/fapi/v1/order")
    for _ in range(15):
        assert budget.try_acquire(cancel, T0)
    # Cancels leave the last 5 % to a stop's cancel-all and its confirmation (STOP_RESERVE)...
    assert not budget.try_acquire(cancel, T0)
    for _ in range(5):
        assert budget.try_acquire(cancel.for_stop(), T0)
    # ... and the hard limit binds those too.
    assert not budget.try_acquire(cancel.for_stop(), T0)
    assert budget.usage(T0)[WEIGHT]["used"] == 100  # type: ignore[index]


def test_order_count_limits_do_not_touch_cancels() -> None:
    budget = RateBudget(limits(w=1000, o10=3, o1m=1000), margin=1.0, stop_reserve=0.0)
    for _ in range(3):
        assert budget.try_acquire(Q, T0)
    assert not budget.try_acquire(Q, T0)
    assert budget.try_acquire(request_cost("DELETE", "/fapi/v1/order"), T0)


def test_request_that_can_never_fit_raises() -> None:
    budget = RateBudget(limits(w=100), margin=0.8)
    with pytest.raises(ParameterError, match="never be sent"):
        budget.try_acquire(weight(81), T0)
    assert budget.try_acquire(weight(81, essential=True), T0)


def test_a_cost_naming_an_undeclared_window_is_a_table_bug() -> None:
    budget = RateBudget(limits())
    with pytest.raises(ParameterError, match="do not declare"):
        budget.try_acquire(RequestCost((("orders_per_day", 1),)), T0)


def test_clock_step_back_keeps_current_counts() -> None:
    budget = RateBudget(limits(w=10), margin=1.0, stop_reserve=0.0)
    assert budget.try_acquire(weight(10), T0 + MINUTE_MS)
    assert not budget.try_acquire(W1, T0 + MINUTE_MS - 1)


def test_binance_endpoint_costs() -> None:
    assert request_cost("GET", "/fapi/v1/depth", {"limit": 5}) == weight(2)
    assert request_cost("GET", "/fapi/v1/depth", {"limit": "100"}) == weight(5)
    assert request_cost("GET", "/fapi/v1/depth", {"limit": 1000}) == weight(20)
    assert request_cost("GET", "/fapi/v1/depth") == weight(10)  # default limit 500
    assert request_cost("GET", "/fapi/v1/openOrders", {"symbol": "BTCUSDT"}) == weight(1)
    assert request_cost("GET", "/fapi/v1/openOrders") == weight(40)
    assert request_cost("post", "/fapi/v1/order") == order()
    assert request_cost("PUT", "/fapi/v1/order").of(ORDERS_10S) == 1
    assert request_cost("DELETE", "/fapi/v1/order") == weight(1, essential=True)
    assert request_cost("DELETE", "/fapi/v1/allOpenOrders").essential
    assert request_cost("GET", "/fapi/v2/positionRisk").of(WEIGHT) == 5
    assert request_cost("WS", "order.place") == order()
    with pytest.raises(ParameterError, match="depth limit 7"):
        request_cost("GET", "/fapi/v1/depth", {"limit": 7})
    with pytest.raises(ProtocolError, match="GET /fapi/v1/klines"):
        request_cost("GET", "/fapi/v1/klines")


def test_binance_limits_from_exchange_info() -> None:
    got = limits_from_exchange_info(
        [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 6000,
            },
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1500},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 350},
        ]
    )
    assert got == limits(6000, 350, 1500)
    assert got.orders_per_minute == 1500
    assert limits_from_exchange_info([]) == DEFAULT_LIMITS
    with pytest.raises(ProtocolError, match="malformed"):
        limits_from_exchange_info([{"rateLimitType": "ORDERS", "interval": "WEEK"}])


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_invalid_windows_rejected(bad: object) -> None:
    with pytest.raises(ParameterError, match="limit"):
        RateWindow(WEIGHT, MINUTE_MS, bad)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="orders_per_minute"):
        RateLimits((RateWindow(WEIGHT, MINUTE_MS, 1),), orders_per_minute=bad)  # type: ignore[arg-type]


def test_window_names_must_be_unique() -> None:
    with pytest.raises(ParameterError, match="unique"):
        RateLimits(
            (RateWindow(WEIGHT, MINUTE_MS, 1), RateWindow(WEIGHT, 1_000, 2)), orders_per_minute=1
        )


@pytest.mark.parametrize("margin", [0, 1.5, float("nan")])
def test_invalid_margin_rejected(margin: float) -> None:
    with pytest.raises(ParameterError, match="margin"):
        RateBudget(limits(), margin=margin)


def test_a_sliding_window_frees_units_as_each_entry_leaves() -> None:
    t0 = 1_796_357_820_000  # a minute boundary
    limits = RateLimits((RateWindow("w", MINUTE_MS, 100, sliding=True),), orders_per_minute=1)
    b = RateBudget(limits, margin=1.0, stop_reserve=0.0)
    thirty = RequestCost((("w", 30),))
    for t in (0, 10_000, 20_000):
        assert b.try_acquire(thirty, t0 + t)
    assert b.wait_ms(thirty, t0 + 30_000) == 30_000  # the first 30 leave at 60 s
    assert b.wait_ms(RequestCost((("w", 70),)), t0 + 30_000) == 40_000  # two entries must
    # At the next clock minute a fixed window would start from zero; here 60 still count.
    assert b.usage(t0 + MINUTE_MS)["w"]["used"] == 60  # type: ignore[index]
    assert b.try_acquire(thirty, t0 + MINUTE_MS)
    assert not b.try_acquire(RequestCost((("w", 11),)), t0 + MINUTE_MS)
