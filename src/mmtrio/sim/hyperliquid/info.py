"""``POST /info``: every read the connector, ccxt and the official SDK make, by ``type``.

Shapes as Hyperliquid answers them (the TypeScript SDK's schemas; the Python SDK's recorded
answers). Reads about a user answer for the paper account; any other address is a user with
nothing (empty lists, a zero clearinghouse), as on the venue. An unknown ``type`` or a
malformed body is HTTP 422 with the venue's deserialisation text: so is a read about a user
with no ``user`` or one that is not an address (0x and 40 hex digits: the venue deserialises
it into an address before anything else), and an ``orderStatus`` ``oid`` that is neither a
u64 nor a string; an unknown coin in ``l2Book`` answers ``null``, as Hyperliquid does.
``l2Book`` aggregates with ``nSigFigs``/``mantissa`` (:mod:`.l2`). Weights
(:func:`weight`) are charged by the REST app.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mmtrio.sim import requests
from mmtrio.sim.errors import SimBadRequest
from mmtrio.sim.hyperliquid import candles
from mmtrio.sim.hyperliquid.l2 import aggregation
from mmtrio.sim.hyperliquid.orders import fill_json, order_json
from mmtrio.sim.hyperliquid.words import BAD_JSON
from mmtrio.sim.liquidation import liquidation_price

if TYPE_CHECKING:
    from mmtrio.sim.hyperliquid.frontend import HyperliquidFrontEnd

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
U64_MAX = 2**64 - 1
MAX_FILLS = 2000  # userFills / userFillsByTime answer at most 2000 fills
LIGHT = frozenset(
    {"l2Book", "allMids", "clearinghouseState", "orderStatus", "spotClearinghouseState",
     "exchangeStatus"}
)  # fmt: skip


PER_20_ITEMS = frozenset(
    {"recentTrades", "historicalOrders", "userFills", "userFillsByTime", "fundingHistory",
     "userFunding", "nonUserFundingUpdates", "twapHistory", "userTwapSliceFills",
     "userTwapSliceFillsByTime", "delegatorHistory", "delegatorRewards", "validatorStats"}
)  # fmt: skip


def weight(kind: str, items: int = 0) -> int:
    """Hyperliquid's weight of an ``/info`` request: its base, plus one per 20 items returned
    for the endpoints the rate-limit page lists (per 60 for ``candleSnapshot``). The venue
    does not say how it rounds; the sim counts whole twenties (a client rounding up is safe)."""
    base = 2 if kind in LIGHT else 60 if kind == "userRole" else 20
    if kind in PER_20_ITEMS:
        base += items // 20
    elif kind == "candleSnapshot":
        base += items // 60
    return base


def _meta(front: HyperliquidFrontEnd) -> dict[str, Any]:
    return {
        "universe": [
            {"szDecimals": front.grid.sz_decimals, "name": front.coin, "maxLeverage": 40,
             "marginTableId": 40}
        ],
        "marginTables": [[40, {"description": "", "marginTiers": [
            {"lowerBound": "0.0", "maxLeverage": 40}]}]],
        "collateralToken": 0,
    }  # fmt: skip


def is_address(value: object) -> bool:
    return isinstance(value, str) and _ADDRESS.fullmatch(value) is not None


def user_of(req: dict[str, Any]) -> str:
    """The request's ``user``, lower-case; SimBadRequest (422) when it is missing or is not
    an address, in the venue's deserialisation words (no zeros for a user that cannot be)."""
    user = req.get("user")
    if user is None:
        raise SimBadRequest(f"{BAD_JSON}: missing field `user`", 422)
    if not is_address(user):
        shown = json.dumps(user)[:80]
        raise SimBadRequest(
            f"{BAD_JSON}: user: invalid value {shown}, expected an address: 0x and 40 hex digits",
            422,
        )
    return str(user).lower()


def meta(front: HyperliquidFrontEnd, req: dict[str, Any]) -> Any:
    return _meta(front)


def meta_and_ctxs(front: HyperliquidFrontEnd, req: dict[str, Any]) -> Any:
    if req.get("dex"):
        return [{"universe": [], "marginTables": [], "collateralToken": 0}, []]
    return [_meta(front), [front.asset_ctx()]]


def spot_meta(front: HyperliquidFrontEnd, req: dict[str, Any]) -> Any:
    usdc = {"name": "USDC", "szDecimals": 8, "weiDecimals": 8, "index": 0,
            "tokenId": "0x6d1e7cde53ba9467b783cb7c530ce054", "isCanonical": True,
            "evmContract": None, "fullName": None}  # fmt: skip
    return {"universe": [], "tokens": [usdc]}


def spot_meta_and_ctxs(front: HyperliquidFrontEnd, req: dict[str, Any]) -> Any:
    return [spot_meta(front, req), []]


def perp_dexs(front: HyperliquidFrontEnd, req: dict[str, Any]) -> Any:
    return [None]


def l2_book(front: HyperliquidFrontEnd, req: dict[str, Any]) -> Any:
    agg = aggregation(req)
    coin = req.get("coin")
    if not isinstance(coin, str):
        raise SimBadRequest(f"{BAD_JSON}: missing field `coin`", 422)
    if coin != front.coin:
        return None
    return front.book_payload(agg)


def all_mids(front: HyperliquidFrontEnd, req: dict[str, Any]) -> Any:
    return front.all_mids()


def clearinghouse(front: HyperliquidFrontEnd, req: dict[str, Any]) -> Any:
    v = front.venue
    acct = v.account
    mark = v.mark_price()
    time = v.wall_ms()
    if not front.accounts.is_account(user_of(req)):
        zero = {"accountValue": "0.0", "totalNtlPos": "0.0", "totalRawUsd": "0.0",
                "totalMarginUsed": "0.0"}  # fmt: skip
        return {"marginSummary": zero, "crossMarginSummary": zero,
                "crossMaintenanceMarginUsed": "0.0", "withdrawable": "0.0",
                "assetPositions": [], "time": time}  # fmt: skip
    inst = v.instrument
    upnl = acct.unrealized(mark)
    value = acct.balance + upnl
    ntl = abs(inst.lots_to_base(acct.position) * mark)
    margin = (ntl / front.leverage).quantize(Decimal("0.000001"))
    summary = {"accountValue": str(value), "totalNtlPos": str(ntl),
               "totalRawUsd": str(acct.balance), "totalMarginUsed": str(margin)}  # fmt: skip
    positions = []
    maint = acct.maintenance(mark, v.maint_margin_rate).quantize(Decimal("0.000001"))
    if acct.position != 0:
        at = liquidation_price(v)
        liq = None if at is None else str(at.quantize(Decimal("0.000001")))
        g = front.grid
        szi = g.sz(acct.position) if acct.position > 0 else "-" + g.sz(-acct.position)
        positions.append(
            {
                "type": "oneWay",
                "position": {
                    "coin": front.coin, "szi": szi,
                    "leverage": {"type": "cross", "value": front.leverage},
                    "entryPx": str(acct.entry_price), "positionValue": str(ntl),
                    "unrealizedPnl": str(upnl), "returnOnEquity": "0.0", "liquidationPx": liq,
                    "marginUsed": str(margin), "maxLeverage": 40,
                    "cumFunding": {"allTime": str(-acct.funding), "sinceOpen": "0.0",
                                   "sinceChange": "0.0"},
                },
            }
        )  # fmt: skip
    return {
        "marginSummary": summary,
        "crossMarginSummary": summary,
        "crossMaintenanceMarginUsed": str(maint),
        "withdrawable": str(max(Decimal(0), value - margin)),
        "assetPositions": positions,
        "time": time,
    }


def spot_clearinghouse(front: HyperliquidFrontEnd, req: dict[str, Any]) -> Any:
    user_of(req)
    return {"balances": []}


def _open(front: HyperliquidFrontEnd, req: dict[str, Any], frontend: bool) -> Any:
    if not front.accounts.is_account(user_of(req)):
        return []
    v = front.venue
    out = []
    for rec in requests.open_orders(v):
        leg = front.legs.leg(rec)
        out.append(order_json(front.grid, rec, leg, v.out_ts(rec.created_ms), frontend=frontend))
    return out


def open_orders(front: HyperliquidFrontEnd, req: dict[str, Any]) -> Any:
    return _open(front, req, False)


def frontend_open_orders(front: HyperliquidFrontEnd, req: dict[str, Any]) -> Any:
    return _open(front, req, True)


def order_status(front: HyperliquidFrontEnd, req: dict[str, Any]) -> Any:
    from mmtrio.sim.hyperliquid.orders import status_word

    oid = req.get("oid")
    user = user_of(req)
    # A string is looked up as a client id: a cloid, or the sim's own id of an order placed
    # without one (the admin API's "another client"; the process tests query those).
    if isinstance(oid, str):
        key: str | int = oid.lower()
    elif isinstance(oid, int) and not isinstance(oid, bool) and 0 <= oid <= U64_MAX:
        key = oid
    else:
        shown = json.dumps(oid)[:80]
        raise SimBadRequest(
            f"{BAD_JSON}: oid: invalid value {shown}, expected an order id (u64) or a cloid",
            422,
        )
    if not front.accounts.is_account(user):
        return {"status": "unknownOid"}
    v = front.venue
    if isinstance(key, str):
        rec = v.account.orders.get(key)
    else:
        cid = front.legs.cid_of(key)
        rec = v.account.orders.get(cid) if cid is not None else None
    if rec is None:
        return {"status": "unknownOid"}
    leg = front.legs.leg(rec)
    ts = v.out_ts(rec.update_ms)
    cause = "scheduledCancel" if front.was_scheduled_cancel(rec.client_id) else ""
    return {
        "status": "order",
        "order": {
            "order": order_json(front.grid, rec, leg, v.out_ts(rec.created_ms), frontend=True),
            "status": status_word(rec.status, cause),
            "statusTimestamp": ts,
        },
    }


def _fills(front: HyperliquidFrontEnd, start: int | None, end: int | None) -> list[Any]:
    v = front.venue
    acct = v.account
    rows: list[Any] = []
    position = acct.position
    # Walk back from the newest fill, undoing each one's position change (for startPosition).
    for fill, realized in zip(reversed(acct.fills), reversed(acct.fill_realized), strict=False):
        ts = v.out_ts(fill.ts)
        if (start is None or ts >= start) and (end is None or ts <= end):
            rows.append(
                fill_json(front.grid, fill, front.legs.fill_oid(fill), ts, realized, position)
            )
        position -= fill.qty * fill.side.sign
        if start is not None and ts < start:
            break
    return rows


def user_fills(front: HyperliquidFrontEnd, req: dict[str, Any]) -> Any:
    if not front.accounts.is_account(user_of(req)):
        return []
    return _fills(front, None, None)[:MAX_FILLS]  # newest first, as the venue lists them


def user_fills_by_time(front: HyperliquidFrontEnd, req: dict[str, Any]) -> Any:
    user = user_of(req)
    start, end = req.get("startTime"), req.get("endTime")
    if isinstance(start, bool) or not isinstance(start, int):
        raise SimBadRequest("userFillsByTime needs startTime (ms)")
    if end is not None and (isinstance(end, bool) or not isinstance(end, int)):
        raise SimBadRequest("userFillsByTime endTime must be ms or null")
    if not front.accounts.is_account(user):
        return []
    rows = _fills(front, start, end)
    rows.reverse()  # oldest first from startTime, at most 2000: the client pages forward
    return rows[:MAX_FILLS]


def user_rate_limit(front: HyperliquidFrontEnd, req: dict[str, Any]) -> Any:
    from mmtrio.sim.hyperliquid.frontend import INITIAL_ACTIONS

    if not front.accounts.is_account(user_of(req)):  # an address with nothing traded
        return {"cumVlm": "0.0", "nRequestsUsed": 0, "nRequestsCap": INITIAL_ACTIONS,
                "nRequestsSurplus": 0}  # fmt: skip
    b = front.budget
    return {"cumVlm": str(b.volume), "nRequestsUsed": b.used, "nRequestsCap": b.cap,
            "nRequestsSurplus": 0}  # fmt: skip


def exchange_status(front: HyperliquidFrontEnd, req: dict[str, Any]) -> Any:
    return {"time": front.venue.wall_ms(), "specialStatuses": None}


def user_fees(front: HyperliquidFrontEnd, req: dict[str, Any]) -> Any:
    user_of(req)
    fees = front.venue.config.fees
    return {"userCrossRate": str(fees.taker_rate), "userAddRate": str(fees.maker_rate),
            "userSpotCrossRate": "0.0007", "userSpotAddRate": "0.0004",
            "activeReferralDiscount": "0.0", "dailyUserVlm": [], "feeSchedule": {}}  # fmt: skip


HANDLERS: dict[str, Callable[[HyperliquidFrontEnd, dict[str, Any]], Any]] = {
    "meta": meta,
    "metaAndAssetCtxs": meta_and_ctxs,
    "spotMeta": spot_meta,
    "spotMetaAndAssetCtxs": spot_meta_and_ctxs,
    "perpDexs": perp_dexs,
    "l2Book": l2_book,
    "allMids": all_mids,
    "clearinghouseState": clearinghouse,
    "spotClearinghouseState": spot_clearinghouse,
    "openOrders": open_orders,
    "frontendOpenOrders": frontend_open_orders,
    "orderStatus": order_status,
    "userFills": user_fills,
    "userFillsByTime": user_fills_by_time,
    "userRateLimit": user_rate_limit,
    "exchangeStatus": exchange_status,
    "userFees": user_fees,
    "candleSnapshot": candles.snapshot,
}


def answer(front: HyperliquidFrontEnd, req: Any) -> tuple[Any, int]:
    """(answer, weight) of one ``/info`` request; SimBadRequest (422) when malformed."""
    if not isinstance(req, dict):
        raise SimBadRequest("Failed to deserialize the JSON body into the target type", 422)
    kind = req.get("type")
    handler = HANDLERS.get(kind) if isinstance(kind, str) else None
    if handler is None:
        raise SimBadRequest(
            f"Failed to deserialize the JSON body into the target type: unknown variant {kind!r}",
            422,
        )
    result = handler(front, req)
    return result, weight(str(kind), len(result) if isinstance(result, list) else 0)
