"""The Binance front end's REST API: routes, weights, signing, faults, answers.

A raw ASGI app (no framework: one dict lookup per request). Every error a client can
cause becomes a Binance ``{"code","msg"}`` answer with a 4xx status; an exception that is
the sim's own bug becomes a 500 with code -1000 (and is logged by the server), never a
crash of the server. The shared engine decides rate limits (:mod:`mmtrio.sim.limits`) and
faults; this module charges Binance's weights and says the outcome in Binance's words.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from mmtrio.exchange.matching import MatchingReject
from mmtrio.sim.asgi import header, hold_answer, lifespan, read_body, respond
from mmtrio.sim.binance import account_info, batch, info, rest_account, rest_market, trading
from mmtrio.sim.binance.auth import parse_params, verify_request
from mmtrio.sim.binance.params import check_params
from mmtrio.sim.binance.wire import ApiError, dumps
from mmtrio.sim.binance.words import api_error, bad_request, limit_error, usage_headers
from mmtrio.sim.errors import SimBadRequest
from mmtrio.sim.frontend import Receive, Scope, Send
from mmtrio.sim.limits import RateLimitHit, answer_left
from mmtrio.sim.venue import RequestRecord

if TYPE_CHECKING:
    from mmtrio.sim.binance.frontend import BinanceFrontEnd
    from mmtrio.sim.venue import SimVenue

Handler = Callable[["BinanceFrontEnd", dict[str, str]], Any]
DROP_HOLD_S = 120.0  # a dropped answer: hold the request until the client gives up
GENERIC_ERROR = -1000  # Binance's "unknown error": an injected error_code fault without code


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    weight: int
    signed: bool = False
    orders: int = 0  # counts towards the order-count limits
    is_order: bool = False  # subject to order_5xx / order_drop faults
    orders_1m: int | None = None  # the minute order count, when not ``orders`` (a batch)


def _v(fn: Callable[[SimVenue, dict[str, str]], Any]) -> Handler:
    """A handler that needs only the venue."""
    return lambda front, params: fn(front.venue, params)


def _time(front: BinanceFrontEnd, params: dict[str, str]) -> dict[str, Any]:
    return {"serverTime": front.venue.wall_ms()}


def _ping(front: BinanceFrontEnd, params: dict[str, str]) -> dict[str, Any]:
    return {}


def _listen_new(front: BinanceFrontEnd, params: dict[str, str]) -> dict[str, Any]:
    return {"listenKey": front.listen_keys.get()}


def _listen_keepalive(front: BinanceFrontEnd, params: dict[str, str]) -> dict[str, Any]:
    if front.listen_keys.key is None:
        raise ApiError(-1125, "This listenKey does not exist.")
    return {"listenKey": front.listen_keys.get()}


def _listen_close(front: BinanceFrontEnd, params: dict[str, str]) -> dict[str, Any]:
    front.listen_keys.close("listen key closed")
    return {}


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/fapi/v1/ping"): Route(_ping, 1),
    ("GET", "/fapi/v1/time"): Route(_time, 1),
    ("GET", "/fapi/v1/exchangeInfo"): Route(_v(info.exchange_info), 1),
    ("GET", "/fapi/v1/depth"): Route(_v(info.depth), 2),  # weight by limit: info.depth_weight
    ("POST", "/fapi/v1/order"): Route(_v(trading.place), 1, True, 1, True),
    ("PUT", "/fapi/v1/order"): Route(_v(trading.amend), 1, True, 1, True),
    ("DELETE", "/fapi/v1/order"): Route(_v(trading.cancel), 1, True, 0, True),
    ("GET", "/fapi/v1/order"): Route(_v(trading.query), 1, True),
    ("DELETE", "/fapi/v1/allOpenOrders"): Route(_v(trading.cancel_all), 1, True),
    # Binance: 5 weight, 5 on the 10 s order count, 1 on the minute's (batch.py)
    ("POST", "/fapi/v1/batchOrders"): Route(_v(batch.place), 5, True, 5, True, 1),
    ("DELETE", "/fapi/v1/batchOrders"): Route(_v(batch.cancel), 1, True, 0, True),
    ("GET", "/fapi/v1/openOrders"): Route(_v(trading.open_orders), 1, True),
    ("GET", "/fapi/v1/userTrades"): Route(_v(account_info.user_trades), 5, True),
    ("GET", "/fapi/v2/positionRisk"): Route(account_info.position_risk, 5, True),
    ("GET", "/fapi/v2/account"): Route(account_info.account, 5, True),
    # v3: their own shapes (rest_account.py)
    ("GET", "/fapi/v3/positionRisk"): Route(rest_account.position_risk_v3, 5, True),
    ("GET", "/fapi/v3/account"): Route(rest_account.account_v3, 5, True),
    ("GET", "/fapi/v2/balance"): Route(rest_account.balance, 5, True),
    ("GET", "/fapi/v3/balance"): Route(rest_account.balance, 5, True),
    ("POST", "/fapi/v1/leverage"): Route(rest_account.change_leverage, 1, True),
    ("GET", "/fapi/v1/positionSide/dual"): Route(rest_account.position_mode, 30, True),
    ("POST", "/fapi/v1/positionSide/dual"): Route(rest_account.change_position_mode, 1, True),
    ("GET", "/fapi/v1/openOrder"): Route(_v(rest_account.open_order), 1, True),
    ("GET", "/fapi/v1/allOrders"): Route(_v(rest_account.all_orders), 5, True),
    # public market data real clients call (rest_market.py); weights as Binance's
    ("GET", "/fapi/v1/ticker/bookTicker"): Route(_v(rest_market.book_ticker), 2),
    ("GET", "/fapi/v1/ticker/price"): Route(_v(rest_market.price_ticker), 1),
    ("GET", "/fapi/v2/ticker/price"): Route(_v(rest_market.price_ticker), 1),
    ("GET", "/fapi/v1/ticker/24hr"): Route(_v(rest_market.ticker_24hr), 1),
    ("GET", "/fapi/v1/premiumIndex"): Route(_v(rest_market.premium_index), 1),
    ("GET", "/fapi/v1/trades"): Route(_v(rest_market.recent_trades), 5),
    ("GET", "/fapi/v1/aggTrades"): Route(_v(rest_market.agg_trades), 20),
    ("GET", "/fapi/v1/klines"): Route(_v(rest_market.klines), 5),
    ("GET", "/fapi/v1/leverageBracket"): Route(_v(account_info.leverage_bracket), 1, True),
    ("POST", "/fapi/v1/countdownCancelAll"): Route(_v(trading.countdown), 10, True),
    # listen key endpoints need the API key but no signature (USER_STREAM security)
    ("POST", "/fapi/v1/listenKey"): Route(_listen_new, 1),
    ("PUT", "/fapi/v1/listenKey"): Route(_listen_keepalive, 1),
    ("DELETE", "/fapi/v1/listenKey"): Route(_listen_close, 1),
}
_PATHS = {path for _, path in ROUTES}
_DEPTH = ("GET", "/fapi/v1/depth")
_COUNTDOWN = ("POST", "/fapi/v1/countdownCancelAll")  # the dead-man (SimVenue.refresh_refused)


class RestApp:
    """The Binance REST API as an ASGI app."""

    def __init__(self, front: BinanceFrontEnd) -> None:
        self.front = front
        self.venue = front.venue
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
        refused: RateLimitHit | None = None
        latency = venue.config.latency_s
        if latency:  # the request's way in: the venue acts on it this much later
            await trio.sleep(latency)
        now = trio.current_time()
        try:
            if route is None:
                status = 405 if path in _PATHS else 404
                raise ApiError(
                    GENERIC_ERROR if status == 405 else -5000,
                    f"Path {path}, Method {method} is invalid",
                    status,
                )
            weight = (
                info.depth_weight(parse_params(query, b""))
                if (method, path) == _DEPTH
                else route.weight
            )
            usage = venue.limiter.check(
                weight, route.orders, now, venue.true_ms(), orders_1m=route.orders_1m
            )
            extra = usage_headers(usage)
            faults = venue.faults
            if faults.http_429 > 0:
                faults.http_429 -= 1
                raise venue.limiter.forced_429(now, venue.true_ms(), faults.retry_after)
            if faults.error_count > 0:
                faults.error_count -= 1
                code = GENERIC_ERROR if faults.error_code is None else faults.error_code
                raise ApiError(code, faults.error_msg, faults.error_status)
            params = parse_params(query, body)
            check_params(method, path, params, signed=route.signed)
            if route.signed:
                verify_request(
                    self.front.credentials,
                    header(scope, b"x-mbx-apikey"),
                    query,
                    body,
                    params=params,
                    now_ms=venue.wall_ms(),
                )
            elif path == "/fapi/v1/listenKey":
                key = header(scope, b"x-mbx-apikey")
                if key != self.front.credentials.api_key:
                    raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
            result = route.handler(self.front, params)
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
        except (ApiError, RateLimitHit, MatchingReject, SimBadRequest) as exc:
            refused = exc if isinstance(exc, RateLimitHit) else None
            err = api_answer_error(exc)
            status, out = err.status, err.body()
            extra = err.headers or extra
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
            traceback.print_exc()
        venue.request_log.append(RequestRecord(venue.true_ms(), method, path, status))
        faults = venue.faults
        hold = latency + faults.take_delay(venue.true_ms())  # the answer's way out
        if hold:
            # A delayed 429 is judged from when the client can know of it: requests it sent
            # before then are in flight (invariant 8 must not blame the client for latency),
            # and they arrive up to one more way-in latency later.
            if status == 429:
                venue.limiter.answer_held(now)
            if not await hold_answer(receive, hold):
                return  # the client gave up on it (a timeout): the answer is never read
        if status == 429:
            venue.limiter.answer_sent(trio.current_time() + latency, refused)
        answer_left(refused, venue.true_ms())
        if status >= 500 and (method, path) == _COUNTDOWN:  # refused before it armed
            venue.refresh_refused()
        if drop:
            # Executed, but the answer never comes: hold until the client disconnects.
            with trio.move_on_after(DROP_HOLD_S):
                while (await receive())["type"] != "http.disconnect":
                    pass
            return
        await respond(send, status, out, extra)


def api_answer_error(exc: ApiError | RateLimitHit | MatchingReject | SimBadRequest) -> ApiError:
    """The Binance answer for a refusal the engine or this front end decided."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RateLimitHit):
        return limit_error(exc)
    if isinstance(exc, MatchingReject):
        return api_error(exc)
    return bad_request(exc)
