"""The Extended front end's REST API (``/api/v1``): routes, API key, limits, faults, answers.

A raw ASGI app. Public routes (``/info/…``) need no key; every ``/user/…`` route needs
``X-Api-Key`` (401 otherwise, as Extended answers). Every request counts one unit against
the shared limiter (Extended: one limit for all endpoints); an order counts as an order too.
The REST faults of the shared engine apply (``http_429``, ``error_count``, ``order_5xx``,
``order_drop``, answer delays). Answers are Extended's ``{"status": "OK", "data": …}``; errors
``{"status": "ERROR", "error": {"code", "message"}}`` (:mod:`.words`).
"""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

import trio

from mmtrio.exchange.matching import MatchingReject
from mmtrio.sim import requests
from mmtrio.sim.asgi import header, hold_answer, lifespan, read_body, respond
from mmtrio.sim.errors import SimBadRequest, WireError
from mmtrio.sim.extended import history, leverage, render
from mmtrio.sim.extended.params import bounded_int, market_ok, one
from mmtrio.sim.extended.words import (
    ApiError,
    dumps,
    extended_symbol,
    limit_error,
    market_json,
    ok,
    refusal_error,
)
from mmtrio.sim.frontend import Receive, Scope, Send
from mmtrio.sim.limits import RateLimitHit, answer_left

if TYPE_CHECKING:
    from mmtrio.sim.extended.frontend import ExtendedFrontEnd
    from mmtrio.sim.venue import SimVenue

API = "/api/v1"
DROP_HOLD_S = 120.0
TRADES_MAX = 1_000
Handler = Callable[["ExtendedFrontEnd", dict[str, list[str]], Any, list[str]], Any]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    private: bool = True
    orders: int = 0
    is_order: bool = False


def _stats(front: ExtendedFrontEnd) -> dict[str, Any]:
    venue = front.venue
    bid, ask = venue.book.best()
    inst = venue.instrument
    mark = venue.mark_price()

    def price(level: tuple[int, int] | None) -> str:
        return inst.price_str(level[0]) if level else str(mark)

    return {
        "dailyVolume": "0", "dailyVolumeBase": "0", "dailyPriceChange": "0",
        "dailyPriceChangePercentage": "0", "dailyLow": str(mark), "dailyHigh": str(mark),
        "lastPrice": str(mark), "askPrice": price(ask), "bidPrice": price(bid),
        "markPrice": str(mark), "indexPrice": str(venue.mark_price()),
        "fundingRate": str(venue.funding_rate),
        "nextFundingRate": venue.out_ts(venue.next_funding_ts),
        "openInterest": "0", "openInterestBase": "0",
    }  # fmt: skip


def _markets(front: ExtendedFrontEnd, q: dict[str, list[str]], body: Any, a: list[str]) -> Any:
    wanted = q.get("market")
    if wanted is not None and front.symbol not in wanted:
        return []
    return [market_json(front.venue.instrument, _stats(front))]


def _market_path(front: ExtendedFrontEnd, market: str) -> None:
    if market != front.symbol:
        raise ApiError(1001, f"Market not found: {market}", 404)


def _market_stats(front: ExtendedFrontEnd, q: dict[str, list[str]], b: Any, a: list[str]) -> Any:
    _market_path(front, a[0])
    return _stats(front)


def _orderbook(front: ExtendedFrontEnd, q: dict[str, list[str]], b: Any, a: list[str]) -> Any:
    _market_path(front, a[0])
    bids, asks = front.market.levels()
    return {"market": front.symbol, "bid": bids, "ask": asks}


def _account_info(front: ExtendedFrontEnd, q: dict[str, list[str]], b: Any, a: list[str]) -> Any:
    acct = front.account
    return {
        "accountId": render.ACCOUNT_ID, "description": "paper", "accountIndex": 0,
        "status": "ACTIVE", "l2Key": hex(acct.public_key), "l2Vault": acct.vault,
        "apiKeys": [],
    }  # fmt: skip


def _open_orders(front: ExtendedFrontEnd, q: dict[str, list[str]], b: Any, a: list[str]) -> Any:
    market_ok(front, q, required=False)
    venue = front.venue
    return [render.order_json(venue, r) for r in requests.open_orders(venue)]


def _by_external(front: ExtendedFrontEnd, q: dict[str, list[str]], b: Any, a: list[str]) -> Any:
    found = front.orders.find(unquote(a[0]), None)
    if found is None:
        raise ApiError(404, "Order not found", 404)
    return [render.order_json(front.venue, *found)]


def _by_id(front: ExtendedFrontEnd, q: dict[str, list[str]], b: Any, a: list[str]) -> Any:
    found = front.orders.find(None, int(a[0]))
    if found is None:
        raise ApiError(404, "Order not found", 404)
    return render.order_json(front.venue, *found)


def _trades(front: ExtendedFrontEnd, q: dict[str, list[str]], b: Any, a: list[str]) -> Any:
    """Our fills, newest first; ``cursor`` = the id below which to continue."""
    market_ok(front, q, required=False)
    cursor, limit = one(q, "cursor"), bounded_int(q, "limit", 100, TRADES_MAX)
    if cursor is not None and not cursor.isdigit():
        raise ApiError(400, "cursor must be a trade id")
    fills = sorted(front.venue.account.fills, key=lambda f: -f.trade_id)
    if cursor is not None:
        fills = [f for f in fills if f.trade_id < int(cursor)]
    return [render.trade_json(front.venue, f, stream=False) for f in fills[:limit]]


def _cancel_by_id(front: ExtendedFrontEnd, q: dict[str, list[str]], b: Any, a: list[str]) -> Any:
    return _cancel(front, None, int(a[0]))


def _cancel_by_external(
    front: ExtendedFrontEnd, q: dict[str, list[str]], b: Any, a: list[str]
) -> Any:
    ext = one(q, "externalId")
    if ext is None:
        raise ApiError(400, "externalId is required")
    return _cancel(front, ext, None)


def _cancel(front: ExtendedFrontEnd, ext: str | None, order_id: int | None) -> Any:
    rec = requests.lookup(front.venue, ext, order_id)
    if rec is None or not requests.is_open(rec):
        raise ApiError(404, "Order not found", 404)
    requests.cancel(front.venue, rec)
    return None


def _mass_cancel(front: ExtendedFrontEnd, q: dict[str, list[str]], body: Any, a: list[str]) -> Any:
    if not isinstance(body, dict) or not any(
        body.get(k) for k in ("orderIds", "externalOrderIds", "markets", "cancelAll")
    ):
        raise ApiError(400, "at least one of orderIds, externalOrderIds, markets, cancelAll")
    venue = front.venue
    if body.get("cancelAll") or front.symbol in (body.get("markets") or ()):
        requests.cancel_all(venue)
        return None
    for ext in body.get("externalOrderIds") or ():
        rec = requests.lookup(venue, str(ext), None)
        if rec is not None and requests.is_open(rec):
            requests.cancel(venue, rec)
    for oid in body.get("orderIds") or ():
        rec = requests.lookup(venue, None, int(oid))
        if rec is not None and requests.is_open(rec):
            requests.cancel(venue, rec)
    return None


def _deadman(front: ExtendedFrontEnd, q: dict[str, list[str]], b: Any, a: list[str]) -> Any:
    raw = one(q, "countdownTime")
    if raw is None or not raw.isdigit():
        raise ApiError(400, "countdownTime must be a non-negative number of seconds")
    requests.countdown(front.venue, int(raw) * 1000)
    return None


def _balance(front: ExtendedFrontEnd, q: dict[str, list[str]], b: Any, a: list[str]) -> Any:
    return render.balance_json(front.venue, front.leverage)


def _positions(front: ExtendedFrontEnd, q: dict[str, list[str]], b: Any, a: list[str]) -> Any:
    market_ok(front, q, required=False)
    return render.positions_json(front.venue, front.leverage)


def _fees(front: ExtendedFrontEnd, q: dict[str, list[str]], b: Any, a: list[str]) -> Any:
    return render.fees_json(front.venue)


def _place(front: ExtendedFrontEnd, q: dict[str, list[str]], body: Any, a: list[str]) -> Any:
    return front.place(body)


def _r(method: str, path: str, handler: Handler, **kw: Any) -> Route:
    return Route(method, re.compile("^" + API + path + "$"), handler, **kw)


M = r"([A-Za-z0-9-]+)"
ROUTES: list[Route] = [
    _r("GET", "/info/markets", _markets, private=False),
    _r("GET", f"/info/markets/{M}/stats", _market_stats, private=False),
    _r("GET", f"/info/markets/{M}/orderbook", _orderbook, private=False),
    _r("GET", "/user/account/info", _account_info),
    _r("GET", "/user/balance", _balance),
    _r("GET", "/user/positions", _positions),
    _r("GET", "/user/fees", _fees),
    _r("GET", "/user/orders", _open_orders),
    _r("GET", "/user/orders/history", history.orders_history),
    _r("GET", "/user/leverage", leverage.get_leverage),
    _r("PATCH", "/user/leverage", leverage.update_leverage),
    _r("GET", "/user/orders/external/([^/]+)", _by_external),
    _r("GET", r"/user/orders/(\d+)", _by_id),
    _r("GET", "/user/trades", _trades),
    _r("POST", "/user/order", _place, orders=1, is_order=True),
    _r("DELETE", r"/user/order/(\d+)", _cancel_by_id, is_order=True),
    _r("DELETE", "/user/order", _cancel_by_external, is_order=True),
    # as on the Binance front end, the order faults (order_5xx, order_drop) hit single-order
    # requests (place, cancel), never the mass cancel a stopping bot relies on
    _r("POST", "/user/order/massCancel", _mass_cancel),
    _r("POST", "/user/deadmanswitch", _deadman),
]


_DEADMAN = ("POST", API + "/user/deadmanswitch")  # SimVenue.refresh_refused


def _route(method: str, path: str) -> tuple[Route, list[str]]:
    known = False
    for route in ROUTES:
        match = route.pattern.match(path)
        if match is not None:
            known = True
            if route.method == method:
                return route, list(match.groups())
    raise ApiError(405 if known else 404, f"{method} {path} is not an Extended endpoint",
                   405 if known else 404)  # fmt: skip


class RestApp:
    """The Extended REST API as an ASGI app."""

    def __init__(self, front: ExtendedFrontEnd) -> None:
        self.front = front
        self.venue: SimVenue = front.venue
        self.internal_errors = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        venue = self.venue
        raw = await read_body(receive, venue.config.max_body_bytes)
        latency = venue.config.latency_s
        if latency:
            await trio.sleep(latency)
        now = trio.current_time()
        status, out, extra, drop = 200, b"", [], False
        refused: RateLimitHit | None = None
        try:
            if raw is None:
                raise ApiError(413, "Request body too large", 413)
            route, args = _route(scope["method"], scope["path"])
            venue.limiter.check(1, route.orders, now, venue.true_ms())
            faults = venue.faults
            if faults.http_429 > 0:
                faults.http_429 -= 1
                raise venue.limiter.forced_429(now, venue.true_ms(), faults.retry_after)
            if faults.error_count > 0:
                faults.error_count -= 1
                code = 500 if faults.error_code is None else faults.error_code
                raise ApiError(code, faults.error_msg, faults.error_status)
            if route.private and header(scope, b"x-api-key") != self.front.account.api_key:
                raise ApiError(401, "Unauthorized", 401)
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                raise ApiError(400, "the body is not JSON") from None
            out = dumps(ok(route.handler(self.front, query, body, args)))
            if route.is_order and faults.order_drop > 0:
                faults.order_drop -= 1
                drop = True
            elif route.is_order and faults.order_5xx > 0:
                faults.order_5xx -= 1
                status, out = 503, ApiError(500, "Internal server error", 503).body()
        except (WireError, RateLimitHit, MatchingReject) as exc:
            refused = exc if isinstance(exc, RateLimitHit) else None
            err = _error(exc)
            status, out, extra = err.status, err.body(), err.headers
        except Exception:  # the sim's own bug: a 500, never a dead server
            self.internal_errors += 1
            status, out = 500, ApiError(500, "Internal server error", 500).body()
            traceback.print_exc()
        hold = latency + venue.faults.take_delay(venue.true_ms())
        if hold:
            if status == 429:
                venue.limiter.answer_held(now)
            if not await hold_answer(receive, hold):
                return  # the client gave up on it (a timeout): the answer is never read
        if status == 429:
            venue.limiter.answer_sent(trio.current_time() + latency, refused)
        answer_left(refused, venue.true_ms())
        if status >= 500 and (scope["method"], scope["path"]) == _DEADMAN:
            venue.refresh_refused()  # refused before it armed (no order fault hits it)
        if drop:
            with trio.move_on_after(DROP_HOLD_S):
                while (await receive())["type"] != "http.disconnect":
                    pass
            return
        await respond(send, status, out, extra)


def _error(exc: WireError | RateLimitHit | MatchingReject) -> WireError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RateLimitHit):
        return limit_error(exc)
    if isinstance(exc, MatchingReject):
        return refusal_error(exc)
    if isinstance(exc, SimBadRequest):
        return ApiError(400, str(exc))
    return exc


__all__ = ["ROUTES", "RestApp", "extended_symbol"]
