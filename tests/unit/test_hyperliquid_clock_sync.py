"""Hyperliquid's clock sync times the round trip of the copy the venue answered.

The offset (venue − local) is the ``time`` of ``clearinghouseState`` minus the midpoint of
the round trip. At start-up a read is retried through 429 back-offs and failed copies
(``on_read_retry``); timed from the first attempt, those waits counted as round trip.
Chaos seeds 21014, 21220 and 21254 (Hyperliquid): a restarted bot's first read met a silent
link and three 429s, spanned 12 s, and its midpoint put our venue clock 6 s ahead of the
venue's (every book then looked 6 s stale). Each ``scheduleCancel`` time (venue-now + 6 s)
was set that much later, and the harness's foreign order was still open 7.2 s after the
final SIGKILL, against the 6 s countdown (invariant 4).
"""

from __future__ import annotations

import json

import httpx
import pytest
import trio

from mmtrio.errors import VenueError
from mmtrio.venues.hyperliquid.rest import HyperliquidRest
from mmtrio.venues.hyperliquid.venue import HyperliquidSession
from mmtrio.venues.protocol import SessionHooks, VenueCredentials, VenueSettings
from mmtrio.venues.registry import venue

BASE_MS = 1_796_474_318_000
ANSWER_S = 0.2  # the answered copy's round trip: the venue stamps its time halfway


def _now_ms() -> int:
    return BASE_MS + round(trio.current_time() * 1000)


def _session(handler: httpx.AsyncBaseTransport) -> HyperliquidSession:
    settings = VenueSettings("hyperliquid", "testnet", "BTC", {"rest": "https://x"})
    s = venue("hyperliquid").open(
        settings, VenueCredentials(private_key="0x" + "1" * 64), SessionHooks(_now_ms)
    )
    assert isinstance(s, HyperliquidSession)
    s.rest = HyperliquidRest("http://sim", clock_ms=_now_ms, transport=handler)
    s.on_read_retry = lambda wait_s, exc: None  # start-up: reads are retried, as the engine's
    return s


def _venue(failures: list[str]) -> httpx.MockTransport:
    """The venue's clock is ours (true offset 0). Each request meets the next of
    ``failures`` (``"429"``: a 429 with Retry-After 2 s; ``"hang"``: no answer for 5 s, then
    a read timeout), then answers in :data:`ANSWER_S`."""

    async def handle(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content)["type"] == "clearinghouseState"
        if failures:
            kind = failures.pop(0)
            if kind == "429":
                return httpx.Response(429, headers={"retry-after": "2"}, text="Too many requests")
            await trio.sleep(5.0)
            raise httpx.ReadTimeout("no answer", request=request)
        await trio.sleep(ANSWER_S / 2)
        stamped = _now_ms()
        await trio.sleep(ANSWER_S / 2)
        return httpx.Response(200, json={"time": stamped, "assetPositions": []})

    return httpx.MockTransport(handle)


@pytest.mark.parametrize(
    "failures",
    [
        [],
        ["429", "429", "429"],  # back-offs waited out: 6 s
        ["hang", "429", "hang"],  # a copy hung 5 s (sent again at once), a back-off, one more
    ],
)
async def test_the_offset_is_timed_by_the_copy_the_venue_answered(
    autojump_clock: trio.abc.Clock, failures: list[str]
) -> None:
    s = _session(_venue(list(failures)))
    offset = (await s.sync_clock()).offset_ms
    assert offset == 0, f"venue clock off by {offset} ms after {failures}"
    assert s.venue_time_ms() == _now_ms()
    await s.rest.aclose()


async def test_without_start_up_patience_a_failed_sync_keeps_the_last_offset(
    autojump_clock: trio.abc.Clock,
) -> None:
    s = _session(_venue(["429"]))
    s.on_read_retry = None  # while trading: a failed sync raises and is tried again later
    s.time_offset_ms = 42
    with pytest.raises(VenueError):
        await s.sync_clock()
    assert s.time_offset_ms == 42
    await s.rest.aclose()
