"""The REST side of the simulated venue: routes, weights, signing, faults, answers.

A raw ASGI app (no framework: one dict lookup per request). Every error a client can
cause becomes a Binance ``{"code","msg"}`` answer with a 4xx status; an exception that is
the sim's own bug becomes a 500 with code -1000 (and is logged by the server), never a
crash of the server.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import trio

from mmtrio.core.events import Side
from mmtrio.sim import rest_account, rest_market, trading
from mmtrio.sim.auth import int_param, parse_params, verify_request
from mmtrio.sim.params import check_params
from mmtrio.sim.userstream import signed_qty
from mmtrio.sim.venue import RequestRecord
from mmtrio.sim.wire import JSON_HEADERS, ApiError, dumps

if TYPE_CHECKING:
    from mmtrio.sim.venue import SimVenue

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Handler = Callable[["SimVenue", dict[str, str]], Any]
DROP_HOLD_S = 120.0  # a dropped answer: hold the request until the client gives up


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    weight: int
    signed: bool = False
    orders: int = 0  # counts towards the order-count limits
    is_order: bool = False  # subject to order_5xx / order_drop faults


def _time(venue: SimVenue, params: dict[str, str]) -> dict[str, Any]:
    return {"serverTime": venue.wall_ms()}


def _ping(venue: SimVenue, params: dict[str, str]) -> dict[str, Any]:
    return {}


def exchange_info(venue: SimVenue, params: dict[str, str]) -> dict[str, Any]:
    """exchangeInfo for the simulated symbol, filters from the core Instrument."""
    inst = venue.instrument
    lim = venue.config.limits
    return {
        "timezone": "UTC",
        "serverTime": venue.wall_ms(),
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": lim.weight_per_minute,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": lim.orders_per_minute,
            },
            {
                "rateLimitType": "ORDERS",
                "interval": "SECOND",
                "intervalNum": 10,
                "limit": lim.orders_per_10s,
            },
        ],
        "exchangeFilters": [],
        "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
        "symbols": [
            {
                "symbol": inst.symbol,
                "pair": inst.symbol,
                "contractType": "PERPETUAL",
                "deliveryDate": 4133404800000,
                "onboardDate": 1569398400000,
                "status": "TRADING",
                "maintMarginPercent": "2.5000",
                "requiredMarginPercent": "5.0000",
                "baseAsset": inst.base_asset,
                "quoteAsset": inst.quote_asset,
                "marginAsset": inst.quote_asset,
                "pricePrecision": inst.price_decimals,
                "quantityPrecision": inst.qty_decimals,
                "baseAssetPrecision": 8,
                "quotePrecision": 8,
                "underlyingType": "COIN",
                "underlyingSubType": [],
                "settlePlan": 0,
                "triggerProtect": "0.0500",
                "liquidationFee": "0.012500",
                "marketTakeBound": "0.05",
                "filters": [
                    {
                        "filterType": "PRICE_FILTER",
                        "minPrice": inst.price_str(inst.min_price_ticks),
                        "maxPrice": inst.price_str(inst.max_price_ticks),
                        "tickSize": str(inst.tick_size),
                    },
                    {
                        "filterType": "LOT_SIZE",
                        "minQty": inst.qty_str(inst.min_qty),
                        "maxQty": inst.qty_str(inst.max_qty),
                        "stepSize": str(inst.lot_size),
                    },
                    {
                        "filterType": "MARKET_LOT_SIZE",
                        "minQty": inst.qty_str(inst.min_qty),
                        "maxQty": inst.qty_str(inst.max_qty),
                        "stepSize": str(inst.lot_size),
                    },
                    {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                    {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                    {"filterType": "MIN_NOTIONAL", "notional": str(inst.min_notional)},
                    {
                        "filterType": "PERCENT_PRICE",
                        "multiplierUp": str(trading.PERCENT_UP),
                        "multiplierDown": str(trading.PERCENT_DOWN),
                        "multiplierDecimal": "4",
                    },
                ],
                "orderTypes": ["LIMIT", "MARKET"],
                "timeInForce": ["GTC", "IOC", "GTX"],
            }
        ],
    }


DEPTH_LIMITS = {5: 2, 10: 2, 20: 2, 50: 2, 100: 5, 500: 10, 1000: 20}


def depth_weight(params: dict[str, str]) -> int:
    try:
        return DEPTH_LIMITS.get(int(params.get("limit", "500")), 10)
    except ValueError:
        return 2


def depth(venue: SimVenue, params: dict[str, str]) -> dict[str, Any]:
    """The public book (market + our orders) at the last diff published, under its id."""
    trading.check_symbol(venue, params)
    text = params.get("limit", "500")
    if not text.isdigit() or int(text) not in DEPTH_LIMITS:
        raise ApiError(
            -1100,
            "Illegal characters found in parameter 'limit'; "
            f"legal values are {sorted(DEPTH_LIMITS)}.",
        )
    inst = venue.instrument
    bids, asks = venue.book.top(int(text))
    ts = venue.out_ts()
    return {
        "lastUpdateId": venue.book.seq,
        "E": ts,
        "T": ts,
        "bids": [[inst.price_str(p), inst.qty_str(q)] for p, q in bids],
        "asks": [[inst.price_str(p), inst.qty_str(q)] for p, q in asks],
    }


def position_risk(venue: SimVenue, params: dict[str, str]) -> list[dict[str, Any]]:
    trading.check_symbol(venue, params, required=False)
    acct, inst = venue.account, venue.instrument
    mark = venue.mark_price()
    notional = inst.lots_to_qty(acct.position) * mark
    return [
        {
            "symbol": inst.symbol,
            "positionAmt": signed_qty(venue, acct.position),
            "entryPrice": str(acct.entry_price),
            "breakEvenPrice": str(acct.entry_price),
            "markPrice": str(mark),
            "unRealizedProfit": str(acct.unrealized(mark)),
            "liquidationPrice": "0",
            "leverage": str(venue.leverage),
            "maxNotionalValue": "5000000",
            "marginType": "cross",
            "isolatedMargin": "0.00000000",
            "isAutoAddMargin": "false",
            "positionSide": "BOTH",
            "notional": str(notional),
            "isolatedWallet": "0",
            "updateTime": venue.out_ts(),
        }
    ]


def account(venue: SimVenue, params: dict[str, str]) -> dict[str, Any]:
    acct, inst = venue.account, venue.instrument
    mark = venue.mark_price()
    upnl = acct.unrealized(mark)
    margin = abs(inst.lots_to_qty(acct.position) * mark) / venue.leverage
    avail = acct.balance + upnl - margin
    b, u, m, a = str(acct.balance), str(upnl), str(acct.balance + upnl), str(avail)
    return {
        "feeTier": 0,
        "canTrade": True,
        "canDeposit": True,
        "canWithdraw": True,
        "updateTime": 0,
        "multiAssetsMargin": False,
        "totalInitialMargin": str(margin),
        "totalMaintMargin": str(margin / 2),
        "totalWalletBalance": b,
        "totalUnrealizedProfit": u,
        "totalMarginBalance": m,
        "totalPositionInitialMargin": str(margin),
        "totalOpenOrderInitialMargin": "0",
        "totalCrossWalletBalance": b,
        "totalCrossUnPnl": u,
        "availableBalance": a,
        "maxWithdrawAmount": a,
        "assets": [
            {
                "asset": "USDT",
                "walletBalance": b,
                "unrealizedProfit": u,
                "marginBalance": m,
                "maintMargin": str(margin / 2),
                "initialMargin": str(margin),
                "positionInitialMargin": str(margin),
                "openOrderInitialMargin": "0",
                "crossWalletBalance": b,
                "crossUnPnl": u,
                "availableBalance": a,
                "maxWithdrawAmount": a,
                "marginAvailable": True,
                "updateTime": venue.out_ts(),
            }
        ],
        "positions": [
            {
                "symbol": inst.symbol,
                "initialMargin": str(margin),
                "maintMargin": str(margin / 2),
                "unrealizedProfit": u,
                "positionInitialMargin": str(margin),
                "openOrderInitialMargin": "0",
                "leverage": str(venue.leverage),
                "isolated": False,
                "entryPrice": str(acct.entry_price),
                "maxNotional": "5000000",
                "positionSide": "BOTH",
                "positionAmt": signed_qty(venue, acct.position),
                "updateTime": venue.out_ts(),
            }
        ],
    }


def leverage_bracket(venue: SimVenue, params: dict[str, str]) -> list[dict[str, Any]]:
    """One flat bracket (the sim has no tiered margin): enough for clients that load it."""
    trading.check_symbol(venue, params, required=False)
    return [
        {
            "symbol": venue.symbol,
            "brackets": [
                {
                    "bracket": 1,
                    "initialLeverage": 20,
                    "notionalCap": 5000000,
                    "notionalFloor": 0,
                    "maintMarginRatio": 0.025,
                    "cum": 0.0,
                }
            ],
        }
    ]


USER_TRADES_MAX = 1000


def user_trades(venue: SimVenue, params: dict[str, str]) -> list[dict[str, Any]]:
    """GET /fapi/v1/userTrades: our fills, oldest first; ``fromId`` (trade id, inclusive) or
    ``startTime``/``endTime`` (wire ms), ``limit`` (default 500, max 1000), like Binance."""
    trading.check_symbol(venue, params)
    from_id = int_param(params, "fromId", required=False)
    start = int_param(params, "startTime", required=False)
    end = int_param(params, "endTime", required=False)
    limit = int_param(params, "limit", required=False)
    limit = 500 if limit is None else limit
    if not 1 <= limit <= USER_TRADES_MAX:
        raise ApiError(
            -1100,
            "Illegal characters found in parameter 'limit'; "
            f"legal range is '1 - {USER_TRADES_MAX}'.",
        )
    if from_id is not None and (start is not None or end is not None):
        raise ApiError(-4120, "fromId cannot be sent with startTime or endTime.")
    inst, acct = venue.instrument, venue.account
    out: list[dict[str, Any]] = []
    for fill, realized in zip(acct.fills, acct.fill_realized, strict=True):
        ts = venue.out_ts(fill.ts)
        if from_id is not None and fill.trade_id < from_id:
            continue
        if (start is not None and ts < start) or (end is not None and ts > end):
            continue
        price, qty = inst.ticks_to_price(fill.price), inst.lots_to_qty(fill.qty)
        out.append(
            {
                "symbol": inst.symbol,
                "id": fill.trade_id,
                "orderId": fill.order_id,
                "side": fill.side.value,
                "price": inst.price_str(fill.price),
                "qty": inst.qty_str(fill.qty),
                "realizedPnl": str(realized),
                "marginAsset": inst.quote_asset,
                "quoteQty": str(price * qty),
                "commission": str(fill.fee),
                "commissionAsset": fill.fee_asset,
                "time": ts,
                "positionSide": "BOTH",
                "buyer": fill.side is Side.BUY,
                "maker": fill.is_maker,
            }
        )
        if len(out) >= limit:
            break
    return out


def _listen_new(venue: SimVenue, params: dict[str, str]) -> dict[str, Any]:
    return {"listenKey": venue.get_listen_key()}


def _listen_keepalive(venue: SimVenue, params: dict[str, str]) -> dict[str, Any]:
    if venue.listen_key is None:
        raise ApiError(-1125, "This listenKey does not exist.")
    return {"listenKey": venue.get_listen_key()}


def _listen_close(venue: SimVenue, params: dict[str, str]) -> dict[str, Any]:
    if venue.listen_key is not None:
        venue.listen_key = None
        venue.hub.close_user_streams("listen key closed")
    return {}


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/fapi/v1/ping"): Route(_ping, 1),
    ("GET", "/fapi/v1/time"): Route(_time, 1),
    ("GET", "/fapi/v1/exchangeInfo"): Route(exchange_info, 1),
    ("GET", "/fapi/v1/depth"): Route(depth, 2),  # weight by limit, see depth_weight
    ("POST", "/fapi/v1/order"): Route(trading.place, 1, True, 1, True),
    ("PUT", "/fapi/v1/order"): Route(trading.amend, 1, True, 1, True),
    ("DELETE", "/fapi/v1/order"): Route(trading.cancel, 1, True, 0, True),
    ("GET", "/fapi/v1/order"): Route(trading.query, 1, True),
    ("DELETE", "/fapi/v1/allOpenOrders"): Route(trading.cancel_all, 1, True),
    ("GET", "/fapi/v1/openOrders"): Route(trading.open_orders, 1, True),
    ("GET", "/fapi/v1/userTrades"): Route(user_trades, 5, True),
    ("GET", "/fapi/v2/positionRisk"): Route(position_risk, 5, True),
    ("GET", "/fapi/v2/account"): Route(account, 5, True),
    # v3: their own shapes (sim/rest_account.py)
    ("GET", "/fapi/v3/positionRisk"): Route(rest_account.position_risk_v3, 5, True),
    ("GET", "/fapi/v3/account"): Route(rest_account.account_v3, 5, True),
    ("GET", "/fapi/v2/balance"): Route(rest_account.balance, 5, True),
    ("GET", "/fapi/v3/balance"): Route(rest_account.balance, 5, True),
    ("POST", "/fapi/v1/leverage"): Route(rest_account.change_leverage, 1, True),
    ("GET", "/fapi/v1/positionSide/dual"): Route(rest_account.position_mode, 30, True),
    ("POST", "/fapi/v1/positionSide/dual"): Route(rest_account.change_position_mode, 1, True),
    ("GET", "/fapi/v1/openOrder"): Route(rest_account.open_order, 1, True),
    ("GET", "/fapi/v1/allOrders"): Route(rest_account.all_orders, 5, True),
    # public market data real clients call (sim/rest_market.py); weights as Binance's
    ("GET", "/fapi/v1/ticker/bookTicker"): Route(rest_market.book_ticker, 2),
    ("GET", "/fapi/v1/ticker/price"): Route(rest_market.price_ticker, 1),
    ("GET", "/fapi/v2/ticker/price"): Route(rest_market.price_ticker, 1),
    ("GET", "/fapi/v1/ticker/24hr"): Route(rest_market.ticker_24hr, 1),
    ("GET", "/fapi/v1/premiumIndex"): Route(rest_market.premium_index, 1),
    ("GET", "/fapi/v1/trades"): Route(rest_market.recent_trades, 5),
    ("GET", "/fapi/v1/aggTrades"): Route(rest_market.agg_trades, 20),
    ("GET", "/fapi/v1/klines"): Route(rest_market.klines, 5),
    ("GET", "/fapi/v1/leverageBracket"): Route(leverage_bracket, 1, True),
    ("POST", "/fapi/v1/countdownCancelAll"): Route(trading.countdown, 10, True),
    # listen key endpoints need the API key but no signature (USER_STREAM security)
    ("POST", "/fapi/v1/listenKey"): Route(_listen_new, 1),
    ("PUT", "/fapi/v1/listenKey"): Route(_listen_keepalive, 1),
    ("DELETE", "/fapi/v1/listenKey"): Route(_listen_close, 1),
}
_PATHS = {path for _, path in ROUTES}


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit`` (→ 413)."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": JSON_HEADERS + headers})
    await send({"type": "http.response.body", "body": body})


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class RestApp:
    """The venue's REST API as an ASGI app."""

    def __init__(self, venue: SimVenue) -> None:
        self.venue = venue
        self.internal_errors = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        venue = self.venue
        body = await read_body(receive, venue.config.max_body_bytes)
        if body is None:
            err = ApiError(
                -1100, f"Request body larger than {venue.config.max_body_bytes} bytes.", 413
            )
            await respond(send, err.status, err.body(), [])
            return
        method, path = scope["method"], scope["path"]
        query: bytes = scope.get("query_string", b"")
        route = ROUTES.get((method, path))
        extra: list[tuple[bytes, bytes]] = []
        drop = False
        latency = venue.config.latency_s
        if latency:  # the request's way in: the venue acts on it this much later
            await trio.sleep(latency)
        now = trio.current_time()
        try:
            if route is None:
                status = 405 if path in _PATHS else 404
                raise ApiError(
                    -1000 if status == 405 else -5000,
                    f"Path {path}, Method {method} is invalid",
                    status,
                )
            weight = (
                depth_weight(parse_params(query, b"")) if route.handler is depth else route.weight
            )
            extra = venue.limiter.check(weight, route.orders, now, venue.true_ms())
            faults = venue.faults
            if faults.http_429 > 0:
                faults.http_429 -= 1
                raise venue.limiter.forced_429(now, venue.true_ms(), faults.retry_after)
            if faults.error_count > 0:
                faults.error_count -= 1
                raise ApiError(faults.error_code, faults.error_msg, faults.error_status)
            params = parse_params(query, body)
            check_params(method, path, params, signed=route.signed)
            if route.signed:
                verify_request(
                    venue.config.credentials,
                    header(scope, b"x-mbx-apikey"),
                    query,
                    body,
                    params=params,
                    now_ms=venue.wall_ms(),
                )
            elif path == "/fapi/v1/listenKey":
                key = header(scope, b"x-mbx-apikey")
                if key != venue.config.credentials.api_key:
                    raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
            result = route.handler(venue, params)
            status, out = 200, dumps(result)
            if route.is_order and faults.order_drop > 0:
                faults.order_drop -= 1
                drop = True
            elif route.is_order and faults.order_5xx > 0:
                faults.order_5xx -= 1
                status = 503
                out = dumps(
                    {
                        "code": -1006,
                        "msg": "An unexpected response was received from the message bus. "
                        "Execution status unknown.",
                    }
                )
        except ApiError as exc:
            status, out = exc.status, exc.body()
            extra = exc.headers or extra
        except Exception:  # the sim's own bug: a 500, never a dead server
            self.internal_errors += 1
            status, out = (
                500,
                dumps(
                    {
                        "code": -1000,
                        "msg": "An unknown error occurred while processing the request.",
                    }
                ),
            )
            import traceback

            traceback.print_exc()
        venue.request_log.append(RequestRecord(venue.true_ms(), method, path, status))
        faults = venue.faults
        hold = latency + faults.take_delay(venue.true_ms())  # the answer's way out
        if hold:
            # A delayed 429 is judged from when the client can know of it: requests it sent
            # before then are in flight (invariant 8 must not blame the client for latency),
            # and they arrive up to one more way-in latency later.
            held = status == 429 and venue.limiter.answer_held(now)
            await trio.sleep(hold)
            if held:
                venue.limiter.answer_sent(trio.current_time() + latency)
        if drop:
            # Executed, but the answer never comes: hold until the client disconnects.
            with trio.move_on_after(DROP_HOLD_S):
                while (await receive())["type"] != "http.disconnect":
                    pass
            return
        await respond(send, status, out, extra)


class AdminApp:
    """The admin API (separate loopback port): ground truth, faults, dumps, knobs, and orders
    from "another client" (POST /admin/order: outside this client's rate limits)."""

    def __init__(self, venue: SimVenue) -> None:
        self.venue = venue

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await read_body(receive, 1024 * 1024)
        try:
            if body is None:
                raise ApiError(-1100, "admin request body too large", 413)
            result = await self.handle(scope["method"], scope["path"], body)
            status, out = 200, json.dumps(result, default=str).encode()
        except ApiError as exc:
            status, out = exc.status, exc.body()
        await respond(send, status, out, [])

    async def handle(self, method: str, path: str, body: bytes) -> Any:
        venue = self.venue
        data: dict[str, Any] = {}
        if method == "POST" and body:
            try:
                loaded = json.loads(body)
            except ValueError:
                raise ApiError(-1100, "admin body must be a JSON object") from None
            if not isinstance(loaded, dict):
                raise ApiError(-1100, "admin body must be a JSON object")
            data = loaded
        if (method, path) == ("GET", "/admin/state"):
            return venue.ground_truth()
        if (method, path) == ("GET", "/admin/faults"):
            from mmtrio.sim.faults import FAULT_KINDS

            return {"kinds": FAULT_KINDS, "log": venue.ground_truth()["faults"]}
        if (method, path) == ("POST", "/admin/fault"):
            kind = data.pop("kind", None)
            if not isinstance(kind, str):
                raise ApiError(-1102, "admin fault needs a 'kind' string")
            rec = venue.inject(kind, data)
            return {
                "kind": rec.kind,
                "params": rec.params,
                "wall_ms": rec.wall_ms,
                "sim_ms": rec.sim_ms,
            }
        if (method, path) == ("POST", "/admin/dump"):
            target = data.get("path")
            if not isinstance(target, str) or not target:
                raise ApiError(-1102, "admin dump needs a 'path' string")
            await dump_state(venue, target)
            return {"path": target}
        if (method, path) == ("POST", "/admin/funding"):
            rate = data.get("rate")
            amount = venue.settle_funding(Decimal(str(rate)) if rate is not None else None)
            return {"amount": str(amount)}
        if (method, path) == ("POST", "/admin/config"):
            return configure(venue, data)
        if (method, path) == ("POST", "/admin/order"):
            # An order from another client of the account (another host: its requests do not
            # count against this one's IP rate limits), placed as POST /fapi/v1/order would.
            if not all(isinstance(v, str) for v in data.values()):
                raise ApiError(-1100, "admin order params must be strings, as on the wire")
            from mmtrio.sim import trading

            return trading.place(venue, data)
        raise ApiError(-5000, f"Path {path}, Method {method} is invalid", 404)


def configure(venue: SimVenue, data: dict[str, Any]) -> dict[str, Any]:
    """Runtime knobs: exposure limit, rate limits, ping interval / pong deadline."""
    for key, value in data.items():
        if key == "exposure_limit_lots":
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ApiError(-1100, "exposure_limit_lots must be a non-negative integer or null")
            venue.account.exposure_limit_lots = value
        elif key in ("weight_per_minute", "orders_per_10s", "orders_per_minute", "ban_seconds"):
            if not isinstance(value, int | float) or value <= 0:
                raise ApiError(-1100, f"{key} must be a positive number")
            setattr(venue.config.limits, key, value)
        elif key in ("ping_interval_s", "pong_timeout_s"):
            if not isinstance(value, int | float) or value <= 0:
                raise ApiError(-1100, f"{key} must be a positive number of seconds")
            setattr(venue.config, key, float(value))
        else:
            raise ApiError(-1100, f"unknown admin config key {key!r}")
    return {"ok": True}


async def dump_state(venue: SimVenue, path: str) -> None:
    """Write the ground truth to ``path`` (in a thread: the disk must not block the loop)."""
    text = json.dumps(venue.ground_truth(book_levels=1000), default=str, indent=1)
    await trio.Path(path).write_text(text)
