"""Binance USD-M REST: command → request params, response bodies → records (pure, strict).

Params are returned as ``list[tuple[str, str]]`` in a fixed order: the signer signs the exact
query string built from them, so the order must be deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mmtrio.core.commands import AmendOrder, CancelAll, CancelOrder, PlaceOrder, QueryOrder
from mmtrio.core.events import Fill, OrderStatus, PositionUpdate, Side, TimeInForce
from mmtrio.core.instruments import Instrument
from mmtrio.core.ratelimit import RateLimits
from mmtrio.errors import InstrumentError, ProtocolError, VenueError
from mmtrio.venues.binance.client_ids import valid_client_id
from mmtrio.venues.binance.codec_fields import (
    ORDER_STATUS,
    TIME_IN_FORCE,
    TIME_IN_FORCE_TEXT,
    InstrumentLookup,
    Obj,
    ascii_int,
    check_fill_sizes,
    convert,
    field,
    get_bool,
    get_dec,
    get_enum,
    get_int,
    get_list,
    get_mapped,
    get_str,
    lots,
    price,
)
from mmtrio.venues.binance.costs import limits_from_exchange_info
from mmtrio.venues.binance.errors import classify

Params = list[tuple[str, str]]


# --- records ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderAck:
    """The answer to a place request with ``newOrderRespType=ACK``: the order exists."""

    symbol: str
    client_id: str
    order_id: int
    status: OrderStatus | None  # present when the venue includes it
    ts: int | None  # updateTime, when present


@dataclass(frozen=True, slots=True)
class OrderState:
    """An order as a REST query, openOrders, amend or cancel answer describes it."""

    symbol: str
    client_id: str
    order_id: int
    side: Side
    status: OrderStatus
    price: int
    qty: int
    cum_qty: int
    avg_price: Decimal
    time_in_force: TimeInForce
    reduce_only: bool
    ts: int


@dataclass(frozen=True, slots=True)
class PositionRisk:
    symbol: str
    amount: int  # signed lots
    entry_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal

    def as_update(self) -> PositionUpdate:
        return PositionUpdate(self.symbol, self.amount, self.entry_price, self.unrealized_pnl)


@dataclass(frozen=True, slots=True)
class AssetBalance:
    asset: str
    wallet_balance: Decimal
    available_balance: Decimal
    unrealized_pnl: Decimal


@dataclass(frozen=True, slots=True)
class AccountInfo:
    assets: tuple[AssetBalance, ...]
    positions: tuple[PositionUpdate, ...]  # only symbols we trade


@dataclass(frozen=True, slots=True)
class ExchangeInfo:
    instruments: dict[str, Instrument]
    rate_limits: RateLimits
    server_time: int


# --- serialisation ---------------------------------------------------------------------------


def _check_client_id(client_id: str) -> str:
    if not valid_client_id(client_id):
        raise ProtocolError(
            f"client order id {client_id!r} does not match Binance's pattern "
            "^[.A-Z:/a-z0-9_-]{1,36}$; fix the id generator"
        )
    return client_id


def place_params(cmd: PlaceOrder, inst: Instrument) -> Params:
    """POST /fapi/v1/order params. ``reduceOnly`` is sent only when true: sending it at all
    is rejected in hedge mode, and false is the venue's default."""
    inst.check_price(cmd.price)
    inst.check_qty(cmd.qty)
    params: Params = [
        ("symbol", inst.symbol),
        ("side", cmd.side.value),
        ("type", "LIMIT"),
        ("timeInForce", TIME_IN_FORCE_TEXT[cmd.time_in_force]),
        ("quantity", inst.qty_str(cmd.qty)),
        ("price", inst.price_str(cmd.price)),
        ("newClientOrderId", _check_client_id(cmd.client_id)),
        ("newOrderRespType", "ACK"),
    ]
    if cmd.reduce_only:
        params.append(("reduceOnly", "true"))
    return params


def amend_params(cmd: AmendOrder, inst: Instrument) -> Params:
    """PUT /fapi/v1/order params: Binance requires both quantity and price."""
    inst.check_price(cmd.price)
    inst.check_qty(cmd.qty)
    return [
        ("symbol", inst.symbol),
        ("origClientOrderId", _check_client_id(cmd.client_id)),
        ("side", cmd.side.value),
        ("quantity", inst.qty_str(cmd.qty)),
        ("price", inst.price_str(cmd.price)),
    ]


def cancel_params(cmd: CancelOrder | QueryOrder) -> Params:
    """DELETE (cancel) or GET (query) /fapi/v1/order params, by client order id."""
    return [("symbol", cmd.symbol), ("origClientOrderId", _check_client_id(cmd.client_id))]


def cancel_all_params(cmd: CancelAll) -> Params:
    return [("symbol", cmd.symbol)]


# --- responses -------------------------------------------------------------------------------


def parse_error_body(status: int, body: Any, retry_after: str | None = None) -> VenueError:
    """An error answer → the classified VenueError; a body that is not ``{code,msg}`` still
    classifies by HTTP status (a proxy's HTML 502 is an unknown outcome, not a crash)."""
    code: int | None = None
    msg = f"HTTP {status}"
    if isinstance(body, dict):
        c, m = body.get("code"), body.get("msg")
        if type(c) is int:
            code = c
        if isinstance(m, str):
            msg = m
    return classify(status, code, msg, retry_after)


def parse_order_ack(obj: Obj, lookup: InstrumentLookup) -> OrderAck:
    k = "order ack"
    ic = lookup(get_str(obj, "symbol", k), k)
    status = get_mapped(obj, "status", k, ORDER_STATUS) if "status" in obj else None
    ts = get_int(obj, "updateTime", k) if "updateTime" in obj else None
    return OrderAck(
        symbol=ic.instrument.symbol,
        client_id=get_str(obj, "clientOrderId", k),
        order_id=get_int(obj, "orderId", k),
        status=status,
        ts=ts,
    )


def parse_order_state(obj: Obj, lookup: InstrumentLookup) -> OrderState:
    """A full order object (query, openOrders entry, amend/cancel answer)."""
    k = "order"
    ic = lookup(get_str(obj, "symbol", k), k)
    qty, cum_qty = lots(ic.qty, obj, "origQty", k), lots(ic.qty, obj, "executedQty", k)
    check_fill_sizes(k, qty, cum_qty, None)
    return OrderState(
        symbol=ic.instrument.symbol,
        client_id=get_str(obj, "clientOrderId", k),
        order_id=get_int(obj, "orderId", k),
        side=get_enum(obj, "side", k, Side),
        status=get_mapped(obj, "status", k, ORDER_STATUS),
        price=price(ic.px, obj, "price", k, zero_ok=True),
        qty=qty,
        cum_qty=cum_qty,
        avg_price=get_dec(obj, "avgPrice", k),
        time_in_force=get_mapped(obj, "timeInForce", k, TIME_IN_FORCE),
        reduce_only=get_bool(obj, "reduceOnly", k),
        ts=get_int(obj, "updateTime", k),
    )


def parse_open_orders(body: Any, lookup: InstrumentLookup) -> list[OrderState]:
    if not isinstance(body, list):
        raise ProtocolError(f"openOrders: expected a list, got {type(body).__name__}")
    return [parse_order_state(o, lookup) for o in body]


def parse_position_risk(body: Any, lookup: InstrumentLookup) -> list[PositionRisk]:
    """positionRisk entries for the symbols we trade; others are not ours and are skipped."""
    k = "positionRisk"
    if not isinstance(body, list):
        raise ProtocolError(f"{k}: expected a list, got {type(body).__name__}")
    out = []
    for p in body:
        try:
            ic = lookup(get_str(p, "symbol", k), k)
        except ProtocolError:
            if isinstance(p, dict) and "symbol" in p:
                continue
            raise
        out.append(
            PositionRisk(
                symbol=ic.instrument.symbol,
                amount=convert(ic.qty, p, "positionAmt", k),
                entry_price=get_dec(p, "entryPrice", k),
                mark_price=get_dec(p, "markPrice", k),
                unrealized_pnl=get_dec(p, "unRealizedProfit", k),
            )
        )
    return out


def parse_account(obj: Obj, lookup: InstrumentLookup) -> AccountInfo:
    k = "account"
    assets = tuple(
        AssetBalance(
            asset=get_str(a, "asset", k),
            wallet_balance=get_dec(a, "walletBalance", k),
            available_balance=get_dec(a, "availableBalance", k),
            unrealized_pnl=get_dec(a, "unrealizedProfit", k),
        )
        for a in get_list(obj, "assets", k)
    )
    positions = []
    for p in get_list(obj, "positions", k):
        try:
            ic = lookup(get_str(p, "symbol", k), k)
        except ProtocolError:
            continue
        positions.append(
            PositionUpdate(
                symbol=ic.instrument.symbol,
                amount=convert(ic.qty, p, "positionAmt", k),
                entry_price=get_dec(p, "entryPrice", k),
                unrealized_pnl=get_dec(p, "unrealizedProfit", k),
            )
        )
    return AccountInfo(assets=assets, positions=tuple(positions))


def _filters(sym: Obj, k: str) -> dict[str, Obj]:
    out: dict[str, Obj] = {}
    for f in get_list(sym, "filters", k):
        out[get_str(f, "filterType", k)] = f
    return out


def parse_instrument(sym: Obj) -> Instrument:
    """One exchangeInfo ``symbols`` entry → Instrument (PRICE_FILTER, LOT_SIZE, MIN_NOTIONAL)."""
    symbol = get_str(sym, "symbol", "exchangeInfo")
    k = f"exchangeInfo {symbol}"
    fs = _filters(sym, k)
    for need in ("PRICE_FILTER", "LOT_SIZE", "MIN_NOTIONAL"):
        if need not in fs:
            raise ProtocolError(f"{k}: filter {need} is missing")
    pf, lf, nf = fs["PRICE_FILTER"], fs["LOT_SIZE"], fs["MIN_NOTIONAL"]
    tick, step = get_dec(pf, "tickSize", k), get_dec(lf, "stepSize", k)
    try:
        # A zero tick or step would make every conversion meaningless: Instrument rejects it.
        draft = Instrument(symbol, tick, step, 1, 1, Decimal(0))
        inst = Instrument(
            symbol=symbol,
            tick_size=tick,
            lot_size=step,
            min_qty=max(1, draft.qty_to_lots(get_dec(lf, "minQty", k))),
            max_qty=draft.qty_to_lots(get_dec(lf, "maxQty", k)),
            min_notional=get_dec(nf, "notional", k),
            min_price_ticks=max(1, draft.price_to_ticks(get_dec(pf, "minPrice", k))),
            max_price_ticks=draft.price_to_ticks(get_dec(pf, "maxPrice", k)),
            base_asset=get_str(sym, "baseAsset", k),
            quote_asset=get_str(sym, "quoteAsset", k),
        )
    except InstrumentError as exc:
        raise ProtocolError(f"{k}: filters do not describe a valid grid: {exc}") from exc
    return inst


def parse_exchange_info(body: Obj, symbols: set[str] | None = None) -> ExchangeInfo:
    """exchangeInfo → instruments for ``symbols`` (all when None) + rate limits.

    Only requested symbols are parsed: a malformed filter on a symbol we never trade must not
    stop the bot from starting.
    """
    k = "exchangeInfo"
    instruments: dict[str, Instrument] = {}
    for sym in get_list(body, "symbols", k):
        name = get_str(sym, "symbol", k)
        if symbols is None or name in symbols:
            instruments[name] = parse_instrument(sym)
    if symbols is not None and (missing := symbols - instruments.keys()):
        raise ProtocolError(f"{k}: symbols not listed by the venue: {', '.join(sorted(missing))}")
    return ExchangeInfo(
        instruments=instruments,
        rate_limits=limits_from_exchange_info(get_list(body, "rateLimits", k)),
        server_time=get_int(body, "serverTime", k),
    )


def parse_listen_key(obj: Obj) -> str:
    return get_str(obj, "listenKey", "listenKey")


def parse_countdown(obj: Any) -> int:
    """countdownCancelAll's answer: ``countdownTime`` as an int or (as Binance prints it) a
    string of ASCII digits; any other body is a ProtocolError, never another exception."""
    k = "countdownCancelAll"
    val = field(obj, "countdownTime", k)
    if isinstance(val, str) and (num := ascii_int(val)) is not None:
        return num
    num = get_int(obj, "countdownTime", k)
    if num < 0:
        raise ProtocolError(f"{k}: field 'countdownTime' must not be negative, got {num}")
    return num


def parse_server_time(obj: Obj) -> int:
    return get_int(obj, "serverTime", "time")


def parse_user_trades(body: Any, lookup: InstrumentLookup) -> list[Fill]:
    """GET /fapi/v1/userTrades → our fills (oldest first, as the venue lists them).

    ``buyer`` gives the side; ``commission`` is paid (positive) or a rebate (negative), as
    Binance prints it. Entries of symbols we do not trade are a protocol error here: the
    request names one symbol, so a foreign one means the answer is not what we asked for.
    """
    k = "userTrades"
    if not isinstance(body, list):
        raise ProtocolError(f"{k}: expected a list, got {type(body).__name__}")
    out: list[Fill] = []
    for t in body:
        ic = lookup(get_str(t, "symbol", k), k)
        out.append(
            Fill(
                symbol=ic.instrument.symbol,
                trade_id=get_int(t, "id", k),
                # Binance does not name the client order id here; the caller maps orderId.
                client_id="",
                order_id=get_int(t, "orderId", k),
                side=Side.BUY if get_bool(t, "buyer", k) else Side.SELL,
                price=price(ic.px, t, "price", k),
                qty=lots(ic.qty, t, "qty", k, positive=True),
                fee=get_dec(t, "commission", k),
                fee_asset=get_str(t, "commissionAsset", k),
                is_maker=get_bool(t, "maker", k),
                ts=get_int(t, "time", k),
            )
        )
    return out
