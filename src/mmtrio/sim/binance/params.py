"""The parameters each REST endpoint of the simulated Binance venue reads, like Binance.

Binance answers a request carrying a parameter the endpoint does not read with -1104 ("Not
all sent parameters were read; read 'N' parameter(s) but was sent 'M'."): a misspelt
``timeInforce`` is refused, never silently ignored (an order without the time in force the
client meant). The sim used to accept any extra parameter (issue #20, finding 7).

The lists follow Binance's USDⓈ-M documentation, cross-checked with the official SDK
(``binance-sdk-derivatives-trading-usds-futures``), python-binance and ccxt, which each send
only documented names. Conditional-order parameters (``stopPrice``, ``closePosition``,
``activationPrice``, ``callbackRate``, ``workingType``, ``priceProtect``) are read by
``POST /fapi/v1/order`` on Binance; the sim reads them too but only accepts values that
change nothing for the LIMIT and MARKET orders it supports (see ``sim/binance/trading.py``).
"""

from __future__ import annotations

from mmtrio.sim.binance.wire import ApiError

SIGNED = frozenset({"timestamp", "recvWindow", "signature"})

_ORDER_LOOKUP = frozenset({"symbol", "orderId", "origClientOrderId"})
_SYMBOL = frozenset({"symbol"})
_NONE: frozenset[str] = frozenset()

READS: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/fapi/v1/ping"): _NONE,
    ("GET", "/fapi/v1/time"): _NONE,
    ("GET", "/fapi/v1/exchangeInfo"): _NONE,
    ("GET", "/fapi/v1/depth"): frozenset({"symbol", "limit"}),
    ("GET", "/fapi/v1/trades"): frozenset({"symbol", "limit"}),
    ("GET", "/fapi/v1/aggTrades"): frozenset({"symbol", "fromId", "startTime", "endTime", "limit"}),
    ("GET", "/fapi/v1/klines"): frozenset({"symbol", "interval", "startTime", "endTime", "limit"}),
    ("GET", "/fapi/v1/premiumIndex"): _SYMBOL,
    ("GET", "/fapi/v1/ticker/24hr"): _SYMBOL,
    ("GET", "/fapi/v1/ticker/price"): _SYMBOL,
    ("GET", "/fapi/v2/ticker/price"): _SYMBOL,
    ("GET", "/fapi/v1/ticker/bookTicker"): _SYMBOL,
    ("POST", "/fapi/v1/order"): frozenset(
        {
            "symbol",
            "side",
            "positionSide",
            "type",
            "timeInForce",
            "quantity",
            "reduceOnly",
            "price",
            "newClientOrderId",
            "stopPrice",
            "closePosition",
            "activationPrice",
            "callbackRate",
            "workingType",
            "priceProtect",
            "newOrderRespType",
            "priceMatch",
            "selfTradePreventionMode",
            "goodTillDate",
        }
    ),
    ("PUT", "/fapi/v1/order"): _ORDER_LOOKUP | {"side", "quantity", "price", "priceMatch"},
    ("DELETE", "/fapi/v1/order"): _ORDER_LOOKUP,
    ("GET", "/fapi/v1/order"): _ORDER_LOOKUP,
    ("GET", "/fapi/v1/openOrder"): _ORDER_LOOKUP,
    ("DELETE", "/fapi/v1/allOpenOrders"): _SYMBOL,
    ("POST", "/fapi/v1/batchOrders"): frozenset({"batchOrders"}),
    ("DELETE", "/fapi/v1/batchOrders"): frozenset(
        {"symbol", "orderIdList", "origClientOrderIdList"}
    ),
    ("GET", "/fapi/v1/openOrders"): _SYMBOL,
    ("GET", "/fapi/v1/allOrders"): frozenset(
        {"symbol", "orderId", "startTime", "endTime", "limit"}
    ),
    ("GET", "/fapi/v1/userTrades"): frozenset(
        {"symbol", "orderId", "startTime", "endTime", "fromId", "limit"}
    ),
    ("GET", "/fapi/v2/positionRisk"): _SYMBOL,
    ("GET", "/fapi/v3/positionRisk"): _SYMBOL,
    ("GET", "/fapi/v2/account"): _NONE,
    ("GET", "/fapi/v3/account"): _NONE,
    ("GET", "/fapi/v2/balance"): _NONE,
    ("GET", "/fapi/v3/balance"): _NONE,
    ("GET", "/fapi/v1/leverageBracket"): _SYMBOL,
    ("POST", "/fapi/v1/leverage"): frozenset({"symbol", "leverage"}),
    ("GET", "/fapi/v1/positionSide/dual"): _NONE,
    ("POST", "/fapi/v1/positionSide/dual"): frozenset({"dualSidePosition"}),
    ("POST", "/fapi/v1/countdownCancelAll"): frozenset({"symbol", "countdownTime"}),
    # python-binance sends the key it keeps alive or closes; Binance reads it
    ("POST", "/fapi/v1/listenKey"): _NONE,
    ("PUT", "/fapi/v1/listenKey"): frozenset({"listenKey"}),
    ("DELETE", "/fapi/v1/listenKey"): frozenset({"listenKey"}),
}


def check_params(method: str, path: str, params: dict[str, str], *, signed: bool) -> None:
    """-1104 when ``params`` names a parameter the endpoint does not read."""
    reads = READS.get((method, path))
    if reads is None:
        return
    allowed = reads | SIGNED if signed else reads
    extra = [name for name in params if name not in allowed]
    if extra:
        read = len(params) - len(extra)
        raise ApiError(
            -1104,
            f"Not all sent parameters were read; read '{read}' parameter(s) but was sent "
            f"'{len(params)}'.",
        )
