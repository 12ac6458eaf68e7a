"""What the status screen and the metrics read of the engine: the :class:`StatusView`
protocol, its immutable :class:`ScreenSnapshot` and the :class:`SnapshotBuilder` that makes one
from the live engine on the Trio thread (runtime/screen.py renders it on another thread)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mmtrio.core.instruments import Instrument
from mmtrio.core.notices import StrategyStatus
from mmtrio.runtime.backoffs import BackoffTally
from mmtrio.runtime.inbox import LaneStats
from mmtrio.runtime.status import StatusSources
from mmtrio.runtime.supervisor import ChildStatus


class ConnectionView(Protocol):
    """One websocket (or other long-lived connection) as the screen shows it."""

    @property
    def name(self) -> str:
        """Short label, e.g. "market" or "user"."""
        ...

    @property
    def up(self) -> bool:
        """True while connected."""
        ...

    @property
    def reconnects(self) -> int:
        """Reconnections since start (monotonic: metrics export it as a counter)."""
        ...

    @property
    def messages(self) -> int:
        """Messages since start (monotonic): events received on a market or user stream,
        requests sent on the order socket."""
        ...


class RateLimitView(Protocol):
    """One of the venue's rate-limit windows: ``used`` of ``limit`` in the current window."""

    @property
    def name(self) -> str:
        """Window name, e.g. "weight_1m", "orders_10s", "orders_1m"."""
        ...

    @property
    def used(self) -> int:
        """Count used in the current window."""
        ...

    @property
    def limit(self) -> int:
        """The venue's limit for the window."""
        ...


class StatusView(Protocol):
    """What the screen (and the metrics collector) read of the engine's status snapshot.

    ``strategy`` is None until the strategy produced its first status (start-up). REST latency
    is over the execution layer's bounded recent window, in µs, None before any request.
    """

    @property
    def instrument(self) -> Instrument:
        """The quoted instrument (to turn ticks and lots into prices and sizes)."""
        ...

    @property
    def strategy(self) -> StrategyStatus | None:
        """The core's frozen status, or None before the first one."""
        ...

    @property
    def connections(self) -> Sequence[ConnectionView]:
        """Websocket health."""
        ...

    @property
    def rest_p50_us(self) -> int | None:
        """Median REST round trip (µs)."""
        ...

    @property
    def rest_p99_us(self) -> int | None:
        """99th-percentile REST round trip (µs)."""
        ...

    @property
    def rate_limits(self) -> Sequence[RateLimitView]:
        """Rate-limit usage per venue window."""
        ...

    @property
    def children(self) -> Sequence[ChildStatus]:
        """The supervisor's children."""
        ...

    @property
    def backoffs(self) -> Sequence[BackoffTally]:
        """Rate-limit back-offs since start, by reason (runtime/backoffs.py)."""
        ...


@dataclass(frozen=True, slots=True)
class Connection:
    """A :class:`ConnectionView`: one websocket's health."""

    name: str
    up: bool
    reconnects: int
    messages: int = 0


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A :class:`RateLimitView`: one venue rate-limit window."""

    name: str
    used: int
    limit: int


@dataclass(frozen=True, slots=True)
class ScreenSnapshot:
    """An immutable :class:`StatusView`, safe to hand to the refresh thread."""

    instrument: Instrument
    strategy: StrategyStatus | None
    connections: tuple[Connection, ...]
    rest_p50_us: int | None
    rest_p99_us: int | None
    rate_limits: tuple[RateLimit, ...]
    children: tuple[ChildStatus, ...]
    backoffs: tuple[BackoffTally, ...] = ()
    max_position_lots: int | None = None  # risk.max_position: the header names a side off
    stopping: str | None = None  # the reason, once the shutdown has begun


class SnapshotBuilder:
    """Builds :class:`ScreenSnapshot` s from the engine's live :class:`StatusSources`.

    Call :meth:`build` on the Trio thread only: it reads live objects (strategy, execution,
    supervisor) without awaiting, so the snapshot is consistent. Reconnects are the feeds' own
    count (``LaneStats.reconnects``, every FeedStatus), or — for a feed object that does not
    count — the ``connected`` flag going up again between builds (a lower bound). The order
    socket (``orders``, when the session has one: :class:`~mmtrio.venues.protocol.OrderSocket`)
    counts its own; a new socket object (a new session) starting again from zero is carried
    on from the old one's last counts (:class:`~mmtrio.runtime.socket_counts.OrderSocketCounts`,
    kept in the sources), so every count stays monotonic.
    """

    def __init__(self, src: StatusSources) -> None:
        self.stopping: str | None = None  # set by the surface when the shutdown begins
        self._src = src
        self._seen_up: dict[str, bool] = {}
        self._ever_up: set[str] = set()
        self._reconnects: dict[str, int] = {}

    def _connection(self, name: str, feed: LaneStats | None) -> Connection | None:
        if feed is None:
            return None
        was = self._seen_up.get(name)
        # The first connection after start is not a *re*connect.
        if feed.connected and was is False and name in self._ever_up:
            self._reconnects[name] = self._reconnects.get(name, 0) + 1
        if feed.connected:
            self._ever_up.add(name)
        if was is None or feed.connected != was:
            self._seen_up[name] = feed.connected
        # LaneStats counts every FeedStatus (exact); the flag-watching count covers feeds that
        # do not (a lower bound). Both are monotonic, so the larger stays a valid counter.
        reconnects = max(self._reconnects.get(name, 0), feed.reconnects)
        return Connection(name, feed.connected, reconnects, feed.received)

    def _orders(self) -> Connection | None:
        health = self._src.order_socket()  # totals since start, shared with `mmtrio status`
        if health is None:
            return None
        return Connection("orders", health.connected, health.reconnects, health.requests)

    def build(self) -> ScreenSnapshot | None:
        """The current snapshot (Trio thread, no await); None until the venue's instrument
        is known (start-up reads it first)."""
        src = self._src
        if src.instrument is None:
            return None
        now = src.clock_ms()
        strategy = src.strategy.status(now) if src.strategy is not None else None
        p50 = p99 = None
        limits: list[RateLimit] = []
        if src.execution is not None:
            stats = src.execution.stats()
            p50, p99 = stats.get("latency_p50_us"), stats.get("latency_p99_us")
            budget = stats.get("budget")
            if isinstance(budget, dict):
                for name, window in budget.items():
                    if isinstance(window, dict) and "used" in window and "limit" in window:
                        limits.append(RateLimit(name, int(window["used"]), int(window["limit"])))
        conns = [
            self._connection("market", src.market),
            self._connection("user", src.user),
            self._orders(),
        ]
        children = tuple(src.supervisor.snapshot()) if src.supervisor is not None else ()
        return ScreenSnapshot(
            instrument=src.instrument,
            strategy=strategy,
            connections=tuple(c for c in conns if c is not None),
            rest_p50_us=p50 if isinstance(p50, int) else None,
            rest_p99_us=p99 if isinstance(p99, int) else None,
            rate_limits=tuple(limits),
            children=children,
            backoffs=src.backoffs.tallies() if src.backoffs is not None else (),
            max_position_lots=max_position_lots(self._src.strategy),
            stopping=self.stopping,
        )


def max_position_lots(strategy: Any) -> int | None:
    """risk.max_position in lots, from the running strategy (None before it is built)."""
    if strategy is None:
        return None
    lots: int = strategy.config.limits.max_position_lots
    return lots
