"""Extended's WebSocket streams: the market feed and the account feed.

Extended serves one stream per path under ``…/stream.extended.exchange/v1`` (no subscribe
messages): ``/orderbooks/<m>``, ``/publicTrades/<m>``, ``/funding/<m>``, ``/prices/mark/<m>``
and ``/account`` (authenticated by the ``X-Api-Key`` header). The server pings every 15 s and
expects a pong within 10 s (trio-websocket answers); mmtrio pings too, for its own deadline.
Reconnects, backoff and rotation: :class:`~mmtrio.venues.wsconn.WsConnection`.

* **Market feed** (:class:`MarketStream`): the order book is checked by
  :class:`~mmtrio.venues.extended.sequencer.BookSequencer`; a gap, a malformed book message
  or :meth:`MarketStream.request_resync` invalidates the book (``BookInvalid``) and
  reconnects the book stream, whose first message is a fresh SNAPSHOT. A resync within
  ``RESYNC_QUIET_S`` of the previous one waits a growing, jittered delay first (no reconnect
  storm). Only the book stream reports ``FeedStatus("market", …)``: the book is what quoting
  needs; the trade, funding and mark streams reconnect on their own. The book and mark
  streams are each watched for silence (:mod:`mmtrio.venues.silence`), as the one market
  connection of the other venues is: connected but without a message for
  ``market_silence_s``, the stream is reconnected (a mute mark stream would leave the bot
  pricing off a stale mark; the venue pushes the mark every second). The funding and trade
  streams are not watched: funding pushes when the rate is applied (hourly), and the trade
  stream only as often as the market trades; on the other venues the trades share the
  book's connection, whose silence covers them. A quiet tape is normal, and replacing its
  connection every ``market_silence_s`` would lose the trades printed while it reconnects.
  ``MarkPrice`` events come from the mark stream, with the funding rate of the funding stream
  (the market's statistics until the first one) and the index price and next funding time of
  the statistics read at start (Extended streams the index on a path mmtrio does not use; no
  decision reads it). Funding applies hourly, so the next funding time advances by an hour
  with each funding message.
* **Account feed** (:class:`AccountStream`): ORDER, TRADE, POSITION and BALANCE messages,
  awaited into the consumer (lossless). Extended sends an order's fills (TRADE) apart from its
  state (ORDER); a fill becomes an OrderUpdate with the order's last known price and size
  (:class:`~mmtrio.venues.extended.gateway.KnownOrders`, else one REST query by its external
  id) and a filled quantity that is the larger of the venue's and the fills seen.
  Funding payments reach the account as balance changes; Extended pushes no funding event.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import trio
from trio_websocket import WebSocketConnection

from mmtrio.core.events import (
    AccountUpdate,
    BalanceUpdate,
    BookInvalid,
    FeedStatus,
    Fill,
    MarkPrice,
    OrderStatus,
    TimeInForce,
)
from mmtrio.core.instruments import Instrument
from mmtrio.errors import MmtrioError, ProtocolError, VenueError
from mmtrio.venues.extended import codec
from mmtrio.venues.extended.codec import MarketInfo, OrderState
from mmtrio.venues.extended.codec_stream import (
    AccountMessage,
    parse_account,
    parse_funding,
    parse_mark,
    parse_trades,
)
from mmtrio.venues.extended.fields import loads
from mmtrio.venues.extended.gateway import KnownOrders, state_to_update
from mmtrio.venues.extended.rest import USER_AGENT, ExtendedRest
from mmtrio.venues.extended.sequencer import BookSequencer, parse_book
from mmtrio.venues.protocol import MarketSink, UserSink
from mmtrio.venues.wsconn import Backoff, Connect, WsConnection, open_socket

__all__ = ["AccountStream", "MarketStream"]

RESYNC_QUIET_S = 30.0
FUNDING_INTERVAL_MS = 3_600_000
MAX_SEEN_TRADES = 10_000


class _Channel(WsConnection):
    """One stream path; ``handle`` gets each decoded JSON message."""

    venue_name = "extended"

    def __init__(
        self,
        name: str,
        url: str,
        handle: Callable[[Any], None],
        *,
        clock_ms: Callable[[], int],
        rng: random.Random | None,
        connect: Connect,
        status: Callable[[bool, str], None] | None = None,
        market_silence_s: float | None = None,
    ) -> None:
        super().__init__(
            rng=rng,
            clock_ms=clock_ms,
            backoff_base_s=0.5,
            backoff_cap_s=30.0,
            ping_interval_s=15.0,
            pong_timeout_s=10.0,
            max_connection_age_s=23.5 * 3600,
            connect_timeout_s=10.0,
            connect=connect,
            market_silence_s=market_silence_s,
        )
        self.stream_name = name
        self.url = url
        self._handle = handle
        self._status = status
        self.before_connect: Callable[[], Any] | None = None  # an awaitable delay (resync)

    async def _url(self) -> str:
        if self.before_connect is not None:
            await self.before_connect()
        return self.url

    def _headers(self) -> list[tuple[bytes, bytes]] | None:
        return [(b"User-Agent", USER_AGENT.encode())]

    async def _emit_status(self, connected: bool, reason: str) -> None:
        if self._status is not None:
            self._status(connected, reason)

    async def _session(self, ws: WebSocketConnection) -> None:
        while True:
            raw = await ws.get_message()
            # No subscription, pings are frames: every message is the stream's data.
            self.silence.heard()  # (a no-op where not watched: funding)
            self._proven()
            try:
                msg = loads(raw, f"{self.stream_name} message")
            except ProtocolError as exc:
                self._count_protocol_error(exc)
                msg = None
            if self._handle_raw(msg):
                return

    def _handle_raw(self, msg: Any) -> bool:
        """Handle one message; True ends the connection (a planned reconnect)."""
        if msg is None:
            return False
        try:
            self._handle(msg)
        except ProtocolError as exc:
            self._count_protocol_error(exc)
        return False


class _BookChannel(_Channel):
    """The order-book stream: a malformed message or a gap ends the connection (the next one
    starts with a snapshot); :meth:`interrupt` ends it from outside (a requested resync)."""

    def __init__(self, stream: MarketStream, url: str, **kw: Any) -> None:
        super().__init__("market", url, lambda msg: None, **kw)
        self._stream = stream
        self._scope: trio.CancelScope | None = None

    def interrupt(self) -> None:
        if self._scope is not None:
            self._scope.cancel()

    async def _session(self, ws: WebSocketConnection) -> None:
        with trio.CancelScope() as scope:
            self._scope = scope
            try:
                await super()._session(ws)
            finally:
                self._scope = None
        if scope.cancelled_caught:
            self._end_reason, self._planned = "resync requested; reconnecting for a snapshot", True

    def _handle_raw(self, msg: Any) -> bool:
        reason = self._stream.on_book(msg)
        if reason:
            self._end_reason, self._planned = f"{reason}; reconnecting for a snapshot", True
            return True
        return False


class MarketStream:
    """Market data for one market, delivered to a :class:`MarketSink` (module doc)."""

    def __init__(
        self,
        ws_base: str,
        market: MarketInfo,
        *,
        clock_ms: Callable[[], int],
        rng: random.Random | None = None,
        connect: Connect = open_socket,
        market_silence_s: float | None = None,
    ) -> None:
        self.instrument: Instrument = market.instrument
        self.symbol = market.instrument.symbol
        base = ws_base.rstrip("/")
        self._clock_ms = clock_ms
        self.sequencer = BookSequencer(self.symbol)
        self._sink: MarketSink | None = None
        self._mark: Decimal | None = None
        self._index = market.index_price
        self._funding = market.funding_rate
        self._next_funding = market.next_funding_ts
        self.resyncs = 0
        self._resync_pending = False
        self._last_resync: float | None = None
        self._resync_backoff = Backoff(0.5, 30.0, rng)
        kw: dict[str, Any] = {"clock_ms": clock_ms, "rng": rng, "connect": connect}
        # The streams the bot prices from are watched for silence. Funding is not (it pushes
        # when the rate is applied, hourly), nor are trades: a quiet tape is normal (module
        # docstring).
        watched = {**kw, "market_silence_s": market_silence_s}
        self.book = _BookChannel(
            self, f"{base}/orderbooks/{self.symbol}", status=self._on_status, **watched
        )
        self.book.before_connect = self._resync_delay
        self.trade_channel = _Channel(
            "trades", f"{base}/publicTrades/{self.symbol}", self._on_trades, **kw
        )
        self.mark_channel = _Channel(
            "mark", f"{base}/prices/mark/{self.symbol}", self._on_mark, **watched
        )
        self.channels = [
            self.book,
            self.trade_channel,
            _Channel("funding", f"{base}/funding/{self.symbol}", self._on_funding, **kw),
            self.mark_channel,
        ]

    async def run(self, sink: MarketSink) -> None:
        """Connect every stream and deliver to ``sink`` until cancelled (MarketFeed)."""
        self._sink = sink
        async with trio.open_nursery() as nursery:
            for channel in self.channels:
                nursery.start_soon(channel._loop)

    def _deliver(self) -> MarketSink:
        if self._sink is None:
            raise MmtrioError("the market stream delivers only while run() is running")
        return self._sink

    def request_resync(self, reason: str) -> None:
        """The consumer cannot use the book: invalidate it and reconnect the book stream."""
        self._invalidate(f"resync requested: {reason}")
        self._resync_pending = True
        self.book.interrupt()

    def _invalidate(self, reason: str) -> None:
        self.sequencer.reset()
        if self._sink is not None:
            self._sink.market(BookInvalid(self.symbol, reason, self._clock_ms()))

    async def _resync_delay(self) -> None:
        """Before a book reconnect that is a resync: wait if the last one was recent."""
        if not self._resync_pending:
            return
        self._resync_pending = False
        self.resyncs += 1
        now = trio.current_time()
        if self._last_resync is not None and now - self._last_resync < RESYNC_QUIET_S:
            await trio.sleep(self._resync_backoff.next_delay())
        else:
            self._resync_backoff.reset()
        self._last_resync = trio.current_time()

    def _on_status(self, connected: bool, reason: str) -> None:
        sink = self._deliver()
        sink.status(FeedStatus("market", connected, reason, self._clock_ms()))
        if not connected:
            self._invalidate(f"market stream down: {reason}")

    def on_book(self, msg: Any) -> str:
        """Apply one book message; the gap's reason ("" when the book is continuous)."""
        try:
            book = parse_book(msg, self.instrument)
        except ProtocolError as exc:
            self.book._count_protocol_error(exc)
            self.sequencer.reset()
            self.sequencer.gaps += 1
            self._resync_pending = True
            self._invalidate(f"malformed book message: {exc}")
            return "malformed book message"
        event, gap = self.sequencer.on_message(book)
        if gap:
            self._resync_pending = True
            self._invalidate(f"book gap: {gap}")
            return f"book gap: {gap}"
        if event is not None:
            self._deliver().market(event)
        return ""

    def _on_trades(self, msg: Any) -> None:
        sink = self._deliver()
        for trade in parse_trades(msg, self.instrument):
            sink.market(trade)

    def _on_funding(self, msg: Any) -> None:
        found = parse_funding(msg, self.symbol)
        if found is not None:
            self._funding, applied = found
            self._next_funding = applied + FUNDING_INTERVAL_MS

    def _on_mark(self, msg: Any) -> None:
        found = parse_mark(msg, self.symbol)
        if found is None:
            return
        self._mark, ts = found
        self._deliver().market(
            MarkPrice(self.symbol, self._mark, self._index, self._funding, self._next_funding, ts)
        )


class AccountStream(WsConnection):
    """The account stream: every event awaited into the consumer (lossless; module doc)."""

    stream_name = "user"

    def __init__(
        self,
        ws_base: str,
        api_key: str,
        instrument: Instrument,
        known: KnownOrders,
        rest: ExtendedRest,
        *,
        clock_ms: Callable[[], int],
        rng: random.Random | None = None,
        connect: Connect = open_socket,
    ) -> None:
        super().__init__(
            rng=rng,
            clock_ms=clock_ms,
            backoff_base_s=0.5,
            backoff_cap_s=30.0,
            ping_interval_s=15.0,
            pong_timeout_s=10.0,
            max_connection_age_s=23.5 * 3600,
            connect_timeout_s=10.0,
            connect=connect,
        )
        self.url = f"{ws_base.rstrip('/')}/account"
        self._api_key = api_key
        self.instrument = instrument
        self.known = known
        self.rest = rest
        self._send: UserSink | None = None
        self._fills: OrderedDict[int, tuple[str, int]] = OrderedDict()  # trade id → (cid, qty)
        self._filled: dict[str, int] = {}  # client id → lots filled in the fills seen
        self.lookups = 0

    def __repr__(self) -> str:
        return f"AccountStream({self.url!r})"

    async def run(self, send: UserSink) -> None:
        self._send = send
        await self._loop()

    def _deliver(self) -> UserSink:
        if self._send is None:
            raise MmtrioError("the account stream delivers only while run() is running")
        return self._send

    async def _url(self) -> str:
        return self.url

    def _headers(self) -> list[tuple[bytes, bytes]] | None:
        return [(b"X-Api-Key", self._api_key.encode()), (b"User-Agent", USER_AGENT.encode())]

    async def _emit_status(self, connected: bool, reason: str) -> None:
        await self._deliver()(FeedStatus("user", connected, reason, self._clock_ms()))

    async def _session(self, ws: WebSocketConnection) -> None:
        while True:
            raw = await ws.get_message()
            self._proven()  # every message is an account message (pings are frames)
            try:
                msg = parse_account(loads(raw, "account message"), self.instrument)
            except ProtocolError as exc:
                self._count_protocol_error(exc)
                continue
            await self._forward(msg)

    async def _forward(self, msg: AccountMessage) -> None:
        send = self._deliver()
        sym = self.instrument.symbol
        for pushed in msg.orders:
            self.known.remember(pushed)
            seen = self._filled.get(pushed.client_id, 0)
            st = replace(pushed, cum_qty=seen) if seen > pushed.cum_qty else pushed
            await send(state_to_update(sym, st))
        for fill in msg.trades:
            if fill.trade_id in self._fills:
                continue
            update = await self._fill_update(fill)
            await send(update)
        if msg.positions:
            await send(AccountUpdate("POSITION", (), tuple(msg.positions), msg.ts))
        if msg.balance is not None:
            balance, equity, asset = msg.balance
            row = BalanceUpdate(asset, balance, equity, Decimal(0))
            await send(AccountUpdate("BALANCE", (row,), (), msg.ts))

    async def _fill_update(self, fill: Fill) -> Any:
        cid = fill.client_id or self.known.client_id_of(fill.order_id) or ""
        if cid and not fill.client_id:
            fill = Fill(
                fill.symbol, fill.trade_id, cid, fill.order_id, fill.side, fill.price,
                fill.qty, fill.fee, fill.fee_asset, fill.is_maker, fill.ts,
            )  # fmt: skip
        self._fills[fill.trade_id] = (cid, fill.qty)
        while len(self._fills) > MAX_SEEN_TRADES:
            self._fills.popitem(last=False)
        filled = self._filled.get(cid, 0) + fill.qty
        if cid:
            self._filled[cid] = filled
        base = self.known.get(cid) if cid else None
        if base is None and cid:
            base = await self._lookup(cid)
        if base is None:
            # Nothing known about the order: its fill still reaches the ledger; the size is
            # what filled, so no FILLED is claimed that the venue did not state.
            base = OrderState(
                cid, fill.order_id, fill.side, OrderStatus.PARTIALLY_FILLED, fill.price,
                filled, filled, TimeInForce.GTC, False, fill.ts, "",
            )  # fmt: skip
            return state_to_update(self.instrument.symbol, base, fill)
        cum = max(base.cum_qty, filled)
        status = OrderStatus.FILLED if cum >= base.qty else OrderStatus.PARTIALLY_FILLED
        st = replace(base, cum_qty=cum, status=status, ts=max(base.ts, fill.ts))
        self.known.remember(st)
        return state_to_update(self.instrument.symbol, st, fill)

    async def _lookup(self, cid: str) -> OrderState | None:
        self.lookups += 1
        try:
            data = await self.rest.orders_by_external_id(cid)
            states = [s for s in codec.parse_orders(data, self.instrument) if s.client_id == cid]
        except (VenueError, ProtocolError):
            return None
        if not states:
            return None
        st = max(states, key=lambda s: (s.ts, s.order_id))
        self.known.remember(st)
        return st
