"""Public market-data endpoints of the simulated Binance venue that real clients call.

``ticker/bookTicker``, ``ticker/price`` (v1 and v2), ``ticker/24hr``, ``premiumIndex``,
``trades``, ``aggTrades`` and ``klines``, in the field shapes Binance documents for each
(cross-checked against the official SDK's response models, python-binance and ccxt). They
were missing (404 -5000) although the official SDK, python-binance and ccxt call them in
their usual flows (issue #20, finding 7).

Data: the public book (``venue.book``, our resting orders included, as ``depth`` serves it),
the recent public trades and one-minute candles of ``venue.tape`` (bounded), the mark price
and funding of the market driver. Times are on the wire clock (``venue.out_ts``). Without a
``symbol`` the ticker endpoints answer a list, as Binance does, of the one simulated symbol.
Each public trade is its own aggregate trade (the sim does not merge same-price fills), so
an aggTrade's ``a``, ``f`` and ``l`` are the trade's id.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mmtrio.sim.binance import trading
from mmtrio.sim.binance.auth import int_param
from mmtrio.sim.binance.wire import ApiError
from mmtrio.sim.tape import MINUTE_MS, Candle

if TYPE_CHECKING:
    from mmtrio.sim.venue import SimVenue

DAY_MS = 86_400_000
TRADES_DEFAULT, TRADES_MAX = 500, 1000
KLINES_DEFAULT, KLINES_MAX = 500, 1500
INTERVALS_MS: dict[str, int] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "2h": 120 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "6h": 360 * MINUTE_MS,
    "8h": 480 * MINUTE_MS,
    "12h": 720 * MINUTE_MS,
    "1d": DAY_MS,
}


def _one_or_all(venue: SimVenue, params: dict[str, str], item: dict[str, Any]) -> Any:
    trading.check_symbol(venue, params, required=False)
    return item if params.get("symbol") else [item]


def _limit(params: dict[str, str], default: int, most: int) -> int:
    limit = int_param(params, "limit", required=False)
    limit = default if limit is None else limit
    if not 1 <= limit <= most:
        raise ApiError(
            -1100, f"Illegal characters found in parameter 'limit'; legal range is '1 - {most}'."
        )
    return limit


def book_ticker(venue: SimVenue, params: dict[str, str]) -> Any:
    """GET /fapi/v1/ticker/bookTicker: the best bid and ask of the public book."""
    inst = venue.instrument
    bid, ask = venue.book.best()
    item = {
        "symbol": venue.symbol,
        "bidPrice": inst.price_str(bid[0]) if bid else "0",
        "bidQty": inst.qty_str(bid[1]) if bid else "0",
        "askPrice": inst.price_str(ask[0]) if ask else "0",
        "askQty": inst.qty_str(ask[1]) if ask else "0",
        "time": venue.out_ts(),
        "lastUpdateId": venue.book.seq,
    }
    return _one_or_all(venue, params, item)


def _last_price(venue: SimVenue) -> str:
    last = venue.tape.last
    if last is not None:
        return venue.instrument.price_str(last.price)
    return str(venue.mark_price())


def price_ticker(venue: SimVenue, params: dict[str, str]) -> Any:
    """GET /fapi/v1/ticker/price and /fapi/v2/ticker/price: the last traded price."""
    item = {"symbol": venue.symbol, "price": _last_price(venue), "time": venue.out_ts()}
    return _one_or_all(venue, params, item)


def _quote(venue: SimVenue, ticks_lots: int) -> str:
    inst = venue.instrument
    return str((inst.tick_size * inst.lot_size * ticks_lots).normalize())


def ticker_24hr(venue: SimVenue, params: dict[str, str]) -> Any:
    """GET /fapi/v1/ticker/24hr: statistics of the trades of the last 24 h (market clock)."""
    inst = venue.instrument
    now = venue.market_ts
    c = venue.tape.window(now - DAY_MS)
    last = venue.tape.last
    if c is None or last is None:
        zero_px, zero_qty = inst.price_str(0), inst.qty_str(0)
        item: dict[str, Any] = {
            "symbol": venue.symbol, "priceChange": zero_px, "priceChangePercent": "0.000",
            "weightedAvgPrice": zero_px, "lastPrice": _last_price(venue), "lastQty": zero_qty,
            "openPrice": zero_px, "highPrice": zero_px, "lowPrice": zero_px,
            "volume": zero_qty, "quoteVolume": "0", "openTime": venue.out_ts(now - DAY_MS),
            "closeTime": venue.out_ts(now), "firstId": 0, "lastId": 0, "count": 0,
        }  # fmt: skip
        return _one_or_all(venue, params, item)
    change = c.close - c.open
    pct = Decimal(change) * 100 / Decimal(c.open) if c.open else Decimal(0)
    wavg = inst.tick_size * Decimal(c.quote_volume) / Decimal(c.volume) if c.volume else 0
    item = {
        "symbol": venue.symbol,
        "priceChange": inst.price_str(change) if change >= 0 else "-" + inst.price_str(-change),
        "priceChangePercent": f"{pct:.3f}",
        "weightedAvgPrice": f"{wavg:.{inst.price_decimals}f}",
        "lastPrice": inst.price_str(c.close),
        "lastQty": inst.qty_str(last.qty),
        "openPrice": inst.price_str(c.open),
        "highPrice": inst.price_str(c.high),
        "lowPrice": inst.price_str(c.low),
        "volume": inst.qty_str(c.volume),
        "quoteVolume": _quote(venue, c.quote_volume),
        "openTime": venue.out_ts(c.open_ms),
        "closeTime": venue.out_ts(now),
        "firstId": c.first_id,
        "lastId": c.last_id,
        "count": c.trades,
    }
    return _one_or_all(venue, params, item)


def premium_index(venue: SimVenue, params: dict[str, str]) -> Any:
    """GET /fapi/v1/premiumIndex: mark and index price, funding rate and its next time. With
    fees charged in another asset (``SimConfig.fee_asset``), that asset's perpetual against
    the quote (e.g. BNBUSDT) is served too, at ``fee_asset_price``: what a client values
    those fees at."""
    fee_asset = venue.config.fee_asset
    if fee_asset is not None and params.get("symbol") == fee_asset + venue.instrument.quote_asset:
        price, funding_ts = str(venue.config.fee_asset_price), venue.next_funding_ts
        return {"symbol": params["symbol"], "markPrice": price, "indexPrice": price,
                "estimatedSettlePrice": price, "lastFundingRate": "0.00000000",
                "interestRate": "0.00010000", "nextFundingTime": venue.out_ts(funding_ts),
                "time": venue.out_ts()}  # fmt: skip
    mark = venue.mark_price().quantize(Decimal("0.00000001"))
    index = venue.index if venue.index is not None else mark
    item = {
        "symbol": venue.symbol,
        "markPrice": str(mark),
        "indexPrice": str(index),
        "estimatedSettlePrice": str(mark),
        "lastFundingRate": str(venue.funding_rate),
        "interestRate": "0.00010000",
        "nextFundingTime": venue.out_ts(venue.next_funding_ts),
        "time": venue.out_ts(),
    }
    return _one_or_all(venue, params, item)


def recent_trades(venue: SimVenue, params: dict[str, str]) -> list[dict[str, Any]]:
    """GET /fapi/v1/trades: the latest public trades, oldest first."""
    trading.check_symbol(venue, params)
    limit = _limit(params, TRADES_DEFAULT, TRADES_MAX)
    inst = venue.instrument
    return [
        {
            "id": t.trade_id,
            "price": inst.price_str(t.price),
            "qty": inst.qty_str(t.qty),
            "quoteQty": _quote(venue, t.price * t.qty),
            "time": venue.out_ts(t.ts),
            "isBuyerMaker": t.buyer_is_maker,
        }
        for t in list(venue.tape.trades)[-limit:]
    ]


def agg_trades(venue: SimVenue, params: dict[str, str]) -> list[dict[str, Any]]:
    """GET /fapi/v1/aggTrades: ``fromId`` (inclusive), or ``startTime``/``endTime`` (wire ms,
    at most an hour apart, as on Binance), else the latest; oldest first."""
    trading.check_symbol(venue, params)
    limit = _limit(params, TRADES_DEFAULT, TRADES_MAX)
    from_id = int_param(params, "fromId", required=False)
    start = int_param(params, "startTime", required=False)
    end = int_param(params, "endTime", required=False)
    if start is not None and end is not None and not 0 <= end - start <= 3_600_000:
        raise ApiError(-1127, "More than 1 hours between startTime and endTime.")
    inst = venue.instrument
    picked = []
    for t in venue.tape.trades:
        ts = venue.out_ts(t.ts)
        if from_id is not None and t.trade_id < from_id:
            continue
        if (start is not None and ts < start) or (end is not None and ts > end):
            continue
        picked.append(t)
    picked = picked[:limit] if (from_id is not None or start is not None) else picked[-limit:]
    return [
        {
            "a": t.trade_id,
            "p": inst.price_str(t.price),
            "q": inst.qty_str(t.qty),
            "f": t.trade_id,
            "l": t.trade_id,
            "T": venue.out_ts(t.ts),
            "m": t.buyer_is_maker,
        }
        for t in picked
    ]


def _kline(venue: SimVenue, c: Candle, interval_ms: int) -> list[Any]:
    inst = venue.instrument
    return [
        venue.out_ts(c.open_ms),
        inst.price_str(c.open),
        inst.price_str(c.high),
        inst.price_str(c.low),
        inst.price_str(c.close),
        inst.qty_str(c.volume),
        venue.out_ts(c.open_ms + interval_ms - 1),
        _quote(venue, c.quote_volume),
        c.trades,
        inst.qty_str(c.taker_buy_volume),
        _quote(venue, c.taker_buy_quote),
        "0",
    ]


def klines(venue: SimVenue, params: dict[str, str]) -> list[list[Any]]:
    """GET /fapi/v1/klines: candles of the trades kept (about the last day), oldest first;
    ``startTime``/``endTime`` in wire ms select by open time."""
    trading.check_symbol(venue, params)
    name = params.get("interval")
    if not name:
        raise ApiError(
            -1102, "Mandatory parameter 'interval' was not sent, was empty/null, or malformed."
        )
    interval = INTERVALS_MS.get(name)
    if interval is None:
        raise ApiError(-1120, "Invalid interval.")
    limit = _limit(params, KLINES_DEFAULT, KLINES_MAX)
    start = int_param(params, "startTime", required=False)
    end = int_param(params, "endTime", required=False)
    offset = venue.ts_offset
    candles = venue.tape.candles(
        interval,
        None if start is None else start - offset,
        None if end is None else end - offset,
    )
    candles = candles[:limit] if start is not None else candles[-limit:]
    return [_kline(venue, c, interval) for c in candles]
