"""Account endpoints of the simulated Binance venue in the shape of the version each names.

``/fapi/v2/balance`` and ``/fapi/v3/balance``, ``/fapi/v3/account`` and
``/fapi/v3/positionRisk`` (their own v3 shapes, not the v2 ones: the v3 account has no
fee tier or permissions and lists per position only margins and notional; v3 positionRisk
has no leverage or margin type but the initial, maintenance and order margins, ``adl`` and
the bid/ask notionals; both list only symbols with a position or open orders), ``POST
/fapi/v1/leverage``, ``GET /fapi/v1/openOrder`` and ``GET /fapi/v1/allOrders``. Field
lists follow Binance's documentation as the official SDK's response models encode it
(issue #20, finding 7: these were missing, or v3 answered the v2 shape).

Margin. The sim has one flat leverage bracket (``leverageBracket``: up to 20×, notional
cap 5,000,000): the initial margin is notional / leverage, maintenance 2.5 % of the notional;
``liquidationPrice`` is the sim's (:mod:`mmtrio.sim.liquidation`), "0" when flat as on Binance. The
leverage is the account's (``BinanceFrontEnd.leverage``), set by ``POST /fapi/v1/leverage``
(1..20, else -4028). An order that would grow the position is refused with -2019 "Margin is
insufficient." when its initial margin exceeds the available balance (``margin.py``).

Position mode. ``GET /fapi/v1/positionSide/dual`` answers the account's mode
(``BinanceFrontEnd.dual_side``); ``POST`` changes it (-4059 when it is already so, -4068 with a
position or open orders, as on Binance). In hedge mode an order without a LONG/SHORT position
side is refused with -4061, as in one-way mode an order with one (``trading.place``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmtrio.sim.binance import trading
from mmtrio.sim.binance.auth import int_param
from mmtrio.sim.binance.margin import liquidation_word, margins
from mmtrio.sim.binance.userstream import signed_qty
from mmtrio.sim.binance.wire import ApiError

if TYPE_CHECKING:
    from mmtrio.sim.binance.frontend import BinanceFrontEnd
    from mmtrio.sim.venue import SimVenue

MAX_LEVERAGE = 20  # the flat bracket's initialLeverage (account_info.leverage_bracket)
MAX_NOTIONAL = "5000000"
ACCOUNT_ALIAS = "mmtrioSim"
ALL_ORDERS_DEFAULT, ALL_ORDERS_MAX = 500, 1000


def _listed(venue: SimVenue) -> bool:
    """v3 lists a symbol only with a position or open orders."""
    buy, sell = venue.account.open_lots()
    return venue.account.position != 0 or buy + sell > 0


def balance(front: BinanceFrontEnd, params: dict[str, str]) -> list[dict[str, Any]]:
    """GET /fapi/v2/balance and /fapi/v3/balance (the same shape)."""
    venue = front.venue
    acct = venue.account
    m = margins(front)
    avail = acct.balance + m["upnl"] - m["initial"]
    return [
        {
            "accountAlias": ACCOUNT_ALIAS,
            "asset": "USDT",
            "balance": str(acct.balance),
            "crossWalletBalance": str(acct.balance),
            "crossUnPnl": str(m["upnl"]),
            "availableBalance": str(avail),
            "maxWithdrawAmount": str(avail),
            "marginAvailable": True,
            "updateTime": venue.out_ts(),
        }
    ]


def account_v3(front: BinanceFrontEnd, params: dict[str, str]) -> dict[str, Any]:
    """GET /fapi/v3/account."""
    venue = front.venue
    acct, inst = venue.account, venue.instrument
    m = margins(front)
    wallet, upnl = acct.balance, m["upnl"]
    avail = wallet + upnl - m["initial"]
    b, u = str(wallet), str(upnl)
    positions = []
    if _listed(venue):
        positions.append(
            {
                "symbol": inst.symbol,
                "positionSide": "BOTH",
                "positionAmt": signed_qty(venue, acct.position),
                "unrealizedProfit": u,
                "isolatedMargin": "0",
                "notional": str(m["notional"]),
                "isolatedWallet": "0",
                "initialMargin": str(m["initial"]),
                "maintMargin": str(m["maint"]),
                "updateTime": venue.out_ts(),
            }
        )
    return {
        "totalInitialMargin": str(m["initial"]),
        "totalMaintMargin": str(m["maint"]),
        "totalWalletBalance": b,
        "totalUnrealizedProfit": u,
        "totalMarginBalance": str(wallet + upnl),
        "totalPositionInitialMargin": str(m["position_margin"]),
        "totalOpenOrderInitialMargin": str(m["order_margin"]),
        "totalCrossWalletBalance": b,
        "totalCrossUnPnl": u,
        "availableBalance": str(avail),
        "maxWithdrawAmount": str(avail),
        "assets": [
            {
                "asset": "USDT",
                "walletBalance": b,
                "unrealizedProfit": u,
                "marginBalance": str(wallet + upnl),
                "maintMargin": str(m["maint"]),
                "initialMargin": str(m["initial"]),
                "positionInitialMargin": str(m["position_margin"]),
                "openOrderInitialMargin": str(m["order_margin"]),
                "crossWalletBalance": b,
                "crossUnPnl": u,
                "availableBalance": str(avail),
                "maxWithdrawAmount": str(avail),
                "updateTime": venue.out_ts(),
            }
        ],
        "positions": positions,
    }


def position_risk_v3(front: BinanceFrontEnd, params: dict[str, str]) -> list[dict[str, Any]]:
    """GET /fapi/v3/positionRisk."""
    venue = front.venue
    trading.check_symbol(venue, params, required=False)
    if not _listed(venue):
        return []
    acct = venue.account
    m = margins(front)
    return [
        {
            "symbol": venue.symbol,
            "positionSide": "BOTH",
            "positionAmt": signed_qty(venue, acct.position),
            "entryPrice": str(acct.entry_price),
            "breakEvenPrice": str(acct.entry_price),
            "markPrice": str(m["mark"]),
            "unRealizedProfit": str(m["upnl"]),
            "liquidationPrice": liquidation_word(venue),
            "isolatedMargin": "0",
            "notional": str(m["notional"]),
            "marginAsset": venue.instrument.quote_asset,
            "isolatedWallet": "0",
            "initialMargin": str(m["initial"]),
            "maintMargin": str(m["maint"]),
            "positionInitialMargin": str(m["position_margin"]),
            "openOrderInitialMargin": str(m["order_margin"]),
            "adl": 0,
            "bidNotional": str(m["bid_notional"]),
            "askNotional": str(m["ask_notional"]),
            "updateTime": venue.out_ts(),
        }
    ]


def change_leverage(front: BinanceFrontEnd, params: dict[str, str]) -> dict[str, Any]:
    """POST /fapi/v1/leverage: 1..20 on the sim's one bracket."""
    venue = front.venue
    trading.check_symbol(venue, params)
    lev = int_param(params, "leverage")
    if lev is None or not 1 <= lev <= MAX_LEVERAGE:
        raise ApiError(-4028, f"Leverage {params.get('leverage')} is not valid")
    front.leverage = lev
    return {"leverage": lev, "maxNotionalValue": MAX_NOTIONAL, "symbol": venue.symbol}


def position_mode(front: BinanceFrontEnd, params: dict[str, str]) -> dict[str, Any]:
    """GET /fapi/v1/positionSide/dual."""
    return {"dualSidePosition": front.dual_side}


def change_position_mode(front: BinanceFrontEnd, params: dict[str, str]) -> dict[str, Any]:
    """POST /fapi/v1/positionSide/dual."""
    text = params.get("dualSidePosition", "").lower()
    if text not in ("true", "false"):
        raise ApiError(
            -1102,
            "Mandatory parameter 'dualSidePosition' was not sent, was empty/null, or malformed.",
        )
    dual = text == "true"
    if dual == front.dual_side:
        raise ApiError(-4059, "No need to change position side.")
    account = front.venue.account
    buy, sell = account.open_lots()
    if account.position != 0 or buy + sell > 0:
        raise ApiError(
            -4068, "Position side cannot be changed if there exists position or open orders."
        )
    front.dual_side = dual
    return {"code": 200, "msg": "success"}


def open_order(venue: SimVenue, params: dict[str, str]) -> dict[str, Any]:
    """GET /fapi/v1/openOrder: one order that is still open; a closed or unknown one is
    -2013 "Order does not exist." as on Binance."""
    missing = ApiError(-2013, "Order does not exist.")
    rec = trading.lookup_order(venue, params, missing)
    if rec.status not in ("NEW", "PARTIALLY_FILLED"):
        raise missing
    return trading.order_json(venue, rec)


def all_orders(venue: SimVenue, params: dict[str, str]) -> list[dict[str, Any]]:
    """GET /fapi/v1/allOrders: from ``orderId`` on, or within ``startTime``/``endTime``
    (wire ms, creation time), else the most recent; oldest first; ``limit`` ≤ 1000."""
    trading.check_symbol(venue, params)
    from_id = int_param(params, "orderId", required=False)
    start = int_param(params, "startTime", required=False)
    end = int_param(params, "endTime", required=False)
    limit = int_param(params, "limit", required=False)
    limit = ALL_ORDERS_DEFAULT if limit is None else limit
    if not 1 <= limit <= ALL_ORDERS_MAX:
        raise ApiError(
            -1100,
            "Illegal characters found in parameter 'limit'; "
            f"legal range is '1 - {ALL_ORDERS_MAX}'.",
        )
    picked = []
    for rec in sorted(venue.account.orders.values(), key=lambda r: r.order_id):
        created = venue.out_ts(rec.created_ms)
        if from_id is not None and rec.order_id < from_id:
            continue
        if (start is not None and created < start) or (end is not None and created > end):
            continue
        picked.append(rec)
    picked = picked[:limit] if (from_id is not None or start is not None) else picked[-limit:]
    return [trading.order_json(venue, rec) for rec in picked]


__all__ = [
    "account_v3",
    "all_orders",
    "balance",
    "change_leverage",
    "change_position_mode",
    "open_order",
    "position_mode",
    "position_risk_v3",
]
