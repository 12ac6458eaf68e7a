"""CircuitBreaker: open after N consecutive failures, one probe when half-open, close on success."""

from __future__ import annotations

import pytest

from mmtrio.errors import ConfigError
from mmtrio.runtime.breaker import BreakerState, CircuitBreaker


def test_opens_after_threshold_consecutive_failures_only() -> None:
    b = CircuitBreaker(threshold=3, probe_interval_ms=1000)
    b.on_failure(0, "503")
    b.on_failure(1, "503")
    b.on_success(2)  # resets the streak
    b.on_failure(3, "503")
    b.on_failure(4, "503")
    assert b.state(5) is BreakerState.CLOSED and b.allow(5)
    b.on_failure(6, "timeout")
    assert b.state(7) is BreakerState.OPEN
    assert not b.allow(7)
    assert "timeout" in b.refusal_reason(7)


def test_half_open_allows_one_probe_and_closes_on_success() -> None:
    b = CircuitBreaker(threshold=1, probe_interval_ms=1000)
    b.on_failure(0, "503")
    b.on_success(500)  # a cancel answered while open: the probe decides, not this
    assert not b.allow(999)
    assert b.state(1000) is BreakerState.HALF_OPEN
    assert b.allow(1000)
    assert not b.allow(1001)  # one probe at a time
    b.on_success(1002)
    assert b.state(1002) is BreakerState.CLOSED and b.allow(1002)


def test_failed_probe_reopens_for_another_interval() -> None:
    b = CircuitBreaker(threshold=2, probe_interval_ms=1000)
    b.on_failure(0, "a")
    b.on_failure(0, "b")
    assert b.allow(1000)
    b.on_failure(1001, "c")
    st = b.status(1001)
    assert st.state is BreakerState.OPEN and st.times_opened == 2 and st.opened_at_ms == 1001
    assert not b.allow(1999)
    assert b.allow(2001)


@pytest.mark.parametrize(("threshold", "interval"), [(0, 1000), (1, 0), (True, 1000)])
def test_invalid_settings_are_named(threshold: int, interval: int) -> None:
    with pytest.raises(ConfigError, match="circuit breaker"):
        CircuitBreaker(threshold=threshold, probe_interval_ms=interval)
