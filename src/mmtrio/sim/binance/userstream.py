"""Binance user-data stream payloads from engine updates: ORDER_TRADE_UPDATE, TRADE_LITE
(pushed ahead of a fill's ORDER_TRADE_UPDATE, without the fee) and ACCOUNT_UPDATE."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mmtrio.core.events import ExecType, OrderUpdate
from mmtrio.sim.binance.words import STP_MODE, TIF_TEXT, status_text

if TYPE_CHECKING:
    from mmtrio.sim.venue import SimVenue


def order_trade_update(venue: SimVenue, upd: OrderUpdate, realized: Decimal) -> dict[str, Any]:
    """ORDER_TRADE_UPDATE for one engine update, in Binance's field names."""
    inst = venue.instrument
    rec = venue.account.orders.get(upd.client_id)
    fill = upd.fill
    ts = venue.out_ts(upd.ts)
    order_type = rec.order_type if rec is not None else "LIMIT"
    avg = rec.avg_price(inst) if rec is not None else Decimal(0)
    # A liquidation's fill (sim/liquidation.py) is a CALCULATED execution of the venue's own
    # LIQUIDATION order (client id autoclose-…), as Binance sends it.
    exec_word = "CALCULATED" if order_type == "LIQUIDATION" else upd.exec_type.value
    return {
        "e": "ORDER_TRADE_UPDATE",
        "E": ts,
        "T": ts,
        "o": {
            "s": upd.symbol,
            "c": upd.client_id,
            "S": upd.side.value,
            "o": order_type,
            "f": TIF_TEXT[upd.time_in_force],
            "q": inst.qty_str(upd.qty),
            "p": inst.price_str(upd.price) if order_type == "LIMIT" else "0",
            "ap": str(avg),
            "sp": "0",
            "x": exec_word,
            "X": status_text(upd.status.value, _cause(venue, upd.client_id)),
            "i": upd.order_id,
            "l": inst.qty_str(fill.qty) if fill else "0",
            "z": inst.qty_str(upd.cum_qty),
            "L": inst.price_str(fill.price) if fill else "0",
            "N": fill.fee_asset if fill else "USDT",
            "n": str(fill.fee) if fill else "0",
            "T": ts,
            "t": fill.trade_id if fill and upd.exec_type is ExecType.TRADE else 0,
            "b": "0",
            "a": "0",
            "m": fill.is_maker if fill else False,
            "R": upd.reduce_only,
            "wt": "CONTRACT_PRICE",
            "ot": order_type,
            "ps": "BOTH",
            "cp": False,
            "rp": str(realized),
            "pP": False,
            "si": 0,
            "ss": 0,
            "V": STP_MODE,  # the self-trade rule REST answers name too
            "pm": "NONE",
            "gtd": 0,
        },
    }


def trade_lite(venue: SimVenue, upd: OrderUpdate) -> dict[str, Any] | None:
    """TRADE_LITE for a fill (None without one): Binance pushes it ahead of the fill's
    ORDER_TRADE_UPDATE, with the order's price and size and the fill, but no fee."""
    fill = upd.fill
    rec = venue.account.orders.get(upd.client_id)
    if fill is None or (rec is not None and rec.order_type == "LIQUIDATION"):
        return None  # none for the venue's own liquidation order: it is not the client's
    inst = venue.instrument
    ts = venue.out_ts(upd.ts)
    return {
        "e": "TRADE_LITE",
        "E": ts,
        "T": venue.out_ts(fill.ts),
        "s": upd.symbol,
        "q": inst.qty_str(upd.qty),
        "p": inst.price_str(upd.price),
        "m": fill.is_maker,
        "c": upd.client_id,
        "S": upd.side.value,
        "L": inst.price_str(fill.price),
        "l": inst.qty_str(fill.qty),
        "t": fill.trade_id,
        "i": upd.order_id,
    }


def _cause(venue: SimVenue, client_id: str) -> str | None:
    view = venue.engine.get(client_id)
    return None if view is None else view.expiry_cause


def account_update(venue: SimVenue, reason: str, balance_change: Decimal) -> dict[str, Any]:
    """ACCOUNT_UPDATE with the USDT balance and the symbol's position (what changed)."""
    acct = venue.account
    inst = venue.instrument
    mark = venue.mark_price()
    ts = venue.out_ts()
    pos = acct.position
    return {
        "e": "ACCOUNT_UPDATE",
        "E": ts,
        "T": ts,
        "a": {
            "m": reason,
            "B": [
                {
                    "a": "USDT",
                    "wb": str(acct.balance),
                    "cw": str(acct.balance),
                    "bc": str(balance_change),
                }
            ],
            "P": [
                {
                    "s": inst.symbol,
                    "pa": signed_qty(venue, pos),
                    "ep": str(acct.entry_price),
                    "cr": str(acct.realized_pnl),
                    "up": str(acct.unrealized(mark).quantize(Decimal("0.00000001"))),
                    "mt": "cross",
                    "iw": "0",
                    "ps": "BOTH",
                }
            ],
        },
    }


def signed_qty(venue: SimVenue, lots: int) -> str:
    text = venue.instrument.qty_str(abs(lots))
    return "-" + text if lots < 0 else text


def margin_call(venue: SimVenue, maint: Decimal) -> dict[str, Any]:
    """MARGIN_CALL (Binance's shape: cross wallet ``cw`` and the position at risk in ``p``,
    ``maint`` its maintenance margin as the front end's margin model states it)."""
    acct = venue.account
    mark = venue.mark_price()
    return {
        "e": "MARGIN_CALL",
        "E": venue.out_ts(),
        "cw": str(acct.balance),
        "p": [
            {
                "s": venue.instrument.symbol,
                "ps": "BOTH",
                "pa": signed_qty(venue, acct.position),
                "mt": "CROSSED",
                "iw": "0",
                "mp": str(mark),
                "up": str(acct.unrealized(mark).quantize(Decimal("0.00000001"))),
                "mm": str(maint),
            }
        ],
    }
