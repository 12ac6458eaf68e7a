"""The market-stream silence watchdog (mmtrio.venues.silence) on the shared connection.

QA's defect: a market stream that stays connected, its pings answered, but delivers no market
message was never found broken; the stale-book guard pulled the quotes and nothing reconnected
the stream, so the bot sat without quotes for as long as the venue stayed mute. Virtual time
throughout (``autojump_clock``); nothing here asserts wall time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
from loguru import logger
from trio_websocket import WebSocketConnection

from mmtrio.venues.silence import DEFAULT_MARKET_SILENCE_S, SilenceWatch
from mmtrio.venues.wsconn import WsConnection

PING_INTERVAL_S = 1.0  # pings far more often than the limit: they must not keep it healthy


class Stream(WsConnection):
    """A market stream whose venue sends a message every ``gap_s`` while not muted."""

    stream_name = "market"
    venue_name = "testvenue"

    def __init__(self, connect: Any, limit_s: float | None) -> None:
        super().__init__(
            rng=None,
            clock_ms=lambda: 0,
            backoff_base_s=0.5,
            backoff_cap_s=1.0,
            ping_interval_s=PING_INTERVAL_S,
            pong_timeout_s=1.0,
            max_connection_age_s=1e9,
            connect_timeout_s=10.0,
            connect=connect,
            market_silence_s=limit_s,
        )
        self.statuses: list[tuple[bool, str]] = []
        self.received = 0

    async def _emit_status(self, connected: bool, reason: str) -> None:
        self.statuses.append((connected, reason))

    async def _session(self, ws: WebSocketConnection) -> None:
        while True:
            msg = await ws.get_message()
            if msg != "pong":  # an application-level pong (OKX, Hyperliquid) is no market data
                self.silence.heard()
            self.received += 1

    async def _url(self) -> str:
        return "ws://venue/market"


class Venue:
    """Connections whose messages come every ``gap_s``; ``mute_until`` silences the current
    ones (a new connection is served normally: the stall is on one connection, as live). Pings
    are answered all along, and so is an application-level ``pong`` every ping interval."""

    def __init__(self, gap_s: float, app_pongs: bool = False) -> None:
        self.gap_s = gap_s
        self.app_pongs = app_pongs
        self.connections = 0
        self.pings = 0
        self.muted: set[int] = set()

    def mute_current(self) -> None:
        self.muted.add(self.connections)

    @asynccontextmanager
    async def connect(self, url: str, **_: Any) -> AsyncIterator[Any]:
        self.connections += 1
        yield _Ws(self, self.connections)


class _Ws:
    def __init__(self, venue: Venue, number: int) -> None:
        self.venue, self.number = venue, number
        self._next = trio.current_time()
        self._next_pong = trio.current_time() + PING_INTERVAL_S

    async def ping(self) -> None:
        self.venue.pings += 1  # answered at once, muted or not

    async def get_message(self) -> str:
        while True:
            muted = self.number in self.venue.muted
            due_pong = self._next_pong if self.venue.app_pongs else float("inf")
            due_data = float("inf") if muted else self._next
            due = min(due_pong, due_data)
            if due == float("inf"):
                await trio.sleep_forever()
            await trio.sleep_until(due)
            if due == due_pong:
                self._next_pong += PING_INTERVAL_S
                return "pong"
            if self.number not in self.venue.muted:
                self._next += self.venue.gap_s
                return "data"


async def run_for(stream: Stream, seconds: float) -> None:
    with trio.move_on_after(seconds):
        await stream._loop()


def warnings() -> tuple[list[str], Any]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING", format="{message}")
    return lines, sink


@pytest.mark.parametrize("app_pongs", [False, True], ids=["frame-pongs", "app-pongs"])
async def test_a_muted_market_stream_is_reconnected_after_the_limit(
    autojump_clock: Any, app_pongs: bool
) -> None:
    venue = Venue(gap_s=0.1, app_pongs=app_pongs)
    stream = Stream(venue.connect, limit_s=10.0)
    lines, sink = warnings()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_for, stream, 60.0)
            await trio.sleep(5.0)
            assert venue.connections == 1
            venue.mute_current()  # the venue stops sending; pings (and pongs) go on
            pings_before = venue.pings
            await trio.sleep(9.0)
            assert venue.connections == 1  # not yet: 9 s of silence is under the limit
            assert venue.pings - pings_before >= 8  # pinged and answered all along
            await trio.sleep(2.0)
            assert venue.connections == 2  # replaced like a dropped connection
    finally:
        logger.remove(sink)
    down = [reason for up, reason in stream.statuses if not up]
    assert down == ["no market message for 10.0 s while connected"]
    assert [up for up, _ in stream.statuses] == [True, False, True]
    assert stream.silence.silences == 1
    assert len(lines) == 1
    assert "testvenue market stream" in lines[0] and "10.0 s" in lines[0]


async def test_pings_alone_do_not_keep_a_stream_healthy(autojump_clock: Any) -> None:
    """A venue that never sends market data but answers every ping (frame and application
    level) is reconnected every limit, whatever the ping says."""
    venue = Venue(gap_s=0.1, app_pongs=True)
    venue.muted = set(range(1, 100))  # every connection mute from its start
    stream = Stream(venue.connect, limit_s=10.0)
    await run_for(stream, 35.0)
    assert venue.pings >= 25 and stream.received >= 25  # the pongs kept coming
    assert venue.connections == 4  # at 0, ~10, ~20 and ~30 s (plus backoff)
    assert stream.silence.silences == 3


async def test_a_quiet_but_healthy_stream_is_not_reconnected(autojump_clock: Any) -> None:
    venue = Venue(gap_s=9.5)  # a message every 9.5 s: quiet, never silent for the limit
    stream = Stream(venue.connect, limit_s=10.0)
    await run_for(stream, 120.0)
    assert venue.connections == 1
    assert stream.statuses == [(True, "connected")]
    assert stream.received >= 12


@pytest.mark.parametrize("limit", [None, 0.0])
async def test_the_watchdog_off_never_reconnects_a_muted_stream(
    autojump_clock: Any, limit: float | None
) -> None:
    venue = Venue(gap_s=0.1, app_pongs=True)
    stream = Stream(venue.connect, limit_s=limit)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_for, stream, 120.0)
        await trio.sleep(1.0)
        venue.mute_current()
    assert venue.connections == 1
    assert stream.silence.silences == 0


def test_the_limit_is_checked_and_the_default_is_the_configs() -> None:
    from mmtrio.config.venue import VenueConfig
    from mmtrio.venues.protocol import VenueSettings

    assert SilenceWatch(0.0).limit_s is None and SilenceWatch(None).limit_s is None
    with pytest.raises(ValueError, match="non-negative"):
        SilenceWatch(-1.0)
    assert VenueConfig.model_fields["market_silence_s"].default == DEFAULT_MARKET_SILENCE_S
    assert VenueSettings("binance", "paper", "BTCUSDT", {}).market_silence_s == (
        DEFAULT_MARKET_SILENCE_S
    )


def test_user_streams_are_not_watched() -> None:
    """Silence on a user stream is normal (no order, no fill): only market streams are
    built with a limit."""
    from mmtrio.venues.binance.streams import UserStream

    user = UserStream("ws://venue", decoder=None, api=None)  # type: ignore[arg-type]
    assert user.silence.limit_s is None
