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
    GTX = "GTX"  # post-only: rejected (-5022) instead of taking liquidity


class VenueOrderStatus(enum.Enum):
    """Order status as the venue reports it (``X`` in ORDER_TRADE_UPDATE)."""

    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    EXPIRED_IN_MATCH = "EXPIRED_IN_MATCH"
    REJECTED = "REJECTED"


class ExecType(enum.Enum):
    """What happened (``x`` in ORDER_TRADE_UPDATE)."""

    NEW = "NEW"
    CANCELED = "CANCELED"
    CALCULATED = "CALCULATED"
    EXPIRED = "EXPIRED"
    TRADE = "TRADE"
    AMENDMENT = "AMENDMENT"


# --- market data ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    symbol: str
    last_update_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    ts: int


@dataclass(frozen=True, slots=True)
class DepthDiff:
    """A diff-depth message: ``first_id``=U, ``last_id``=u, ``prev_last_id``=pu."""

    symbol: str
    first_id: int
    last_id: int
    prev_last_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    ts: int


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


@dataclass(frozen=True, slots=True)
class BookTicker:
    symbol: str
    update_id: int
    bid_price: int
    bid_qty: int
    ask_price: int
    ask_qty: int
    ts: int


@dataclass(frozen=True, slots=True)
class MarkPrice:
    symbol: str
    mark_price: Decimal
    index_price: Decimal
    funding_rate: Decimal
    next_funding_ts: int
    ts: int


# --- our orders and account ----------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """ORDER_TRADE_UPDATE (or an order query result) for one order.

    ``fill`` is present exactly when ``exec_type`` is TRADE.
    """

    symbol: str
    client_id: str
    order_id: int
    side: Side
    exec_type: ExecType
    status: VenueOrderStatus
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
    """ACCOUNT_UPDATE: only what changed. ``reason`` is the venue's ``m`` (ORDER, FUNDING_FEE…)."""

    reason: str
    balances: tuple[BalanceUpdate, ...]
    positions: tuple[PositionUpdate, ...]
    ts: int


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """Funding settled on our position (derived from an ACCOUNT_UPDATE FUNDING_FEE)."""

    symbol: str
    amount: Decimal  # positive = received, negative = paid
    ts: int


# --- outcomes of our own requests (from execution) -----------------------------------------


@dataclass(frozen=True, slots=True)
class PlaceAccepted:
    client_id: str
    order_id: int
    ts: int


@dataclass(frozen=True, slots=True)
class PlaceRejected:
    """The venue definitely did not create the order (e.g. -5022 post-only would take)."""

    client_id: str
    code: int
    reason: str
    ts: int


@dataclass(frozen=True, slots=True)
class AmendAccepted:
    client_id: str
    price: int
    qty: int
    ts: int


@dataclass(frozen=True, slots=True)
class AmendRejected:
    client_id: str
    code: int
    reason: str
    ts: int


@dataclass(frozen=True, slots=True)
class CancelAccepted:
    client_id: str
    ts: int


@dataclass(frozen=True, slots=True)
class CancelRejected:
    """The venue refused the cancel. -2011 (unknown order) means the order is already gone."""

    client_id: str
    code: int
    reason: str
    ts: int


@dataclass(frozen=True, slots=True)
class OutcomeUnknown:
    """A request's outcome is unknown (timeout, 5xx): resolve by query before resubmitting."""

    client_id: str
    operation: str  # "place" | "amend" | "cancel"
    reason: str
    ts: int


@dataclass(frozen=True, slots=True)
class OrderNotFound:
    """A query by client id says the venue has no such order (-2013)."""

    client_id: str
    ts: int


# --- runtime and operator --------------------------------------------------------------------


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
    """The runtime knows the local book is invalid (gap detected, resync in progress)."""

    symbol: str
    reason: str
    ts: int


@dataclass(frozen=True, slots=True)
class KillSwitch:
    """Latch halted (operator, file flag or an external guard); ``flatten`` closes the position."""

    reason: str
    flatten: bool
    ts: int


@dataclass(frozen=True, slots=True)
class Resume:
    reason: str
    ts: int


MarketData = DepthDiff | Trade | BookTicker | MarkPrice
"""Public market data: what a runtime may apply without planning (``MarketMaker.absorb``)."""

Event = (
    BookSnapshot
    | DepthDiff
    | Trade
    | BookTicker
    | MarkPrice
    | OrderUpdate
    | AccountUpdate
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
