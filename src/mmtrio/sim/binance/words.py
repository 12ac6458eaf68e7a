"""Binance's words for the sim's neutral values: time in force, statuses, refusal codes.

The simulated venue's engine (``mmtrio.exchange``) and account speak neutral terms; the Binance
front end says them the way Binance does (PROTOCOL.md; Binance's error-code list). This module
is the one place the front end's vocabulary lives.
"""

from __future__ import annotations

from mmtrio.core.events import OrderStatus, TimeInForce
from mmtrio.exchange.matching import MatchingReject, Refusal
from mmtrio.sim.binance.wire import ApiError
from mmtrio.sim.errors import SimBadRequest
from mmtrio.sim.limits import LimitReason, RateLimitHit, Usage

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

# The matching engine's self-trade rule (mmtrio.exchange.matching) in Binance's word: every
# REST answer and user-stream event names it, and an order asking for another is refused.
STP_MODE = "EXPIRE_TAKER"

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


def bad_request(exc: SimBadRequest) -> ApiError:
    """A malformed parameter the shared engine found (fault and admin knobs)."""
    return ApiError(-1100, str(exc), exc.status)


def usage_headers(usage: Usage) -> list[tuple[bytes, bytes]]:
    """Binance's usage headers on every answer."""
    return [
        (b"x-mbx-used-weight-1m", str(usage.weight_1m).encode()),
        (b"x-mbx-order-count-10s", str(usage.orders_10s).encode()),
        (b"x-mbx-order-count-1m", str(usage.orders_1m).encode()),
    ]


_WINDOW_WORD = {10: "TEN_SECONDS", 60: "ONE_MINUTE"}


def limit_error(hit: RateLimitHit) -> ApiError:
    """A 429/418 the limiter decided, as Binance says it (-1003 weight/ban, -1015 orders)."""
    if hit.reason is LimitReason.ORDERS:
        window = _WINDOW_WORD.get(hit.window_s, f"{hit.window_s} SECONDS")
        code, msg = -1015, f"Too many new orders; current limit is {hit.limit} orders per {window}."
    elif hit.reason is LimitReason.WEIGHT:
        code, msg = (
            -1003,
            (
                f"Too many requests; current limit is {hit.limit} request weight per 1 MINUTE. "
                "Please use the websocket for live updates."
            ),
        )
    elif hit.status == 418:
        code, msg = (
            -1003,
            "Way too many requests; IP banned"
            + (
                " for not backing off after a 429."
                if hit.reason is LimitReason.IGNORED_BACKOFF
                else "."
            ),
        )
    else:
        code, msg = -1003, hit.detail
    headers = [*usage_headers(hit.usage), (b"retry-after", str(hit.retry_after_s).encode())]
    return ApiError(code, msg, hit.status, headers)
