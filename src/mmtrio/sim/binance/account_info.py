"""Binance's signed account answers: account, positionRisk, leverageBracket, userTrades."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmtrio.core.events import Side
from mmtrio.sim.binance import trading
from mmtrio.sim.binance.auth import int_param
from mmtrio.sim.binance.margin import liquidation_word
from mmtrio.sim.binance.userstream import signed_qty
from mmtrio.sim.binance.wire import ApiError

if TYPE_CHECKING:
    from mmtrio.sim.binance.frontend import BinanceFrontEnd
    from mmtrio.sim.venue import SimVenue


def position_risk(front: BinanceFrontEnd, params: dict[str, str]) -> list[dict[str, Any]]:
    """GET /fapi/v2/positionRisk."""
    venue = front.venue
    trading.check_symbol(venue, params, required=False)
    acct, inst = venue.account, venue.instrument
    mark = venue.mark_price()
    notional = inst.lots_to_qty(acct.position) * mark
    return [
        {
            "symbol": inst.symbol,
            "positionAmt": signed_qty(venue, acct.position),
            "entryPrice": str(acct.entry_price),
            "breakEvenPrice": str(acct.entry_price),
            "markPrice": str(mark),
            "unRealizedProfit": str(acct.unrealized(mark)),
            "liquidationPrice": liquidation_word(venue),
            "leverage": str(front.leverage),
            "maxNotionalValue": "5000000",
            "marginType": "cross",
            "isolatedMargin": "0.00000000",
            "isAutoAddMargin": "false",
            "positionSide": "BOTH",
            "notional": str(notional),
            "isolatedWallet": "0",
            "updateTime": venue.out_ts(),
        }
    ]


def account(front: BinanceFrontEnd, params: dict[str, str]) -> dict[str, Any]:
    """GET /fapi/v2/account."""
    venue = front.venue
    acct, inst = venue.account, venue.instrument
    mark = venue.mark_price()
    upnl = acct.unrealized(mark)
    margin = abs(inst.lots_to_qty(acct.position) * mark) / front.leverage
    maint = acct.maintenance(mark, venue.maint_margin_rate)
    avail = acct.balance + upnl - margin
    b, u, m, a = str(acct.balance), str(upnl), str(acct.balance + upnl), str(avail)
    return {
        "feeTier": 0,
        "canTrade": True,
        "canDeposit": True,
        "canWithdraw": True,
        "updateTime": 0,
        "multiAssetsMargin": False,
        "totalInitialMargin": str(margin),
        "totalMaintMargin": str(maint),
        "totalWalletBalance": b,
        "totalUnrealizedProfit": u,
        "totalMarginBalance": m,
        "totalPositionInitialMargin": str(margin),
        "totalOpenOrderInitialMargin": "0",
        "totalCrossWalletBalance": b,
        "totalCrossUnPnl": u,
        "availableBalance": a,
        "maxWithdrawAmount": a,
        "assets": [
            {
                "asset": "USDT",
                "walletBalance": b,
                "unrealizedProfit": u,
                "marginBalance": m,
                "maintMargin": str(maint),
                "initialMargin": str(margin),
                "positionInitialMargin": str(margin),
                "openOrderInitialMargin": "0",
                "crossWalletBalance": b,
                "crossUnPnl": u,
                "availableBalance": a,
                "maxWithdrawAmount": a,
                "marginAvailable": True,
                "updateTime": venue.out_ts(),
            }
        ],
        "positions": [
            {
                "symbol": inst.symbol,
                "initialMargin": str(margin),
                "maintMargin": str(maint),
                "unrealizedProfit": u,
                "positionInitialMargin": str(margin),
                "openOrderInitialMargin": "0",
                "leverage": str(front.leverage),
                "isolated": False,
                "entryPrice": str(acct.entry_price),
                "maxNotional": "5000000",
                "positionSide": "BOTH",
                "positionAmt": signed_qty(venue, acct.position),
                "updateTime": venue.out_ts(),
            }
        ],
    }


def leverage_bracket(venue: SimVenue, params: dict[str, str]) -> list[dict[str, Any]]:
    """One flat bracket (the sim has no tiered margin): enough for clients that load it."""
    trading.check_symbol(venue, params, required=False)
    return [
        {
            "symbol": venue.symbol,
            "brackets": [
                {
                    "bracket": 1,
                    "initialLeverage": 20,
                    "notionalCap": 5000000,
                    "notionalFloor": 0,
                    "maintMarginRatio": float(venue.maint_margin_rate),
                    "cum": 0.0,
                }
            ],
        }
    ]


USER_TRADES_MAX = 1000


def user_trades(venue: SimVenue, params: dict[str, str]) -> list[dict[str, Any]]:
    """GET /fapi/v1/userTrades: our fills, oldest first; ``fromId`` (trade id, inclusive) or
    ``startTime``/``endTime`` (wire ms), ``limit`` (default 500, max 1000), like Binance."""
    trading.check_symbol(venue, params)
    from_id = int_param(params, "fromId", required=False)
    start = int_param(params, "startTime", required=False)
    end = int_param(params, "endTime", required=False)
    limit = int_param(params, "limit", required=False)
    limit = 500 if limit is None else limit
    if not 1 <= limit <= USER_TRADES_MAX:
        raise ApiError(
            -1100,
            "Illegal characters found in parameter 'limit'; "
            f"legal range is '1 - {USER_TRADES_MAX}'.",
        )
    if from_id is not None and (start is not None or end is not None):
        raise ApiError(-4120, "fromId cannot be sent with startTime or endTime.")
    inst, acct = venue.instrument, venue.account
    out: list[dict[str, Any]] = []
    for fill, realized in zip(acct.fills, acct.fill_realized, strict=True):
        ts = venue.out_ts(fill.ts)
        if from_id is not None and fill.trade_id < from_id:
            continue
        if (start is not None and ts < start) or (end is not None and ts > end):
            continue
        price, qty = inst.ticks_to_price(fill.price), inst.lots_to_qty(fill.qty)
        out.append(
            {
                "symbol": inst.symbol,
                "id": fill.trade_id,
                "orderId": fill.order_id,
                "side": fill.side.value,
                "price": inst.price_str(fill.price),
                "qty": inst.qty_str(fill.qty),
                "realizedPnl": str(realized),
                "marginAsset": inst.quote_asset,
                "quoteQty": str(price * qty),
                "commission": str(fill.fee),
                "commissionAsset": fill.fee_asset,
                "time": ts,
                "positionSide": "BOTH",
                "buyer": fill.side is Side.BUY,
                "maker": fill.is_maker,
            }
        )
        if len(out) >= limit:
            break
    return out
