"""Events: small immutable typed records that flow into the core.

Market and account events come from the venue codec; request outcomes (ack, reject,
unknown) come from execution; control events from the operator. All prices are ticks and
all sizes lots of the instrument named by ``symbol``; money amounts that are not on the
price grid (mark price, fees, funding, balances) are ``Decimal``. Times are integer
milliseconds: ``ts`` is the venue's event time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from mmtrio.core.frozen import fast_init
from mmtrio.core.rejects import RejectKind

Level = tuple[int, int]
"""A book level: (price in ticks, size in lots). Size 0 in a diff deletes the level."""


class Side(enum.Enum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class TimeInForce(enum.Enum):
    GTC = "GTC"
    IOC = "IOC"
    POST_ONLY = "POST_ONLY"  # rejected (RejectKind.WOULD_CROSS) instead of taking liquidity


class OrderStatus(enum.Enum):
    """An order's status as the venue reports it, in neutral terms.

    Each venue package maps its own statuses here (an expiry by self-trade prevention, a
    venue cancel at the dead-man countdown and an IOC remainder are all EXPIRED or CANCELED).
    """

    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"


class ExecType(enum.Enum):
    """What happened to the order in this update."""

    NEW = "NEW"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    TRADE = "TRADE"
    AMENDMENT = "AMENDMENT"


# --- market data ---------------------------------------------------------------------------


@fast_init
@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """The whole book (as deep as the venue sends it). ``seq`` is the venue's sequence of
    this book state, opaque to the core (0 when the venue has none)."""

    symbol: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    ts: int
    seq: int = 0


@fast_init
@dataclass(frozen=True, slots=True)
class BookDelta:
    """A change to the book, known by the venue's sequencer to follow the previous one.

    Sizes are absolute (0 deletes the level). ``seq`` identifies the book state after the
    delta, ``prev_seq`` the state it applies to and ``first_seq`` the first venue update it
    contains, in the venue's own numbering: opaque to the core, kept for the
    journal, the recorder and the simulated venues, which re-publish the real ids.
    """

    symbol: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    ts: int
    seq: int = 0
    prev_seq: int = 0
    first_seq: int = 0


@fast_init
@dataclass(frozen=True, slots=True)
class Trade:
    """A public trade. ``buyer_is_maker`` True means the aggressor sold."""

    symbol: str
    trade_id: int
    price: int
    qty: int
    buyer_is_maker: bool
    ts: int

    @property
    def aggressor(self) -> Side:
        return Side.SELL if self.buyer_is_maker else Side.BUY


@fast_init
@dataclass(frozen=True, slots=True)
class BookTicker:
    """Best bid and ask. ``seq`` names the book state it shows (the venue's sequence)."""

    symbol: str
    bid_price: int
    bid_qty: int
    ask_price: int
    ask_qty: int
    ts: int
    seq: int = 0


@fast_init
@dataclass(frozen=True, slots=True)
class MarkPrice:
    symbol: str
    mark_price: Decimal
    index_price: Decimal
    funding_rate: Decimal
    next_funding_ts: int
    ts: int


# --- our orders and account ----------------------------------------------------------------


@fast_init
@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of one of our orders, identified by the venue trade id."""

    symbol: str
    trade_id: int
    client_id: str
    order_id: int
    side: Side
    price: int
    qty: int
    fee: Decimal  # positive = paid, negative = rebate received, in fee_asset
    fee_asset: str
    is_maker: bool
    ts: int


@fast_init
@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """An order's new state (a venue push, or an order query result).

    ``fill`` is present exactly when ``exec_type`` is TRADE.
    """

    symbol: str
    client_id: str
    order_id: int
    side: Side
    exec_type: ExecType
    status: OrderStatus
    price: int
    qty: int
    cum_qty: int
    time_in_force: TimeInForce
    reduce_only: bool
    ts: int
    fill: Fill | None = None


@dataclass(frozen=True, slots=True)
class BalanceUpdate:
    asset: str
    wallet_balance: Decimal
    cross_wallet_balance: Decimal
    balance_change: Decimal


@dataclass(frozen=True, slots=True)
class PositionUpdate:
    symbol: str
    amount: int  # signed lots
    entry_price: Decimal
    unrealized_pnl: Decimal


@dataclass(frozen=True, slots=True)
class AccountUpdate:
    """A balance/position push: only what changed. ``reason`` is the venue's own word for why
    (for the journal and the log; no decision reads it)."""

    reason: str
    balances: tuple[BalanceUpdate, ...]
    positions: tuple[PositionUpdate, ...]
    ts: int


@dataclass(frozen=True, slots=True)
class AssetPrice:
    """The price of an asset other than the quote (``price`` quote per unit), read by the
    runtime through the venue seam: the ledger values the fees paid in it (Binance's BNB
    fee discount) at this price. ``ts`` is the local time it was asked for."""

    asset: str
    price: Decimal
    ts: int


@dataclass(frozen=True, slots=True)
class AccountHealth:
    """The account as the venue states it, read periodically by the runtime (neutral, in the
    quote asset): what the risk layer's margin guard judges (:mod:`mmtrio.core.account_guard`).
    ``ts`` is the local time the reading was asked for.
    ``margin_ratio`` is maintenance margin / margin balance (liquidation at 1), None where the
    venue does not say; ``liquidation_price`` None when flat or unknown."""

    available_balance: Decimal
    margin_ratio: Decimal | None
    liquidation_price: Decimal | None
    ts: int


@dataclass(frozen=True, slots=True)
class MarginCall:
    """The venue warned that the account's margin is close to liquidation (Binance's
    ``MARGIN_CALL`` push). ``detail`` is the venue's figures, said in a sentence for the
    operator; the margin guard reduces only until a fresh account reading is healthy."""

    ts: int
    detail: str


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """Funding settled on our position (the venue package derives it from its account push)."""

    symbol: str
    amount: Decimal  # positive = received, negative = paid
    ts: int


# --- outcomes of our own requests (from execution) -----------------------------------------


@fast_init
@dataclass(frozen=True, slots=True)
class PlaceAccepted:
    client_id: str
    order_id: int
    ts: int


@fast_init
@dataclass(frozen=True, slots=True)
class PlaceRejected:
    """The venue definitely did not create the order (``kind`` says why; ``code`` is the
    venue's own code, for the log and the journal only)."""

    client_id: str
    kind: RejectKind
    code: str
    reason: str
    ts: int


@fast_init
@dataclass(frozen=True, slots=True)
class AmendAccepted:
    client_id: str
    price: int
    qty: int
    ts: int


@fast_init
@dataclass(frozen=True, slots=True)
class AmendRejected:
    client_id: str
    kind: RejectKind
    code: str
    reason: str
    ts: int


@fast_init
@dataclass(frozen=True, slots=True)
class CancelAccepted:
    client_id: str
    ts: int


@fast_init
@dataclass(frozen=True, slots=True)
class CancelRejected:
    """The venue refused the cancel. UNKNOWN_ORDER means the order is already gone."""

    client_id: str
    kind: RejectKind
    code: str
    reason: str
    ts: int


@fast_init
@dataclass(frozen=True, slots=True)
class OutcomeUnknown:
    """A request's outcome is unknown (timeout, 5xx): resolve by query before resubmitting."""

    client_id: str
    operation: str  # "place" | "amend" | "cancel"
    reason: str
    ts: int


@fast_init
@dataclass(frozen=True, slots=True)
class OrderNotFound:
    """A query by client id says the venue has no such order."""

    client_id: str
    ts: int


# --- runtime and operator --------------------------------------------------------------------


@fast_init
@dataclass(frozen=True, slots=True)
class Timer:
    """A wake-up the core asked for via ``next_deadline()``; ``ts`` is the deadline reached."""

    ts: int


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """A stream went up or down (``stream`` is "market" or "user")."""

    stream: str
    connected: bool
    reason: str
    ts: int


@dataclass(frozen=True, slots=True)
class BookInvalid:
    """The book cannot be used (a sequence gap, a reconnect, the consumer fell behind): the
    venue's sequencer says so and resyncs; the next BookSnapshot makes it valid again."""

    symbol: str
    reason: str
    ts: int


@dataclass(frozen=True, slots=True)
class KillSwitch:
    """Latch halted (operator, file flag or an external guard); ``flatten`` closes the position.

    ``position_mismatch``: a reconciliation found the venue's position beyond tolerance of the
    books'; a resume is refused until the books adopt the venue's (a restart's start-up)."""

    reason: str
    flatten: bool
    ts: int
    position_mismatch: bool = False


@dataclass(frozen=True, slots=True)
class Resume:
    """Operator resume. ``override``: the operator accepts a loss-limit breach (drawdown,
    daily, cumulative) and restarts that limit; journaled with ``reason``."""

    reason: str
    ts: int
    override: bool = False


MarketData = BookDelta | Trade | BookTicker | MarkPrice
"""Public market data: what a runtime may apply without planning (``MarketMaker.absorb``)."""

Event = (
    BookSnapshot
    | BookDelta
    | Trade
    | BookTicker
    | MarkPrice
    | OrderUpdate
    | AccountUpdate
    | AccountHealth
    | AssetPrice
    | MarginCall
    | FundingPayment
    | PlaceAccepted
    | PlaceRejected
    | AmendAccepted
    | AmendRejected
    | CancelAccepted
    | CancelRejected
    | OutcomeUnknown
    | OrderNotFound
    | Timer
    | FeedStatus
    | BookInvalid
    | KillSwitch
    | Resume
)
