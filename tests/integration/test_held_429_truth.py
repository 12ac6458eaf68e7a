"""A 429 whose answer a delay fault held: the client counts Retry-After from when it reads it,
and the ground truth says when that was, so the chaos judge bars the bot as long as it
waited. On virtual time: the real Binance session against the real simulated venue, in
memory (:mod:`mmtrio.chaos.memlinks`, as in the deterministic simulation).

Regression for DST seed 104568: the reconciler's ``openOrders`` drew a 429 (Retry-After 2 s)
decided at 8.399 s and held 959 ms; the bot read it at 9.358 s and sent nothing, its dead-man
refresh included, until 11.358 s, but the judge barred it only until 10.399 s, took the rest
for usable link, and blamed the bot when the venue's countdown fired at 11.35 s.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import trio
import trio.testing

from mmtrio.chaos.barred import barred_windows
from mmtrio.errors import RateLimited
from mmtrio.venues.binance.venue import BinanceSession
from tests.integration.test_ws_order_entry_backoff import SYM, clock_ms, in_memory, place

pytestmark = pytest.mark.integration
HELD_MS, RETRY_S = 959, 2


def deadman_refresh(sess: BinanceSession) -> Awaitable[object]:
    """POST /fapi/v1/countdownCancelAll (REST), as the dead-man heartbeat sends it."""
    return sess.gateway.arm_deadman(SYM, 5_000)


def order_over_the_socket(sess: BinanceSession) -> Awaitable[object]:
    """order.place over the order socket (ws-fapi: ``retryAfter`` is an epoch there)."""
    return sess.gateway.place(place(sess, "held-429"))


@pytest.mark.parametrize("request_of", [deadman_refresh, order_over_the_socket])
async def test_a_held_429s_wait_is_barred_until_retry_after_past_its_reading(
    autojump_clock: trio.testing.MockClock,
    request_of: Callable[[BinanceSession], Awaitable[object]],
) -> None:
    async with in_memory() as (venue, sess):
        venue.inject("http_429", {"count": 1, "retry_after": RETRY_S})
        venue.inject("delay", {"count": 1, "ms": HELD_MS})
        with pytest.raises(RateLimited):
            await request_of(sess)
        read_ms = clock_ms()
        (event,) = venue.ground_truth()["rate_limits"]["events"]
        assert read_ms - event["wall_ms"] >= HELD_MS  # the answer was held on its way out
        assert event["sent_ms"] == read_ms  # and the truth says when it left
        # The bot waits Retry-After from when it read the answer ...
        await trio.sleep(RETRY_S - 0.05)
        with pytest.raises(RateLimited):
            sess.rest.check_blocked()
        # ... and the judge bars it as long: no "usable link" it was told not to use.
        barred_until = max(hi for lo, hi in barred_windows(venue.ground_truth()) if lo <= read_ms)
        assert barred_until >= read_ms + 1_000 * RETRY_S
