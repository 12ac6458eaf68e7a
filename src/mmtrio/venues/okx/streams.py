"""OKX WebSocket streams: public market data and the private user stream.

The two treat a slow consumer differently, as on every venue: market data is perishable
and goes to a never-blocking :class:`~mmtrio.venues.protocol.MarketSink`; private events
are money and are awaited into the consumer (lossless, with backpressure).

**Market** (``/ws/v5/public``): one connection subscribes ``books``, ``trades``,
``mark-price`` and ``funding-rate`` for the instrument. ``books`` continuity is the
sequencer's (:mod:`mmtrio.venues.okx.sequencer`); OKX has no REST snapshot with a
``seqId``, so a resync (a gap, a failed checksum, the consumer asking) re-subscribes the
channel on the same connection: ``unsubscribe`` then ``subscribe``, whose first push is a
fresh snapshot. Re-subscriptions are spaced by a back-off that only resets after
:data:`RESYNC_QUIET_S` without one: OKX allows 480 subscribe requests per hour per
connection, and a storm of gaps must not spend them.

**User** (``/ws/v5/private``): login, then ``orders`` and ``positions`` (SWAP, the
instrument) and ``account`` (the settlement currency). Every (re)connect is reported, and
the runtime reconciles after it. The WebSocket order session
(:mod:`mmtrio.venues.okx.order_session`) is run here too, on its own connection, because
the runtime supervises the user feed and has no order-session task of its own yet; the
gateway sends over it while it is logged in and over REST otherwise.

Reconnects, backoff and rotation: :class:`~mmtrio.venues.wsconn.WsConnection`; OKX's text
keep-alive and login: :mod:`mmtrio.venues.okx.wsbase`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import trio
from trio_websocket import WebSocketConnection

from mmtrio.core.events import (
    AccountUpdate,
    BookInvalid,
    FeedStatus,
    FundingPayment,
    MarkPrice,
    OrderUpdate,
    Trade,
)
from mmtrio.errors import MmtrioError, ProtocolError, VenueError
from mmtrio.venues.okx.codec import BooksMessage, WsEvent
from mmtrio.venues.okx.errors import classify
from mmtrio.venues.okx.order_session import OrderSession
from mmtrio.venues.okx.sequencer import BooksSequencer
from mmtrio.venues.okx.wsbase import OkxWs
from mmtrio.venues.protocol import MarketSink, UserSink
from mmtrio.venues.wsconn import Backoff

RESYNC_QUIET_S = 30.0
_MARKET = (Trade, MarkPrice)
_USER = (OrderUpdate, AccountUpdate, FundingPayment)
NOTICE_RECONNECT = "64008"  # "the connection will soon be closed for a service upgrade"
_CHANNELS_IN_ORDER = ("books", "trades", "mark-price", "funding-rate")  # market_args
_CHANNELS = frozenset(_CHANNELS_IN_ORDER)


def market_args(symbol: str) -> list[dict[str, str]]:
    return [{"channel": channel, "instId": symbol} for channel in _CHANNELS_IN_ORDER]


def user_args(symbol: str, settle_ccy: str) -> list[dict[str, str]]:
    return [
        {"channel": "orders", "instType": "SWAP", "instId": symbol},
        {"channel": "positions", "instType": "SWAP", "instId": symbol},
        {"channel": "account", "ccy": settle_ccy},
    ]


class MarketStream(OkxWs):
    """Market data for one instrument, delivered to a :class:`MarketSink`."""

    stream_name = "market"
    venue_name = "okx"

    def __init__(self, url: str, decoder: Any, **kwargs: Any) -> None:
        super().__init__(url, decoder, **kwargs)
        self.symbol: str = decoder.symbol
        self.sequencer = BooksSequencer()
        self.resyncs = 0
        self.skipped: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self._sink: MarketSink | None = None
        self._want_resync = trio.Event()
        self._resync_backoff = Backoff(self.backoff.base_s, self.backoff.cap_s)
        self._acked: set[str] = set()  # channels this connection's subscription was accepted for

    async def run(self, sink: MarketSink) -> None:
        self._sink = sink
        await self._loop()

    def _deliver(self) -> MarketSink:
        if self._sink is None:
            raise MmtrioError("the market stream delivers only while run() is running")
        return self._sink

    async def _emit_status(self, connected: bool, reason: str) -> None:
        self._deliver().status(FeedStatus(self.stream_name, connected, reason, self._clock_ms()))
        if not connected:
            self._invalidate(f"market stream down: {reason}", resubscribe=False)

    def request_resync(self, reason: str) -> None:
        """Rebuild the book from a fresh snapshot (the consumer found it unusable)."""
        self._invalidate(f"resync requested: {reason}")

    def _invalidate(self, reason: str, *, resubscribe: bool = True) -> None:
        self.sequencer.reset()
        if self._sink is not None:
            self._sink.market(BookInvalid(self.symbol, reason, self._clock_ms()))
        if resubscribe:
            self.resyncs += 1
            self._want_resync.set()

    async def _serve(self, ws: WebSocketConnection, nursery: trio.Nursery) -> None:
        self.sequencer.reset()
        self._want_resync = trio.Event()
        self._acked = set()
        await self._send(ws, {"op": "subscribe", "args": market_args(self.symbol)})
        nursery.start_soon(self._resubscriber, ws)
        await super()._serve(ws, nursery)

    async def _resubscriber(self, ws: WebSocketConnection) -> None:
        last: float | None = None
        books = [{"channel": "books", "instId": self.symbol}]
        while True:
            await self._want_resync.wait()
            if last is not None and trio.current_time() - last < RESYNC_QUIET_S:
                await trio.sleep(self._resync_backoff.next_delay())
            else:
                self._resync_backoff.reset()
            self._want_resync = trio.Event()
            last = trio.current_time()
            self.sequencer.reset()  # whatever arrives before the new snapshot is dropped
            await self._send(ws, {"op": "unsubscribe", "args": books})
            await self._send(ws, {"op": "subscribe", "args": books})

    async def _session(self, ws: WebSocketConnection) -> None:
        sink = self._deliver()
        while True:
            msg = await ws.get_message()
            for rec in self._decode(msg):
                if isinstance(rec, BooksMessage | Trade | MarkPrice):
                    self.silence.heard()  # market data; a pong or an event is not
                    if self._acked >= _CHANNELS:
                        # Healthy: every channel accepted (a refusal, which may follow
                        # data, ends the connection) and data flowing. See WsConnection.
                        self._proven()
                if isinstance(rec, BooksMessage):
                    events, gap = self.sequencer.on_message(rec)
                    if gap:
                        self._invalidate(f"book gap: {self.sequencer.last_gap}")
                    for ev in events:
                        sink.market(ev)
                elif isinstance(rec, _MARKET):
                    sink.market(rec)
                elif isinstance(rec, WsEvent):
                    self._on_event(rec)
                else:
                    self.skipped[type(rec).__name__] += 1

    def _on_event(self, ev: WsEvent) -> None:
        if ev.event == "subscribe" and ev.arg is not None:
            self._acked.add(str(ev.arg.get("channel")))
        if ev.event == "error":
            # A refused subscription leaves the feed without that channel: start over.
            self.errors[ev.code] += 1
            raise classify(0, ev.code or None, ev.msg or "subscription refused")
        if ev.event == "notice" and ev.code == NOTICE_RECONNECT:
            self._end_reason, self._planned = f"OKX notice {ev.code}: {ev.msg}", True
            raise _PlannedReconnect


class _PlannedReconnect(VenueError):
    def __init__(self) -> None:
        super().__init__("planned reconnect")


class UserStream(OkxWs):
    """Our orders, positions and balances; every event awaited into the consumer."""

    stream_name = "user"

    def __init__(
        self,
        url: str,
        decoder: Any,
        *,
        settle_ccy: str,
        order_session: OrderSession | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(url, decoder, **kwargs)
        self.symbol: str = decoder.symbol
        self.settle_ccy = settle_ccy
        self.order_session = order_session
        self.skipped: Counter[str] = Counter()
        self._send_event: UserSink | None = None

    async def run(self, send: UserSink) -> None:
        self._send_event = send
        try:
            async with trio.open_nursery() as nursery:
                if self.order_session is not None:
                    nursery.start_soon(self.order_session.run)
                await self._loop()
        except BaseExceptionGroup as group:
            # The nursery only runs the order session beside the stream: a fatal error of
            # either (a refused login) leaves as itself, as it would from a lone stream.
            errors = group.exceptions
            if len(errors) == 1 and isinstance(errors[0], MmtrioError):
                raise errors[0] from None
            raise

    def _deliver(self) -> UserSink:
        if self._send_event is None:
            raise MmtrioError("the user stream delivers only while run() is running")
        return self._send_event

    async def _emit_status(self, connected: bool, reason: str) -> None:
        # "Up" is reported once logged in and subscribed (below), not when the socket
        # opens: the runtime reconciles on it, and a login can still fail.
        if not connected:
            await self._status(False, reason)

    async def _status(self, connected: bool, reason: str) -> None:
        await self._deliver()(FeedStatus(self.stream_name, connected, reason, self._clock_ms()))

    async def _serve(self, ws: WebSocketConnection, nursery: trio.Nursery) -> None:
        await self._login(ws)
        await self._send(ws, {"op": "subscribe", "args": user_args(self.symbol, self.settle_ccy)})
        await self._status(True, "logged in and subscribed")
        await super()._serve(ws, nursery)

    async def _session(self, ws: WebSocketConnection) -> None:
        send = self._deliver()
        while True:
            msg = await ws.get_message()
            for rec in self._decode(msg):
                if isinstance(rec, _USER):
                    self._proven()  # an account event; a pong or a subscription answer is not
                    await send(rec)
                elif isinstance(rec, WsEvent) and rec.event == "error":
                    raise classify(0, rec.code or None, rec.msg or "subscription refused")
                else:
                    self.skipped[type(rec).__name__] += 1


__all__ = ["MarketStream", "ProtocolError", "UserStream", "market_args", "user_args"]
