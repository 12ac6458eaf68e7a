"""A dead-man refresh the venue refused with a server error: the ground truth says when, and
the chaos judge (invariant 11) counts the bot's attempt instead of calling that time usable
link. On virtual time: the real dead-man heartbeat over the real Binance session against the
real simulated venue, in memory (:mod:`mmtrio.chaos.memlinks`, as in the deterministic
simulation).

Regression for DST seed 110819: refreshed at 42.372 s; the next refresh (43.372 s) and its
retries at 43.622 and 43.872 s were answered 500 (an ``unknown_error`` fault), the one at
44.122 s drew a 429 (Retry-After 2 s) and the one at 46.122 s another, and the venue's
countdown fired at 47.383 s. The judge took 42.383-44.122 s for 1.74 s of usable link the bot
had not refreshed in, though it had tried three times and been refused each time.
"""

from __future__ import annotations

import itertools
from functools import partial

import pytest
import trio
import trio.testing

from mmtrio.chaos.barred import barred_windows
from mmtrio.chaos.deadman_checks import check_deadman
from mmtrio.chaos.evidence import ProcessRecord, Violation
from mmtrio.runtime import deadman
from tests.integration.test_ws_order_entry_backoff import SYM, clock_ms, in_memory
from tests.unit.test_chaos_deadman_checks import armed_line

pytestmark = pytest.mark.integration
COUNTDOWN_MS, REFRESH_MS = 5_000, 1_000


async def refused_then_rate_limited() -> tuple[dict[str, object], list[Violation]]:
    """The seed's faults around a running heartbeat: a refresh, then three 500s, then two
    429s (Retry-After 2 s) that outlast the countdown. The venue's ground truth and the
    judge's verdict on it."""
    async with in_memory(connected=False) as (venue, sess):
        started = clock_ms()
        async with trio.open_nursery() as nursery:
            heartbeat = partial(deadman.deadman_heartbeat, disarm_on_exit=False)
            await nursery.start(heartbeat, sess.gateway, SYM, COUNTDOWN_MS, REFRESH_MS)
            await trio.sleep(1.5)  # the first refresh went through
            venue.inject("error_code", {"count": 3, "code": -1000, "status": 500})
            while len(venue.countdown_refused) < 3:  # noqa: ASYNC110 - the venue's record
                await trio.sleep(0.01)
            venue.inject("http_429", {"count": 2, "retry_after": 2})
            while not venue.countdown_fired:  # noqa: ASYNC110 - the venue's timer
                await trio.sleep(0.01)
            nursery.cancel_scope.cancel()
        truth = venue.ground_truth()
    bot = ProcessRecord(0, started - 100, None, None, None, armed_line(started))
    verdict = check_deadman(
        truth["countdown_fired"],
        [bot],
        [],
        countdown_ms=COUNTDOWN_MS,
        refresh_ms=REFRESH_MS,
        barred=barred_windows(truth),
        refused=truth["countdown_refused"],
    )
    return truth, verdict


async def test_a_refresh_refused_with_a_server_error_is_the_venues_doing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    truth, verdict = await refused_then_rate_limited()
    refused = truth["countdown_refused"]
    # the refreshes a period after the last one that went through, and a retry after each
    assert isinstance(refused, list) and len(refused) == 3
    assert [b - a for a, b in itertools.pairwise(refused)] == [250, 250]
    assert verdict == []  # the bot tried as fast as it should; the venue said no


async def test_a_refresher_slow_after_a_refusal_is_still_blamed(
    autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pre-fix refresher's pace (issue 20): a whole period after a failed attempt.
    monkeypatch.setattr(deadman, "retry_delay", lambda refresh_s: refresh_s)
    truth, verdict = await refused_then_rate_limited()
    refused = truth["countdown_refused"]
    assert isinstance(refused, list)
    assert [b - a for a, b in itertools.pairwise(refused)] == [1_000, 1_000]
    (v,) = verdict
    assert "the longest wait after one 1000 ms" in v.message


async def test_only_a_refused_dead_man_request_is_recorded(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with in_memory(connected=False) as (venue, sess):
        venue.inject("error_code", {"count": 1, "code": -1000, "status": 500})
        with pytest.raises(Exception, match="500"):
            await sess.gateway.open_orders(SYM)
        assert venue.ground_truth()["countdown_refused"] == []
        venue.inject("error_code", {"count": 1, "code": -1000, "status": 500})
        with pytest.raises(Exception, match="500"):
            await sess.gateway.arm_deadman(SYM, COUNTDOWN_MS)
        assert venue.ground_truth()["countdown_refused"] == [clock_ms()]
        await sess.gateway.arm_deadman(SYM, COUNTDOWN_MS)  # armed: nothing more to say
        assert venue.ground_truth()["countdown_refused"] == [clock_ms()]
