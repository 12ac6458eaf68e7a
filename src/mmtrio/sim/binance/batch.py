"""Binance's batch order endpoints: ``POST /fapi/v1/batchOrders`` and ``DELETE
/fapi/v1/batchOrders`` (what ccxt's ``create_orders`` and ``cancel_orders`` call).

``POST`` (Binance USDⓈ-M "Place Multiple Orders"): ``batchOrders`` is a JSON list of up to 5
orders, each with the parameters of ``POST /fapi/v1/order`` (a parameter an order may not
carry is -1104, as there). Each order is placed on its own, in list order, and answered in
its place: the order (ACK or RESULT, as it asked) or ``{"code", "msg"}`` for its refusal; the
HTTP status is 200 whatever each order's fate. An empty or longer list is -4082 "Invalid
number of batch place orders", a ``batchOrders`` that is not a JSON list of objects -1130.
Weight 5 on the IP limit, 5 on the 10 s order count and 1 on the minute order count, as
Binance documents (rest.py's route).

``DELETE`` (Binance "Cancel Multiple Orders"): ``symbol`` and ``orderIdList`` (a JSON list of
up to 10 ids) or ``origClientOrderIdList`` (up to 10 client ids; when both are sent the order
ids are read, as the single cancel reads ``orderId`` first). Each id is answered in place: the
cancelled order, or -2011 "Unknown order sent." for one unknown or already closed. Weight 1.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mmtrio.sim.binance import trading
from mmtrio.sim.binance.params import check_params
from mmtrio.sim.binance.wire import ApiError, mandatory, param_text

if TYPE_CHECKING:
    from mmtrio.sim.venue import SimVenue

MAX_PLACE = 5
MAX_CANCEL = 10
_ORDER = ("POST", "/fapi/v1/order")


def _not_valid(name: str) -> ApiError:
    return ApiError(-1130, f"Data sent for parameter '{name}' is not valid.")


def _json_list(params: dict[str, str], name: str) -> list[Any]:
    text = params.get(name)
    if text is None or text == "":
        raise mandatory(name)
    try:
        value = json.loads(text)
    except ValueError:
        raise _not_valid(name) from None
    if not isinstance(value, list):
        raise _not_valid(name)
    return value


def _refusal(exc: ApiError) -> dict[str, Any]:
    return {"code": exc.code, "msg": exc.msg}


def _place_one(venue: SimVenue, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _not_valid("batchOrders")
    params = {str(k): param_text(v) for k, v in raw.items()}
    check_params(*_ORDER, params, signed=False)  # no timestamp/signature inside an order
    return trading.place(venue, params)


def place(venue: SimVenue, params: dict[str, str]) -> list[dict[str, Any]]:
    """POST /fapi/v1/batchOrders: one answer per order, in the list's order."""
    orders = _json_list(params, "batchOrders")
    if not 1 <= len(orders) <= MAX_PLACE:
        raise ApiError(-4082, f"Invalid number of batch place orders: {len(orders)}")
    if not all(isinstance(o, dict) for o in orders):
        raise _not_valid("batchOrders")
    answers = []
    for raw in orders:
        try:
            answers.append(_place_one(venue, raw))
        except ApiError as exc:  # trading.place renders the engine's refusals so
            answers.append(_refusal(exc))
    return answers


def _ids(params: dict[str, str]) -> tuple[str, list[str]]:
    """(the lookup parameter, the ids as its text) from whichever list was sent."""
    if params.get("orderIdList"):
        ids = _json_list(params, "orderIdList")
        if not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in ids):
            raise _not_valid("orderIdList")
        key, name = "orderId", "orderIdList"
    elif params.get("origClientOrderIdList"):
        ids = _json_list(params, "origClientOrderIdList")
        if not all(isinstance(i, str) and i for i in ids):
            raise _not_valid("origClientOrderIdList")
        key, name = "origClientOrderId", "origClientOrderIdList"
    else:
        raise ApiError(
            -1102,
            "Param 'orderIdList' or 'origClientOrderIdList' must be sent, but both were "
            "empty/null!",
        )
    if not 1 <= len(ids) <= MAX_CANCEL:
        raise ApiError(-1130, f"Data sent for parameter '{name}' is not valid: 1 to "
                       f"{MAX_CANCEL} ids.")  # fmt: skip
    return key, [str(i) for i in ids]


def cancel(venue: SimVenue, params: dict[str, str]) -> list[dict[str, Any]]:
    """DELETE /fapi/v1/batchOrders: one answer per id, in the list's order."""
    trading.check_symbol(venue, params)
    key, ids = _ids(params)
    answers = []
    for one in ids:
        try:
            answers.append(trading.cancel(venue, {"symbol": venue.symbol, key: one}))
        except ApiError as exc:
            answers.append(_refusal(exc))
    return answers
