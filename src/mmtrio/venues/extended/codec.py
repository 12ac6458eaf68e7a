"""Extended's REST payloads ↔ neutral values (pure, no I/O).

Shapes follow Extended's API documentation (``/api/v1``: "Get markets", "Get balance", "Get
positions", "Get open orders", "Get trades", "Create or edit order") and the official SDK's
models (``x10/models/*.py`` in ``x10-python-trading-starknet`` 2.6.0). Every answer is
wrapped: ``{"status": "OK", "data": …}``; anything else is unwrapped into an error by
:mod:`.rest`. Prices and sizes leave as integer ticks and lots of the instrument; a price or
size off its grid is a ProtocolError, never rounded.

Order ids: Extended's own ``id`` is an integer; ``externalId`` is ours (the client id, see
:mod:`.client_ids`). Trades over REST name only the ``orderId``; the stream adds
``externalOrderId``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mmtrio.core.events import Fill, OrderStatus, Side, TimeInForce
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ConfigError, InstrumentError, ProtocolError
from mmtrio.venues.extended.fields import (
    field,
    get_bool,
    get_dec,
    get_int,
    get_obj,
    get_str,
    lots,
    opt_dec,
    ticks,
)
from mmtrio.venues.extended.signing import L2Assets, Settlement

MAX_LOTS = 10**15
"""Extended bounds an order's *value* (``maxLimitOrderValue``), not its size: the instrument's
size bound is this large number, and mmtrio's risk limits bound sizes far below it."""

_STATUS = {
    "NEW": OrderStatus.NEW,
    "UNTRIGGERED": OrderStatus.NEW,
    "TRIGGERED": OrderStatus.NEW,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELLED": OrderStatus.CANCELED,
    "EXPIRED": OrderStatus.EXPIRED,
    "REJECTED": OrderStatus.REJECTED,
}
_SIDES = {"BUY": Side.BUY, "SELL": Side.SELL}


@dataclass(frozen=True, slots=True)
class MarketInfo:
    """One market as ``GET /info/markets`` describes it."""

    instrument: Instrument
    l2: L2Assets
    status: str
    mark_price: Decimal
    index_price: Decimal
    funding_rate: Decimal
    next_funding_ts: int


@dataclass(frozen=True, slots=True)
class OrderState:
    """An order as the venue states it (REST or the account stream)."""

    client_id: str
    order_id: int
    side: Side
    status: OrderStatus
    price: int
    qty: int
    cum_qty: int
    time_in_force: TimeInForce
    reduce_only: bool
    ts: int
    reason: str


def _hex_id(obj: Any, key: str, kind: str) -> int:
    text = get_str(obj, key, kind)
    try:
        return int(text, 16)
    except ValueError:
        raise ProtocolError(f"{kind}: field {key!r} is not a hex asset id: {text!r}") from None


def _grid_lots(value: Decimal, step: Decimal, what: str, symbol: str) -> int:
    whole, rem = divmod(value, step)
    if rem != 0 or whole < 1:
        raise ProtocolError(f"{symbol}: {what} {value} is not a positive multiple of {step}")
    return int(whole)


def parse_market(body: Any, symbol: str) -> MarketInfo:
    """The market named ``symbol`` from ``GET /info/markets`` data (a list of markets)."""
    if not isinstance(body, list):
        raise ProtocolError(f"markets: data must be a list, got {type(body).__name__}")
    names = [m.get("name") for m in body if isinstance(m, dict)]
    market = next((m for m in body if isinstance(m, dict) and m.get("name") == symbol), None)
    if market is None:
        known = ", ".join(sorted(str(n) for n in names[:20]))
        raise ConfigError(
            f"Extended lists no market {symbol!r} (venue.symbol); some it lists: {known}"
        )
    kind = f"market {symbol}"
    tc = get_obj(market, "tradingConfig", kind)
    l2c = get_obj(market, "l2Config", kind)
    stats = get_obj(market, "marketStats", kind)
    tick = get_dec(tc, "minPriceChange", kind)
    lot = get_dec(tc, "minOrderSizeChange", kind)
    l2 = L2Assets(
        synthetic_id=_hex_id(l2c, "syntheticId", kind),
        synthetic_resolution=get_int(l2c, "syntheticResolution", kind),
        collateral_id=_hex_id(l2c, "collateralId", kind),
        collateral_resolution=get_int(l2c, "collateralResolution", kind),
    )
    if l2.synthetic_resolution < 1 or l2.collateral_resolution < 1:
        raise ProtocolError(f"{kind}: l2Config resolutions must be positive integers")
    if (lot * l2.synthetic_resolution) % 1 != 0:
        raise ProtocolError(
            f"{kind}: size step {lot} is finer than the Stark resolution "
            f"{l2.synthetic_resolution}: orders could not be signed exactly"
        )
    try:
        inst = Instrument(
            symbol=symbol,
            tick_size=tick,
            lot_size=lot,
            min_qty=_grid_lots(get_dec(tc, "minOrderSize", kind), lot, "minOrderSize", symbol),
            max_qty=MAX_LOTS,
            min_notional=Decimal(0),
            base_asset=get_str(market, "assetName", kind),
            quote_asset=get_str(market, "collateralAssetName", kind),
        )
    except InstrumentError as exc:
        raise ProtocolError(f"{kind}: {exc}") from None
    active = get_bool(market, "active", kind)
    status = market.get("status", "ACTIVE" if active else "DISABLED")
    if not isinstance(status, str):
        raise ProtocolError(f"{kind}: field 'status' must be a string, got {status!r}")
    return MarketInfo(
        instrument=inst,
        l2=l2,
        status=status if active else "DISABLED",
        mark_price=get_dec(stats, "markPrice", kind),
        index_price=get_dec(stats, "indexPrice", kind),
        funding_rate=get_dec(stats, "fundingRate", kind),
        next_funding_ts=get_int(stats, "nextFundingRate", kind),
    )


def parse_fees(body: Any, symbol: str) -> tuple[Decimal, Decimal]:
    """(maker, taker) fee rates for ``symbol`` from ``GET /user/fees``."""
    rows = body if isinstance(body, list) else [body]
    for row in rows:
        if isinstance(row, dict) and row.get("market") == symbol:
            kind = f"fees {symbol}"
            return get_dec(row, "makerFeeRate", kind), get_dec(row, "takerFeeRate", kind)
    raise ProtocolError(f"fees: no row for market {symbol!r} in {body!r:.200}")


def parse_account_info(body: Any) -> tuple[int, int]:
    """(Stark public key, vault) of the API key's account (``GET /user/account/info``)."""
    kind = "account info"
    key = get_str(body, "l2Key", kind)
    try:
        public = int(key, 16)
    except ValueError:
        raise ProtocolError(f"{kind}: l2Key is not a hex number: {key!r}") from None
    return public, get_int(body, "l2Vault", kind)


def parse_balance(body: Any) -> tuple[Decimal, Decimal, Decimal | None]:
    """(balance, available for trade, margin ratio) from ``GET /user/balance``."""
    kind = "balance"
    return (
        get_dec(body, "balance", kind),
        get_dec(body, "availableForTrade", kind),
        opt_dec(body, "marginRatio", kind),
    )


def parse_position(body: Any, inst: Instrument) -> tuple[int, Decimal]:
    """(signed lots, entry price) of ``inst`` from ``GET /user/positions`` data (a list)."""
    if not isinstance(body, list):
        raise ProtocolError(f"positions: data must be a list, got {type(body).__name__}")
    total, entry = 0, Decimal(0)
    rows = [p for p in body if isinstance(p, dict) and p.get("market") == inst.symbol]
    for p in rows:
        kind = f"position {inst.symbol}"
        side = get_str(p, "side", kind)
        if side not in ("LONG", "SHORT"):
            raise ProtocolError(f"{kind}: side must be LONG or SHORT, got {side!r}")
        size = lots(inst, p, "size", kind)
        total += size if side == "LONG" else -size
        entry = get_dec(p, "openPrice", kind)
    return total, entry if len(rows) == 1 else Decimal(0)


def parse_order(obj: Any, inst: Instrument) -> OrderState:
    kind = "order"
    market = get_str(obj, "market", kind)
    if market != inst.symbol:
        raise ProtocolError(f"{kind}: market {market!r} is not {inst.symbol!r}")
    status_word = get_str(obj, "status", kind)
    status = _STATUS.get(status_word)
    if status is None:
        raise ProtocolError(f"{kind}: unknown status {status_word!r}")
    side_word = get_str(obj, "side", kind)
    side = _SIDES.get(side_word)
    if side is None:
        raise ProtocolError(f"{kind}: side must be BUY or SELL, got {side_word!r}")
    tif_word = get_str(obj, "timeInForce", kind)
    if get_bool(obj, "postOnly", kind):
        tif = TimeInForce.POST_ONLY
    elif tif_word in ("IOC", "FOK"):
        tif = TimeInForce.IOC
    else:
        tif = TimeInForce.GTC
    filled = 0 if obj.get("filledQty") is None else lots(inst, obj, "filledQty", kind)
    reason = obj.get("statusReason") or ""
    return OrderState(
        client_id=get_str(obj, "externalId", kind),
        order_id=get_int(obj, "id", kind),
        side=side,
        status=status,
        price=ticks(inst, obj, "price", kind),
        qty=lots(inst, obj, "qty", kind),
        cum_qty=filled,
        time_in_force=tif,
        reduce_only=get_bool(obj, "reduceOnly", kind),
        ts=get_int(obj, "updatedTime", kind),
        reason=str(reason),
    )


def parse_orders(body: Any, inst: Instrument) -> list[OrderState]:
    if not isinstance(body, list):
        raise ProtocolError(f"orders: data must be a list, got {type(body).__name__}")
    return [
        parse_order(o, inst) for o in body if isinstance(o, dict) and o.get("market") == inst.symbol
    ]


def parse_trade(obj: Any, inst: Instrument) -> Fill:
    """One of our trades (REST ``/user/trades`` or the account stream's TRADE)."""
    kind = "trade"
    side_word = get_str(obj, "side", kind)
    side = _SIDES.get(side_word)
    if side is None:
        raise ProtocolError(f"{kind}: side must be BUY or SELL, got {side_word!r}")
    external = obj.get("externalOrderId")
    return Fill(
        symbol=inst.symbol,
        trade_id=get_int(obj, "id", kind),
        client_id=external if isinstance(external, str) else "",
        order_id=get_int(obj, "orderId", kind),
        side=side,
        price=ticks(inst, obj, "price", kind),
        qty=lots(inst, obj, "qty", kind),
        fee=get_dec(obj, "fee", kind),
        fee_asset=inst.quote_asset,
        is_maker=not get_bool(obj, "isTaker", kind),
        ts=get_int(obj, "createdTime", kind),
    )


def parse_trades(body: Any, inst: Instrument) -> list[Fill]:
    if not isinstance(body, list):
        raise ProtocolError(f"trades: data must be a list, got {type(body).__name__}")
    return [
        parse_trade(t, inst) for t in body if isinstance(t, dict) and t.get("market") == inst.symbol
    ]


def parse_placed(body: Any) -> tuple[int, str]:
    """(Extended's order id, our external id) from ``POST /user/order``."""
    return get_int(body, "id", "placed order"), get_str(body, "externalId", "placed order")


def unwrap(body: Any, what: str) -> Any:
    """``data`` of an ``{"status": "OK", "data": …}`` answer (absent data is None)."""
    status = field(body, "status", what)
    if not isinstance(status, str) or status.upper() != "OK":
        raise ProtocolError(f"{what}: status {status!r} in a 200 answer")
    return body.get("data") if isinstance(body, dict) else None


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """Everything ``POST /user/order`` needs besides the signature (module doc)."""

    external_id: str
    symbol: str
    side: Side
    qty: str
    price: str
    post_only: bool
    reduce_only: bool
    ioc: bool
    expiry_ms: int
    fee_rate: Decimal
    cancel_id: str | None = None


def order_body(req: OrderRequest, st: Settlement, public_key: int, vault: int) -> dict[str, Any]:
    """The JSON body of ``POST /user/order`` (a LIMIT order, self-trade protection ACCOUNT)."""
    body: dict[str, Any] = {
        "id": req.external_id,
        "market": req.symbol,
        "type": "LIMIT",
        "side": req.side.value,
        "qty": req.qty,
        "price": req.price,
        "reduceOnly": req.reduce_only,
        "postOnly": req.post_only,
        "timeInForce": "IOC" if req.ioc else "GTT",
        "expiryEpochMillis": req.expiry_ms,
        "fee": str(req.fee_rate),
        "nonce": str(st.nonce),
        "selfTradeProtectionLevel": "ACCOUNT",
        "settlement": {
            "signature": {"r": hex(st.r), "s": hex(st.s)},
            "starkKey": hex(public_key),
            "collateralPosition": str(vault),
        },
        "debuggingAmounts": {
            "collateralAmount": str(st.collateral_amount),
            "feeAmount": str(st.fee_amount),
            "syntheticAmount": str(st.synthetic_amount),
        },
    }
    if req.cancel_id is not None:
        body["cancelId"] = req.cancel_id
    return body
