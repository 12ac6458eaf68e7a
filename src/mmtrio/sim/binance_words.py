"""Binance's words for the sim's neutral values: time in force, statuses, refusal codes.

The simulated venue's engine (``mmtrio.exchange``) and account speak neutral terms; the Binance
front end says them the way Binance does (PROTOCOL.md; Binance's error-code list). This module
is the one place the front end's vocabulary lives.
"""

from __future__ import annotations

from mmtrio.core.events import OrderStatus, TimeInForce
from mmtrio.exchange.matching import MatchingReject, Refusal
from mmtrio.sim.wire import ApiError

TIF_TEXT: dict[TimeInForce, str] = {
    TimeInForce.GTC: "GTC",
    TimeInForce.IOC: "IOC",
    TimeInForce.POST_ONLY: "GTX",
}
# ccxt spells post-only "PO" in some versions; Binance's wire is GTX.
TIF_PARSE: dict[str, TimeInForce] = {
    **{v: k for k, v in TIF_TEXT.items()},
    "PO": TimeInForce.POST_ONLY,
}

REFUSALS: dict[Refusal, tuple[int, str]] = {
    Refusal.DUPLICATE_CLIENT_ID: (-4116, "ClientOrderId is duplicated."),
    Refusal.QTY_BELOW_MIN: (-4003, "Quantity less than or equal to zero."),
    Refusal.QTY_ABOVE_MAX: (-4005, "Quantity greater than max quantity."),
    Refusal.PRICE_BELOW_MIN: (-4013, "Price less than min price."),
    Refusal.PRICE_ABOVE_MAX: (-4016, "Price greater than max price."),
    Refusal.PRICE_OFF_GRID: (-4014, "Price not increased by tick size."),
    Refusal.NOTIONAL_BELOW_MIN: (
        -4164,
        "Order's notional must be no smaller than the minimum (unless you choose reduce only).",
    ),
    Refusal.REDUCE_ONLY: (-2022, "ReduceOnly Order is rejected."),
    Refusal.WOULD_TAKE: (
        -5022,
        "Due to the order could not be executed as maker, the Post Only order will be "
        "rejected. The order will not be recorded in the order history",
    ),
    Refusal.NO_SUCH_ORDER: (-2013, "Order does not exist."),
    Refusal.UNKNOWN_ORDER: (-2011, "Unknown order sent."),
    Refusal.INSUFFICIENT_MARGIN: (-2019, "Margin is insufficient."),
}


def api_error(exc: MatchingReject) -> ApiError:
    """The Binance error answer for an engine refusal."""
    code, msg = REFUSALS[exc.refusal]
    return ApiError(code, msg)


def status_text(status: str, expiry_cause: str | None) -> str:
    """Binance's order status: a self-trade-prevention expiry is ``EXPIRED_IN_MATCH``."""
    if status == OrderStatus.EXPIRED.value and expiry_cause == "self_trade":
        return "EXPIRED_IN_MATCH"
    return status
