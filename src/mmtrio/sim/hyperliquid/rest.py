"""The Hyperliquid front end's REST API: ``POST /info`` and ``POST /exchange`` (raw ASGI).

Per request, in order: the way-in latency; the IP weight (1200 a minute, Hyperliquid's
weights: :func:`.info.weight`, :func:`.exchange.weight`) through the shared limiter (429 with
a ``Retry-After``, 418 after a back-off was ignored); the armed REST faults (``http_429``,
``error_code`` (the venue's plain-text error body), ``order_5xx``/``order_drop`` on
``/exchange`` after the action ran, ``delay``); then the answer. Hyperliquid answers every
processed action with HTTP 200, refusals included; a body that is not an action is 422 with
its deserialisation text; an exception that is the sim's own bug is a 500, never a dead
server.
"""

from __future__ import annotations

import json
import traceback
from typing import TYPE_CHECKING, Any

import trio

from mmtrio.errors import ProtocolError
from mmtrio.sim.asgi import hold_answer, lifespan, read_body, respond
from mmtrio.sim.errors import SimBadRequest
from mmtrio.sim.frontend import Receive, Scope, Send
from mmtrio.sim.hyperliquid import exchange, info
from mmtrio.sim.hyperliquid.words import BAD_JSON
from mmtrio.sim.limits import RateLimitHit, answer_left

if TYPE_CHECKING:
    from mmtrio.sim.hyperliquid.frontend import HyperliquidFrontEnd

DROP_HOLD_S = 120.0


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class Refused(Exception):
    """An HTTP error answer with a plain-text body (how Hyperliquid says 4xx/5xx)."""

    def __init__(self, status: int, text: str, headers: list[tuple[bytes, bytes]] | None = None):
        super().__init__(text)
        self.status = status
        self.text = text
        self.headers = headers or []


def _schedules(body: bytes | None) -> bool:
    """Whether an ``/exchange`` body is the dead-man's ``scheduleCancel`` action."""
    try:
        data = json.loads(body or b"")
    except ValueError:
        return False
    action = data.get("action") if isinstance(data, dict) else None
    return isinstance(action, dict) and action.get("type") == "scheduleCancel"


def limit_refusal(hit: RateLimitHit) -> Refused:
    return Refused(hit.status, hit.detail, [(b"retry-after", str(hit.retry_after_s).encode())])


class RestApp:
    """``/info`` and ``/exchange`` as an ASGI app."""

    def __init__(self, front: HyperliquidFrontEnd) -> None:
        self.front = front
        self.venue = front.venue
        self.internal_errors = 0

    def charge(self, cost: int, *, is_action: bool, now: float) -> None:
        """IP weight through the shared limiter, and the 429/error faults (RateLimitHit,
        Refused). ``now``: the request's arrival, the same time the caller later gives
        ``limiter.answer_held`` (a held 429 is recognised by its start)."""
        v = self.venue
        v.limiter.check(cost, 0, now, v.true_ms())
        faults = v.faults
        if faults.http_429 > 0:
            faults.http_429 -= 1
            raise v.limiter.forced_429(now, v.true_ms(), faults.retry_after)
        if faults.error_count > 0:
            faults.error_count -= 1
            status = faults.error_status if faults.error_code is not None else 500
            raise Refused(status, faults.error_msg)

    def handle(self, path: str, body: bytes, now: float) -> tuple[int, bytes, bool]:
        """(status, body, drop) of one request arrived at ``now``."""
        try:
            data = json.loads(body) if body else None
        except ValueError:
            raise Refused(422, BAD_JSON) from None
        if path == "/info":
            try:
                kind = data.get("type") if isinstance(data, dict) else None
                base = info.weight(str(kind))
                self.charge(base, is_action=False, now=now)
                result, weight = info.answer(self.front, data)
                self.venue.limiter.add_weight(weight - base, now)  # its per-item weight
            except SimBadRequest as exc:
                raise Refused(exc.status, str(exc)) from None
            return 200, dumps(result), False
        action = data.get("action") if isinstance(data, dict) else None
        cost = exchange.weight(action) if isinstance(action, dict) else 1
        self.charge(cost, is_action=True, now=now)
        try:
            result = exchange.execute(self.front, data)
        except (ProtocolError, SimBadRequest) as exc:
            raise Refused(422, f"{BAD_JSON}: {exc}") from None
        faults = self.venue.faults
        if faults.order_drop > 0:
            faults.order_drop -= 1
            return 200, b"", True
        if faults.order_5xx > 0:
            faults.order_5xx -= 1
            return 502, b"Bad Gateway (injected): the action may have executed", False
        return 200, dumps(result), False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        v = self.venue
        body = await read_body(receive, v.config.max_body_bytes)
        latency = v.config.latency_s
        if latency:
            await trio.sleep(latency)
        now = trio.current_time()
        path, method = scope["path"], scope["method"]
        headers: list[tuple[bytes, bytes]] = []
        drop = False
        refused: RateLimitHit | None = None
        refused_deadman = False  # a scheduleCancel refused before it armed
        try:
            if body is None:
                raise Refused(413, "Request body too large.")
            if method != "POST" or path not in ("/info", "/exchange"):
                raise Refused(404 if path not in ("/info", "/exchange") else 405, "Not Found")
            status, out, drop = self.handle(path, body, now)
        except RateLimitHit as hit:
            refused = hit
            r = limit_refusal(hit)
            status, out, headers = r.status, r.text.encode(), r.headers
        except Refused as r:
            status, out, headers = r.status, r.text.encode(), r.headers
            # a 5xx refusal is the error fault's, raised before the action runs (an order
            # fault's 502 comes after it: that scheduleCancel armed)
            refused_deadman = r.status >= 500 and path == "/exchange" and _schedules(body)
        except Exception:  # the sim's own bug: a 500, never a dead server
            self.internal_errors += 1
            status, out = 500, b"Internal Server Error"
            traceback.print_exc()
        hold = latency + v.faults.take_delay(v.true_ms())
        if hold:
            if status == 429:
                v.limiter.answer_held(now)
            if not await hold_answer(receive, hold):
                return  # the client gave up on it (a timeout): the answer is never read
        if status == 429:
            v.limiter.answer_sent(trio.current_time() + latency, refused)
        answer_left(refused, v.true_ms())
        if refused_deadman:
            v.refresh_refused()
        if drop:
            with trio.move_on_after(DROP_HOLD_S):
                while (await receive())["type"] != "http.disconnect":
                    pass
            return
        await respond(send, status, out, headers)
