"""Wiring the venue's streams into the trading loop's single event channel.

The market stream keeps its own non-blocking :class:`MarketBuffer` (stale market data is
dropped and the book resynced when the loop falls behind); the forwarder here moves its
events into the loop channel with ``send`` — when the loop is busy the forwarder waits, the
buffer fills, and the buffer's overflow policy (not this code) decides what is dropped.
User events go through a bounded channel with backpressure end to end: a fill is never
dropped.

Only core events go to the loop. Venue-level records the core has no use for
(``TradeLite`` duplicates ORDER_TRADE_UPDATE; ``ListenKeyExpired`` is handled by the user
stream; ``UnknownMessage`` is counted by the decoder) stop here and are counted.

Each feed is one supervised child: the stream's reconnect loop and the forwarder run in one
nursery, so a bug in either restarts both (the stream object keeps its counters).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import trio

from mmtrio.core.events import (
    AccountUpdate,
    BookInvalid,
    BookSnapshot,
    BookTicker,
    DepthDiff,
    Event,
    FeedStatus,
    FundingPayment,
    MarkPrice,
    OrderUpdate,
    Trade,
)
from mmtrio.runtime.trading import LoopItem
from mmtrio.venues.binance.streams import MarketStream, UserEvent, UserStream

_CORE_TYPES = (
    BookSnapshot,
    DepthDiff,
    Trade,
    BookTicker,
    MarkPrice,
    OrderUpdate,
    AccountUpdate,
    FundingPayment,
    FeedStatus,
    BookInvalid,
)
USER_CHANNEL_SIZE = 1024


def as_core_event(record: object) -> Event | None:
    """``record`` if the core consumes it, else None."""
    return record if isinstance(record, _CORE_TYPES) else None


@dataclass
class FeedStats:
    """Counters per feed, for the status snapshot."""

    forwarded: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    connected: bool = False
    last_status: str = "not started"
    last_event_ms: int | None = None  # venue time of the last forwarded market/user event
    # Connections after the first one (monotonic: exported as a Prometheus counter). Counted
    # here, from every FeedStatus, so a flap shorter than a screen refresh is not missed.
    reconnects: int = 0
    ever_connected: bool = False

    def on_status(self, connected: bool, reason: str) -> None:
        """Record one up/down transition of the stream."""
        if connected and not self.connected:
            if self.ever_connected:
                self.reconnects += 1
            self.ever_connected = True
        self.connected = connected
        self.last_status = reason

    def to_json(self) -> dict[str, Any]:
        return {
            "forwarded": self.forwarded,
            "skipped": dict(self.skipped),
            "connected": self.connected,
            "reconnects": self.reconnects,
            "last_status": self.last_status,
            "last_event_ms": self.last_event_ms,
        }


async def _forward(source: Any, send: trio.MemorySendChannel[LoopItem], stats: FeedStats) -> None:
    async for record in source:
        event = as_core_event(record)
        if event is None:
            stats.skipped[type(record).__name__] += 1
            continue
        if isinstance(event, FeedStatus):
            stats.on_status(event.connected, event.reason)
        else:
            stats.last_event_ms = getattr(event, "ts", stats.last_event_ms)
        await send.send(event)
        stats.forwarded += 1


async def run_market_feed(
    stream: MarketStream, send: trio.MemorySendChannel[LoopItem], stats: FeedStats
) -> None:
    """The market stream's reconnect loop plus its forwarder, until cancelled."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(stream.run)
        await _forward(stream.events, send, stats)


class UserFeed:
    """Owns the user stream and its channel; ``run`` is the supervised child."""

    def __init__(self, make_stream: Any, stats: FeedStats | None = None) -> None:
        """``make_stream(send_channel) -> UserStream``: built here so the feed owns the channel."""
        self._send, self._recv = trio.open_memory_channel[UserEvent](USER_CHANNEL_SIZE)
        self.stream: UserStream = make_stream(self._send)
        self.stats = stats if stats is not None else FeedStats()

    async def run(self, send: trio.MemorySendChannel[LoopItem]) -> None:
        """The user stream's reconnect loop plus its forwarder, until cancelled."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.stream.run)
            await _forward(self._recv, send, self.stats)
