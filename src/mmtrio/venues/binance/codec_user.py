"""Binance USD-M user-data-stream payloads → core events (pure, strict).

ORDER_TRADE_UPDATE → OrderUpdate (with its Fill when ``x`` is TRADE), TRADE_LITE → TradeLite
(a fee-less early copy of a fill, for dedupe), ACCOUNT_UPDATE → AccountUpdate (+ one
FundingPayment per balance change when the reason is FUNDING_FEE), MARGIN_CALL → MarginCall,
listenKeyExpired → ListenKeyExpired.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmtrio.core.events import (
    AccountUpdate,
    BalanceUpdate,
    ExecType,
    Fill,
    FundingPayment,
    MarginCall,
    OrderUpdate,
    PositionUpdate,
    Side,
)
from mmtrio.errors import MmtrioError, ProtocolError
from mmtrio.venues.binance.codec_fields import (
    EXEC_TYPE,
    ORDER_STATUS,
    TIME_IN_FORCE,
    InstrumentLookup,
    Obj,
    check_fill_sizes,
    convert,
    get_bool,
    get_dec,
    get_enum,
    get_int,
    get_int_lenient,
    get_list,
    get_mapped,
    get_obj,
    get_str,
    lots,
    price,
)


@dataclass(frozen=True, slots=True)
class TradeLite:
    """TRADE_LITE: a fill announced before its ORDER_TRADE_UPDATE, without the fee.

    It is not a Fill (the fee is unknown, and a guessed fee would corrupt the ledger); the
    runtime may use it for an early inventory view and dedupes it by ``trade_id`` against the
    ORDER_TRADE_UPDATE that books the fill.
    """

    symbol: str
    trade_id: int
    client_id: str
    order_id: int
    side: Side
    price: int
    qty: int
    is_maker: bool
    ts: int


@dataclass(frozen=True, slots=True)
class ListenKeyExpired:
    """The venue expired the listen key: the user stream must get a new key and reconnect."""

    listen_key: str | None
    ts: int


def parse_order_trade_update(obj: Obj, lookup: InstrumentLookup) -> OrderUpdate:
    """ORDER_TRADE_UPDATE → OrderUpdate; ``fill`` is set exactly when ``x`` is TRADE.

    Fee sign: Binance ``n`` is the commission paid (positive); a maker rebate arrives negative,
    which is exactly Fill.fee's convention, so it passes through unchanged.
    """
    fast = _order_update_fast(obj, lookup)
    return fast if fast is not None else _order_update_checked(obj, lookup)


def _order_update_checked(obj: Obj, lookup: InstrumentLookup) -> OrderUpdate:
    k = "ORDER_TRADE_UPDATE"
    o = get_obj(obj, "o", k)
    ic = lookup(get_str(o, "s", k), k)
    exec_type = get_mapped(o, "x", k, EXEC_TYPE)
    side = get_enum(o, "S", k, Side)
    client_id = get_str(o, "c", k)
    order_id = get_int(o, "i", k)
    fill = None
    if exec_type is ExecType.TRADE:
        fill = Fill(
            symbol=ic.instrument.symbol,
            trade_id=get_int(o, "t", k),
            client_id=client_id,
            order_id=order_id,
            side=side,
            price=price(ic.px, o, "L", k),
            qty=lots(ic.qty, o, "l", k, positive=True),
            fee=get_dec(o, "n", k),
            fee_asset=get_str(o, "N", k),
            is_maker=get_bool(o, "m", k),
            ts=get_int(o, "T", k),
        )
    qty, cum_qty = lots(ic.qty, o, "q", k), lots(ic.qty, o, "z", k)
    check_fill_sizes(k, qty, cum_qty, None if fill is None else fill.qty)
    return OrderUpdate(
        symbol=ic.instrument.symbol,
        client_id=client_id,
        order_id=order_id,
        side=side,
        exec_type=exec_type,
        status=get_mapped(o, "X", k, ORDER_STATUS),
        price=price(ic.px, o, "p", k, zero_ok=True),
        qty=qty,
        cum_qty=cum_qty,
        time_in_force=get_mapped(o, "f", k, TIME_IN_FORCE),
        reduce_only=get_bool(o, "R", k),
        ts=get_int(obj, "E", k),
        fill=fill,
    )


_SIDES = {side.value: side for side in Side}
_FAST_MISS = (LookupError, TypeError, ValueError, ArithmeticError, MmtrioError)


def _order_update_fast(obj: Obj, lookup: InstrumentLookup) -> OrderUpdate | None:
    """An order update without a fill (new, amended, cancelled: most of them), read without
    the named accessors; None at the first thing the checked parser would refuse or that
    carries a fill, and the checked parser reads it again (the same result or ProtocolError,
    as for the market stream's fast paths in :mod:`.codec_market`)."""
    if type(obj) is not dict:
        return None
    o, ts = obj.get("o"), obj.get("E")
    if type(o) is not dict or type(ts) is not int:
        return None
    symbol, client_id, order_id = o.get("s"), o.get("c"), o.get("i")
    if type(symbol) is not str or type(client_id) is not str or type(order_id) is not int:
        return None
    p, q, z, reduce_only = o.get("p"), o.get("q"), o.get("z"), o.get("R")
    if type(p) is not str or type(q) is not str or type(z) is not str:
        return None
    if type(reduce_only) is not bool:
        return None
    try:
        exec_type = EXEC_TYPE[o["x"]]
        if exec_type is ExecType.TRADE:
            return None
        side, status, tif = _SIDES[o["S"]], ORDER_STATUS[o["X"]], TIME_IN_FORCE[o["f"]]
        ic = lookup(symbol, "ORDER_TRADE_UPDATE")
        ticks, qty, cum_qty = ic.px(p), ic.qty(q), ic.qty(z)
    except _FAST_MISS:
        return None
    if ticks < 0 or qty < 0 or cum_qty < 0 or cum_qty > qty:
        return None
    return OrderUpdate(
        symbol=ic.instrument.symbol, client_id=client_id, order_id=order_id, side=side,
        exec_type=exec_type, status=status, price=ticks, qty=qty, cum_qty=cum_qty,
        time_in_force=tif, reduce_only=reduce_only, ts=ts, fill=None,
    )  # fmt: skip


def parse_trade_lite(obj: Obj, lookup: InstrumentLookup) -> TradeLite:
    """TRADE_LITE → TradeLite (fields at top level, no fee)."""
    k = "TRADE_LITE"
    ic = lookup(get_str(obj, "s", k), k)
    return TradeLite(
        symbol=ic.instrument.symbol,
        trade_id=get_int(obj, "t", k),
        client_id=get_str(obj, "c", k),
        order_id=get_int(obj, "i", k),
        side=get_enum(obj, "S", k, Side),
        price=price(ic.px, obj, "L", k),
        qty=lots(ic.qty, obj, "l", k, positive=True),
        is_maker=get_bool(obj, "m", k),
        ts=get_int(obj, "T", k),
    )


def parse_account_update(
    obj: Obj, lookup: InstrumentLookup, default_symbol: str | None
) -> list[AccountUpdate | FundingPayment]:
    """ACCOUNT_UPDATE → [AccountUpdate, FundingPayment...].

    Positions in symbols we do not trade are skipped (the account may hold others; their
    sizes cannot be expressed in our lots). For FUNDING_FEE, the venue pushes the balance
    change ``bc`` and, for an isolated position, the position; under cross margin it omits
    ``P``. The payment's symbol is then the only position listed, else ``default_symbol``
    (the decoder's single traded symbol), else "" meaning account-level — never a guess
    between several symbols.
    """
    k = "ACCOUNT_UPDATE"
    a = get_obj(obj, "a", k)
    reason = get_str(a, "m", k)
    ts = get_int(obj, "E", k)
    balances = tuple(
        BalanceUpdate(
            asset=get_str(b, "a", k),
            wallet_balance=get_dec(b, "wb", k),
            cross_wallet_balance=get_dec(b, "cw", k),
            balance_change=get_dec(b, "bc", k),
        )
        for b in get_list(a, "B", k)
    )
    positions: list[PositionUpdate] = []
    listed: list[str] = []
    for p in get_list(a, "P", k) if "P" in a else ():
        sym = get_str(p, "s", k)
        listed.append(sym)
        try:
            ic = lookup(sym, k)
        except ProtocolError:  # a symbol we do not trade: not ours to book
            continue
        positions.append(
            PositionUpdate(
                symbol=ic.instrument.symbol,
                amount=convert(ic.qty, p, "pa", k),
                entry_price=get_dec(p, "ep", k),
                unrealized_pnl=get_dec(p, "up", k),
            )
        )
    out: list[AccountUpdate | FundingPayment] = [
        AccountUpdate(reason=reason, balances=balances, positions=tuple(positions), ts=ts)
    ]
    if reason == "FUNDING_FEE":
        if len(set(listed)) == 1:
            symbol = listed[0]
        else:
            symbol = default_symbol if not listed and default_symbol else ""
        out.extend(
            FundingPayment(symbol=symbol, amount=b.balance_change, ts=ts)
            for b in balances
            if b.balance_change != 0
        )
    return out


def parse_listen_key_expired(obj: Obj) -> ListenKeyExpired:
    """listenKeyExpired; ``E`` is an int in older pushes and a string in newer ones."""
    k = "listenKeyExpired"
    key = obj.get("listenKey")
    if key is not None and not isinstance(key, str):
        raise ProtocolError(f"{k}: field 'listenKey' must be a string, got {key!r}")
    return ListenKeyExpired(listen_key=key, ts=get_int_lenient(obj, "E", k))


def parse_margin_call(obj: Obj) -> MarginCall:
    """MARGIN_CALL: the cross wallet balance (``cw``, cross margin only) and each position at
    risk (``p``: symbol, side, amount, mark, unrealised P&L, maintenance margin), said as one
    sentence for the operator; every field checked."""
    k = "MARGIN_CALL"
    parts = []
    if "cw" in obj:
        parts.append(f"cross wallet {get_dec(obj, 'cw', k)}")
    for pos in get_list(obj, "p", k):
        parts.append(
            f"{get_str(pos, 's', k)} {get_str(pos, 'ps', k)} position {get_dec(pos, 'pa', k)} "
            f"at mark {get_dec(pos, 'mp', k)}, unrealised {get_dec(pos, 'up', k)}, "
            f"maintenance margin {get_dec(pos, 'mm', k)}"
        )
    if not parts:
        raise ProtocolError(f"{k}: no position and no wallet balance")
    return MarginCall(ts=get_int_lenient(obj, "E", k), detail="; ".join(parts))
