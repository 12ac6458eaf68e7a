"""Binance's WebSocket API for orders (ws-fapi) on the sim, at ``/ws-fapi/v1`` on the
websocket port (served through :class:`~mmtrio.sim.binance.ws.BinanceWs`).

``order.place``, ``order.modify``, ``order.cancel`` and ``order.status`` run the very handlers
of ``POST/PUT/DELETE/GET /fapi/v1/order`` (sim/binance/trading.py), and ``account.position``,
``account.balance``, ``account.status`` (and their ``v2/`` forms) those of the REST account
endpoints (:data:`METHODS`), with the same weights and order
counts against the same limiter (one IP, one budget), the same faults (``http_429``,
``error_code``, ``order_5xx``, ``order_drop``, ``delay``) and the same latency each way. What
differs is the wire: a request is ``{"id", "method", "params"}``; the answer is
``{"id", "status", "result" | "error", "rateLimits"}``; a 429/418 carries
``error.data.retryAfter`` (epoch ms) instead of a Retry-After header; the signature is the
HMAC of the parameters sorted by name (``apiKey``, ``timestamp``, ``recvWindow`` among them,
``signature`` not), as ``k=v`` joined by ``&``.

``session.logon`` (weight 2) logs a connection on with an Ed25519 key: ``apiKey``,
``timestamp`` and the base64 Ed25519 signature of ``apiKey=…&timestamp=…`` (the paper
account's ``api_secret`` is then its PEM private key, :mod:`.auth`); the answer's ``result``
names the key, ``authorizedSince``, ``connectedSince`` and ``serverTime``. After it, a request
without ``apiKey`` and ``signature`` is the logged-on key's (its timestamp is still checked).
With an HMAC key the sim refuses the logon with -1002 (Binance documents that only Ed25519 keys
may log on, not the code it answers). ``session.status`` and ``session.logout`` are not served.

Faults on the socket itself: ``ws_close``/``ws_stall`` with ``target = "orders"`` (or
``all``) close it or hold its answers; ``order_drop`` executes a request and never answers.

Each request is acted on when it reaches the venue (``latency`` after it arrived), in the
order the requests arrived, and answered on its own: a held answer (the ``delay`` fault)
holds that answer only, and answers may leave in another order than their requests came, as
Binance documents (PROTOCOL.md: "answers can arrive in any order: match them by id"). Answers
leave through the connection's outgoing queue, so the way-out latency and ``ws_stall`` apply.

Why not one request at a time, as the shared server reads messages: a request then waited
behind the held answer of the one before it, and was judged by the rate limiter when its turn
came rather than when it arrived. Chaos seed 26 (2026-12-03): an amend drew the injected 429
and its answer was held 319 ms; a place the bot had sent 1 ms after the amend was acted on
320 ms late (a 429 "in flight", held 319 ms in turn), and a place sent 42 ms *before* the bot
could know of any 429 was acted on 645 ms late, 324 ms after the first 429 left: past the
in-flight grace, so a 418 ban for a client that never sent a request after reading a 429.
"""

from __future__ import annotations

import json
import traceback
import weakref
from typing import TYPE_CHECKING, Any

import trio

from mmtrio.exchange.matching import MatchingReject
from mmtrio.sim.binance.auth import check_timestamp, ed25519_public_key, verify_request
from mmtrio.sim.binance.params import check_params
from mmtrio.sim.binance.rest import GENERIC_ERROR, ROUTES, api_answer_error
from mmtrio.sim.binance.wire import ApiError, param_text
from mmtrio.sim.errors import SimBadRequest
from mmtrio.sim.hub import compact_json
from mmtrio.sim.limits import RateLimitHit, answer_left
from mmtrio.sim.venue import RequestRecord

if TYPE_CHECKING:
    from mmtrio.sim.binance.frontend import BinanceFrontEnd
    from mmtrio.sim.hub import StreamConn
    from mmtrio.sim.venue import SimVenue

PATH = "/ws-fapi/v1"
# Each method runs the REST route its answer mirrors, with that route's weight (5 for the
# account methods, Binance's documented ws-fapi weight), parameters and signature check.
# Binance's ws-fapi "v2/" account methods answer the shapes of REST's v3 endpoints
# (developers.binance.com .../websocket-api/Position-Info-V2, Account-Information-V2,
# Futures-Account-Balance-V2): v2/account.position lists only a symbol with a position or
# open orders, with its margins and notionals; the unversioned ones answer REST v2's.
METHODS: dict[str, tuple[str, str]] = {
    "order.place": ("POST", "/fapi/v1/order"),
    "order.modify": ("PUT", "/fapi/v1/order"),
    "order.cancel": ("DELETE", "/fapi/v1/order"),
    "order.status": ("GET", "/fapi/v1/order"),
    "account.position": ("GET", "/fapi/v2/positionRisk"),
    "v2/account.position": ("GET", "/fapi/v3/positionRisk"),
    "account.balance": ("GET", "/fapi/v2/balance"),
    "v2/account.balance": ("GET", "/fapi/v3/balance"),
    "account.status": ("GET", "/fapi/v2/account"),
    "v2/account.status": ("GET", "/fapi/v3/account"),
}


LOGON_WEIGHT = 2  # Binance's weight of session.logon


class WsSession:
    """One order connection's state: when it opened, the key it is logged on with."""

    __slots__ = ("api_key", "connected_ms")

    def __init__(self, connected_ms: int) -> None:
        self.connected_ms = connected_ms
        self.api_key: str | None = None


def rate_limits(venue: SimVenue, now: float) -> list[dict[str, Any]]:
    """The ``rateLimits`` of an answer: the windows' counts after this request."""
    lim = venue.limiter
    cfg = lim.config
    return [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
         "limit": cfg.weight_per_minute, "count": lim.weight.current(now)},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
         "limit": cfg.orders_per_10s, "count": lim.orders_10s.current(now)},
        {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1,
         "limit": cfg.orders_per_minute, "count": lim.orders_1m.current(now)},
    ]  # fmt: skip


def _error(venue: SimVenue, rid: Any, exc: ApiError, now: float) -> dict[str, Any]:
    error: dict[str, Any] = {"code": exc.code, "msg": exc.msg}
    retry = next((v for k, v in exc.headers if k == b"retry-after"), None)
    if retry is not None:
        error["data"] = {
            "serverTime": venue.wall_ms(),
            "retryAfter": venue.wall_ms() + int(retry) * 1000,
        }
    return {"id": rid, "status": exc.status, "error": error, "rateLimits": rate_limits(venue, now)}


def _verify(
    front: BinanceFrontEnd, params: dict[str, str], api_key: str | None, signature: str | None
) -> None:
    """Key, signature (over the other parameters sorted by name) and timestamp."""
    pairs = sorted([*params.items(), ("apiKey", api_key or "")])
    signed = "&".join(f"{k}={v}" for k, v in pairs)
    query = signed.encode() + (b"&signature=" + signature.encode() if signature else b"")
    verify_request(front.credentials, api_key, query, b"", params=params,
                   now_ms=front.venue.wall_ms())  # fmt: skip


def _logon(front: BinanceFrontEnd, raw: dict[str, Any], session: WsSession | None) -> Any:
    """``session.logon``: the result, or the refusal raised."""
    if session is None:
        raise ApiError(GENERIC_ERROR, "session.logon needs a connection")  # not reachable
    if ed25519_public_key(front.credentials.api_secret) is None:
        raise ApiError(-1002, "You are not authorized to execute this request: session.logon "
                       "takes Ed25519 API keys only.", 401)  # fmt: skip
    params = {str(k): param_text(v) for k, v in raw.items()}
    api_key = params.pop("apiKey", None)
    signature = params.pop("signature", None)
    extra = sorted(set(params) - {"timestamp", "recvWindow"})
    if extra:
        raise ApiError(-1104, f"Not all sent parameters were read: {', '.join(extra)}.")
    _verify(front, params, api_key, signature)
    session.api_key = api_key
    now_ms = front.venue.wall_ms()
    return {"apiKey": api_key, "authorizedSince": now_ms,
            "connectedSince": session.connected_ms, "returnRateLimits": True,
            "serverTime": now_ms}  # fmt: skip


def handle_request(
    front: BinanceFrontEnd, msg: Any, now: float, session: WsSession | None = None
) -> tuple[dict[str, Any] | None, bool, RateLimitHit | None]:
    """(answer, drop, refused) for one request frame acted on at ``now`` (trio time) on a
    connection whose state is ``session``; ``drop``: executed, the answer never comes;
    ``refused``: the limiter's refusal the answer carries (:func:`answer_left`)."""
    venue = front.venue
    rid = msg.get("id") if isinstance(msg, dict) else None
    try:
        if not isinstance(msg, dict) or not isinstance(rid, str | int):
            raise ApiError(-1102, "Mandatory parameter 'id' was not sent or is malformed.")
        method, raw = msg.get("method"), msg.get("params")
        if not isinstance(raw, dict):
            raise ApiError(-1102, "Mandatory parameter 'params' was not sent or is malformed.")
        if method == "session.logon":
            venue.limiter.check(LOGON_WEIGHT, 0, now, venue.true_ms())
            result = _logon(front, raw, session)
            return {"id": rid, "status": 200, "result": result,
                    "rateLimits": rate_limits(venue, now)}, False, None  # fmt: skip
        target = METHODS.get(method) if isinstance(method, str) else None
        if target is None:
            raise ApiError(GENERIC_ERROR, f"Unknown method {method!r}")
        route = ROUTES[target]
        params = {str(k): param_text(v) for k, v in raw.items()}
        api_key = params.pop("apiKey", None)
        signature = params.pop("signature", None)
        logged_on = session.api_key if session is not None else None
        venue.limiter.check(route.weight, route.orders, now, venue.true_ms())
        faults = venue.faults
        if faults.http_429 > 0:
            faults.http_429 -= 1
            raise venue.limiter.forced_429(now, venue.true_ms(), faults.retry_after)
        if faults.error_count > 0:
            faults.error_count -= 1
            code = GENERIC_ERROR if faults.error_code is None else faults.error_code
            raise ApiError(code, faults.error_msg, faults.error_status)
        check_params(*target, params, signed=True)
        if logged_on is not None and api_key is None and signature is None:
            check_timestamp(params, venue.wall_ms())  # the logged-on key's request
        else:
            _verify(front, params, api_key, signature)
        result = route.handler(front, params)
        if route.is_order and faults.order_drop > 0:  # as on REST: order routes only
            faults.order_drop -= 1
            return None, True, None
        if route.is_order and faults.order_5xx > 0:
            faults.order_5xx -= 1
            raise ApiError(
                -1006,
                "An unexpected response was received from the message bus. Execution status "
                "unknown.",
                503,
            )
    except (ApiError, RateLimitHit, MatchingReject, SimBadRequest) as exc:
        refused = exc if isinstance(exc, RateLimitHit) else None
        return _error(venue, rid, api_answer_error(exc), now), False, refused
    answer = {"id": rid, "status": 200, "result": result, "rateLimits": rate_limits(venue, now)}
    return answer, False, None


class OrderEntry:
    """The ws-fapi server of one front end: every request its own task in :attr:`nursery`
    (the front end's ``run`` provides it), acted on in arrival order per connection."""

    def __init__(self, front: BinanceFrontEnd) -> None:
        self.front = front
        self.nursery: trio.Nursery | None = None
        # per connection, the "acted" event of its latest request: the next one waits for it
        self._latest: dict[StreamConn, trio.Event] = {}
        self._sessions: weakref.WeakKeyDictionary[StreamConn, WsSession] = (
            weakref.WeakKeyDictionary()
        )

    def opened(self, conn: StreamConn) -> None:
        """A new order connection (its session state starts now)."""
        self._sessions[conn] = WsSession(self.front.venue.wall_ms())

    def receive(self, conn: StreamConn, text: str) -> list[str]:
        """Take one request frame; its answer comes later through ``conn.offer``."""
        if self.nursery is None:
            # Not reachable through `mmtrio sim` (run_venue runs the front end): a test
            # serving websockets without running the venue gets told so.
            return [json.dumps({"id": None, "status": 503, "error": {
                "code": -1000, "msg": "the simulated venue is not running"}})]  # fmt: skip
        before = self._latest.get(conn)
        mine = trio.Event()
        self._latest[conn] = mine
        self.nursery.start_soon(self._serve, conn, text, trio.current_time(), before, mine)
        return []

    async def _serve(
        self,
        conn: StreamConn,
        text: str,
        arrived: float,
        before: trio.Event | None,
        mine: trio.Event,
    ) -> None:
        front = self.front
        venue = front.venue
        latency = venue.config.latency_s
        try:
            await trio.sleep_until(arrived + latency)  # the way in
            if before is not None:
                await before.wait()  # same arrival instant: keep the arrival order
            answer, drop, acted, refused = act(front, text, self._sessions.get(conn))
        finally:
            mine.set()
            if self._latest.get(conn) is mine:
                del self._latest[conn]
        if drop or answer is None:
            return
        status = int(answer["status"])
        hold = venue.faults.take_delay(venue.true_ms())
        if hold:
            # As on REST: a 429 held back on its way out is judged from when the client can
            # read it; what the client sends meanwhile is in flight (a 429 again, not a ban).
            held = status == 429 and venue.limiter.answer_held(acted)
            await trio.sleep(hold)
            if held and conn.delivers():
                # Only a 429 that can still be read tells the client of the back-off: one
                # whose connection died while it was held never arrives, as a held REST
                # answer whose client gave up (DST seed 204799: a 429 held 1 s on an order
                # socket reset meanwhile was taken as read, and the bot, told nothing, was
                # banned 120 s for its next read and never saw the fill it had missed).
                venue.limiter.answer_sent(trio.current_time() + latency, refused)
        elif status == 429 and not conn.delivers():
            # Not held, yet never read all the same: the ws_mute fault drops it, or the
            # connection is gone. The client is not told; what it sends meanwhile is in
            # flight (429, no ban) until a 429 of this back-off reaches it.
            venue.limiter.answer_held(acted)
        if conn.delivers():  # else never read
            answer_left(refused, venue.true_ms())
        conn.offer(compact_json(answer))


def act(
    front: BinanceFrontEnd, text: str, session: WsSession | None = None
) -> tuple[dict[str, Any] | None, bool, float, RateLimitHit | None]:
    """The venue acts on one request frame now: (answer, dropped, when it acted, the
    limiter's refusal the answer carries)."""
    venue = front.venue
    try:
        msg = json.loads(text)
    except ValueError:
        msg = None
    acted = trio.current_time()  # handle_request's "now": the 429's back-off starts here
    answer: dict[str, Any] | None
    refused: RateLimitHit | None = None
    try:
        answer, drop, refused = handle_request(front, msg, acted, session)
    except Exception:  # the sim's own bug: an error answer, never a dead socket
        traceback.print_exc()
        bug = {"code": -1000, "msg": "An unknown error occurred while processing the request."}
        answer, drop = {"id": None, "status": 500, "error": bug}, False
    method = msg.get("method") if isinstance(msg, dict) else None
    status = 0 if answer is None else int(answer["status"])
    venue.request_log.append(RequestRecord(venue.true_ms(), "WS", str(method), status))
    return answer, drop, acted, refused
