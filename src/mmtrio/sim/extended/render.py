"""The engine's account, orders and fills in Extended's JSON (REST and the account stream).

Shapes: Extended's API documentation ("Get open orders", "Get trades", "Get positions", "Get
balance") as the SDK's models read them (``x10/models/order.py``, ``trade.py``,
``position.py``, ``balance.py``): every field those models require is present.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mmtrio.core.events import Fill
from mmtrio.sim.account import OrderRecord
from mmtrio.sim.extended.words import ORDER_STATUS, extended_symbol
from mmtrio.sim.liquidation import liquidation_price

if TYPE_CHECKING:
    from mmtrio.sim.venue import SimVenue

ACCOUNT_ID = 1001


def order_json(venue: SimVenue, rec: OrderRecord, reason: str = "") -> dict[str, Any]:
    inst = venue.instrument
    tif = rec.time_in_force
    out: dict[str, Any] = {
        "id": rec.order_id,
        "accountId": ACCOUNT_ID,
        "externalId": rec.client_id,
        "market": extended_symbol(inst.symbol),
        "type": "LIMIT",
        "side": rec.side.value,
        "status": ORDER_STATUS.get(rec.status, rec.status),
        "price": inst.price_str(rec.price),
        "averagePrice": str(rec.avg_price(inst)) if rec.cum_qty else None,
        "qty": inst.qty_str(rec.qty),
        "filledQty": inst.qty_str(rec.cum_qty),
        "reduceOnly": rec.reduce_only,
        "postOnly": tif == "POST_ONLY",
        "createdTime": venue.out_ts(rec.created_ms),
        "updatedTime": venue.out_ts(rec.update_ms or rec.created_ms),
        "timeInForce": "IOC" if tif == "IOC" else "GTT",
        "expiryTime": venue.out_ts(rec.created_ms) + 3_600_000,
    }
    if reason:
        out["statusReason"] = reason
    return out


def trade_json(venue: SimVenue, fill: Fill, *, stream: bool) -> dict[str, Any]:
    inst = venue.instrument
    price, qty = inst.ticks_to_price(fill.price), inst.lots_to_qty(fill.qty)
    out: dict[str, Any] = {
        "id": fill.trade_id,
        "accountId": ACCOUNT_ID,
        "market": extended_symbol(inst.symbol),
        "orderId": fill.order_id,
        "side": fill.side.value,
        "price": str(price),
        "qty": str(qty),
        "value": str(price * qty),
        "fee": str(fill.fee),
        "isTaker": not fill.is_maker,
        "tradeType": "TRADE",
        "createdTime": venue.out_ts(fill.ts),
    }
    if stream:  # Extended names our external id on the stream only
        out["externalOrderId"] = fill.client_id
    return out


def exposure(venue: SimVenue) -> Decimal:
    """The position's value at the mark (unsigned)."""
    return abs(venue.instrument.lots_to_qty(venue.account.position) * venue.mark_price())


def positions_json(venue: SimVenue, leverage: Decimal) -> list[dict[str, Any]]:
    """The open position; ``leverage`` is the account's (:mod:`.leverage`)."""
    acct, inst = venue.account, venue.instrument
    if acct.position == 0:
        return []
    mark = venue.mark_price()
    size = inst.lots_to_qty(abs(acct.position))
    now = venue.out_ts()
    liq = liquidation_price(venue)
    return [
        {
            "id": 1,
            "accountId": ACCOUNT_ID,
            "market": extended_symbol(inst.symbol),
            "status": "OPENED",
            "side": "LONG" if acct.position > 0 else "SHORT",
            "leverage": str(leverage),
            "size": str(size),
            "value": str(size * mark),
            "openPrice": str(acct.entry_price),
            "markPrice": str(mark),
            "liquidationPrice": None if liq is None else str(liq.quantize(Decimal("0.000001"))),
            "margin": str(size * mark / leverage),
            "unrealisedPnl": str(acct.unrealized(mark)),
            "realisedPnl": "0",
            "createdAt": now,
            "updatedAt": now,
        }
    ]


def balance_json(venue: SimVenue, leverage: Decimal) -> dict[str, Any]:
    """The balance; the initial margin is the exposure / the account's ``leverage``."""
    acct = venue.account
    mark = venue.mark_price()
    upnl = acct.unrealized(mark)
    margin = exposure(venue) / leverage
    equity = acct.balance + upnl
    return {
        "collateralName": "USD",
        "balance": str(acct.balance),
        "equity": str(equity),
        "availableForTrade": str(equity - margin),
        "availableForWithdrawal": str(
            max(Decimal(0), acct.balance + min(upnl, Decimal(0)) - margin)
        ),
        "unrealisedPnl": str(upnl),
        "initialMargin": str(margin),
        "marginRatio": str(margin / 2 / equity if equity > 0 else Decimal(0)),
        "exposure": str(exposure(venue)),
        "leverage": str(leverage),
        "updatedTime": venue.out_ts(),
    }


def fees_json(venue: SimVenue) -> list[dict[str, Any]]:
    return [
        {
            "market": extended_symbol(venue.instrument.symbol),
            "makerFeeRate": str(venue.config.fees.maker_rate),
            "takerFeeRate": str(venue.config.fees.taker_rate),
            "builderFeeRate": "0",
        }
    ]
