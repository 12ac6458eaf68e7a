"""Binance's public REST answers: exchangeInfo (from the core Instrument) and depth."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmtrio.sim.binance import trading
from mmtrio.sim.binance.wire import ApiError

if TYPE_CHECKING:
    from mmtrio.sim.venue import SimVenue


def exchange_info(venue: SimVenue, params: dict[str, str]) -> dict[str, Any]:
    """exchangeInfo for the simulated symbol, filters from the core Instrument."""
    inst = venue.instrument
    lim = venue.config.limits
    return {
        "timezone": "UTC",
        "serverTime": venue.wall_ms(),
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": lim.weight_per_minute,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": lim.orders_per_minute,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "SECOND",
                "intervalNum": 10,
                "limit": lim.orders_per_10s,
            },
        ],
        "exchangeFilters": [],
        "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
        "symbols": [
            {
                "symbol": inst.symbol,
                "pair": inst.symbol,
                "contractType": "PERPETUAL",
                "deliveryDate": 4133404800000,
                "onboardDate": 1569398400000,
                "status": "TRADING",
                "maintMarginPercent": "2.5000",
                "requiredMarginPercent": "5.0000",
                "baseAsset": inst.base_asset,
                "quoteAsset": inst.quote_asset,
                "marginAsset": inst.quote_asset,
                "pricePrecision": inst.price_decimals,
                "quantityPrecision": inst.qty_decimals,
                "baseAssetPrecision": 8,
                "quotePrecision": 8,
                "underlyingType": "COIN",
                "underlyingSubType": [],
                "settlePlan": 0,
                "triggerProtect": "0.0500",
                "liquidationFee": "0.012500",
                "marketTakeBound": "0.05",
                "filters": [
                    {
                        "filterType": "PRICE_FILTER",
                        "minPrice": inst.price_str(inst.min_price_ticks),
                        "maxPrice": inst.price_str(inst.max_price_ticks),
                        "tickSize": str(inst.tick_size),
                    },
                    {
                        "filterType": "LOT_SIZE",
                        "minQty": inst.qty_str(inst.min_qty),
                        "maxQty": inst.qty_str(inst.max_qty),
                        "stepSize": str(inst.lot_size),
                    },
                    {
                        "filterType": "MARKET_LOT_SIZE",
                        "minQty": inst.qty_str(inst.min_qty),
                        "maxQty": inst.qty_str(inst.max_qty),
                        "stepSize": str(inst.lot_size),
                    },
                    {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                    {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                    {"filterType": "MIN_NOTIONAL", "notional": str(inst.min_notional)},
                    {
                        "filterType": "PERCENT_PRICE",
                        "multiplierUp": str(trading.PERCENT_UP),
                        "multiplierDown": str(trading.PERCENT_DOWN),
                        "multiplierDecimal": "4",
                    },
                ],
                "orderTypes": ["LIMIT", "MARKET"],
                "timeInForce": ["GTC", "IOC", "GTX"],
            }
        ],
    }


DEPTH_LIMITS = {5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10, 1000: 20}


def depth_weight(params: dict[str, str]) -> int:
    try:
        return DEPTH_LIMITS.get(int(params.get("limit", "500")), 10)
    except ValueError:
        return 2


def depth(venue: SimVenue, params: dict[str, str]) -> dict[str, Any]:
    """The public book (market + our orders) at the last diff published, under its id."""
    trading.check_symbol(venue, params)
    text = params.get("limit", "500")
    if not text.isdigit() or int(text) not in DEPTH_LIMITS:
        raise ApiError(
            -1100,
            "Illegal characters found in parameter 'limit'; "
            f"legal values are {sorted(DEPTH_LIMITS)}.",
        )
    inst = venue.instrument
    bids, asks = venue.book.top(int(text))
    ts = venue.out_ts()
    return {
        "lastUpdateId": venue.book.seq,
        "E": ts,
        "T": ts,
        "bids": [[inst.price_str(p), inst.qty_str(q)] for p, q in bids],
        "asks": [[inst.price_str(p), inst.qty_str(q)] for p, q in asks],
    }
