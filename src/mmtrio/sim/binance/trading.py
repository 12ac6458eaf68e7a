"""Binance's order endpoints: its parameters → neutral requests (:mod:`mmtrio.sim.requests`)
→ its answers.

Validation follows Binance's order of checks and codes: missing/empty → -1102, malformed
number → -1100, more decimals than the symbol allows → -1111, price not on the tick grid
→ -4014, quantity not on the lot grid → -1111, the PERCENT_PRICE filter (a BUY above mark ×
1.05 → -4016, a SELL below mark × 0.95 → -4024, as exchangeInfo lists it), filters (range,
min notional -4164) and post-only (-5022) from the matching engine.

Self-trade prevention is EXPIRE_TAKER, the matching engine's rule, and every answer and
stream event says so (the user stream once said NONE while REST said EXPIRE_TAKER). An
order asking for another mode, or for ``priceMatch``/``goodTillDate``/conditional
parameters the sim does not implement, is refused with a message saying so, never accepted
and then handled otherwise (issue #20, finding 7).
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, ROUND_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, cast

from mmtrio.core.events import Side, TimeInForce
from mmtrio.exchange.matching import MatchingReject
from mmtrio.sim import requests
from mmtrio.sim.account import OrderRecord
from mmtrio.sim.binance.auth import int_param
from mmtrio.sim.binance.margin import margin_check
from mmtrio.sim.binance.wire import ApiError, bad_symbol, illegal, mandatory
from mmtrio.sim.binance.words import STP_MODE, TIF_PARSE, TIF_TEXT, api_error, status_text
from mmtrio.sim.requests import OrderType, PlaceOrder
from mmtrio.venues.binance.client_ids import valid_client_id

if TYPE_CHECKING:
    from mmtrio.sim.binance.frontend import BinanceFrontEnd
    from mmtrio.sim.venue import SimVenue

# Matched whole (fullmatch): with ``match``, ``$`` also matches before a trailing newline.
_NUM_RE = re.compile(r"[0-9]{1,20}(\.[0-9]{1,20})?")
PERCENT_UP, PERCENT_DOWN = Decimal("1.0500"), Decimal("0.9500")  # exchangeInfo PERCENT_PRICE
# Parameters Binance reads on POST /fapi/v1/order that the sim's LIMIT/MARKET orders can
# only take with the value that changes nothing (their default).
_NEUTRAL = {
    "priceMatch": ("NONE",),
    "selfTradePreventionMode": (STP_MODE,),
    "closePosition": ("false",),
    "priceProtect": ("false", "FALSE"),
    "workingType": ("CONTRACT_PRICE",),
    "goodTillDate": ("0",),
}
_CONDITIONAL = ("stopPrice", "activationPrice", "callbackRate")


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if value is None or value == "":
        raise mandatory(name)
    return value


def check_symbol(venue: SimVenue, params: dict[str, str], required: bool = True) -> None:
    symbol = params.get("symbol")
    if symbol is None or symbol == "":
        if required:
            raise mandatory("symbol")
        return
    if symbol != venue.symbol:
        raise bad_symbol()


def _decimal(params: dict[str, str], name: str, places: int) -> Decimal:
    text = _required(params, name)
    if not _NUM_RE.fullmatch(text):
        raise illegal(name)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise illegal(name) from None
    exp = value.normalize().as_tuple().exponent
    if isinstance(exp, int) and -exp > places:
        raise ApiError(-1111, "Precision is over the maximum defined for this asset.")
    return value


def parse_price(venue: SimVenue, params: dict[str, str]) -> int:
    inst = venue.instrument
    value = _decimal(params, "price", inst.price_decimals)
    ticks, rem = divmod(value, inst.tick_size)
    if rem != 0:
        raise ApiError(-4014, f"Price not increased by tick size ({inst.tick_size}).")
    return int(ticks)


def parse_qty(venue: SimVenue, params: dict[str, str]) -> int:
    inst = venue.instrument
    value = _decimal(params, "quantity", inst.qty_decimals)
    lots, rem = divmod(value, inst.lot_size)
    if rem != 0:
        raise ApiError(-1111, "Precision is over the maximum defined for this asset.")
    if lots <= 0:
        raise ApiError(-4003, "Quantity less than or equal to zero.")
    return int(lots)


def _side(params: dict[str, str]) -> Side:
    text = _required(params, "side")
    try:
        return Side(text)
    except ValueError:
        raise ApiError(-1117, "Invalid side.") from None


def _bool(params: dict[str, str], name: str) -> bool:
    value = params.get(name, "false").lower()
    if value not in ("true", "false"):
        raise illegal(name)
    return value == "true"


# An ACK answer's execution fields: the order as accepted, before any match. Binance's
# documented ws-fapi order.place answer (and the REST example) shows a new order so:
# status NEW, executedQty/cumQty/cumQuote "0", avgPrice "0.00". A marketable order's fills
# reach the client on the user stream (ORDER_TRADE_UPDATE), never in the ACK.
ACK_AVG_PRICE = "0.00"


def order_json(venue: SimVenue, rec: OrderRecord, ack: bool = False) -> dict[str, Any]:
    """The order as Binance answers it: RESULT (and every query) its state now; ACK the
    same fields with the state at acceptance (NEW, nothing executed, updateTime = the
    creation time), even when the order matched on arrival."""
    inst = venue.instrument
    if ack:
        status, executed, quote, avg = "NEW", "0", "0", ACK_AVG_PRICE
        updated = rec.created_ms
    else:
        status, executed = _status(venue, rec), inst.qty_str(rec.cum_qty)
        quote, avg = str(rec.cum_quote), str(rec.avg_price(inst))
        updated = rec.update_ms or rec.created_ms
    return {
        "orderId": rec.order_id,
        "symbol": venue.symbol,
        "status": status,
        "clientOrderId": rec.client_id,
        "price": inst.price_str(rec.price) if rec.order_type == "LIMIT" else "0",
        "avgPrice": avg,
        "origQty": inst.qty_str(rec.qty),
        "executedQty": executed,
        "cumQty": executed,
        "cumQuote": quote,
        "timeInForce": TIF_TEXT[TimeInForce(rec.time_in_force)],
        "type": rec.order_type,
        "reduceOnly": rec.reduce_only,
        "closePosition": False,
        "side": rec.side.value,
        "positionSide": "BOTH",
        "stopPrice": "0",
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "origType": rec.order_type,
        "priceMatch": "NONE",
        "selfTradePreventionMode": STP_MODE,
        "goodTillDate": 0,
        "time": venue.out_ts(rec.created_ms),
        "updateTime": venue.out_ts(updated),
    }


def _supported(params: dict[str, str]) -> None:
    """Refuse a parameter value the sim cannot honour (see the module docstring)."""
    for name, ok in _NEUTRAL.items():
        value = params.get(name)
        if value is not None and value not in ok:
            raise ApiError(
                -1100,
                f"Illegal characters found in parameter '{name}'; the simulated venue "
                f"supports only {' or '.join(ok)} here.",
            )
    for name in _CONDITIONAL:
        if params.get(name):
            raise ApiError(
                -1106,
                f"Parameter '{name}' sent when not required (the simulated venue has LIMIT "
                "and MARKET orders only).",
            )


def check_percent_price(venue: SimVenue, side: Side, price: int) -> None:
    """The PERCENT_PRICE filter on a limit price, against the mark price (none yet: no
    check). Binance's futures rule is one-sided: a BUY may not exceed mark × up, a SELL may
    not be below mark × down."""
    mark = venue.mark_price()
    if mark <= 0:
        return
    inst = venue.instrument
    px = inst.ticks_to_price(price)
    if side is Side.BUY and px > mark * PERCENT_UP:
        limit = (mark * PERCENT_UP).quantize(inst.tick_size, rounding=ROUND_DOWN)
        raise ApiError(-4016, f"Limit price can't be higher than {limit}.")
    if side is Side.SELL and px < mark * PERCENT_DOWN:
        limit = (mark * PERCENT_DOWN).quantize(inst.tick_size, rounding=ROUND_UP)
        raise ApiError(-4024, f"Limit price can't be lower than {limit}.")


def _status(venue: SimVenue, rec: OrderRecord) -> str:
    view = venue.engine.get(rec.client_id)
    return status_text(rec.status, None if view is None else view.expiry_cause)


def place(venue: SimVenue, params: dict[str, str]) -> dict[str, Any]:
    """POST /fapi/v1/order."""
    check_symbol(venue, params)
    _supported(params)
    side = _side(params)
    type_text = _required(params, "type").upper()
    front = cast("BinanceFrontEnd", venue.front)
    # One-way mode takes BOTH (or none); hedge mode needs LONG or SHORT (rest_account.py).
    if (params.get("positionSide", "BOTH") == "BOTH") == front.dual_side:
        raise ApiError(-4061, "Order's position side does not match user's setting.")
    tif, price = TimeInForce.GTC, 0
    if type_text == "LIMIT":
        order_type = OrderType.LIMIT
        tif_or_none = TIF_PARSE.get(_required(params, "timeInForce"))
        if tif_or_none is None:
            raise ApiError(-1115, "Invalid timeInForce.")
        tif = tif_or_none
        price = parse_price(venue, params)
        check_percent_price(venue, side, price)
    elif type_text == "MARKET":
        order_type = OrderType.MARKET
        if params.get("price"):
            raise ApiError(-1106, "Parameter 'price' sent when not required.")
    else:
        raise ApiError(-1116, "Invalid orderType.")
    qty = parse_qty(venue, params)
    reduce_only = _bool(params, "reduceOnly")
    cid = params.get("newClientOrderId") or venue.new_client_id()
    if not valid_client_id(cid):  # Binance's rule, in its one home
        raise illegal("newClientOrderId")
    resp_type = params.get("newOrderRespType", "ACK").upper()
    if resp_type not in ("ACK", "RESULT"):
        raise illegal("newOrderRespType")
    if not reduce_only:
        at = venue.instrument.ticks_to_price(price) if price else venue.mark_price()
        margin_check(front, side.sign, at, qty)
    req = PlaceOrder(side, qty, order_type, price, tif, reduce_only, cid)
    try:
        rec = requests.place(venue, req)
    except MatchingReject as exc:
        raise api_error(exc) from None
    return order_json(venue, rec, ack=resp_type == "ACK")


def lookup_order(venue: SimVenue, params: dict[str, str], unknown: ApiError) -> OrderRecord:
    check_symbol(venue, params)
    order_id = int_param(params, "orderId", required=False)
    cid = params.get("origClientOrderId") or None
    if order_id is None and cid is None:
        raise ApiError(
            -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
        )
    rec = requests.lookup(venue, cid, order_id)
    if rec is None:
        raise unknown
    return rec


def amend(venue: SimVenue, params: dict[str, str]) -> dict[str, Any]:
    """PUT /fapi/v1/order: both price and quantity; the order loses queue priority."""
    rec = lookup_order(venue, params, ApiError(-2013, "Order does not exist."))
    side = _side(params)
    if side is not rec.side:
        raise ApiError(-1102, "Parameter 'side' does not match the order's side.")
    qty = parse_qty(venue, params)
    price = parse_price(venue, params)
    if params.get("priceMatch", "NONE") != "NONE":
        raise ApiError(
            -1100,
            "Illegal characters found in parameter 'priceMatch'; the simulated venue "
            "supports only NONE here.",
        )
    check_percent_price(venue, side, price)
    if not requests.is_open(rec):
        raise ApiError(-2013, "Order does not exist.")
    if price == rec.price and qty == rec.qty:
        raise ApiError(-5027, "No need to modify the order.")
    try:
        requests.amend(venue, rec, price, qty)
    except MatchingReject as exc:
        raise api_error(exc) from None
    return order_json(venue, rec)


def cancel(venue: SimVenue, params: dict[str, str]) -> dict[str, Any]:
    """DELETE /fapi/v1/order: -2011 when the order is unknown or already closed."""
    rec = lookup_order(venue, params, ApiError(-2011, "Unknown order sent."))
    try:
        requests.cancel(venue, rec)
    except MatchingReject as exc:
        raise api_error(exc) from None
    return order_json(venue, rec)


def query(venue: SimVenue, params: dict[str, str]) -> dict[str, Any]:
    """GET /fapi/v1/order: -2013 when the venue never had it."""
    rec = lookup_order(venue, params, ApiError(-2013, "Order does not exist."))
    return order_json(venue, rec)


def open_orders(venue: SimVenue, params: dict[str, str]) -> list[dict[str, Any]]:
    check_symbol(venue, params, required=False)
    return [order_json(venue, r) for r in requests.open_orders(venue)]


def cancel_all(venue: SimVenue, params: dict[str, str]) -> dict[str, Any]:
    check_symbol(venue, params)
    requests.cancel_all(venue)
    return {"code": 200, "msg": "The operation of cancel all open order is done."}


def countdown(venue: SimVenue, params: dict[str, str]) -> dict[str, Any]:
    """POST /fapi/v1/countdownCancelAll: countdownTime ms, 0 disables (Trio's clock)."""
    check_symbol(venue, params)
    ms = int_param(params, "countdownTime")
    if ms is None or ms < 0:
        raise illegal("countdownTime")
    requests.countdown(venue, ms)
    return {"symbol": venue.symbol, "countdownTime": str(ms)}
