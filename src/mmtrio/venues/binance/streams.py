"""Binance USD-M websocket streams on trio-websocket: market data and the user stream.

Why the two streams treat a slow consumer differently:

* **Market data** is perishable. The socket reader must never wait for the strategy, or the
  venue's send buffer fills and it disconnects us. So market events go to a
  :class:`~mmtrio.venues.protocol.MarketSink` whose ``market`` never blocks (the runtime's
  inbox: it conflates, and asks for a resync through :meth:`MarketStream.request_resync` when
  it falls behind).
* **User data** must never be lost (fills are money). It is awaited into the consumer
  (bounded, with backpressure): if the consumer is slow the reader waits, and the kernel
  socket buffer holds the bytes meanwhile.

Depth sync follows Binance's rule, written once in :mod:`mmtrio.venues.binance.sequencer`:
the stream hands the sink neutral BookSnapshot/BookDelta events known to be continuous, or
BookInvalid and a resync from a fresh REST snapshot.

Reconnects, pings and rotation: :class:`~mmtrio.venues.wsconn.WsConnection`.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Protocol

import trio
from trio_websocket import WebSocketConnection

from mmtrio.core.events import (
    AccountUpdate,
    BookInvalid,
    BookTicker,
    FeedStatus,
    FundingPayment,
    MarginCall,
    MarkPrice,
    OrderUpdate,
    Trade,
)
from mmtrio.errors import ConfigError, MmtrioError, ProtocolError, VenueError
from mmtrio.venues.binance.codec import BinanceDecoder, Record
from mmtrio.venues.binance.codec_market import DepthSnapshot, DepthUpdate
from mmtrio.venues.binance.codec_user import ListenKeyExpired
from mmtrio.venues.binance.errors import CODE_LISTEN_KEY_MISSING
from mmtrio.venues.binance.rest import wall_clock_ms
from mmtrio.venues.binance.sequencer import DepthSequencer
from mmtrio.venues.protocol import MarketSink, UserSink
from mmtrio.venues.wsconn import Backoff, Connect, WsConnection, open_socket

__all__ = ["Backoff", "MarketStream", "UserStream", "market_stream_url"]

_MARKET = (Trade, BookTicker, MarkPrice)
_USER = (OrderUpdate, AccountUpdate, FundingPayment, MarginCall)


RESYNC_QUIET_S = 30.0
"""Seconds without a resync after which the snapshot back-off starts again from its base."""


def market_stream_url(ws_base: str, symbol: str, depth_speed: str = "100ms") -> str:
    """Combined-stream URL: diff depth, trades, bookTicker and mark price for ``symbol``."""
    if depth_speed not in ("0ms", "100ms", "250ms", "500ms"):
        raise ConfigError(f"depth speed must be 0ms, 100ms, 250ms or 500ms, got {depth_speed!r}")
    s = symbol.lower()
    streams = f"{s}@depth@{depth_speed}/{s}@trade/{s}@bookTicker/{s}@markPrice@1s"
    return f"{ws_base.rstrip('/')}/stream?streams={streams}"


class MarketStream(WsConnection):
    """Market data for one symbol, delivered to a :class:`MarketSink` (see module doc)."""

    stream_name = "market"
    venue_name = "binance"

    def __init__(
        self,
        url: str,
        decoder: BinanceDecoder,
        symbol: str,
        snapshot: Callable[[str], Awaitable[DepthSnapshot]],
        *,
        rng: random.Random | None = None,
        clock_ms: Callable[[], int] = wall_clock_ms,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        ping_interval_s: float = 30.0,
        pong_timeout_s: float = 10.0,
        max_connection_age_s: float = 23.5 * 3600,
        connect_timeout_s: float = 10.0,
        connect: Connect = open_socket,
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
        self.decoder = decoder
        self.symbol = decoder.codec_for(symbol, "market stream").instrument.symbol
        self._snapshot = snapshot
        self._sink: MarketSink | None = None
        self.sequencer = DepthSequencer()
        self.resyncs = 0
        self.skipped: Counter[str] = Counter()  # records the core has no use for
        self._generation = 0
        self._want_snapshot = trio.Event()
        self._snapshot_backoff = Backoff(backoff_base_s, backoff_cap_s, rng)

    async def run(self, sink: MarketSink) -> None:
        """Connect and deliver to ``sink`` until cancelled (MarketFeed protocol)."""
        self._sink = sink
        await self._loop()

    def _deliver(self) -> MarketSink:
        if self._sink is None:
            raise MmtrioError("the market stream delivers only while run() is running")
        return self._sink

    async def _url(self) -> str:
        return self._ws_url

    async def _emit_status(self, connected: bool, reason: str) -> None:
        self._deliver().status(FeedStatus(self.stream_name, connected, reason, self._clock_ms()))
        if not connected:
            self._invalidate(f"market stream down: {reason}", fetch=False)

    def request_resync(self, reason: str) -> None:
        """Rebuild the book from a fresh snapshot (the consumer found it unusable).

        Goes through the same path as a gap the stream detects itself, including the resync
        back-off, so a consumer that keeps asking cannot turn into a snapshot storm.
        """
        self._invalidate(f"resync requested: {reason}")

    def _invalidate(self, reason: str, *, fetch: bool = True) -> None:
        self.sequencer.reset()
        self._generation += 1
        if self._sink is not None:
            self._sink.market(BookInvalid(self.symbol, reason, self._clock_ms()))
        if fetch:
            self.resyncs += 1
            self._want_snapshot.set()

    async def _serve(self, ws: WebSocketConnection, nursery: trio.Nursery) -> None:
        # Open the stream first (diffs buffer in the sequencer), then fetch the snapshot.
        self.sequencer.reset()
        self._generation += 1
        self._want_snapshot.set()
        nursery.start_soon(self._snapshot_worker)
        await super()._serve(ws, nursery)

    async def _snapshot_worker(self) -> None:
        last_fetch: float | None = None
        while True:
            await self._want_snapshot.wait()
            self._want_snapshot = trio.Event()
            # A resync soon after the previous one waits out the back-off, which only resets
            # after RESYNC_QUIET_S without one: a storm of gaps (a flaky feed, a slow consumer)
            # must not become a storm of depth snapshots (weight 20 each) and a 429 that would
            # then block cancels and the dead-man refresh too.
            if last_fetch is not None and trio.current_time() - last_fetch < RESYNC_QUIET_S:
                await trio.sleep(self._snapshot_backoff.next_delay())
            else:
                self._snapshot_backoff.reset()
            gen = self._generation
            while True:
                try:
                    snap = await self._snapshot(self.symbol)
                    break
                except (VenueError, ProtocolError, OSError):
                    await trio.sleep(self._snapshot_backoff.next_delay())
                    gen = self._generation
            last_fetch = trio.current_time()
            if gen != self._generation:
                continue  # invalidated again while we waited; a newer request is pending
            events, gap = self.sequencer.on_snapshot(snap)
            if gap:
                self._invalidate("snapshot older than the buffered stream; refetching")
                continue
            sink = self._deliver()
            for ev in events:
                sink.market(ev)

    async def _session(self, ws: WebSocketConnection) -> None:
        sink = self._deliver()
        while True:
            msg = await ws.get_message()
            # Everything on the combined market stream is market data (its pings are frames).
            self.silence.heard()
            self._proven()
            for rec in self._decode(msg):
                if isinstance(rec, DepthUpdate):
                    deltas, gap = self.sequencer.on_diff(rec)
                    if gap:
                        self._invalidate(
                            f"depth gap: pu={rec.prev_last_id} does not continue the chain"
                        )
                    for d in deltas:
                        sink.market(d)
                elif isinstance(rec, _MARKET):
                    sink.market(rec)
                else:
                    self.skipped[type(rec).__name__] += 1

    def _decode(self, msg: str | bytes) -> list[Record]:
        try:
            return self.decoder.decode(msg)
        except ProtocolError as exc:
            self._count_protocol_error(exc)
            return []


class ListenKeyApi(Protocol):
    """What the user stream needs from the REST client (BinanceRest satisfies it)."""

    async def new_listen_key(self) -> str: ...
    async def keepalive_listen_key(self) -> None: ...


class UserStream(WsConnection):
    """The user data stream: every event is awaited into the consumer (lossless)."""

    stream_name = "user"

    def __init__(
        self,
        ws_base: str,
        decoder: BinanceDecoder,
        api: ListenKeyApi,
        *,
        url_template: str = "{base}/ws/{listen_key}",
        rng: random.Random | None = None,
        clock_ms: Callable[[], int] = wall_clock_ms,
        keepalive_interval_s: float = 30 * 60,
        keepalive_retry_s: float = 60.0,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        ping_interval_s: float = 30.0,
        pong_timeout_s: float = 10.0,
        max_connection_age_s: float = 23.5 * 3600,
        connect_timeout_s: float = 10.0,
        connect: Connect = open_socket,
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
        )
        self._ws_base = ws_base.rstrip("/")
        self._template = url_template
        self.decoder = decoder
        self._api = api
        self._send: UserSink | None = None
        self.keepalive_interval_s = keepalive_interval_s
        self.keepalive_retry_s = keepalive_retry_s
        self.listen_key: str | None = None
        self.keepalive_failures = 0
        self.renewals = 0
        self.key_reuses = 0
        self.skipped: Counter[str] = Counter()  # TRADE_LITE duplicates, unknown events
        self._key_extended_at: float | None = None  # trio time of the last POST/PUT success
        self._key_proven = False  # the current key has connected at least once

    async def run(self, send: UserSink) -> None:
        """Connect and deliver every event to ``send`` until cancelled (UserFeed protocol)."""
        self._send = send
        await self._loop()

    def _deliver(self) -> UserSink:
        if self._send is None:
            raise MmtrioError("the user stream delivers only while run() is running")
        return self._send

    async def _url(self) -> str:
        """The stream URL; the listen key is fetched (POST) only when it must be.

        After a plain drop the live key is reused: Binance keeps it valid for 60 min after the
        last POST/PUT, and it is reused only while that was under ``keepalive_interval_s``
        ago. The reconnect then needs no REST request, so a user stream dropped during a
        429 back-off comes back at once and fills keep arriving (chaos seed 139: the
        reconnect waited for the back-off and a fill went unseen for 4 s). A key that has
        not connected since it was fetched, or was reported expired, is fetched again.
        """
        reusable = (
            self.listen_key is not None
            and self._key_proven
            and self._key_extended_at is not None
            and trio.current_time() - self._key_extended_at < self.keepalive_interval_s
        )
        if reusable:
            self.key_reuses += 1
        else:
            # POST listenKey returns the live key (extending it) or a new one after expiry.
            self.listen_key = await self._api.new_listen_key()
            self._key_extended_at = trio.current_time()
        self._key_proven = False  # until this attempt connects
        return self._template.format(base=self._ws_base, listen_key=self.listen_key)

    async def _emit_status(self, connected: bool, reason: str) -> None:
        await self._deliver()(FeedStatus(self.stream_name, connected, reason, self._clock_ms()))

    async def _serve(self, ws: WebSocketConnection, nursery: trio.Nursery) -> None:
        self._key_proven = True  # the venue accepted the connection with this key
        nursery.start_soon(self._keepalive, nursery.cancel_scope)
        await super()._serve(ws, nursery)

    async def _keepalive(self, scope: trio.CancelScope) -> None:
        # Counted from the key's last extension, not from this connection: a reused key
        # is already that old.
        extended = self._key_extended_at
        now = trio.current_time()
        delay = self.keepalive_interval_s - (0.0 if extended is None else now - extended)
        delay = max(0.0, delay)
        while True:
            await trio.sleep(delay)
            try:
                await self._api.keepalive_listen_key()
                self._key_extended_at = trio.current_time()
                delay = self.keepalive_interval_s
            except VenueError as exc:
                self.keepalive_failures += 1
                if exc.code == str(CODE_LISTEN_KEY_MISSING):
                    self._key_proven = False  # fetch a new one on the reconnect
                    self._end_reason, self._planned = "listen key no longer exists", True
                    scope.cancel()
                    return
                # Keep the stream; retry soon. If the key lapses the venue pushes
                # listenKeyExpired and the session renews it.
                delay = self.keepalive_retry_s

    async def _session(self, ws: WebSocketConnection) -> None:
        send = self._deliver()
        while True:
            msg = await ws.get_message()
            self._proven()  # the user stream carries only account events (pings are frames)
            for rec in self._decode(msg):
                if isinstance(rec, _USER):
                    await send(rec)
                else:
                    self.skipped[type(rec).__name__] += 1
                if isinstance(rec, ListenKeyExpired):
                    self._key_proven = False  # fetch a new one on the reconnect
                    self.renewals += 1
                    self._end_reason = "listen key expired; renewing"
                    self._planned = True
                    return

    def _decode(self, msg: str | bytes) -> list[Record]:
        try:
            return self.decoder.decode(msg)
        except ProtocolError as exc:
            self._count_protocol_error(exc)
            return []
