"""The market feed: ``l2Book``, ``trades`` and ``activeAssetCtx`` for one coin.

Every ``l2Book`` message is a whole book (:mod:`.codec_market`): the feed runs each through
the :class:`~.codec_market.SnapshotSequencer` (newer than the last, not stale, well formed)
and hands the sink BookSnapshot or BookInvalid. A resync (the consumer found the book
unusable, or fell behind) needs no REST snapshot: the feed re-subscribes ``l2Book``, and the
venue answers a subscription with the current book. Market data is perishable: the sink never
blocks the reader (:class:`~mmtrio.venues.protocol.MarketSink`).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import trio
from loguru import logger
from trio_websocket import WebSocketConnection

from mmtrio.core.events import BookInvalid, BookSnapshot, FeedStatus
from mmtrio.core.instruments import Instrument
from mmtrio.errors import MmtrioError, ProtocolError
from mmtrio.venues.hyperliquid.codec import loads
from mmtrio.venues.hyperliquid.codec_market import (
    DEFAULT_MAX_AGE_MS,
    SnapshotSequencer,
    parse_asset_ctx,
    parse_l2book,
    parse_trades,
)
from mmtrio.venues.hyperliquid.price_grid import TickDrift
from mmtrio.venues.hyperliquid.wsbase import HyperliquidWs, subscribe_frame
from mmtrio.venues.protocol import MarketSink
from mmtrio.venues.wsconn import Connect, open_socket

RESUBSCRIBE_MIN_S = 1.0  # a storm of resync requests becomes at most one re-subscribe a second
_MARKET_CHANNELS = frozenset(("l2Book", "trades", "activeAssetCtx"))  # what the watchdog hears


class MarketStream(HyperliquidWs):
    """Market data for one coin, delivered to a :class:`MarketSink`."""

    stream_name = "market"
    venue_name = "hyperliquid"

    def __init__(
        self,
        url: str,
        instrument: Instrument,
        *,
        clock_ms: Callable[[], int],
        venue_ms: Callable[[], int] | None = None,
        max_age_ms: int = DEFAULT_MAX_AGE_MS,
        rng: random.Random | None = None,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        ping_interval_s: float = 30.0,
        pong_timeout_s: float = 10.0,
        max_connection_age_s: float = 23.5 * 3600,
        connect_timeout_s: float = 10.0,
        connect: Connect = open_socket,
        drift: TickDrift | None = None,
        market_silence_s: float | None = None,
    ) -> None:
        super().__init__(
            rng=rng,
            clock_ms=clock_ms,
            backoff_base_s=backoff_base_s,
            backoff_cap_s=backoff_cap_s,
            ping_interval_s=ping_interval_s,
            pong_timeout_s=pong_timeout_s,
            max_connection_age_s=max_connection_age_s,
            connect_timeout_s=connect_timeout_s,
            connect=connect,
            market_silence_s=market_silence_s,
        )
        self._ws_url = url
        self.instrument = instrument
        self.coin = instrument.symbol
        self._venue_ms = venue_ms or clock_ms
        self.sequencer = SnapshotSequencer(max_age_ms)
        self.drift = drift  # warns when the price leaves the tick's power of ten
        self._sink: MarketSink | None = None
        self._resync = trio.Event()
        self.resyncs = 0
        self.skipped: Counter[str] = Counter()

    def _subscriptions(self) -> list[dict[str, Any]]:
        c = self.coin
        return [
            {"type": "l2Book", "coin": c},
            {"type": "trades", "coin": c},
            {"type": "activeAssetCtx", "coin": c},
        ]

    async def run(self, sink: MarketSink) -> None:
        self._sink = sink
        await self._loop()

    def _deliver(self) -> MarketSink:
        if self._sink is None:
            raise MmtrioError("the market stream delivers only while run() is running")
        return self._sink

    async def _url(self) -> str:
        return self._ws_url

    async def _emit_status(self, connected: bool, reason: str) -> None:
        sink = self._deliver()
        sink.status(FeedStatus(self.stream_name, connected, reason, self._clock_ms()))
        if not connected:
            sink.market(BookInvalid(self.coin, f"market stream down: {reason}", self._clock_ms()))

    def request_resync(self, reason: str) -> None:
        """The consumer cannot use the book: invalidate it and ask for a fresh snapshot."""
        self.resyncs += 1
        if self._sink is not None:
            self._sink.market(
                BookInvalid(self.coin, f"resync requested: {reason}", self._clock_ms())
            )
        self._resync.set()

    async def _serve(self, ws: WebSocketConnection, nursery: trio.Nursery) -> None:
        self.sequencer.reset()
        for sub in self._subscriptions():
            await ws.send_message(subscribe_frame(sub))
        nursery.start_soon(self._resubscriber, ws)
        await super()._serve(ws, nursery)

    async def _resubscriber(self, ws: WebSocketConnection) -> None:
        book = {"type": "l2Book", "coin": self.coin}
        while True:
            await self._resync.wait()
            self._resync = trio.Event()
            self.sequencer.reset()
            await ws.send_message(subscribe_frame(book, "unsubscribe"))
            await ws.send_message(subscribe_frame(book))
            await trio.sleep(RESUBSCRIBE_MIN_S)

    async def _session(self, ws: WebSocketConnection) -> None:
        while True:
            msg = await ws.get_message()
            try:
                self._handle(loads(msg, "market message"))
            except ProtocolError as exc:
                self._count_protocol_error(exc)

    def _handle(self, msg: Any) -> None:
        if not isinstance(msg, dict):
            raise ProtocolError(f"market message is not an object: {msg!r}"[:200])
        channel = msg.get("channel")
        data = msg.get("data")
        sink = self._deliver()
        if channel in _MARKET_CHANNELS:
            self.silence.heard()  # market data; a pong or a subscription answer is not
            self._proven()  # and so the connection is healthy (see WsConnection)
        if channel == "l2Book":
            snap = parse_l2book(data, self.instrument)
            out = self.sequencer.on_snapshot(snap, self._venue_ms())
            if out is not None:
                sink.market(out)
            if isinstance(out, BookSnapshot) and self.drift is not None:
                warning = self.drift.observe(out.bids[0][0], out.asks[0][0])
                if warning is not None:
                    logger.warning("{}: {}", self.coin, warning)
        elif channel == "trades":
            for trade in parse_trades(data, self.instrument):
                sink.market(trade)
        elif channel == "activeAssetCtx":
            sink.market(parse_asset_ctx(data, self.instrument, self._venue_ms()))
        elif channel == "pong":
            self._pong()
        elif channel == "error":
            raise ProtocolError(f"venue error on the market stream: {data!r}"[:300])
        else:
            self.skipped[str(channel)] += 1


__all__ = ["BookSnapshot", "MarketStream"]
