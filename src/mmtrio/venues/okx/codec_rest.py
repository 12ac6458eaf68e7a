"""OKX v5 REST: commands → request bodies, response bodies → records (pure, strict).

Every answer is an envelope ``{"code": "0", "msg": "", "data": [...]}``; a non-zero
``code`` is an error (:mod:`mmtrio.venues.okx.errors`). Order operations answer one
``{ordId, clOrdId, ts, sCode, sMsg}`` per order; ``sCode`` "0" is that order's success.
Bodies are built as ordered dicts and serialised once (the signature covers the exact
bytes sent).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from mmtrio.core.commands import AmendOrder, CancelOrder, PlaceOrder
from mmtrio.core.events import Fill, OrderUpdate
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ConfigError, InstrumentError, ProtocolError
from mmtrio.venues.okx.client_ids import valid_client_id
from mmtrio.venues.okx.codec_orders import ORD_TYPE_TEXT, SIDE_TEXT, parse_fill, parse_order
from mmtrio.venues.okx.codec_user import PositionRow, parse_position
from mmtrio.venues.okx.fields import (
    InstrumentCodec,
    Obj,
    get_dec,
    get_int_str,
    get_list,
    get_str,
    opt_dec,
    single,
)

INST_TYPE = "SWAP"
SETTLE = "USDT"
NET_MODE = "net_mode"


@dataclass(frozen=True, slots=True)
class OpAnswer:
    """One order's result in an order operation's ``data``."""

    client_id: str
    order_id: int | None
    s_code: str
    s_msg: str
    ts: int | None

    @property
    def ok(self) -> bool:
        return self.s_code == "0"


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """``GET /api/v5/account/config``: the position mode and account level."""

    pos_mode: str
    acct_lv: str


@dataclass(frozen=True, slots=True)
class Balance:
    """``GET /api/v5/account/balance?ccy=…``: one currency's figures."""

    ccy: str
    cash: Decimal
    available: Decimal
    equity: Decimal
    margin_ratio: Decimal | None


# --- envelopes ---------------------------------------------------------------------------


def envelope(body: Any, kind: str) -> tuple[str, str, list[Any]]:
    """``(code, msg, data)`` of an OKX answer; ProtocolError if it is not one."""
    if not isinstance(body, dict):
        raise ProtocolError(f"{kind}: expected an object, got {type(body).__name__}")
    code = body.get("code")
    if isinstance(code, int) and not isinstance(code, bool):
        code = str(code)  # OKX's 404 body prints its code as a number
    if not isinstance(code, str):
        raise ProtocolError(f"{kind}: missing string field 'code'")
    msg = body.get("msg", "")
    data = body.get("data", [])
    if not isinstance(data, list):
        raise ProtocolError(f"{kind}: field 'data' must be a list")
    return code, msg if isinstance(msg, str) else str(msg), data


def op_answers(data: list[Any], kind: str) -> list[OpAnswer]:
    out = []
    for obj in data:
        if not isinstance(obj, dict):
            raise ProtocolError(f"{kind}: 'data' entries must be objects")
        oid = obj.get("ordId", "")
        ts = obj.get("ts", "")
        out.append(
            OpAnswer(
                client_id=get_str(obj, "clOrdId", kind),
                order_id=None if oid == "" else get_int_str(obj, "ordId", kind),
                s_code=get_str(obj, "sCode", kind),
                s_msg=get_str(obj, "sMsg", kind) if "sMsg" in obj else "",
                ts=None if ts == "" else get_int_str(obj, "ts", kind),
            )
        )
    return out


# --- requests ----------------------------------------------------------------------------


def _check_client_id(client_id: str) -> str:
    if not valid_client_id(client_id):
        raise ProtocolError(
            f"client order id {client_id!r} does not match OKX's rule (1-32 letters and "
            "digits); fix the id generator"
        )
    return client_id


def place_args(cmd: PlaceOrder, inst: Instrument, td_mode: str) -> dict[str, str]:
    """One order for ``POST /api/v5/trade/order`` or the ``order`` op. ``reduceOnly`` is
    sent only when true (false is OKX's default)."""
    inst.check_price(cmd.price)
    inst.check_qty(cmd.qty)
    args = {
        "instId": inst.symbol,
        "tdMode": td_mode,
        "clOrdId": _check_client_id(cmd.client_id),
        "side": SIDE_TEXT[cmd.side],
        "ordType": ORD_TYPE_TEXT[cmd.time_in_force],
        "px": inst.price_str(cmd.price),
        "sz": inst.qty_str(cmd.qty),
    }
    if cmd.reduce_only:
        args["reduceOnly"] = "true"
    return args


def amend_args(cmd: AmendOrder, inst: Instrument) -> dict[str, str]:
    """``amend-order``: the new price and the new *total* size (OKX: ``newSz`` includes
    what is already filled, as the neutral AmendOrder's ``qty`` does)."""
    inst.check_price(cmd.price)
    inst.check_qty(cmd.qty)
    return {
        "instId": inst.symbol,
        "clOrdId": _check_client_id(cmd.client_id),
        "newSz": inst.qty_str(cmd.qty),
        "newPx": inst.price_str(cmd.price),
    }


def cancel_args(cmd: CancelOrder) -> dict[str, str]:
    return {"instId": cmd.symbol, "clOrdId": _check_client_id(cmd.client_id)}


# --- answers -----------------------------------------------------------------------------


def parse_server_time(data: list[Any]) -> int:
    return get_int_str(single(data, "time"), "ts", "time")


def _dec_field(obj: Obj, key: str, symbol: str) -> Decimal:
    val = obj.get(key)
    try:
        dec = Decimal(str(val))
    except InvalidOperation:
        raise ConfigError(f"OKX lists {symbol} with {key} = {val!r}: not a number") from None
    if not dec.is_finite() or dec <= 0:
        raise ConfigError(f"OKX lists {symbol} with {key} = {val!r}: not a positive number")
    return dec


def parse_instrument(data: list[Any], symbol: str) -> Instrument:
    """``GET /api/v5/public/instruments?instType=SWAP&instId=…`` → the Instrument.

    Refused with a ConfigError naming what is wrong: a symbol OKX does not list, one that is
    not a USDT-margined linear perpetual swap (mmtrio's P&L and sizes assume that), one that
    is not trading (``state`` other than ``live``), a ``minSz`` that is not a whole number
    of ``lotSz``.
    """
    rows = [r for r in data if isinstance(r, dict) and r.get("instId") == symbol]
    if not rows:
        raise ConfigError(
            f"OKX lists no swap {symbol!r}: venue.symbol must be an OKX USDT perpetual swap "
            "such as BTC-USDT-SWAP"
        )
    row = rows[0]
    k = "instrument"
    shape = (row.get("instType"), row.get("ctType"), row.get("settleCcy"))
    if shape != (INST_TYPE, "linear", SETTLE):
        raise ConfigError(
            f"{symbol} is not a USDT-margined linear perpetual swap (instType "
            f"{shape[0]!r}, ctType {shape[1]!r}, settleCcy {shape[2]!r}); mmtrio trades "
            "OKX USDT swaps such as BTC-USDT-SWAP"
        )
    if row.get("state") != "live":
        raise ConfigError(f"{symbol} is not trading on OKX (state {row.get('state')!r})")
    tick = _dec_field(row, "tickSz", symbol)
    lot = _dec_field(row, "lotSz", symbol)
    ct_val = _dec_field(row, "ctVal", symbol)
    min_sz = _dec_field(row, "minSz", symbol)
    max_sz = _dec_field(row, "maxLmtSz", symbol)
    min_lots, rem = divmod(min_sz, lot)
    if rem != 0:
        raise ConfigError(f"OKX lists {symbol} with minSz {min_sz} not a multiple of lotSz {lot}")
    try:
        return Instrument(
            symbol=symbol,
            tick_size=tick,
            lot_size=lot,
            min_qty=int(min_lots),
            max_qty=int(max_sz // lot),
            # OKX swaps have no minimum notional: the minimum size (minSz) is the rule.
            min_notional=Decimal(0),
            base_asset=get_str(row, "ctValCcy", k),
            quote_asset=get_str(row, "settleCcy", k),
            contract_size=ct_val,
        )
    except InstrumentError as exc:
        raise ConfigError(f"OKX lists {symbol} with rules mmtrio cannot trade: {exc}") from exc


def parse_account_config(data: list[Any]) -> AccountConfig:
    obj = single(data, "account config")
    return AccountConfig(
        get_str(obj, "posMode", "account config"), get_str(obj, "acctLv", "account config")
    )


def parse_balance(data: list[Any], ccy: str) -> Balance:
    """The ``ccy`` detail of ``GET /api/v5/account/balance``; zero when OKX lists none."""
    k = "balance"
    obj = single(data, k)
    ratio = opt_dec(obj, "mgnRatio", k)
    for detail in get_list(obj, "details", k):
        if isinstance(detail, dict) and detail.get("ccy") == ccy:
            avail = opt_dec(detail, "availEq", k)
            if avail is None:
                avail = get_dec(detail, "availBal", k)
            return Balance(
                ccy,
                get_dec(detail, "cashBal", k),
                avail,
                get_dec(detail, "eq", k),
                ratio,
            )
    return Balance(ccy, Decimal(0), Decimal(0), Decimal(0), ratio)


def parse_positions(data: list[Any], ic: InstrumentCodec) -> list[PositionRow]:
    rows = []
    for obj in data:
        if not isinstance(obj, dict):
            raise ProtocolError("positions: 'data' entries must be objects")
        if obj.get("instId") == ic.instrument.symbol:
            rows.append(parse_position(obj, ic))
    return rows


def parse_leverage(data: list[Any], symbol: str) -> Decimal | None:
    """``GET /api/v5/account/leverage-info``: the instrument's ``lever`` (one row in net
    mode; the highest when OKX lists several); None when it lists none."""
    levers = []
    for obj in data:
        if not isinstance(obj, dict):
            raise ProtocolError("leverage-info: 'data' entries must be objects")
        if obj.get("instId") == symbol:
            levers.append(get_dec(obj, "lever", "leverage-info"))
    return max(levers) if levers else None


def parse_orders(data: list[Any], ic: InstrumentCodec) -> list[OrderUpdate]:
    out = []
    for obj in data:
        if not isinstance(obj, dict):
            raise ProtocolError("orders: 'data' entries must be objects")
        if obj.get("instId") == ic.instrument.symbol:
            out.append(parse_order(obj, ic, push=False))
    return out


def parse_fills(data: list[Any], ic: InstrumentCodec) -> list[tuple[int, Fill]]:
    """``(billId, fill)`` per row of ``GET /api/v5/trade/fills`` (newest first, as OKX pages)."""
    out = []
    for obj in data:
        if not isinstance(obj, dict):
            raise ProtocolError("fills: 'data' entries must be objects")
        if obj.get("instId") == ic.instrument.symbol:
            out.append((get_int_str(obj, "billId", "fill"), parse_fill(obj, ic)))
    return out
