"""The venue seam: what every venue package provides, in neutral terms.

The runtime and the core never learn which venue they trade (DESIGN.md §2 "The venue seam").
A venue package (``venues/binance``, ``venues/okx``, …) turns that venue's bytes into the
core's neutral events and the core's commands into its requests, and declares what differs
between venues here. The runtime imports this module and the registry, never a package.

What a package supplies, for one account and one instrument, as a :class:`VenueSession`:

- **the instrument**, read from the venue at start (:meth:`VenueSession.load_instrument`) and
  re-read periodically: a change while running halts quoting with the old and new values;
- **a market feed** (:class:`MarketFeed`): the venue's book continuity rule (Binance
  U/u/pu, OKX prevSeqId/seqId, Extended seq, Hyperliquid whole snapshots) is checked in the
  package's sequencer, once. The feed hands the runtime :class:`~mmtrio.core.events.BookSnapshot`
  and :class:`~mmtrio.core.events.BookDelta` events that are known to be continuous, or
  :class:`~mmtrio.core.events.BookInvalid`; the runtime asks for a resync with
  :meth:`MarketFeed.request_resync` when its own checks fail (a crossed book) or it fell behind;
- **a user feed** (:class:`UserFeed`): our order updates, fills, balances, positions and
  funding, lossless, with backpressure;
- **a gateway** (:class:`Gateway`): place / amend / cancel / cancel-all / query / open orders /
  position / fills / the dead-man switch, with declared :class:`Capabilities`. Every failure is
  a neutral :class:`~mmtrio.errors.VenueError` whose ``kind`` (a
  :class:`~mmtrio.core.rejects.RejectKind`) the package mapped from the venue's own code;
- **the rules that differ**: the client-id format (:class:`~mmtrio.core.client_ids.ClientIdFormat`,
  unique across restarts), the rate limits and the cost of each request
  (:class:`RequestCosts`), clock sync, the dead-man policy.

Construction goes through :mod:`mmtrio.venues.registry`: the CLI names the venue
(``[venue] name``), the registry imports that package and asks it for a session. Transports
are injectable (:class:`Transports`), so the deterministic simulation can run the same
connector over in-memory streams on a virtual clock (issue: deterministic simulation).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol, runtime_checkable

from mmtrio.core.client_ids import ClientIdFormat
from mmtrio.core.clock_offset import ClockReading
from mmtrio.core.commands import AmendOrder, CancelOrder, PlaceOrder
from mmtrio.core.events import (
    BookInvalid,
    BookSnapshot,
    Event,
    FeedStatus,
    Fill,
    MarketData,
    OrderStatus,
    OrderUpdate,
)
from mmtrio.core.instruments import Instrument
from mmtrio.core.ratelimit import RateLimits, RequestCost
from mmtrio.errors import VenueError
from mmtrio.venues.silence import DEFAULT_MARKET_SILENCE_S

__all__ = [
    "AccountSnapshot",
    "Capabilities",
    "Gateway",
    "MarketEvent",
    "MarketFeed",
    "MarketSink",
    "Mode",
    "OrderAck",
    "OrderSocket",
    "RequestCosts",
    "SessionHooks",
    "SocketHealth",
    "UserFeed",
    "UserSink",
    "VenueCredentials",
    "VenueFactory",
    "VenueSession",
    "VenueSettings",
]

Mode = Literal["paper", "testnet", "live"]
"""``paper``: the built-in simulated venue for this venue's protocol (started by the CLI);
``testnet``: the venue's test environment; ``live``: real money."""

MarketEvent = MarketData | BookSnapshot | BookInvalid
"""What a market feed delivers (plus :class:`FeedStatus` through ``MarketSink.status``)."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a venue's order entry can do; the strategy and execution adapt to it.

    ``amend``: the venue modifies an order in place (else the strategy replaces: cancel +
    new). ``amend_keeps_priority``: an amend that keeps the price and lowers the size keeps
    the queue position (else any amend goes to the back). ``batch``: several orders in one
    request. ``ws_order_entry``: order entry over the venue's WebSocket API, REST the fallback.
    ``deadman``: a venue-side cancel-all countdown exists. ``post_only``: a post-only time in
    force exists (every venue mmtrio supports has one; a venue without it cannot be quoted
    safely).
    """

    amend: bool
    amend_keeps_priority: bool = False
    batch: bool = False
    ws_order_entry: bool = False
    deadman: bool = True
    post_only: bool = True


@dataclass(frozen=True, slots=True)
class OrderAck:
    """The venue accepted a place or amend (the order's state after it, as the venue said)."""

    client_id: str
    order_id: int
    status: OrderStatus
    ts: int


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """The account as the venue states it (neutral; quote-asset amounts).

    ``position_mode_ok`` is False when the account's position mode cannot be traded by a
    one-way quoting strategy (Binance hedge mode, OKX long/short mode); ``mode_fix`` then
    names what the operator must change. ``leverage`` is None where the venue has no
    per-instrument leverage setting. ``liquidation_price`` is None when flat or unknown.
    ``max_notional`` is the largest position (quote notional) the venue allows at the current
    leverage (Binance's leverage bracket, ``maxNotionalValue``), with ``mark_price`` to value
    the configured position limit against it; None where the venue does not state them.
    """

    wallet_balance: Decimal
    available_balance: Decimal
    margin_ratio: Decimal | None = None  # maintenance margin / margin balance (0..1+)
    leverage: int | None = None
    max_leverage: int | None = None
    position_mode_ok: bool = True
    mode_fix: str = ""
    liquidation_price: Decimal | None = None
    can_trade: bool = True
    max_notional: Decimal | None = None
    mark_price: Decimal | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RequestCosts:
    """What each kind of request costs against the venue's limits (declared by the venue).

    Execution reserves the cost before a request leaves; ``essential`` costs (cancels, the
    dead-man refresh, queries resolving unknown outcomes) may use the whole limit, quotes only
    the configured share of it (:class:`~mmtrio.core.ratelimit.RateBudget`). ``deadman``: one
    dead-man refresh, for a venue whose connector pays it from this budget
    (:class:`PacedRequests`); start-up arms the dead-man only once the budget has room for a
    window of refreshes (``runtime/startup_budget.py``). None: the budget does not pay it.
    """

    place: RequestCost
    amend: RequestCost
    cancel: RequestCost
    cancel_all: RequestCost
    query: RequestCost
    open_orders: RequestCost
    deadman: RequestCost | None = None


class Gateway(Protocol):
    """Order entry and the account reads reconciliation needs, for one instrument.

    A call returns the venue's answer or raises a neutral :class:`~mmtrio.errors.VenueError`
    that says what may be concluded: ``definite`` → the venue did not act (``kind`` says why);
    :class:`~mmtrio.errors.OutcomeUnknownError` → it may have (query before resubmitting);
    :class:`~mmtrio.errors.RateLimited` → back off. The gateway never retries a request that
    changes state; execution decides what may be retried.
    """

    capabilities: Capabilities

    async def place(self, cmd: PlaceOrder) -> OrderAck: ...
    async def amend(self, cmd: AmendOrder) -> OrderAck: ...
    async def cancel(self, cmd: CancelOrder) -> None: ...
    async def cancel_all(self, symbol: str) -> None: ...
    async def query(self, symbol: str, client_id: str) -> OrderUpdate | None:
        """The order's state; None when the venue has no such order."""
        ...

    async def open_orders(self, symbol: str) -> list[OrderUpdate]: ...
    async def position(self, symbol: str) -> tuple[int, Decimal]:
        """(signed lots, entry price) of the one-way position."""
        ...

    async def user_trades(self, symbol: str, from_id: int | None) -> list[Fill]:
        """Every fill of ours with trade id >= ``from_id``, oldest first; the package pages.

        ``from_id`` None: the venue's recent history (what it lists without a cursor). Trade
        ids increase per instrument on every supported venue (the watermark relies on it).
        """
        ...

    async def arm_deadman(self, symbol: str, countdown_ms: int) -> None:
        """Arm the venue-side cancel-all countdown (0 disarms)."""
        ...


class MarketSink(Protocol):
    """Where a market feed delivers (the runtime's inbox). Never blocks the feed."""

    def market(self, event: MarketEvent) -> None: ...
    def status(self, event: FeedStatus) -> None: ...


UserSink = Callable[[Event], Awaitable[None]]
"""Where a user feed delivers: awaited, so a slow consumer holds the socket (lossless)."""


class MarketFeed(Protocol):
    """The venue's public data for one instrument (see the module docstring)."""

    async def run(self, sink: MarketSink) -> None:
        """Connect, keep connected (backoff, ping), deliver; until cancelled."""
        ...

    def request_resync(self, reason: str) -> None:
        """The consumer cannot use the book (crossed, fell behind): send a fresh snapshot."""
        ...


class UserFeed(Protocol):
    """Our private events (orders, fills, account), lossless."""

    async def run(self, send: UserSink) -> None:
        """Connect, authenticate, keep alive, deliver; until cancelled."""
        ...


class VenueSession(Protocol):
    """One venue, one account, one instrument: everything the runtime needs from a venue."""

    # Read-only (properties), so that a session may declare its own narrower types
    # (a venue's gateway class, its client-id format) and still be a VenueSession.
    @property
    def name(self) -> str: ...
    @property
    def capabilities(self) -> Capabilities: ...
    @property
    def client_ids(self) -> ClientIdFormat: ...
    @property
    def rate_limits(self) -> RateLimits: ...
    @property
    def costs(self) -> RequestCosts: ...
    @property
    def gateway(self) -> Gateway: ...

    async def load_instrument(self) -> Instrument:
        """Read the instrument's rules from the venue (at start, and periodically)."""
        ...

    async def account(self) -> AccountSnapshot:
        """Balance, margin and position mode, as the venue states them now."""
        ...

    async def sync_clock(self) -> ClockReading:
        """Measure the venue-clock offset (ms, venue − local) and apply it; return it."""
        ...

    def venue_time_ms(self) -> int:
        """Local time corrected by the last measured offset (for latency and limits)."""
        ...

    def market_feed(self, instrument: Instrument) -> MarketFeed: ...
    def user_feed(self, instrument: Instrument) -> UserFeed: ...

    on_read_retry: Callable[[float, VenueError], None] | None
    """When set (start-up), a read that a later try can fix (rate-limited: after the venue's
    wait; a 5xx, a lost connection, a clock skew: after a second) is sent again, after
    calling this with the wait and the error, instead of raising."""

    async def aclose(self) -> None: ...


@runtime_checkable
class SupervisedTasks(Protocol):
    """What a session may also provide: long-running tasks of its own that the runtime
    supervises (restarted on failure) while the bot runs, e.g. an order socket's connection
    loop. A session without them simply does not have the method."""

    def supervised_tasks(self) -> list[tuple[str, Callable[[], Awaitable[None]]]]: ...


@runtime_checkable
class AssetPrices(Protocol):
    """What a session may also provide: the price of another asset than the quote, in the
    quote asset (e.g. BNB on Binance, where fees may be paid in it), so the fees paid in it
    are in equity (``runtime/fee_prices.py``). A session without it does not have the method.
    Raises a :class:`~mmtrio.errors.VenueError` when the venue cannot say."""

    async def asset_price(self, asset: str) -> Decimal: ...


@dataclass(frozen=True, slots=True)
class SocketHealth:
    """An order-entry WebSocket as the runtime shows it (status screen, metrics ``ws="orders"``).

    ``connected``: orders go over it now (connected and, where the venue asks, logged on).
    ``sessions``: how many times it came up since the socket object was made.
    ``requests``: order requests written to it (REST carries the rest).
    """

    connected: bool
    sessions: int
    requests: int

    @property
    def reconnects(self) -> int:
        """Sessions after the first."""
        return max(0, self.sessions - 1)


@runtime_checkable
class OrderSocket(Protocol):
    """What a session with WebSocket order entry also provides: that socket's health, None
    while it has none (no ``order_ws`` configured on Binance; before Hyperliquid's user stream,
    which carries its orders, exists). A session without the method has no order socket."""

    def order_socket(self) -> SocketHealth | None: ...


REQUEST_PAID: ContextVar[bool] = ContextVar("mmtrio_request_paid", default=False)
"""True in the execution layer's tasks: it reserved the rate budget for every request it sends
through the gateway, so a connector that paces its other requests (:class:`PacedRequests`)
does not charge those twice."""


@runtime_checkable
class PacedRequests(Protocol):
    """What a session may also provide: its requests outside the execution layer
    (reconciliation and account reads, the dead-man's refresh, the start-up reads) charged to
    the execution's rate budget, for a venue that reports no usage to sync the budget from
    (Hyperliquid: every read weighs in the same IP budget as the orders, chaos seeds 2001,
    2018 and 2019 drew 429s the budget never saw coming). ``pace(cost)`` waits until the
    budget has room and reserves it; ``charge(cost, at_ms)`` books a request already sent at
    ``at_ms`` (the start-up's reads, sent before the budget existed)."""

    def pace_with(
        self,
        pace: Callable[[RequestCost], Awaitable[None]],
        charge: Callable[[RequestCost, int], None],
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class VenueSettings:
    """Where and what to trade, in neutral form (built from ``[venue]`` by the CLI).

    ``urls`` holds the venue's endpoints under the names its package declares (Binance:
    ``rest``, ``market_ws``, ``private_ws``); ``options`` holds venue-specific settings the
    package documents (none are required). The CLI always passes ``state_dir``: the bot's
    state directory, where a package may keep what must survive a restart (Hyperliquid's
    nonce reservation, Extended's nonce mark).
    """

    name: str
    mode: Mode
    symbol: str
    urls: Mapping[str, str]
    recv_window_ms: int = 5000
    options: Mapping[str, Any] = field(default_factory=dict)
    # How long a request may take before its outcome is unknown (execution.request_timeout_ms):
    # the package's HTTP client gives up after it.
    request_timeout_ms: int = 5000
    # One life of a venue that can be replaced under the same name: a paper venue lives as
    # long as its process, and a journal written against another instance describes an
    # account that is gone (the runtime sets that journal aside). Empty for a real venue.
    instance: str = ""
    # [venue] market_silence_s: a market stream connected but without a market message for
    # this long is reconnected (mmtrio.venues.silence); 0 turns the watchdog off.
    market_silence_s: float = DEFAULT_MARKET_SILENCE_S


@dataclass(frozen=True, slots=True)
class VenueCredentials:
    """Secrets for one account, whatever the venue needs of them; never shown.

    ``api_key``/``api_secret`` (HMAC venues), ``passphrase`` (OKX), ``private_key`` (an agent
    wallet or Stark key), ``account`` (an address or vault/position id, not secret).
    ``source`` says where they came from (env variable or file names: safe to log).
    """

    api_key: str = field(default="", repr=False)
    api_secret: str = field(default="", repr=False)
    passphrase: str = field(default="", repr=False)
    private_key: str = field(default="", repr=False)
    account: str = ""
    source: str = ""

    def secrets(self) -> list[str]:
        """Every non-empty secret, for the log redaction filter."""
        return [s for s in (self.api_key, self.api_secret, self.passphrase, self.private_key) if s]

    def __str__(self) -> str:
        return f"VenueCredentials(<redacted>, from {self.source or 'nowhere'})"

    __repr__ = __str__


@dataclass
class SessionHooks:
    """Runtime callbacks a session calls (all optional).

    ``on_blocked(until_ms, banned)``: every rate-limit back-off the venue imposed, its end on
    ``clock_ms``, so the runtime can keep it beyond this process (a restart inside it must
    wait too); ``banned`` when the answer was a ban of this host (Binance's HTTP 418), which
    the metrics count apart. ``on_usage``: the
    venue's reported use of its limits (window name → count). ``clock_ms``: the local ms clock
    (Trio's, so virtual time reaches the venue package too).

    ``http_transport`` and ``ws_connect``: the transports, when not the real network (None).
    The deterministic simulation (:mod:`mmtrio.chaos.dst`) passes an httpx transport that
    calls the simulated venue in memory and a websocket ``connect`` over in-memory streams
    (:data:`mmtrio.venues.wsconn.Connect`); a venue package hands them to its REST client and
    its streams unchanged.
    """

    clock_ms: Callable[[], int]
    on_blocked: Callable[[int, bool], None] | None = None
    on_usage: Callable[[dict[str, int | None]], None] | None = None
    http_transport: Any = None  # httpx.AsyncBaseTransport | None
    ws_connect: Any = None  # mmtrio.venues.wsconn.Connect | None


class VenueFactory(Protocol):
    """What a venue package exports as ``VENUE`` (see :mod:`mmtrio.venues.registry`)."""

    # Read-only (properties), so that a factory's class attributes (fixed-length tuples)
    # still make it a VenueFactory.
    @property
    def name(self) -> str: ...
    @property
    def url_names(self) -> tuple[str, ...]:
        """The endpoint names this venue's ``urls`` use (required in testnet/live)."""
        ...

    @property
    def credential_fields(self) -> tuple[str, ...]:
        """Which :class:`VenueCredentials` fields this venue needs (e.g. api_key, api_secret)."""
        ...

    def default_urls(self, mode: Mode) -> dict[str, str]:
        """The venue's own endpoints for ``testnet``/``live`` ({} if it publishes none)."""
        ...

    def url_problems(self, mode: Mode, urls: Mapping[str, str]) -> list[str]:
        """Every problem with ``urls`` for ``mode`` (a production host in testnet mode…)."""
        ...

    def client_ids(self, prefix: str) -> ClientIdFormat:
        """Our client-id format on this venue, with ``prefix``."""
        ...

    def open(
        self, settings: VenueSettings, credentials: VenueCredentials, hooks: SessionHooks
    ) -> VenueSession:
        """A session for ``settings`` (no I/O yet: ``load_instrument`` is the first request)."""
        ...
