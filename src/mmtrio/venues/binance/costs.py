"""Binance USD-M rate limits and what each request costs (PROTOCOL.md "Limits and errors").

Three windows: request weight per minute (``weight_1m``), orders per 10 s (``orders_10s``)
and per minute (``orders_1m``), clock-aligned, their limits read from exchangeInfo
``rateLimits`` (defaults below are Binance's published ones). The usage headers
``X-MBX-USED-WEIGHT-1M``, ``X-MBX-ORDER-COUNT-10S`` and ``-1M`` name the same windows.

New orders cost 1 weight although Binance documents 0 IP weight for ``POST /fapi/v1/order``:
over-counting by one is harmless, under-counting if that ever changes is not. Cancels carry
no order count on Binance, so the order windows never block them. ``WS`` entries are the
ws-fapi order session, which shares the order-count budget with REST.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mmtrio.core.ratelimit import MINUTE_MS, RateLimits, RateWindow, RequestCost
from mmtrio.errors import ParameterError, ProtocolError
from mmtrio.venues.protocol import RequestCosts

TEN_SECONDS_MS = 10_000
WEIGHT, ORDERS_10S, ORDERS_1M = "weight_1m", "orders_10s", "orders_1m"
BAN_MS = 120_000  # Binance's shortest IP ban (HTTP 418) is 2 minutes

DEFAULT_LIMITS = RateLimits(
    (
        RateWindow(WEIGHT, MINUTE_MS, 2400),
        RateWindow(ORDERS_10S, TEN_SECONDS_MS, 300),
        RateWindow(ORDERS_1M, MINUTE_MS, 1200),
    ),
    orders_per_minute=1200,
    ban_ms=BAN_MS,
)


def weight(n: int, *, essential: bool = False) -> RequestCost:
    return RequestCost(((WEIGHT, n),), essential=essential)


def order(n_weight: int = 1) -> RequestCost:
    return RequestCost(((WEIGHT, n_weight), (ORDERS_10S, 1), (ORDERS_1M, 1)))


_DEPTH_WEIGHT = {5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10, 1000: 20}

# (method, path) → cost, for the PROTOCOL.md subset.
ENDPOINT_COSTS: dict[tuple[str, str], RequestCost] = {
    ("GET", "/fapi/v1/exchangeInfo"): weight(1),
    ("GET", "/fapi/v1/time"): weight(1),
    ("GET", "/fapi/v1/premiumIndex"): weight(1),  # with a symbol (the fee asset's price)
    ("POST", "/fapi/v1/order"): order(),
    ("PUT", "/fapi/v1/order"): order(),
    ("DELETE", "/fapi/v1/order"): weight(1, essential=True),
    ("DELETE", "/fapi/v1/allOpenOrders"): weight(1, essential=True),
    ("GET", "/fapi/v1/order"): weight(1),
    ("GET", "/fapi/v2/positionRisk"): weight(5),
    ("GET", "/fapi/v2/account"): weight(5),
    ("POST", "/fapi/v1/countdownCancelAll"): weight(10, essential=True),
    ("POST", "/fapi/v1/listenKey"): weight(1),
    ("PUT", "/fapi/v1/listenKey"): weight(1),
    ("DELETE", "/fapi/v1/listenKey"): weight(1),
    ("WS", "order.place"): order(),
    ("WS", "order.modify"): order(),
    ("WS", "order.cancel"): weight(1, essential=True),
    ("WS", "order.status"): weight(1),
    ("WS", "account.position"): weight(5),
}


def request_cost(
    method: str, path: str, params: Mapping[str, str | int] | None = None
) -> RequestCost:
    """Cost of one request; params matter for depth (``limit``) and openOrders (``symbol``).

    An endpoint outside the documented subset raises ProtocolError: guessing a weight would
    silently mis-count the budget.
    """
    method = method.upper()
    params = params or {}
    if (method, path) == ("GET", "/fapi/v1/depth"):
        raw = params.get("limit", 500)  # Binance's default depth limit
        try:
            limit = int(raw)
        except (TypeError, ValueError):
            raise ParameterError(f"depth limit {raw!r} is not an integer") from None
        if limit not in _DEPTH_WEIGHT:
            raise ParameterError(
                f"depth limit {limit} is not one Binance accepts: {sorted(_DEPTH_WEIGHT)}"
            )
        return weight(_DEPTH_WEIGHT[limit])
    if (method, path) == ("GET", "/fapi/v1/openOrders"):
        return weight(1 if params.get("symbol") else 40)
    try:
        return ENDPOINT_COSTS[(method, path)]
    except KeyError:
        raise ProtocolError(
            f"no rate-limit weight known for {method} {path}; add it to ENDPOINT_COSTS from "
            "the venue's documentation"
        ) from None


COSTS = RequestCosts(
    place=request_cost("POST", "/fapi/v1/order"),
    amend=request_cost("PUT", "/fapi/v1/order"),
    cancel=request_cost("DELETE", "/fapi/v1/order"),
    cancel_all=request_cost("DELETE", "/fapi/v1/allOpenOrders"),
    # A query resolves an unknown outcome, which blocks its slot: it has cancel priority.
    query=request_cost("GET", "/fapi/v1/order").as_essential(),
    open_orders=request_cost("GET", "/fapi/v1/openOrders", {"symbol": "x"}).as_essential(),
)
"""The costs execution reserves per command kind (the gateway's REST path)."""

_INTERVALS = {"SECOND": 1_000, "MINUTE": MINUTE_MS, "HOUR": 3_600_000, "DAY": 86_400_000}


def limits_from_exchange_info(rate_limits: Sequence[Mapping[str, object]]) -> RateLimits:
    """Read exchangeInfo ``rateLimits``; a limit it does not state keeps its default.

    Missing entries are normal (the venue lists only what applies); a malformed entry is
    a ProtocolError naming it.
    """
    found: dict[str, int] = {}
    for entry in rate_limits:
        try:
            kind = entry["rateLimitType"]
            interval_ms = _INTERVALS[str(entry["interval"])] * int(str(entry["intervalNum"]))
            limit = int(str(entry["limit"]))
        except (KeyError, ValueError, TypeError) as exc:
            raise ProtocolError(f"exchangeInfo rateLimits entry is malformed: {entry!r}") from exc
        key = {
            ("REQUEST_WEIGHT", MINUTE_MS): WEIGHT,
            ("ORDERS", TEN_SECONDS_MS): ORDERS_10S,
            ("ORDERS", MINUTE_MS): ORDERS_1M,
        }.get((str(kind), interval_ms))
        if key is not None:
            if limit <= 0:
                raise ProtocolError(f"exchangeInfo rateLimits entry has limit {limit}: {entry!r}")
            found[key] = limit
    windows = tuple(
        RateWindow(w.name, w.interval_ms, found.get(w.name, w.limit))
        for w in DEFAULT_LIMITS.windows
    )
    return RateLimits(
        windows,
        orders_per_minute=found.get(ORDERS_1M, DEFAULT_LIMITS.orders_per_minute),
        ban_ms=BAN_MS,
    )


def usage_from_headers(
    used_weight_1m: int | None, order_count_10s: int | None, order_count_1m: int | None
) -> dict[str, int | None]:
    """The usage headers as window counts (``RateBudget.update_from_usage``)."""
    return {WEIGHT: used_weight_1m, ORDERS_10S: order_count_10s, ORDERS_1M: order_count_1m}
