"""The sim's ban rule when the chaos harness silences the link: a 429 the link held back is
read when the link returns (the grace counts from then), or never after a reset (no ban). And
when it starves the client of CPU: a 429 is read late, so its grace is the link's."""

from __future__ import annotations

from mmtrio.sim.limits import LimitConfig, RateLimiter
from tests.unit.test_sim_limits import _status


def _forced(limiter: RateLimiter, now: float, retry_after: float = 2.0) -> None:
    limiter.forced_429(now, int(now * 1000), retry_after)


def test_requests_arriving_when_a_silent_link_resumes_get_429_not_a_ban() -> None:
    limiter = RateLimiter(LimitConfig(inflight_grace_s=0.25))
    limiter.link_silent(10.0, 1.5, reset=False)
    _forced(limiter, 10.2, retry_after=5.0)  # inside the window: read at 11.5 at the earliest
    # what the client sent meanwhile arrives as the link comes back, and a request that
    # timed out just then is tried again without having read the answer
    assert [_status(limiter, t) for t in (11.5, 11.6, 12.6)] == [429, 429, 429]
    assert _status(limiter, 13.6) == 418  # it kept going long after it could have read it
    assert limiter.count_418 == 1


def test_a_429_lost_in_a_reset_link_never_bans() -> None:
    limiter = RateLimiter(LimitConfig(inflight_grace_s=0.25))
    limiter.link_silent(10.0, 1.0, reset=True)
    _forced(limiter, 10.5)  # its connection is reset at 11.0: the client never reads it
    assert [_status(limiter, t) for t in (11.2, 11.8, 12.4)] == [429, 429, 429]
    assert limiter.count_418 == 0
    assert _status(limiter, 12.6) == 200  # the back-off ended


def test_a_429_just_after_the_window_met_its_backlog() -> None:
    limiter = RateLimiter(LimitConfig(inflight_grace_s=0.25))
    limiter.link_silent(10.0, 1.0, reset=False)
    _forced(limiter, 11.1, retry_after=5.0)  # the backlog's first request, as the link returned
    assert _status(limiter, 12.5) == 429 and _status(limiter, 13.2) == 418


def test_a_429_outside_any_silent_window_keeps_the_usual_grace() -> None:
    limiter = RateLimiter(LimitConfig(inflight_grace_s=0.25))
    limiter.link_silent(1.0, 1.0, reset=True)
    _forced(limiter, 5.0)
    assert _status(limiter, 5.1) == 429 and _status(limiter, 5.4) == 418


def test_a_429_sent_to_a_starved_client_gets_the_longer_grace() -> None:
    # DST seed 100067: a place the starved bot sent before its reader reached the 429 arrived
    # 0.37 s after it and was banned with the usual 0.25 s grace.
    limiter = RateLimiter(LimitConfig(inflight_grace_s=0.25))
    limiter.client_slow(9.0, 11.6)
    _forced(limiter, 9.432, retry_after=5.0)
    assert [_status(limiter, t) for t in (9.568, 9.8, 11.0)] == [429, 429, 429]
    assert limiter.count_418 == 0
    assert _status(limiter, 11.6) == 418  # it kept going after it could have read it


def test_a_client_starved_for_the_whole_run_and_a_429_before_the_starvation() -> None:
    limiter = RateLimiter(LimitConfig(inflight_grace_s=0.25))
    _forced(limiter, 4.0, retry_after=5.0)  # before the starvation: the usual grace
    limiter.client_slow(5.0, None)
    assert _status(limiter, 4.4) == 418
    later = RateLimiter(LimitConfig(inflight_grace_s=0.25))
    later.client_slow(5.0, None)
    _forced(later, 50.0, retry_after=5.0)
    assert _status(later, 51.0) == 429 and _status(later, 52.5) == 418
