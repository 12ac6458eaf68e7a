"""OKX's words for the sim's neutral values: states, order types, refusal codes, and the
JSON shapes of OKX's order objects and channel pushes (OKX v5 docs). The one place the
front end's vocabulary lives; written apart from the connector's codec so a misreading of
OKX in one cannot hide in the other.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mmtrio.core.events import Fill, OrderStatus, Side, TimeInForce
from mmtrio.core.instruments import Instrument
from mmtrio.exchange.matching import Refusal

SIDE = {Side.BUY: "buy", Side.SELL: "sell"}
SIDE_PARSE = {v: k for k, v in SIDE.items()}
STATE = {
    OrderStatus.NEW.value: "live",
    OrderStatus.PARTIALLY_FILLED.value: "partially_filled",
    OrderStatus.FILLED.value: "filled",
    OrderStatus.CANCELED.value: "canceled",
    OrderStatus.EXPIRED.value: "canceled",  # OKX has no expired state: a system cancel
    OrderStatus.REJECTED.value: "canceled",
}
ORD_TYPE = {
    TimeInForce.POST_ONLY.value: "post_only",
    TimeInForce.GTC.value: "limit",
    TimeInForce.IOC.value: "ioc",
}
ORD_TYPE_PARSE = {"post_only": TimeInForce.POST_ONLY, "limit": TimeInForce.GTC,
                  "ioc": TimeInForce.IOC, "fok": TimeInForce.IOC}  # fmt: skip
# cancelSource: why the order was cancelled (OKX docs, order object): 31 = a post-only order
# that would have taken liquidity; 1 = cancelled by the user; 20 = cancel-all-after fired;
# 0 = cancelled by the system. One code for a closed order wherever it is rendered (the
# ``orders`` push, ``trade/order``, ``orders-history``): OkxStreams.cancel_source decides it.
CANCEL_SOURCE_SYSTEM = "0"
CANCEL_SOURCE_POST_ONLY = "31"
CANCEL_SOURCE_USER = "1"
CANCEL_SOURCE_DEADMAN = "20"
CANCEL_SOURCE_REASON = {
    CANCEL_SOURCE_SYSTEM: "Order canceled by system",
    CANCEL_SOURCE_USER: "Order canceled by user",
    CANCEL_SOURCE_DEADMAN: "Cancel all after triggered",
    CANCEL_SOURCE_POST_ONLY: "The post-only order will take liquidity in taker orders",
}
OWN_ID_BASE = 9 * 10**17
"""Order ids the front end gives itself: a post-only order cancelled at placement (the
engine refused it, so it has no engine id; :mod:`.trade`)."""

# (sCode, sMsg) per engine refusal and operation (OKX's error-code list).
_GONE = "as the order has been filled, canceled or does not exist"
_NOT_FOUND = {
    "order": ("51603", "Order does not exist"),
    "cancel": ("51400", f"Order cancellation failed {_GONE}"),
    "amend": ("51503", f"Order modification failed {_GONE}"),
}
_MIN_SZ = "Your order should meet or exceed the minimum order amount."
REFUSALS: dict[Refusal, tuple[str, str]] = {
    Refusal.DUPLICATE_CLIENT_ID: ("51016", "Duplicated clOrdId"),
    Refusal.QTY_BELOW_MIN: ("51020", _MIN_SZ),
    Refusal.QTY_ABOVE_MAX: ("51004", "Order amount exceeds current tier limit."),
    Refusal.PRICE_BELOW_MIN: ("51006", "Order price is not within the price limit"),
    Refusal.PRICE_ABOVE_MAX: ("51006", "Order price is not within the price limit"),
    Refusal.PRICE_OFF_GRID: ("51000", "Parameter px error"),
    Refusal.NOTIONAL_BELOW_MIN: ("51020", _MIN_SZ),
    Refusal.REDUCE_ONLY: ("51205", "Reduce Only is not available."),
    Refusal.WOULD_TAKE: ("51511", "The order price did not meet the requirement for Post Only."),
    Refusal.INSUFFICIENT_MARGIN: ("51008", "Order failed. Insufficient USDT margin in account"),
}


def refusal(ref: Refusal, op: str) -> tuple[str, str]:
    """OKX's ``(sCode, sMsg)`` for an engine refusal of ``op`` (order, amend, cancel)."""
    if ref in (Refusal.NO_SUCH_ORDER, Refusal.UNKNOWN_ORDER):
        return _NOT_FOUND.get(op, _NOT_FOUND["order"])
    return REFUSALS[ref]


def s(value: int) -> str:
    return str(value)


def dec(value: Decimal) -> str:
    """A money amount as OKX prints it (plain decimal, no exponent)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def order_object(
    inst: Instrument,
    *,
    client_id: str,
    order_id: int,
    side: Side,
    order_type: str,
    price: int | None,
    qty: int,
    cum_qty: int,
    avg_price: Decimal,
    status: str,
    reduce_only: bool,
    created_ms: int,
    updated_ms: int,
    fee: Decimal = Decimal(0),
    fill: Fill | None = None,
    amend_result: str = "",
    cancel_source: str = "",
    td_mode: str = "cross",
    lever: str = "10",
) -> dict[str, Any]:
    """An OKX order object (the ``orders`` channel and ``/api/v5/trade/order`` share it).
    ``fee`` is the order's accumulated fee as OKX signs it (negative = charged)."""
    obj: dict[str, Any] = {
        "instType": "SWAP",
        "instId": inst.symbol,
        "ccy": "",
        "ordId": s(order_id),
        "clOrdId": client_id,
        "tag": "",
        "px": "" if price is None else inst.price_str(price),
        "sz": inst.qty_str(qty),
        "ordType": order_type,
        "side": SIDE[side],
        "posSide": "net",
        "tdMode": td_mode,
        "accFillSz": inst.qty_str(cum_qty),
        "avgPx": "" if cum_qty == 0 else dec(avg_price),
        "state": STATE[status],
        "lever": lever,
        "fee": dec(fee),
        "feeCcy": inst.quote_asset,
        "rebate": "0",
        "rebateCcy": inst.quote_asset,
        "pnl": "0",
        "category": "normal",
        "reduceOnly": "true" if reduce_only else "false",
        "cancelSource": cancel_source,
        "cancelSourceReason": CANCEL_SOURCE_REASON.get(cancel_source, ""),
        "amendResult": amend_result,
        "uTime": s(updated_ms),
        "cTime": s(created_ms),
        "tradeId": "",
        "fillPx": "",
        "fillSz": "0",
        "fillTime": "",
        "fillFee": "0",
        "fillFeeCcy": "",
        "execType": "",
    }
    if fill is not None:
        obj.update(
            tradeId=s(fill.trade_id),
            fillPx=inst.price_str(fill.price),
            fillSz=inst.qty_str(fill.qty),
            fillTime=s(fill.ts),
            fillFee=dec(-fill.fee),  # the neutral fee is paid-positive; OKX's charged-negative
            fillFeeCcy=fill.fee_asset,
            execType="M" if fill.is_maker else "T",
        )
    return obj


def fill_row(inst: Instrument, fill: Fill, bill_id: int) -> dict[str, Any]:
    """One row of ``GET /api/v5/trade/fills``."""
    return {
        "instType": "SWAP",
        "instId": inst.symbol,
        "tradeId": s(fill.trade_id),
        "ordId": s(fill.order_id),
        "clOrdId": fill.client_id,
        "billId": s(bill_id),
        "subType": "1" if fill.side is Side.BUY else "2",
        "tag": "",
        "fillPx": inst.price_str(fill.price),
        "fillSz": inst.qty_str(fill.qty),
        "side": SIDE[fill.side],
        "posSide": "net",
        "execType": "M" if fill.is_maker else "T",
        "feeCcy": fill.fee_asset,
        "fee": dec(-fill.fee),
        "ts": s(fill.ts),
        "fillTime": s(fill.ts),
    }


def level(inst: Instrument, price: int, lots: int) -> list[str]:
    """A book level ``[px, sz, "0", numOrders]`` (the third field is deprecated: "0")."""
    return [inst.price_str(price), inst.qty_str(lots), "0", "0" if lots == 0 else "1"]


def envelope(data: list[Any], code: str = "0", msg: str = "") -> dict[str, Any]:
    return {"code": code, "msg": msg, "data": data}
