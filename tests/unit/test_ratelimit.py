"""Rate-limit budgets: clock-aligned windows, header sync, 429/418 blocks, cancel priority."""

from __future__ import annotations

import pytest

from mmtrio.core.ratelimit import (
    MINUTE_MS,
    RateBudget,
    RateLimits,
    RequestCost,
    request_cost,
)
from mmtrio.errors import ParameterError, ProtocolError

T0 = 1_700_000_040_000  # an exact minute boundary (divisible by 60 000)


def test_t0_is_a_minute_boundary() -> None:
    assert T0 % MINUTE_MS == 0


def test_orders_per_10s_window_rolls_over_on_the_boundary() -> None:
    budget = RateBudget(RateLimits(weight_1m=10_000, orders_10s=10, orders_1m=1000), margin=1.0)
    for i in range(10):
        assert budget.try_acquire(1, True, T0 + i)
    assert not budget.try_acquire(1, True, T0 + 9_999)
    assert budget.wait_ms(1, True, T0 + 9_999) == 1
    # The 10 s window is aligned to the clock: it resets at T0 + 10 000 exactly.
    assert budget.try_acquire(1, True, T0 + 10_000)


def test_minute_window_is_clock_aligned_not_sliding() -> None:
    budget = RateBudget(RateLimits(weight_1m=100), margin=1.0)
    # Spend everything in the last second of a minute...
    assert budget.try_acquire(100, False, T0 + 59_000)
    assert not budget.try_acquire(1, False, T0 + 59_999)
    # ...and the next minute starts fresh (a sliding window would still be full).
    assert budget.try_acquire(100, False, T0 + 60_000)


def test_wait_ms_points_at_the_window_end() -> None:
    budget = RateBudget(RateLimits(weight_1m=50), margin=1.0)
    assert budget.try_acquire(50, False, T0 + 12_345)
    assert budget.wait_ms(1, False, T0 + 12_345) == MINUTE_MS - 12_345


def test_header_sync_raises_local_count() -> None:
    budget = RateBudget(RateLimits(weight_1m=2400), margin=1.0)
    assert budget.try_acquire(1, False, T0)
    # Another process on the same IP used weight: the venue's count is authoritative.
    budget.update_from_headers(2399, None, None, T0 + 10)
    assert budget.usage(T0 + 10)["weight_1m"] == {
        "used": 2399,
        "limit": 2400,
        "soft_limit": 2400,
        "resets_in_ms": MINUTE_MS - 10,
    }
    assert budget.try_acquire(1, False, T0 + 11)
    assert not budget.try_acquire(1, False, T0 + 12)


def test_header_sync_never_lowers_below_what_we_sent() -> None:
    budget = RateBudget(RateLimits(weight_1m=2400, orders_10s=300, orders_1m=1200))
    for _ in range(5):
        assert budget.try_acquire(1, True, T0)
    # A stale header (processed before some of our requests) reports less.
    budget.update_from_headers(2, 2, 2, T0 + 5)
    usage = budget.usage(T0 + 5)
    assert usage["weight_1m"]["used"] == 5  # type: ignore[index]
    assert usage["orders_10s"]["used"] == 5  # type: ignore[index]
    assert usage["orders_1m"]["used"] == 5  # type: ignore[index]


def test_header_sync_rejects_malformed_counts() -> None:
    budget = RateBudget()
    with pytest.raises(ProtocolError, match="X-MBX-USED-WEIGHT-1M"):
        budget.update_from_headers(-1, None, None, T0)


def test_retry_after_blocks_everything_until_exactly_expiry() -> None:
    budget = RateBudget()
    budget.on_retry_after(7, T0 + 500)
    expiry = T0 + 500 + 7_000
    assert budget.blocked_until(T0 + 501) == expiry
    # Cancels too: a request during a 429 escalates to a 418 ban.
    assert not budget.try_acquire(1, False, expiry - 1, essential=True)
    assert not budget.try_acquire(1, True, expiry - 1)
    assert budget.wait_ms(1, False, expiry - 1) == 1
    assert budget.try_acquire(1, False, expiry)
    assert budget.usage(expiry)["blocked_for_ms"] == 0


def test_retry_after_never_shortens_an_existing_block() -> None:
    budget = RateBudget()
    budget.on_retry_after(30, T0)
    budget.on_retry_after(1, T0 + 100)
    assert budget.blocked_until(T0 + 100) == T0 + 30_000


def test_retry_after_absent_blocks_until_the_minute_ends() -> None:
    budget = RateBudget()
    budget.on_retry_after(None, T0 + 42_000)
    assert not budget.try_acquire(1, False, T0 + 59_999)
    assert budget.try_acquire(1, False, T0 + 60_000)


def test_retry_after_rejects_garbage() -> None:
    with pytest.raises(ProtocolError, match="Retry-After"):
        RateBudget().on_retry_after(float("nan"), T0)
    with pytest.raises(ProtocolError, match="Retry-After"):
        RateBudget().on_retry_after(-1, T0)


def test_418_is_a_long_block_and_flags_the_ban() -> None:
    budget = RateBudget()
    budget.on_418(T0)
    assert budget.banned
    assert budget.usage(T0)["block_reason"] == "HTTP 418 IP ban for 120000 ms"
    assert not budget.try_acquire(1, False, T0 + 119_999, essential=True)
    assert budget.try_acquire(1, False, T0 + 120_000, essential=True)
    assert not budget.banned


def test_418_with_a_longer_retry_after_uses_it() -> None:
    budget = RateBudget()
    budget.on_418(T0, retry_after_s=3600)
    assert budget.blocked_until(T0) == T0 + 3_600_000


def test_cancels_allowed_when_quotes_are_blocked_by_the_margin() -> None:
    budget = RateBudget(RateLimits(weight_1m=100, orders_10s=1000, orders_1m=1000), margin=0.8)
    granted = 0
    while budget.try_acquire(1, True, T0):  # quoting until the soft ceiling
        granted += 1
    assert granted == 80
    cancel = request_cost("DELETE", "/fapi/v1/order")
    for _ in range(20):
        assert budget.try_acquire_cost(cancel, T0)
    # The hard limit binds cancels too.
    assert not budget.try_acquire_cost(cancel, T0)
    assert budget.usage(T0)["weight_1m"]["used"] == 100  # type: ignore[index]


def test_order_count_limits_do_not_touch_cancels() -> None:
    budget = RateBudget(RateLimits(weight_1m=1000, orders_10s=3, orders_1m=1000), margin=1.0)
    for _ in range(3):
        assert budget.try_acquire(1, True, T0)
    assert not budget.try_acquire(1, True, T0)
    assert budget.try_acquire_cost(request_cost("DELETE", "/fapi/v1/order"), T0)


def test_request_that_can_never_fit_raises() -> None:
    budget = RateBudget(RateLimits(weight_1m=100), margin=0.8)
    with pytest.raises(ParameterError, match="never be sent"):
        budget.try_acquire(81, False, T0)
    assert budget.try_acquire(81, False, T0, essential=True)


def test_clock_step_back_keeps_current_counts() -> None:
    budget = RateBudget(RateLimits(weight_1m=10), margin=1.0)
    assert budget.try_acquire(10, False, T0 + MINUTE_MS)
    assert not budget.try_acquire(1, False, T0 + MINUTE_MS - 1)


def test_endpoint_weights() -> None:
    assert request_cost("GET", "/fapi/v1/depth", {"limit": 5}) == RequestCost(2)
    assert request_cost("GET", "/fapi/v1/depth", {"limit": "100"}) == RequestCost(5)
    assert request_cost("GET", "/fapi/v1/depth", {"limit": 1000}) == RequestCost(20)
    assert request_cost("GET", "/fapi/v1/depth") == RequestCost(10)  # default limit 500
    assert request_cost("GET", "/fapi/v1/openOrders", {"symbol": "BTCUSDT"}) == RequestCost(1)
    assert request_cost("GET", "/fapi/v1/openOrders") == RequestCost(40)
    assert request_cost("post", "/fapi/v1/order") == RequestCost(1, orders=1)
    assert request_cost("PUT", "/fapi/v1/order") == RequestCost(1, orders=1)
    assert request_cost("DELETE", "/fapi/v1/order") == RequestCost(1, essential=True)
    assert request_cost("DELETE", "/fapi/v1/allOpenOrders").essential
    assert request_cost("GET", "/fapi/v2/positionRisk").weight == 5
    assert request_cost("WS", "order.place") == RequestCost(1, orders=1)
    with pytest.raises(ParameterError, match="depth limit 7"):
        request_cost("GET", "/fapi/v1/depth", {"limit": 7})
    with pytest.raises(ProtocolError, match="GET /fapi/v1/klines"):
        request_cost("GET", "/fapi/v1/klines")


def test_limits_from_exchange_info() -> None:
    limits = RateLimits.from_exchange_info(
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
    assert limits == RateLimits(weight_1m=6000, orders_10s=350, orders_1m=1500)
    assert RateLimits.from_exchange_info([]) == RateLimits(2400, 300, 1200)
    with pytest.raises(ProtocolError, match="malformed"):
        RateLimits.from_exchange_info([{"rateLimitType": "ORDERS", "interval": "WEEK"}])


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_invalid_limits_rejected(bad: object) -> None:
    with pytest.raises(ParameterError, match="weight_1m"):
        RateLimits(weight_1m=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("margin", [0, 1.5, float("nan")])
def test_invalid_margin_rejected(margin: float) -> None:
    with pytest.raises(ParameterError, match="margin"):
        RateBudget(margin=margin)
