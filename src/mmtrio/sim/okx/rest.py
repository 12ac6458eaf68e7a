"""The simulated OKX venue's REST API (``/api/v5``): routes, signing, limits, faults, answers.

A raw ASGI app, like the Binance front end's. Private routes (``/api/v5/account/*``,
``/api/v5/trade/*``) check the ``OK-ACCESS-*`` headers over the exact bytes sent
(:mod:`.auth`); a refusal is HTTP 401 ``{"code": "501xx", "msg"}``. Every answer is OKX's
envelope ``{"code", "msg", "data"}``: business errors are HTTP 200 with their code, order
operations carry one ``sCode`` per order (:mod:`.trade`), rate limits are HTTP 429
``50011`` (:mod:`.limits`). The demo header ``x-simulated-trading`` is accepted and ignored:
the paper account answers both.

Faults (shared engine): ``http_429`` (429 50011), ``error_code`` (the given code, else OKX's
generic ``50026`` "system error" as HTTP 500), ``order_5xx`` (the order operation is done,
then answered HTTP 503 ``50026``: the client cannot tell whether it was), ``order_drop``
(done, never answered), ``delay`` and ``clock_skew`` (the timestamp check).
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import trio

from mmtrio.sim.asgi import lifespan, read_body, respond
from mmtrio.sim.errors import SimBadRequest
from mmtrio.sim.frontend import Receive, Scope, Send
from mmtrio.sim.limits import RateLimitHit, answer_left
from mmtrio.sim.okx import close, history, info, margin, market
from mmtrio.sim.okx.auth import OkxAuthError, verify_rest
from mmtrio.sim.okx.wire import OkxError, dumps, ops_envelope

if TYPE_CHECKING:
    from mmtrio.sim.okx.frontend import OkxFrontEnd

DROP_HOLD_S = 120.0
SYSTEM_ERROR = ("50026", "System error, please try again later.")
Read = Callable[["OkxFrontEnd", dict[str, str]], list[Any]]
Write = Callable[["OkxFrontEnd", dict[str, Any]], list[Any]]
PUBLIC_COSTS = frozenset({"time", "instruments", "books", "public", "trades", "candles"})


@dataclass(frozen=True, slots=True)
class Route:
    cost: str  # the limiter's endpoint class
    read: Read | None = None  # GET handler
    op: str = ""  # POST order operation: order, amend, cancel, cancel_all_after
    batch: bool = False
    write: Write | None = None  # POST handler of a JSON object (not an order operation)

    @property
    def signed(self) -> bool:
        return self.op != "" or self.write is not None or self.cost not in PUBLIC_COSTS


P = "/api/v5"
ROUTES: dict[tuple[str, str], Route] = {
    ("GET", f"{P}/public/time"): Route("time", info.time),
    ("GET", f"{P}/public/instruments"): Route("instruments", info.instruments),
    ("GET", f"{P}/market/books"): Route("books", info.books),
    ("GET", f"{P}/market/ticker"): Route("public", market.ticker),
    ("GET", f"{P}/market/trades"): Route("trades", market.trades),
    ("GET", f"{P}/market/candles"): Route("candles", market.candles),
    ("GET", f"{P}/public/mark-price"): Route("public", info.mark_price),
    ("GET", f"{P}/public/funding-rate"): Route("public", info.funding_rate),
    ("GET", f"{P}/asset/currencies"): Route("currencies", info.currencies),
    ("GET", f"{P}/account/config"): Route("config", info.config),
    ("GET", f"{P}/account/balance"): Route("balance", info.balance),
    ("GET", f"{P}/account/positions"): Route("positions", info.positions),
    ("GET", f"{P}/account/leverage-info"): Route("leverage", margin.leverage_info),
    ("POST", f"{P}/account/set-leverage"): Route("set_leverage", write=margin.set_leverage),
    ("GET", f"{P}/account/trade-fee"): Route("trade_fee", margin.trade_fee),
    ("GET", f"{P}/trade/order"): Route("order_query", info.order),
    ("GET", f"{P}/trade/orders-pending"): Route("pending", info.orders_pending),
    ("GET", f"{P}/trade/orders-history"): Route("history", history.orders_history),
    ("GET", f"{P}/trade/fills"): Route("fills", info.fills),
    ("GET", f"{P}/trade/fills-history"): Route("fills", info.fills),
    ("POST", f"{P}/trade/order"): Route("place", op="order"),
    ("POST", f"{P}/trade/batch-orders"): Route("batch_place", op="order", batch=True),
    ("POST", f"{P}/trade/amend-order"): Route("amend", op="amend"),
    ("POST", f"{P}/trade/amend-batch-orders"): Route("batch_amend", op="amend", batch=True),
    ("POST", f"{P}/trade/cancel-order"): Route("cancel", op="cancel"),
    ("POST", f"{P}/trade/cancel-batch-orders"): Route("batch_cancel", op="cancel", batch=True),
    ("POST", f"{P}/trade/cancel-all-after"): Route("deadman", op="cancel_all_after"),
    ("POST", f"{P}/trade/close-position"): Route("close_position", write=close.close_position),
}
_PATHS = {path for _, path in ROUTES}


def costs(route: Route, body: Any) -> list[tuple[str, int]]:
    """What a request uses: a batch counts its orders; new and amended orders also count
    towards the sub-account's order limit."""
    n = len(body) if route.batch and isinstance(body, list) else 1
    out = [(route.cost, n)]
    if route.op in ("order", "amend"):
        out.append(("orders", n))
    return out


class RestApp:
    """OKX's REST API as an ASGI app."""

    def __init__(self, front: OkxFrontEnd) -> None:
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
            await respond(send, 413, OkxError("50000", "Body too large", 413).body(), [])
            return
        latency = venue.config.latency_s
        if latency:
            await trio.sleep(latency)
        now = trio.current_time()
        drop = False
        refused: RateLimitHit | None = None
        try:
            status, out, drop = self._handle(scope, body, now)
        except (OkxError, OkxAuthError, RateLimitHit, SimBadRequest) as exc:
            refused = exc if isinstance(exc, RateLimitHit) else None
            status, out = _error(exc)
        except Exception:  # the sim's own bug: a 500, never a dead server
            self.internal_errors += 1
            status, out = 500, dumps({"code": SYSTEM_ERROR[0], "msg": SYSTEM_ERROR[1], "data": []})
            traceback.print_exc()
        hold = latency + venue.faults.take_delay(venue.true_ms())
        if hold:
            await trio.sleep(hold)
        answer_left(refused, venue.true_ms())
        route = ROUTES.get((scope["method"], scope["path"]))
        if status >= 500 and route is not None and route.op == "cancel_all_after":
            venue.refresh_refused()  # refused before it armed (no order fault hits it)
        if drop:
            with trio.move_on_after(DROP_HOLD_S):
                while (await receive())["type"] != "http.disconnect":
                    pass
            return
        await respond(send, status, out, [])

    def _handle(self, scope: Scope, body: bytes, now: float) -> tuple[int, bytes, bool]:
        venue = self.venue
        method, path = scope["method"], scope["path"]
        query: bytes = scope.get("query_string", b"")
        route = ROUTES.get((method, path))
        if route is None:
            status = 405 if path in _PATHS else 404
            return status, dumps({"msg": "Not Found", "code": status}), False
        faults = venue.faults
        if faults.http_429 > 0:
            faults.http_429 -= 1
            raise venue.limiter.forced_429(now, venue.true_ms(), faults.retry_after)
        if faults.error_count > 0:
            faults.error_count -= 1
            if faults.error_code is None:
                raise OkxError(*SYSTEM_ERROR, status=500)
            raise OkxError(str(faults.error_code), faults.error_msg, faults.error_status)
        if route.signed:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                       for k, v in scope.get("headers", ())}  # fmt: skip
            raw_path = path.encode() + (b"?" + query if query else b"")
            verify_rest(
                self.front.credentials, headers, method, raw_path, body, now_ms=venue.wall_ms()
            )
        params = _query(query)
        payload = _json_body(body) if method == "POST" else None
        self.front.limiter.charge(costs(route, payload), now, venue.true_ms())
        if route.read is not None:
            return (
                200,
                dumps({"code": "0", "msg": "", "data": route.read(self.front, params)}),
                False,
            )
        if route.write is not None or route.op == "cancel_all_after":
            if not isinstance(payload, dict):
                raise OkxError("50002", "Json data format error")
            if route.write is not None:
                data = route.write(self.front, payload)
            else:
                data = self.front.trading.cancel_all_after(payload)
            return 200, dumps({"code": "0", "msg": "", "data": data}), False
        if route.batch != isinstance(payload, list):
            raise OkxError("50002", "Json data format error")
        results = self.front.trading.run(route.op, payload)
        if faults.order_drop > 0:
            faults.order_drop -= 1
            return 200, b"", True
        if faults.order_5xx > 0:
            faults.order_5xx -= 1
            return 503, dumps({"code": SYSTEM_ERROR[0], "msg": SYSTEM_ERROR[1], "data": []}), False
        return 200, dumps(ops_envelope(results)), False


def _query(query: bytes) -> dict[str, str]:
    try:
        text = query.decode("ascii")
    except UnicodeDecodeError:
        raise OkxError("50000", "Illegal characters in the query string") from None
    return dict(parse_qsl(text, keep_blank_values=True))


def _json_body(body: bytes) -> Any:
    if not body:
        raise OkxError("50000", "Body can not be empty")
    try:
        return json.loads(body)
    except ValueError:
        raise OkxError("50002", "Json data format error") from None


def _error(exc: OkxError | OkxAuthError | RateLimitHit | SimBadRequest) -> tuple[int, bytes]:
    if isinstance(exc, OkxError):
        return exc.status, exc.body()
    if isinstance(exc, OkxAuthError):
        return 401, dumps({"msg": exc.msg, "code": exc.code})
    if isinstance(exc, RateLimitHit):
        return 429, dumps({"msg": "Too Many Requests", "code": "50011"})
    return exc.status, dumps({"code": "50000", "msg": str(exc), "data": []})
