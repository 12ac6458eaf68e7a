"""The simulated OKX venue's reads: public data and the account (OKX v5 shapes).

Public: ``/api/v5/public/time``, ``public/instruments`` (SWAP; other ``instType`` values
list nothing), ``market/books``, ``public/mark-price``, ``public/funding-rate`` (the ticker,
trades and candles: :mod:`.market`). Account: ``account/config`` (net position mode, account
level 2: "spot and futures"), ``account/balance``, ``account/positions`` (leverage and fees:
:mod:`.margin`); trade reads: ``trade/order``, ``trade/orders-pending``, ``trade/fills``
(``trade/orders-history``: :mod:`.history`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmtrio.sim import requests as rq
from mmtrio.sim.okx import words as w
from mmtrio.sim.okx.trade import check_inst
from mmtrio.sim.okx.wire import OkxError, OrderError, int_param

if TYPE_CHECKING:
    from mmtrio.sim.okx.frontend import OkxFrontEnd

Params = dict[str, str]
BOOKS_MAX = 400
PAGE_MAX = 100


def _inst_filter(front: OkxFrontEnd, params: Params) -> bool:
    """False when the request names another instrument type or instrument (empty answer)."""
    inst_type = params.get("instType", "SWAP")
    if inst_type not in ("SWAP", ""):
        return False
    inst_id = params.get("instId", "")
    return inst_id in ("", front.symbol)


def time(front: OkxFrontEnd, params: Params) -> list[Any]:
    return [{"ts": w.s(front.venue.wall_ms())}]


def instruments(front: OkxFrontEnd, params: Params) -> list[Any]:
    if "instType" not in params:
        raise OkxError("50014", "Parameter instType can not be empty")
    if params["instType"] != "SWAP":
        return []
    if params.get("instId", front.symbol) != front.symbol:
        raise OkxError("51001", "Instrument ID does not exist")
    inst = front.inst
    base = inst.base_asset
    max_sz = w.dec(inst.lots_to_qty(inst.max_qty))
    return [
        {
            "instType": "SWAP",
            "instId": front.symbol,
            "uly": f"{base}-USDT",
            "instFamily": f"{base}-USDT",
            "baseCcy": "",
            "quoteCcy": "",
            "settleCcy": "USDT",
            "ctVal": w.dec(inst.contract_size),
            "ctMult": "1",
            "ctValCcy": base,
            "ctType": "linear",
            "optType": "",
            "stk": "",
            "alias": "",
            "listTime": "1573557408000",
            "expTime": "",
            "lever": "100",
            "tickSz": w.dec(inst.tick_size),
            "lotSz": w.dec(inst.lot_size),
            "minSz": w.dec(inst.lots_to_qty(inst.min_qty)),
            "maxLmtSz": max_sz,
            "maxMktSz": max_sz,
            "maxTwapSz": max_sz,
            "maxIcebergSz": max_sz,
            "maxTriggerSz": max_sz,
            "maxStopSz": max_sz,
            "state": "live",
            "ruleType": "normal",
            "category": "1",
        }
    ]


def books(front: OkxFrontEnd, params: Params) -> list[Any]:
    check_inst_params(front, params)
    size = params.get("sz", "1")
    if not size.isdigit() or not 1 <= int(size) <= BOOKS_MAX:
        raise OkxError("51000", "Parameter sz error")
    bids, asks = front.venue.book.top(int(size))
    return [
        {
            "asks": [w.level(front.inst, p, q) for p, q in asks],
            "bids": [w.level(front.inst, p, q) for p, q in bids],
            "ts": w.s(front.venue.out_ts(front.venue.book.ts)),
        }
    ]


def check_inst_params(front: OkxFrontEnd, params: Params) -> None:
    try:
        check_inst(front, dict(params))
    except OrderError as err:
        raise OkxError(err.s_code, err.s_msg) from None


def mark_price(front: OkxFrontEnd, params: Params) -> list[Any]:
    if not _inst_filter(front, params):
        return []
    return list(front.streams.mark_push()["data"])


def funding_rate(front: OkxFrontEnd, params: Params) -> list[Any]:
    check_inst_params(front, params)
    return [front.streams.funding_row()]


def currencies(front: OkxFrontEnd, params: Params) -> list[Any]:
    """``GET /api/v5/asset/currencies``: the settlement and base currencies, one chain each
    (a client loading markets with keys asks for it; the sim moves no funds)."""
    wanted = {c for c in params.get("ccy", "").split(",") if c}
    out = []
    for ccy, chain, tick in (("USDT", "USDT-TRC20", "6"), (front.inst.base_asset, "", "8")):
        if wanted and ccy not in wanted:
            continue
        out.append({"ccy": ccy, "name": ccy, "chain": chain or f"{ccy}-{ccy}", "canDep": False,
                    "canWd": False, "canInternal": False, "minWd": "0", "maxWd": "0",
                    "wdTickSz": tick, "fee": "0", "minFee": "0", "maxFee": "0",
                    "mainNet": True, "needTag": False, "logoLink": ""})  # fmt: skip
    return out


# --- account -------------------------------------------------------------------------------


def config(front: OkxFrontEnd, params: Params) -> list[Any]:
    return [
        {
            "uid": "100000001",
            "mainUid": "100000001",
            "acctLv": "2",
            "posMode": "net_mode",
            "autoLoan": False,
            "greeksType": "PA",
            "level": "Lv1",
            "levelTmp": "",
            "ctIsoMode": "automatic",
            "mgnIsoMode": "automatic",
            "spotOffsetType": "",
            "roleType": "0",
            "traderInsts": [],
            "opAuth": "0",
            "kycLv": "2",
            "label": "mmtrio paper",
            "ip": "",
            "perm": "read_only,trade",
        }
    ]


def balance(front: OkxFrontEnd, params: Params) -> list[Any]:
    ccys = [c for c in params.get("ccy", "").split(",") if c]
    row = front.streams.account_row()
    if ccys and "USDT" not in ccys:
        row["details"] = []
    return [row]


def positions(front: OkxFrontEnd, params: Params) -> list[Any]:
    if not _inst_filter(front, params):
        return []
    return front.streams.position_rows()


# --- trade reads ---------------------------------------------------------------------------


def order(front: OkxFrontEnd, params: Params) -> list[Any]:
    check_inst_params(front, params)
    cid = params.get("clOrdId", "")
    oid = params.get("ordId", "")
    if not cid and not oid:
        raise OkxError("51003", "Either client order ID or order ID is required")
    try:
        rec = rq.lookup(front.venue, cid or None, int(oid) if oid else None)
    except ValueError:
        raise OkxError("51000", "Parameter ordId error") from None
    if rec is None:
        raise OkxError("51603", "Order does not exist")
    return [front.streams.order_json(rec)]


def _limit(params: Params) -> int:
    return int_param(params, "limit", PAGE_MAX, PAGE_MAX) or PAGE_MAX


def orders_pending(front: OkxFrontEnd, params: Params) -> list[Any]:
    """Open orders, newest first; ``after`` pages to older ``ordId`` values (OKX)."""
    if not _inst_filter(front, params):
        return []
    after, before = int_param(params, "after"), int_param(params, "before")
    recs = sorted(rq.open_orders(front.venue), key=lambda r: r.order_id, reverse=True)
    if after is not None:
        recs = [r for r in recs if r.order_id < after]
    if before is not None:
        recs = [r for r in recs if r.order_id > before]
    return [front.streams.order_json(r) for r in recs[: _limit(params)]]


def fills(front: OkxFrontEnd, params: Params) -> list[Any]:
    """Our fills, newest first; ``billId`` is the trade id here (both increase)."""
    if not _inst_filter(front, params):
        return []
    after, before = int_param(params, "after"), int_param(params, "before")
    rows = sorted(front.venue.account.fills, key=lambda f: f.trade_id, reverse=True)
    if after is not None:
        rows = [f for f in rows if f.trade_id < after]
    if before is not None:
        rows = [f for f in rows if f.trade_id > before]
    anonymous = front.streams.anonymous
    out = []
    for fill in rows[: _limit(params)]:
        row = w.fill_row(front.inst, fill, fill.trade_id)
        row["ts"] = row["fillTime"] = w.s(front.venue.out_ts(fill.ts))
        if fill.client_id in anonymous:
            row["clOrdId"] = ""
        out.append(row)
    return out
