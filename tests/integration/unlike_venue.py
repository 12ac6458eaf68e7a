"""A small in-test venue whose shape is deliberately unlike Binance's: proof the seam is real.

- **Book**: a full snapshot per message (the top 20 levels a side), no sequence numbers, no
  deltas; the core receives BookSnapshot after BookSnapshot.
- **Price grid** that depends on the price: at most 5 significant figures (or a whole number),
  on a 0.1 base tick: at 60,000 the grid step is 1.0. Market levels are aggregated onto it.
- **No amend**: ``Capabilities(amend=False)``; the strategy must replace instead.
- **Client ids**: 32 hex characters (a 128-bit number), not Binance's dashed ids.
- **No dead-man switch**: ``Capabilities(deadman=False)``; the runtime runs none.
- **Rejects**: its own words ("would cross", "no such order", "below min size"), mapped to
  neutral kinds here.
- **Rate limit**: one window of 50 requests per second.

It is in-process (no sockets): the gateway calls an exchange-side :class:`MatchingEngine`
after a small delay, the user feed delivers the engine's updates, the market feed turns a
seeded synthetic market (``mmtrio.sim.synthetic``) into snapshots on the coarse grid. The
venue object outlives a bot, so a restart meets the orders and fills the last run left.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import trio

from mmtrio.core.client_ids import EPOCH_DIGITS
from mmtrio.core.clock_offset import ClockReading
from mmtrio.core.commands import AmendOrder, CancelOrder, PlaceOrder
from mmtrio.core.events import (
    BookDelta,
    BookSnapshot,
    ExecType,
    FeedStatus,
    Fill,
    OrderUpdate,
    Trade,
)
from mmtrio.core.instruments import Instrument
from mmtrio.core.ratelimit import RateLimits, RateWindow, RequestCost
from mmtrio.core.rejects import RejectKind
from mmtrio.errors import VenueError
from mmtrio.exchange.matching import FeeSchedule, MatchingEngine, MatchingReject, NewOrder, Refusal
from mmtrio.sim.synthetic import SyntheticDriver, SyntheticParams
from mmtrio.venues.protocol import (
    AccountSnapshot,
    Capabilities,
    MarketSink,
    Mode,
    OrderAck,
    RequestCosts,
    SessionHooks,
    UserSink,
    VenueCredentials,
    VenueSettings,
)

SYMBOL = "BTC"
INSTRUMENT = Instrument(
    symbol=SYMBOL,
    tick_size=Decimal("0.1"),
    lot_size=Decimal("0.001"),
    min_qty=1,
    max_qty=1_000_000,
    min_notional=Decimal(10),
    base_asset="BTC",
    quote_asset="USDC",
    sig_figs=5,
)
LATENCY_S = 0.002
SNAPSHOT_LEVELS = 20
_GONE = "Order was never placed, already canceled, or filled"
_WORDS = {
    Refusal.WOULD_TAKE: ("Post only order would have immediately matched", RejectKind.WOULD_CROSS),
    Refusal.UNKNOWN_ORDER: (_GONE, RejectKind.UNKNOWN_ORDER),
    Refusal.NO_SUCH_ORDER: (_GONE, RejectKind.UNKNOWN_ORDER),
    Refusal.NOTIONAL_BELOW_MIN: ("Order must have minimum value of $10", RejectKind.INVALID_SIZE),
    Refusal.QTY_BELOW_MIN: ("Order has zero size", RejectKind.INVALID_SIZE),
    Refusal.PRICE_OFF_GRID: ("Order has invalid price", RejectKind.INVALID_PRICE),
    Refusal.REDUCE_ONLY: ("Reduce only order would increase position", RejectKind.REDUCE_ONLY),
}  # fmt: skip
_HEX32 = re.compile(r"^0x[0-9a-f]{32}$")
_MARKER = "6d6d74"  # "mmt": recognises our ids among every 128-bit number


class Cloid:
    """Client ids as 128-bit hex: ``0x`` + marker + epoch (8) + counter (12) + zero padding."""

    max_epoch = 16**EPOCH_DIGITS - 1
    max_counter = 16**12 - 1

    def make(self, epoch: int, counter: int) -> str:
        return f"0x{_MARKER}{epoch:08x}{counter:012x}{'0' * 6}"

    def parse(self, client_id: str) -> tuple[int, int] | None:
        if not _HEX32.fullmatch(client_id) or client_id[2:8] != _MARKER:
            return None
        return int(client_id[8:16], 16), int(client_id[16:28], 16)


class UnlikeExchange:
    """The venue's state: market, matching engine, our fills; shared by every session."""

    def __init__(self, seed: int = 11) -> None:
        fine = Instrument(SYMBOL, Decimal("0.1"), Decimal("0.001"), 1, 1_000_000, Decimal(0))
        self.driver = SyntheticDriver(fine, seed, SyntheticParams(level_qty_mean=20.0))
        self.engine = MatchingEngine(INSTRUMENT, FeeSchedule(Decimal("0.0001"), Decimal("0.00035")))
        self.bids: dict[int, int] = dict(self.driver.initial_snapshot().bids)
        self.asks: dict[int, int] = dict(self.driver.initial_snapshot().asks)
        self.ts = 0
        self.fills: list[Fill] = []
        self.position = 0
        self.entry = Decimal(0)  # average entry price of the open position
        self.subscribers: list[trio.MemorySendChannel[OrderUpdate]] = []
        self.requests = 0
        self.placed: list[str] = []

    def snapshot(self) -> BookSnapshot:
        """The book on the coarse grid: bids floored, asks ceiled, sizes aggregated."""
        bids: dict[int, int] = {}
        for p, q in self.bids.items():
            g = INSTRUMENT.floor_price(p)
            bids[g] = bids.get(g, 0) + q
        asks: dict[int, int] = {}
        for p, q in self.asks.items():
            g = INSTRUMENT.ceil_price(p)
            asks[g] = asks.get(g, 0) + q
        best_bid = max(bids) if bids else None
        # A grid bucket may hold both sides near the touch: keep the book uncrossed.
        asks = {p: q for p, q in asks.items() if best_bid is None or p > best_bid}
        return BookSnapshot(
            SYMBOL,
            tuple(sorted(bids.items(), reverse=True)[:SNAPSHOT_LEVELS]),
            tuple(sorted(asks.items())[:SNAPSHOT_LEVELS]),
            self.ts,
        )

    def publish(self, updates: list[OrderUpdate]) -> None:
        for u in updates:
            if u.fill is not None:
                self.fills.append(u.fill)
                self._book(u.fill)
            for ch in self.subscribers:
                ch.send_nowait(u)

    def _book(self, fill: Fill) -> None:
        signed = fill.qty * fill.side.sign
        price = INSTRUMENT.ticks_to_price(fill.price)
        new = self.position + signed
        if new == 0:
            self.entry = Decimal(0)
        elif self.position == 0 or (self.position > 0) != (new > 0):
            self.entry = price  # opened, or flipped through zero
        elif abs(new) > abs(self.position):  # added to: weighted average
            self.entry = (self.entry * abs(self.position) + price * abs(signed)) / abs(new)
        self.position = new

    async def run_market(self, sink: MarketSink, clock_ms: Callable[[], int]) -> None:
        """Replays the synthetic market at 10x: a snapshot after every book change."""
        start = clock_ms()
        t0 = None
        for msg in self.driver:
            ev = msg.event
            if t0 is None:
                t0 = msg.ts
            await trio.sleep(max(0.0, (msg.ts - t0) / 10_000 - (clock_ms() - start) / 1000))
            self.ts = clock_ms()
            if isinstance(ev, BookDelta):
                for book, levels in ((self.bids, ev.bids), (self.asks, ev.asks)):
                    for p, q in levels:
                        if q:
                            book[p] = q
                        else:
                            book.pop(p, None)
                snap = self.snapshot()
                self.publish(self.engine.on_snapshot(snap))
                sink.market(snap)
            elif isinstance(ev, Trade):
                # stamped with this venue's clock like its snapshots (the synthetic market's
                # own time starts at 0: the feed-latency guard would read years of delay)
                trade = dataclasses.replace(ev, ts=self.ts)
                self.publish(self.engine.on_trade(trade))
                sink.market(trade)


class UnlikeGateway:
    capabilities = Capabilities(amend=False, deadman=False)

    def __init__(self, venue: UnlikeExchange, clock_ms: Callable[[], int]) -> None:
        self.venue = venue
        self.clock_ms = clock_ms

    async def _hop(self) -> None:
        self.venue.requests += 1
        await trio.sleep(LATENCY_S)

    def _refused(self, exc: MatchingReject) -> VenueError:
        words, kind = _WORDS.get(exc.refusal, (exc.msg, RejectKind.UNKNOWN))
        return VenueError(words, kind=kind, code="", status=200)

    async def place(self, cmd: PlaceOrder) -> OrderAck:
        await self._hop()
        if not _HEX32.fullmatch(cmd.client_id):
            raise VenueError("Invalid cloid", kind=RejectKind.UNKNOWN, status=200)
        self.venue.placed.append(cmd.client_id)
        new = NewOrder(
            cmd.client_id, cmd.side, cmd.price, cmd.qty, cmd.time_in_force, cmd.reduce_only
        )
        try:
            updates = self.venue.engine.place(new, self.clock_ms())
        except MatchingReject as exc:
            raise self._refused(exc) from None
        self.venue.publish(updates)
        return OrderAck(cmd.client_id, updates[0].order_id, updates[0].status, self.clock_ms())

    async def amend(self, cmd: AmendOrder) -> OrderAck:
        raise AssertionError("this venue has no amend: the strategy must never ask for one")

    async def cancel(self, cmd: CancelOrder) -> None:
        await self._hop()
        try:
            self.venue.publish(self.venue.engine.cancel(cmd.client_id, self.clock_ms()))
        except MatchingReject as exc:
            raise self._refused(exc) from None

    async def cancel_all(self, symbol: str) -> None:
        await self._hop()
        self.venue.publish(self.venue.engine.cancel_all(self.clock_ms()))

    def _update(self, client_id: str) -> OrderUpdate | None:
        v = self.venue.engine.get(client_id)
        if v is None:
            return None
        return OrderUpdate(
            SYMBOL, v.client_id, v.order_id, v.side, ExecType.NEW, v.status, v.price, v.qty,
            v.cum_qty, v.time_in_force, v.reduce_only, self.clock_ms(),
        )  # fmt: skip

    async def query(self, symbol: str, client_id: str) -> OrderUpdate | None:
        await self._hop()
        return self._update(client_id)

    async def open_orders(self, symbol: str) -> list[OrderUpdate]:
        await self._hop()
        out = [self._update(v.client_id) for v in self.venue.engine.open_orders()]
        return [u for u in out if u is not None]

    async def position(self, symbol: str) -> tuple[int, Decimal]:
        await self._hop()
        return self.venue.position, self.venue.entry

    async def user_trades(self, symbol: str, from_id: int | None) -> list[Fill]:
        await self._hop()
        return [f for f in self.venue.fills if from_id is None or f.trade_id >= from_id]

    async def arm_deadman(self, symbol: str, countdown_ms: int) -> None:
        raise AssertionError("this venue has no dead-man switch: the runtime must not arm one")


class UnlikeMarketFeed:
    def __init__(self, venue: UnlikeExchange, clock_ms: Callable[[], int]) -> None:
        self.venue, self.clock_ms = venue, clock_ms
        self.resyncs = 0

    async def run(self, sink: MarketSink) -> None:
        sink.status(FeedStatus("market", True, "connected", self.clock_ms()))
        self.venue.ts = self.clock_ms()
        sink.market(self.venue.snapshot())
        await self.venue.run_market(sink, self.clock_ms)

    def request_resync(self, reason: str) -> None:
        self.resyncs += 1  # every message is a whole snapshot: the next one resyncs


class UnlikeUserFeed:
    def __init__(self, venue: UnlikeExchange, clock_ms: Callable[[], int]) -> None:
        self.venue, self.clock_ms = venue, clock_ms

    async def run(self, send: UserSink) -> None:
        tx, rx = trio.open_memory_channel[OrderUpdate](10_000)
        self.venue.subscribers.append(tx)
        try:
            await send(FeedStatus("user", True, "connected", self.clock_ms()))
            async for update in rx:
                await send(update)
        finally:
            self.venue.subscribers.remove(tx)


class UnlikeSession:
    name = "unlike"
    capabilities = UnlikeGateway.capabilities
    client_ids = Cloid()
    rate_limits = RateLimits((RateWindow("requests_1s", 1_000, 50),), orders_per_minute=600)
    costs = RequestCosts(
        place=RequestCost((("requests_1s", 1),)),
        amend=RequestCost((("requests_1s", 1),)),
        cancel=RequestCost((("requests_1s", 1),), essential=True),
        cancel_all=RequestCost((("requests_1s", 1),), essential=True),
        query=RequestCost((("requests_1s", 1),), essential=True),
        open_orders=RequestCost((("requests_1s", 1),), essential=True),
    )

    def __init__(self, venue: UnlikeExchange, hooks: SessionHooks) -> None:
        self.venue = venue
        self.hooks = hooks
        self.gateway = UnlikeGateway(venue, hooks.clock_ms)
        self.on_read_retry: Any = None

    async def load_instrument(self) -> Instrument:
        return INSTRUMENT

    async def account(self) -> AccountSnapshot:
        return AccountSnapshot(Decimal(10_000), Decimal(10_000))

    async def sync_clock(self) -> ClockReading:
        return ClockReading(0, 0, 1, 0, 0)

    def venue_time_ms(self) -> int:
        return self.hooks.clock_ms()

    def market_feed(self, instrument: Instrument) -> UnlikeMarketFeed:
        return UnlikeMarketFeed(self.venue, self.hooks.clock_ms)

    def user_feed(self, instrument: Instrument) -> UnlikeUserFeed:
        return UnlikeUserFeed(self.venue, self.hooks.clock_ms)

    async def aclose(self) -> None:
        return None


class UnlikeFactory:
    name = "unlike"
    url_names: tuple[str, ...] = ()
    credential_fields: tuple[str, ...] = ()

    def __init__(self, venue: UnlikeExchange) -> None:
        self.venue = venue

    def default_urls(self, mode: Mode) -> dict[str, str]:
        return {}

    def url_problems(self, mode: Mode, urls: Any) -> list[str]:
        return []

    def client_ids(self, prefix: str) -> Cloid:
        return Cloid()

    def open(
        self, settings: VenueSettings, credentials: VenueCredentials, hooks: SessionHooks
    ) -> UnlikeSession:
        return UnlikeSession(self.venue, hooks)
