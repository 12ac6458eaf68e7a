"""The dead-man heartbeat against a venue that models the countdown (virtual time).

Issue #20, finding 2: the refresher slept ``refresh_ms`` *after* an attempt that could itself
hang for about as long, so one stalled refresh used up the whole countdown and the venue
cancelled a live bot's quotes. The venue here applies each arm when it receives it and
records every moment its countdown would have fired; a live heartbeat must never let it.
"""

from __future__ import annotations

from typing import cast

import trio
import trio.testing

from mmtrio.errors import OutcomeUnknownError, RateLimited
from mmtrio.runtime.deadman import deadman_heartbeat, first_arm
from mmtrio.venues.protocol import Gateway

SYM = "BTCUSDT"


class CountdownVenue:
    """Arms the countdown at receipt; between ``stall_from`` and ``stall_to`` (virtual s) a
    request reaches nobody and hangs ``stall_s`` before failing, like a dead TCP path."""

    def __init__(self, stall_from: float, stall_to: float, stall_s: float) -> None:
        self.stall = (stall_from, stall_to, stall_s)
        self.deadline: float | None = None
        self.fired: list[float] = []
        self.arms: list[float] = []
        self.attempts = 0
        self.rate_limit_once_at: float | None = None

    def _check(self, now: float) -> None:
        if self.deadline is not None and now >= self.deadline:
            self.fired.append(self.deadline)
            self.deadline = None

    async def arm_deadman(self, symbol: str, countdown_ms: int) -> None:
        self.attempts += 1
        now = trio.current_time()
        self._check(now)
        lo, hi, hang = self.stall
        if lo <= now < hi:
            await trio.sleep(hang)
            raise OutcomeUnknownError("read timed out")
        if self.rate_limit_once_at is not None and now >= self.rate_limit_once_at:
            self.rate_limit_once_at = None
            raise RateLimited("too many requests", code="-1003", status=429, retry_after_s=2.0)
        self.deadline = None if countdown_ms == 0 else now + countdown_ms / 1000
        if countdown_ms:
            self.arms.append(now)


async def _run(venue: CountdownVenue, seconds: float, countdown_ms: int, refresh_ms: int) -> None:
    async with trio.open_nursery() as n:
        await n.start(deadman_heartbeat, venue, SYM, countdown_ms, refresh_ms)
        await trio.sleep(seconds)
        venue._check(trio.current_time())
        n.cancel_scope.cancel()


async def test_a_stall_longer_than_one_refresh_does_not_fire_the_countdown(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # The shipped timings (30 s countdown, 10 s refresh); every request between 10 s and 24 s
    # hangs 12 s (longer than a refresh) and fails.
    venue = CountdownVenue(stall_from=10.0, stall_to=24.0, stall_s=12.0)
    await _run(venue, 120.0, 30_000, 10_000)
    assert venue.fired == [], f"countdown fired at {venue.fired}; arms at {venue.arms}"
    gaps = [b - a for a, b in zip(venue.arms, venue.arms[1:], strict=False)]
    assert max(gaps) < 30.0
    # Paced from the last success: a healthy heartbeat refreshes every 10 s, not 10 s + RTT.
    healthy = [g for a, g in zip(venue.arms, gaps, strict=False) if a >= 40.0]
    assert healthy and all(g == 10.0 for g in healthy), healthy


async def test_retries_fast_inside_the_countdown_after_a_failure(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Chaos timings (5 s countdown, 1 s refresh): requests fail for 3 s after t = 1 s.
    venue = CountdownVenue(stall_from=1.0, stall_to=4.0, stall_s=3.0)
    await _run(venue, 20.0, 5_000, 1_000)
    assert venue.fired == [], f"countdown fired at {venue.fired}; arms at {venue.arms}"
    # the first success after the stall came within a second of it ending
    after = [a for a in venue.arms if a >= 4.0]
    assert after and after[0] - 4.0 <= 1.0, venue.arms


async def test_a_429_is_waited_out_as_the_venue_asks(
    autojump_clock: trio.testing.MockClock,
) -> None:
    venue = CountdownVenue(stall_from=-1.0, stall_to=-1.0, stall_s=0.0)
    venue.rate_limit_once_at = 10.0
    await _run(venue, 30.0, 30_000, 10_000)
    assert venue.fired == []
    retry = [a for a in venue.arms if 10.0 < a < 20.0]
    assert retry and retry[0] >= 12.0, venue.arms  # not before Retry-After (2 s) ran out


class LostFirstAnswerVenue(CountdownVenue):
    """Applies the first arm and never answers it (its answer lost, as behind Hyperliquid's
    order_drop fault); then answers a failure once (a REST read timeout), then works."""

    def __init__(self) -> None:
        super().__init__(stall_from=-1.0, stall_to=-1.0, stall_s=0.0)
        self.earlier_deadline = 4.0  # the killed process's countdown, still running

    async def arm_deadman(self, symbol: str, countdown_ms: int) -> None:
        if self.attempts == 0 and self.deadline is None:
            self.deadline = self.earlier_deadline
        if self.attempts == 0:
            await super().arm_deadman(symbol, countdown_ms)  # applied at the venue...
            await trio.sleep_forever()  # ...and its answer never comes
        if self.attempts == 1:
            self.attempts += 1
            raise OutcomeUnknownError("POST /exchange: ReadTimeout after the request was sent")
        await super().arm_deadman(symbol, countdown_ms)


async def test_a_first_arm_without_an_answer_is_tried_again_as_a_refresh_is(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Hyperliquid chaos seed 20158 (6 s countdown, 1 s refresh): a restarted bot's first arm
    # was applied but its answer lost; the arm waited for the client's timeouts (4 s + 1 s)
    # and the unknown outcome then crashed the task, so the countdown fired on a live bot.
    venue = LostFirstAnswerVenue()
    async with trio.open_nursery() as n:
        with trio.fail_after(2.0):  # each attempt is bounded: armed within a few retries
            await n.start(deadman_heartbeat, venue, SYM, 6_000, 1_000)
        started = trio.current_time()
        await trio.sleep(20.0 - started)
        venue._check(trio.current_time())
        n.cancel_scope.cancel()
    assert started <= 1.0, started
    assert venue.fired == [], f"countdown fired at {venue.fired}; arms at {venue.arms}"
    assert venue.attempts >= 3 and len(venue.arms) >= 15


class SlowVenue(CountdownVenue):
    """Answers every arm, each ``answer_s`` after it was sent (a slow venue, not a dead one)."""

    def __init__(self, answer_s: float) -> None:
        super().__init__(stall_from=-1.0, stall_to=-1.0, stall_s=0.0)
        self.answer_s = answer_s

    async def arm_deadman(self, symbol: str, countdown_ms: int) -> None:
        await super().arm_deadman(symbol, countdown_ms)
        await trio.sleep(self.answer_s)


async def test_start_up_first_arm_waits_longer_for_a_venue_that_answers_slowly(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # DST seed 117631: every arm was answered after 0.67-1.39 s and abandoned at 0.5 s (half
    # the 1 s period), so start-up ran out of its 30 s. Start-up's arm doubles its bound after
    # each timeout; a restarted heartbeat keeps the fixed bound (a hung link is left in time).
    patient_venue, fixed_venue = SlowVenue(1.2), SlowVenue(1.2)
    # a fake with only the arm: first_arm uses no other Gateway method
    started = await first_arm(cast("Gateway", patient_venue), SYM, 6_000, 1_000, patient=True)
    # attempts bounded 0.5 s, 1 s, then 2 s: the third is answered
    assert patient_venue.attempts == 3, patient_venue.attempts
    assert started == trio.current_time() - 1.2
    with trio.move_on_after(30.0) as scope:
        await first_arm(cast("Gateway", fixed_venue), SYM, 6_000, 1_000)
    assert scope.cancelled_caught  # never heard: every answer comes after its attempt gave up
    assert fixed_venue.attempts >= 30, fixed_venue.attempts
