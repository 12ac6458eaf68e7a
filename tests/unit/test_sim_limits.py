"""The sim's 429/418 policy, with time passed in."""

from __future__ import annotations

import pytest

from mmtrio.sim.limits import LimitConfig, RateLimiter
from mmtrio.sim.wire import ApiError


def _status(limiter: RateLimiter, now: float) -> int:
    try:
        limiter.check(1, 0, now, wall_ms=int(now * 1000))
    except ApiError as exc:
        return exc.status
    return 200


def test_in_flight_requests_after_a_429_get_429_not_a_ban() -> None:
    limiter = RateLimiter(LimitConfig(weight_per_minute=2, inflight_grace_s=0.25))
    assert [_status(limiter, t) for t in (0.0, 0.01, 0.02)] == [200, 200, 429]
    # Within the grace of the first 429: still 429, and the grace does not slide forward.
    assert [_status(limiter, t) for t in (0.1, 0.2, 0.3)] == [429, 429, 418]
    assert limiter.count_418 == 1


def test_a_client_that_waits_for_retry_after_is_served() -> None:
    limiter = RateLimiter(LimitConfig(weight_per_minute=1))
    assert _status(limiter, 0.0) == 200
    assert _status(limiter, 0.5) == 429
    assert _status(limiter, 60.0) == 200  # the next minute window, after Retry-After
    assert limiter.count_418 == 0


@pytest.mark.parametrize("grace", [0.0, 0.5])
def test_hammering_past_the_grace_is_banned(grace: float) -> None:
    limiter = RateLimiter(LimitConfig(weight_per_minute=1, inflight_grace_s=grace))
    _status(limiter, 0.0)
    assert _status(limiter, 1.0) == 429
    assert _status(limiter, 1.0 + grace + 0.01) == 418
    assert _status(limiter, 59.0) == 418  # banned, even once the window rolled
