"""Extended's words for the engine's neutral values: the market, statuses, error answers.

The engine trades the recording's instrument (its ticks and lots); Extended names it
``<BASE>-USD`` (the recording's BTCUSDT is ``BTC-USD``), with the same price and size steps
(``minPriceChange``, ``minOrderSizeChange``) and Stark resolutions that make one lot a whole
number of units. The asset ids are the SDK test fixture's BTC-USD ones (a synthetic id is the
ASCII of ``<BASE>-<decimals>``, as Extended's are). Errors are Extended's
``{"status": "ERROR", "error": {"code", "message"}}`` with the codes of its documentation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mmtrio.core.instruments import Instrument
from mmtrio.exchange.matching import MatchingReject, Refusal
from mmtrio.sim.errors import WireError
from mmtrio.sim.limits import RateLimitHit
from mmtrio.venues.extended.signing import L2Assets

COLLATERAL_ID = 0x31857064564ED0FF978E687456963CBA09C2C6985D8F9300A1DE4962FAFA054
COLLATERAL_RESOLUTION = 1_000_000
MAX_LEVERAGE = Decimal(50)  # the market's tradingConfig.maxLeverage (PATCH /user/leverage)


def extended_symbol(data_symbol: str) -> str:
    """``BTCUSDT`` → ``BTC-USD`` (Extended's markets are quoted in USD)."""
    for quote in ("USDT", "USDC", "USD"):
        if data_symbol.endswith(quote) and len(data_symbol) > len(quote):
            return f"{data_symbol[: -len(quote)]}-USD"
    return f"{data_symbol}-USD"


def base_of(symbol: str) -> str:
    return symbol.split("-", 1)[0]


def l2_assets(inst: Instrument) -> L2Assets:
    """Stark ids and resolutions for the engine's instrument (one lot = whole units)."""
    decimals = max(inst.qty_decimals, 0)
    resolution = 10**decimals
    name = f"{base_of(extended_symbol(inst.symbol))}-{decimals}".encode()
    return L2Assets(
        synthetic_id=int.from_bytes(name.ljust(15, b"\0"), "big"),
        synthetic_resolution=resolution,
        collateral_id=COLLATERAL_ID,
        collateral_resolution=COLLATERAL_RESOLUTION,
    )


class ApiError(WireError):
    """An Extended error answer."""

    def __init__(self, code: int | str, message: str, status: int = 400) -> None:
        super().__init__(message, status)
        self.code = code
        self.message = message

    def body(self) -> bytes:
        return dumps({"status": "ERROR", "error": {"code": self.code, "message": self.message}})


def dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Paged:
    """A page of a list answer: Extended adds ``pagination {cursor, count}`` beside ``data``."""

    data: list[Any]
    cursor: int | None


def ok(data: Any) -> dict[str, Any]:
    if isinstance(data, Paged):
        page: dict[str, Any] = {"count": len(data.data)}
        if data.cursor is not None:
            page["cursor"] = data.cursor
        return {"status": "OK", "data": data.data, "pagination": page}
    return {"status": "OK", "data": data}


# Engine refusals of a new order, in Extended's codes (its "Error responses" list).
_REFUSAL: dict[Refusal, tuple[int, str]] = {
    Refusal.DUPLICATE_CLIENT_ID: (1134, "Duplicate Order"),
    Refusal.QTY_BELOW_MIN: (1120, "Order quantity less than min trade size"),
    Refusal.QTY_ABOVE_MAX: (1122, "Order value exceeds max order value"),
    Refusal.PRICE_OFF_GRID: (1124, "Invalid price due to wrong price movement"),
    Refusal.PRICE_BELOW_MIN: (1141, "Invalid price value"),
    Refusal.PRICE_ABOVE_MAX: (1141, "Invalid price value"),
    Refusal.NOTIONAL_BELOW_MIN: (1120, "Order quantity less than min trade size"),
    Refusal.REDUCE_ONLY: (1137, "Position is missing for a reduce-only order"),
    Refusal.INSUFFICIENT_MARGIN: (1140, "New order cost exceeds available balance"),
    Refusal.NO_SUCH_ORDER: (404, "Order not found"),
    Refusal.UNKNOWN_ORDER: (404, "Order not found"),
}


def refusal_error(exc: MatchingReject) -> ApiError:
    code, message = _REFUSAL.get(exc.refusal, (1133, "Invalid order parameters"))
    return ApiError(code, message, 404 if code == 404 else 400)


def limit_error(exc: RateLimitHit) -> ApiError:
    err = ApiError(429, "Too many requests", 429)
    if exc.retry_after_s is not None:
        err.headers = [(b"retry-after", str(max(1, round(exc.retry_after_s))).encode())]
    return err


def market_json(inst: Instrument, stats: dict[str, Any]) -> dict[str, Any]:
    """One market as ``GET /info/markets`` lists it (the SDK's strict model reads it)."""
    symbol = extended_symbol(inst.symbol)
    l2 = l2_assets(inst)
    return {
        "name": symbol,
        "type": "PERPETUAL",
        "category": "L1",
        "assetName": base_of(symbol),
        "assetPrecision": inst.qty_decimals,
        "collateralAssetName": "USD",
        "collateralAssetPrecision": 6,
        "active": True,
        "status": "ACTIVE",
        "isRfq": False,
        "isOffHours": False,
        "tradingHours": "CONTINUOUS",
        "marketStats": stats,
        "tradingConfig": {
            "minOrderSize": str(inst.lots_to_qty(inst.min_qty)),
            "minOrderSizeChange": str(inst.lot_size),
            "minPriceChange": str(inst.tick_size),
            "maxMarketOrderValue": "1000000",
            "maxLimitOrderValue": "5000000",
            "maxPositionValue": "10000000",
            "maxLeverage": f"{MAX_LEVERAGE:.2f}",
            "maxNumOrders": "200",
            "limitPriceCap": "0.05",
            "limitPriceFloor": "0.05",
            "riskFactorConfig": [
                {"upperBound": "400000", "riskFactor": "0.02"},
                {"upperBound": "1000000000", "riskFactor": "1"},
            ],
        },
        "l2Config": {
            "type": "STARKX",
            "collateralId": hex(l2.collateral_id),
            "collateralResolution": l2.collateral_resolution,
            "syntheticId": hex(l2.synthetic_id),
            "syntheticResolution": l2.synthetic_resolution,
        },
    }


ORDER_STATUS = {
    "NEW": "NEW",
    "PARTIALLY_FILLED": "PARTIALLY_FILLED",
    "FILLED": "FILLED",
    "CANCELED": "CANCELLED",
    "EXPIRED": "EXPIRED",
    "REJECTED": "REJECTED",
}
