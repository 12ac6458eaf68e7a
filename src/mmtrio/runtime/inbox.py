"""The trading loop's one inbox: a conflating market lane and a lossless order/account lane.

Everything that changes the strategy reaches it through here, in two lanes with opposite
policies (DESIGN.md §3):

- **Market lane** (``market``, the venue feed's :class:`~mmtrio.venues.protocol.MarketSink`):
  never blocks the feed's socket reader. When the loop is behind, it drains the whole lane,
  applies every pending book update, and decides once: stale intermediate states are applied,
  never planned on. If the lane still fills up (the loop is stuck, not just slow), everything
  in it is dropped, the feed is asked for a resync (the book is invalid until a fresh
  snapshot) and the overflow is counted. So there is one buffer between socket and strategy,
  not two, and never a silently holed book.
- **Lossless lane** (``send``/``send_nowait``): our order updates and fills, account events,
  request outcomes from execution, feed status changes, operator events and config reloads.
  Bounded with backpressure: a slow loop makes the user stream wait (the kernel buffer holds
  its bytes); nothing here is ever dropped or reordered.

The loop takes a :class:`Batch` (everything pending in both lanes) and applies it: market
first (the book is brought up to date), then the lossless items in arrival order, then one
decision. Counters feed the status and metrics: ``conflated`` (market events applied without a
decision of their own), ``overflows`` and ``dropped``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import trio

from mmtrio.core.events import BookInvalid, Event, FeedStatus
from mmtrio.errors import ConfigError
from mmtrio.venues.protocol import MarketEvent


class Sender(Protocol):
    """Where a producer sends lossless items (the inbox, or a test's channel)."""

    async def send(self, item: Any, /) -> None: ...


MARKET_CAPACITY = 4_096
LOSSLESS_CAPACITY = 1_024


@dataclass
class LaneStats:
    """Counters of one feed (market or user) as the inbox sees it."""

    received: int = 0
    connected: bool = False
    last_status: str = "not started"
    last_event_ms: int | None = None  # venue time of the last event
    # Connections after the first one (monotonic: exported as a Prometheus counter). Counted
    # here, from every FeedStatus, so a flap shorter than a screen refresh is not missed.
    reconnects: int = 0
    ever_connected: bool = False

    def on_status(self, connected: bool, reason: str) -> None:
        if connected and not self.connected:
            if self.ever_connected:
                self.reconnects += 1
            self.ever_connected = True
        self.connected = connected
        self.last_status = reason

    def to_json(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "connected": self.connected,
            "reconnects": self.reconnects,
            "last_status": self.last_status,
            "last_event_ms": self.last_event_ms,
        }


@dataclass
class Batch:
    """What the loop found waiting: market events (oldest first) and lossless items."""

    market: list[MarketEvent] = field(default_factory=list)
    lossless: list[Any] = field(default_factory=list)
    # perf_counter_ns() when the oldest of ``market`` arrived (tick-to-order metric); None
    # without market events.
    received_ns: int | None = None

    def __bool__(self) -> bool:
        return bool(self.market or self.lossless)


class Inbox:
    """See the module docstring. One consumer (the trading loop), many producers."""

    def __init__(
        self,
        *,
        market_capacity: int = MARKET_CAPACITY,
        lossless_capacity: int = LOSSLESS_CAPACITY,
        clock_ms: Callable[[], int],
    ) -> None:
        if market_capacity < 8 or lossless_capacity < 8:
            raise ConfigError("inbox lanes need a capacity of at least 8")
        self.market_capacity = market_capacity
        self.lossless_capacity = lossless_capacity
        self._clock_ms = clock_ms
        self._market: deque[MarketEvent] = deque()
        self._lossless: deque[Any] = deque()
        self._wake = trio.Event()
        self._space = trio.Event()
        # Asked when the market lane overflows (the feed's request_resync).
        self.on_overflow: Callable[[str], None] | None = None
        self.market_stats = LaneStats()
        self.user_stats = LaneStats()
        self.conflated = 0
        self.overflows = 0
        self.dropped = 0
        self.batches = 0
        self._market_since_ns = 0  # when the oldest waiting market event arrived

    # --- market lane (MarketSink) -------------------------------------------------------
    def market(self, event: MarketEvent) -> None:
        """A market event from the feed; never blocks (see the overflow policy)."""
        stats = self.market_stats
        stats.received += 1
        if not isinstance(event, BookInvalid):
            stats.last_event_ms = event.ts
        if len(self._market) >= self.market_capacity:
            self._overflow()
        if not self._market:
            self._market_since_ns = time.perf_counter_ns()
        self._market.append(event)
        self._wake.set()

    def status(self, event: FeedStatus) -> None:
        """A feed went up or down: lossless (the strategy must see every transition)."""
        self._stats_of(event).on_status(event.connected, event.reason)
        self._lossless.append(event)  # never refused: status changes are rare and tiny
        self._wake.set()

    def _overflow(self) -> None:
        self.overflows += 1
        self.dropped += len(self._market)
        self._market.clear()
        reason = "the trading loop fell behind: stale market events dropped"
        if self.on_overflow is not None:
            self.on_overflow(reason)  # the feed sends BookInvalid, then a fresh snapshot
        else:
            self._market.append(BookInvalid("", reason, self._clock_ms()))

    # --- lossless lane --------------------------------------------------------------------
    async def send(self, item: Any) -> None:
        """Queue ``item``, waiting while the lane is full (backpressure, never a drop)."""
        while len(self._lossless) >= self.lossless_capacity:
            if self._space.is_set():
                self._space = trio.Event()
            await self._space.wait()
        self._put(item)
        await trio.lowlevel.checkpoint()

    def send_nowait(self, item: Any) -> None:
        """Queue ``item`` now; trio.WouldBlock when the lane is full."""
        if len(self._lossless) >= self.lossless_capacity:
            raise trio.WouldBlock
        self._put(item)

    async def send_user(self, event: Event) -> None:
        """The user feed's sink (:data:`~mmtrio.venues.protocol.UserSink`): counted, lossless."""
        stats = self.user_stats
        if not isinstance(event, FeedStatus):
            stats.received += 1
            ts = getattr(event, "ts", None)
            if isinstance(ts, int):
                stats.last_event_ms = ts
        await self.send(event)

    def _put(self, item: Any) -> None:
        if isinstance(item, FeedStatus):
            self._stats_of(item).on_status(item.connected, item.reason)
        self._lossless.append(item)
        self._wake.set()

    def _stats_of(self, event: FeedStatus) -> LaneStats:
        return self.market_stats if event.stream == "market" else self.user_stats

    # --- consumer -------------------------------------------------------------------------
    def pending(self) -> int:
        return len(self._market) + len(self._lossless)

    def take(self) -> Batch:
        """Everything pending now (possibly nothing), without waiting."""
        batch = Batch(list(self._market), list(self._lossless))
        if batch.market:
            batch.received_ns = self._market_since_ns
        if batch.market:
            self.conflated += len(batch.market) - 1
        self._market.clear()
        self._lossless.clear()
        if self._wake.is_set():
            self._wake = trio.Event()
        self._space.set()
        if batch:
            self.batches += 1
        return batch

    async def wait(self) -> None:
        """Until something is pending (returns at once if it already is)."""
        while not self._market and not self._lossless:
            if self._wake.is_set():
                self._wake = trio.Event()
            await self._wake.wait()

    def to_json(self) -> dict[str, Any]:
        return {
            "market_pending": len(self._market),
            "lossless_pending": len(self._lossless),
            "batches": self.batches,
            "conflated": self.conflated,
            "overflows": self.overflows,
            "dropped": self.dropped,
        }
