"""Extended's public trade, funding, mark-price and account stream messages (pure, no I/O).

Shapes from Extended's API documentation ("Trades stream", "Funding rates stream", "Mark
price stream", "Account updates stream") and the SDK's ``WrappedStreamResponseModel``:
``{"type"?, "data": …, "ts", "seq"}``. The account stream's ``data`` holds any of
``orders``, ``trades``, ``positions``, ``balance`` (the first messages after connecting
carry the whole account: balance, open positions, open orders).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mmtrio.core.events import Fill, PositionUpdate, Trade
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ProtocolError
from mmtrio.venues.extended.codec import OrderState, parse_order, parse_trade
from mmtrio.venues.extended.fields import (
    get_dec,
    get_int,
    get_list,
    get_obj,
    get_str,
    lots,
    ticks,
)

__all__ = ["AccountMessage", "parse_account", "parse_funding", "parse_mark", "parse_trades"]


def parse_trades(msg: Any, inst: Instrument) -> list[Trade]:
    """Public trades of ``inst`` (``S`` is the taker's side).

    A trade's ``ts`` is the message's ``ts`` (when Extended sent it), not the row's ``T``
    (when it printed), as Binance's trades carry the event time ``E``: the feed-latency guard
    judges the feed by it, and a sweep's prints, all at one ``T``, are sent over a second
    or more without the feed being late.
    """
    kind = "publicTrades message"
    sent = get_int(msg, "ts", kind)
    out: list[Trade] = []
    for row in get_list(msg, "data", kind):
        if get_str(row, "m", kind) != inst.symbol:
            continue
        side = get_str(row, "S", kind)
        if side not in ("BUY", "SELL"):
            raise ProtocolError(f"{kind}: S must be BUY or SELL, got {side!r}")
        out.append(
            Trade(
                inst.symbol,
                get_int(row, "i", kind),
                ticks(inst, row, "p", kind),
                lots(inst, row, "q", kind),
                side == "SELL",  # the taker sold: the buyer was the maker
                max(sent, get_int(row, "T", kind)),
            )
        )
    return out


def parse_funding(msg: Any, symbol: str) -> tuple[Decimal, int] | None:
    """(rate, time it applied) of a funding message for ``symbol``, else None."""
    kind = "funding message"
    data = get_obj(msg, "data", kind)
    if get_str(data, "m", kind) != symbol:
        return None
    return get_dec(data, "f", kind), get_int(data, "T", kind)


def parse_mark(msg: Any, symbol: str) -> tuple[Decimal, int] | None:
    """(mark price, time) of a mark-price message for ``symbol``, else None."""
    kind = "mark price message"
    data = get_obj(msg, "data", kind)
    if get_str(data, "m", kind) != symbol:
        return None
    return get_dec(data, "p", kind), get_int(data, "ts", kind)


@dataclass(slots=True)
class AccountMessage:
    """One account-stream message, decoded for one instrument."""

    kind: str
    ts: int
    orders: list[OrderState] = field(default_factory=list)
    trades: list[Fill] = field(default_factory=list)
    positions: list[PositionUpdate] = field(default_factory=list)
    balance: tuple[Decimal, Decimal, str] | None = None  # (balance, equity, collateral name)


def _position(row: Any, inst: Instrument) -> PositionUpdate:
    kind = "account POSITION"
    side = get_str(row, "side", kind)
    if side not in ("LONG", "SHORT"):
        raise ProtocolError(f"{kind}: side must be LONG or SHORT, got {side!r}")
    size = lots(inst, row, "size", kind)
    return PositionUpdate(
        inst.symbol,
        size if side == "LONG" else -size,
        get_dec(row, "openPrice", kind),
        get_dec(row, "unrealisedPnl", kind),
    )


def parse_account(msg: Any, inst: Instrument) -> AccountMessage:
    kind = "account message"
    word = msg.get("type") if isinstance(msg, dict) else None
    out = AccountMessage(str(word or ""), get_int(msg, "ts", kind))
    data = msg.get("data") if isinstance(msg, dict) else None
    if data is None:
        return out
    if not isinstance(data, dict):
        raise ProtocolError(f"{kind}: data must be an object, got {data!r:.80}")
    mine = [r for r in data.get("orders") or () if isinstance(r, dict)]
    out.orders = [parse_order(r, inst) for r in mine if r.get("market") == inst.symbol]
    mine = [r for r in data.get("trades") or () if isinstance(r, dict)]
    out.trades = [parse_trade(r, inst) for r in mine if r.get("market") == inst.symbol]
    mine = [r for r in data.get("positions") or () if isinstance(r, dict)]
    out.positions = [_position(r, inst) for r in mine if r.get("market") == inst.symbol]
    bal = data.get("balance")
    if bal is not None:
        out.balance = (
            get_dec(bal, "balance", "account BALANCE"),
            get_dec(bal, "equity", "account BALANCE"),
            get_str(bal, "collateralName", "account BALANCE"),
        )
    return out
