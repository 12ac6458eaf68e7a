"""The sim's 429/418 policy, with time passed in."""

from __future__ import annotations

import pytest

from mmtrio.sim.limits import LimitConfig, RateLimiter, RateLimitHit


def _status(limiter: RateLimiter, now: float) -> int:
    try:
        limiter.check(1, 0, now, wall_ms=int(now * 1000))
    except RateLimitHit as exc:
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


def test_a_429_held_back_by_a_latency_fault_counts_its_grace_from_when_it_leaves() -> None:
    # Chaos seed 7006: an injected 429 was held 1.4 s by a latency fault, and a request the
    # client sent meanwhile (it could not know) was banned. The grace now starts at sending.
    limiter = RateLimiter(LimitConfig(inflight_grace_s=0.25))
    assert limiter.forced_429(10.0, 10_000, retry_after=2.0).status == 429
    assert limiter.answer_held(10.0)  # this 429 set the back-off; it is held
    assert _status(limiter, 10.4) == 429  # sent while the answer was held: in flight
    assert _status(limiter, 11.3) == 429
    limiter.answer_sent(11.4)
    assert _status(limiter, 11.6) == 429  # within the grace after it left
    assert _status(limiter, 11.7) == 418  # the client knew, and sent anyway
    assert not limiter.answer_held(10.0)  # a later answer did not set this back-off


def _hit(limiter: RateLimiter, now: float) -> RateLimitHit:
    with pytest.raises(RateLimitHit) as caught:
        limiter.check(1, 0, now, wall_ms=int(now * 1000))
    return caught.value


def test_an_older_429_that_leaves_late_does_not_tell_of_a_back_off_extended_since() -> None:
    # DST seed 118007: a 429 decided under the first back-off (Retry-After 1 s) was held and
    # left after a second injected 429 had extended the back-off; the second one's client gave
    # up before its answer left. The bot honoured the 1 s it was told and was banned.
    limiter = RateLimiter(LimitConfig(inflight_grace_s=0.25))
    limiter.forced_429(0.0, 0, retry_after=2.0)  # back off until 2.0
    assert limiter.answer_held(0.0)
    older = _hit(limiter, 1.3)  # in flight: Retry-After ceil(0.7) = 1 s
    assert (older.status, older.retry_after_s) == (429, 1)
    limiter.forced_429(1.7, 1700, retry_after=2.0)  # extended until 3.7
    assert limiter.answer_held(1.7)  # held; its client gives up: never sent
    limiter.answer_sent(2.0, older)  # read at 2.0: "wait 1 s", i.e. until 3.0
    assert _status(limiter, 3.0) == 429  # as told: the client cannot know of 3.7
    # That 429 (Retry-After ceil(0.7) = 1 s, read at 3.0) does tell of the back-off to 3.7:
    # a client that goes on past its grace is banned, as before.
    limiter.answer_sent(3.0, _hit(limiter, 3.0))
    assert _status(limiter, 3.2) == 429  # within the grace after it left
    assert _status(limiter, 3.5) == 418
