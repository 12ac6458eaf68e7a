"""The matching engine's vocabulary: order requests, order views, refusals and the
instrument's order filters (:mod:`mmtrio.exchange.matching` is the engine itself).

Refusals are venue-neutral: each protocol front end of the sim says them in its venue's
codes, and the backtester maps them to the core's reject kinds (:attr:`Refusal.kind`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from mmtrio.core.events import OrderStatus, Side, TimeInForce
from mmtrio.core.instruments import Instrument
from mmtrio.core.rejects import RejectKind
from mmtrio.errors import MmtrioError

__all__ = [
    "FeeSchedule",
    "MatchingReject",
    "NewOrder",
    "OrderView",
    "Refusal",
    "check_filters",
]


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Fee rates as fractions of notional (positive = paid, negative = rebate)."""

    maker_rate: Decimal = Decimal("0.0002")
    taker_rate: Decimal = Decimal("0.0005")


class Refusal(enum.Enum):
    """Why the engine refused a request (it had no effect). Front ends map these to codes."""

    DUPLICATE_CLIENT_ID = "duplicate_client_id"
    QTY_BELOW_MIN = "qty_below_min"
    QTY_ABOVE_MAX = "qty_above_max"
    PRICE_BELOW_MIN = "price_below_min"
    PRICE_ABOVE_MAX = "price_above_max"
    PRICE_OFF_GRID = "price_off_grid"
    NOTIONAL_BELOW_MIN = "notional_below_min"
    REDUCE_ONLY = "reduce_only"
    WOULD_TAKE = "would_take"  # post-only
    NO_SUCH_ORDER = "no_such_order"  # amend/query of an order that is not open
    UNKNOWN_ORDER = "unknown_order"  # cancel of an order that is not open
    INSUFFICIENT_MARGIN = "insufficient_margin"  # raised by the sim's account, not the engine

    @property
    def kind(self) -> RejectKind:
        """The core's reject kind for this refusal (the backtester's venue has no codes)."""
        return _KIND[self]


_KIND = {
    Refusal.DUPLICATE_CLIENT_ID: RejectKind.UNKNOWN,
    Refusal.QTY_BELOW_MIN: RejectKind.INVALID_SIZE,
    Refusal.QTY_ABOVE_MAX: RejectKind.INVALID_SIZE,
    Refusal.PRICE_BELOW_MIN: RejectKind.INVALID_PRICE,
    Refusal.PRICE_ABOVE_MAX: RejectKind.INVALID_PRICE,
    Refusal.PRICE_OFF_GRID: RejectKind.INVALID_PRICE,
    Refusal.NOTIONAL_BELOW_MIN: RejectKind.INVALID_SIZE,
    Refusal.REDUCE_ONLY: RejectKind.REDUCE_ONLY,
    Refusal.WOULD_TAKE: RejectKind.WOULD_CROSS,
    Refusal.NO_SUCH_ORDER: RejectKind.UNKNOWN_ORDER,
    Refusal.UNKNOWN_ORDER: RejectKind.UNKNOWN_ORDER,
    Refusal.INSUFFICIENT_MARGIN: RejectKind.INSUFFICIENT_MARGIN,
}


class MatchingReject(MmtrioError):
    """A definite refusal (the request had no effect): ``refusal`` says why."""

    def __init__(self, refusal: Refusal, msg: str) -> None:
        super().__init__(f"venue refuses the request: {refusal.value}: {msg}")
        self.refusal = refusal
        self.msg = msg


@dataclass(frozen=True, slots=True)
class NewOrder:
    client_id: str
    side: Side
    price: int
    qty: int
    time_in_force: TimeInForce
    reduce_only: bool = False
    # the price the minimum-notional filter is checked at when it is not ``price``: a market
    # order's ``price`` is the far end of the price filter (it sweeps the book), so its
    # notional is counted at the venue's mark price instead, as venues do for orders
    # without a price
    notional_price: int | None = None


@dataclass(frozen=True, slots=True)
class OrderView:
    """One of our orders as the venue sees it (open, or recently closed)."""

    client_id: str
    order_id: int
    side: Side
    price: int
    qty: int
    cum_qty: int
    status: OrderStatus
    time_in_force: TimeInForce
    reduce_only: bool
    queue_ahead: int
    created_ts: int
    updated_ts: int
    expiry_cause: str | None = None  # "self_trade" | "ioc" | "post_only_amend" | "venue"


def check_filters(
    ins: Instrument, price: int, qty: int, reduce_only: bool, notional_price: int | None = None
) -> None:
    """The instrument's order filters (MatchingReject naming the first one broken); shared
    with the compiled backtest core so both refuse the same requests. The minimum notional
    is counted at ``notional_price`` when given (a market order's reference price), else at
    ``price``."""
    if qty <= 0 or qty < ins.min_qty:
        raise MatchingReject(
            Refusal.QTY_BELOW_MIN, f"quantity less than minimum ({ins.qty_str(ins.min_qty)})"
        )
    if qty > ins.max_qty:
        raise MatchingReject(Refusal.QTY_ABOVE_MAX, "quantity greater than max quantity")
    if price < ins.min_price_ticks:
        raise MatchingReject(Refusal.PRICE_BELOW_MIN, "price less than min price")
    if price > ins.max_price_ticks:
        raise MatchingReject(Refusal.PRICE_ABOVE_MAX, "price greater than max price")
    if not ins.is_valid_price(price):
        raise MatchingReject(Refusal.PRICE_OFF_GRID, "price is not on the price grid")
    at = price if notional_price is None else notional_price
    if not reduce_only and ins.notional(at, qty) < ins.min_notional:
        raise MatchingReject(
            Refusal.NOTIONAL_BELOW_MIN,
            f"order's notional must be no smaller than {ins.min_notional}",
        )
