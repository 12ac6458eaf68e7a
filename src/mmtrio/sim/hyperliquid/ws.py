"""Hyperliquid's websocket (``/ws``) on the shared server (:mod:`mmtrio.sim.wsserve`).

Client messages: ``{"method": "subscribe"|"unsubscribe", "subscription": {...}}`` answered
on channel ``subscriptionResponse`` (``l2Book``, ``trades``, ``bbo``, ``activeAssetCtx``,
``candle`` (an interval of :mod:`.candles`; the current candle at once, then after each
trade) of the coin; ``allMids`` (the mid at once, then whenever a block moves it);
``orderUpdates``, ``userFills``, ``userEvents`` of a user: the paper account's events,
nothing for any other address); ``{"method": "ping"}`` answered ``{"channel": "pong"}``;
``{"method": "post", "id": n, "request": {"type": "action"|"info", "payload": ...}}``
answered on channel ``post`` with the same id, as ``/exchange`` and ``/info`` would
(weights, faults and latency included: an ``order_drop`` post is never answered, an
``order_5xx`` post is answered ``{"type": "error"}`` after the action ran; a rate-limited
post is answered ``Too many requests: … Retry after N s.``: Hyperliquid documents no wait, and
this sim states the one it enforces, as its REST answers do in a ``Retry-After`` header).
An ``l2Book`` subscription may aggregate (``nSigFigs``, ``mantissa``: :mod:`.l2`; an invalid
value is an invalid subscription); a user channel needs a 0x address of 40 hex digits.
A new ``l2Book`` subscription gets the current book at once, a ``userFills`` one the recent
fills marked ``isSnapshot``, as on the venue. Anything else gets
``{"channel": "error", "data": text}``.

User channels share the hub's user stream (so the user faults apply to them); each
connection receives only the user channels it subscribed to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import trio

from mmtrio.errors import ProtocolError
from mmtrio.sim.errors import SimBadRequest
from mmtrio.sim.hub import StreamConn
from mmtrio.sim.hyperliquid import candles, exchange, info
from mmtrio.sim.hyperliquid.candles import INTERVALS_MS
from mmtrio.sim.hyperliquid.l2 import FULL, aggregation
from mmtrio.sim.limits import RateLimitHit, answer_left
from mmtrio.sim.wsserve import WsRejected

if TYPE_CHECKING:
    from mmtrio.sim.hyperliquid.frontend import HyperliquidFrontEnd

MAX_CLIENT_MESSAGE = 256 * 1024
MARKET = ("l2Book", "trades", "bbo", "activeAssetCtx", "candle")
USER = {"orderUpdates": "orderUpdates", "userFills": "userFills", "userEvents": "user"}
_USER_PREFIXES = {name: f'{{"channel":"{name}"' for name in USER.values()}


def limit_text(detail: str, retry_after_s: int) -> str:
    """A rate-limited post's answer: ``Too many requests: … Retry after N s.``, the limiter's
    own words not prefixed twice (they mostly begin "Too many requests" already: QA saw
    "Too many requests: Too many requests (injected fault); back off. Retry after 3 s.")."""
    said = detail.strip()
    head = "" if said.lower().startswith("too many requests") else "Too many requests: "
    return f"{head}{said} Retry after {retry_after_s} s."


@dataclass(eq=False)
class HlConn(StreamConn):
    """A connection that receives only the user channels it subscribed to."""

    user_channels: set[str] = field(default_factory=set)

    def offer(self, text: str) -> None:
        for channel, prefix in _USER_PREFIXES.items():
            if text.startswith(prefix):
                if channel not in self.user_channels:
                    return
                break
        super().offer(text)


def _text(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def error(text: str) -> str:
    return _text({"channel": "error", "data": text})


class HyperliquidWs:
    """:class:`~mmtrio.sim.wsserve.WsProtocol` for Hyperliquid."""

    def __init__(self, front: HyperliquidFrontEnd) -> None:
        self.front = front
        self.venue = front.venue
        self.nursery: trio.Nursery | None = None  # the front end's run() provides it

    def open(self, target: str) -> StreamConn:
        path = urlsplit(target).path.rstrip("/")
        if path not in ("", "/ws"):
            raise WsRejected(404, b"Not Found")
        return HlConn.create(user=False, envelope=None, latency_s=self.venue.config.latency_s)

    async def on_message(self, conn: StreamConn, data: str | bytes) -> list[str]:
        if isinstance(data, bytes) or len(data) > MAX_CLIENT_MESSAGE:
            return [error("Websocket message must be JSON text")]
        try:
            msg = json.loads(data)
        except ValueError:
            return [error(f"Invalid JSON: {data[:100]}")]
        if not isinstance(msg, dict):
            return [error(f"Invalid message: {data[:100]}")]
        method = msg.get("method")
        if method == "ping":
            return [_text({"channel": "pong"})]
        if method in ("subscribe", "unsubscribe"):
            return self._subscription(conn, method, msg.get("subscription"))
        if method == "post":
            self._post(conn, msg)
            return []
        return [error(f"Unknown method: {data[:100]}")]

    # --- subscriptions ---------------------------------------------------------------------
    def _subscription(self, conn: StreamConn, method: str, sub: Any) -> list[str]:
        front, hub = self.front, self.venue.hub
        if not isinstance(sub, dict) or not isinstance(sub.get("type"), str):
            return [error(f"Invalid subscription {_text(sub)}")]
        kind = sub["type"]
        echo = _text({"channel": "subscriptionResponse",
                      "data": {"method": method, "subscription": sub}})  # fmt: skip
        out = [echo]
        if kind == "allMids":
            if method == "unsubscribe":
                hub.unsubscribe(conn, "allMids")
                return out
            hub.subscribe(conn, "allMids", kind)
            out.append(_text({"channel": "allMids", "data": {"mids": front.all_mids()}}))
            return out
        if kind in MARKET:
            if sub.get("coin") != front.coin:
                return [error(f"Invalid subscription {_text(sub)}")]
            topic = front.topic(kind)
            agg = FULL
            if kind == "candle":
                if sub.get("interval") not in INTERVALS_MS:
                    return [error(f"Invalid subscription {_text(sub)}")]
                topic = front.candle_topic(sub["interval"])
            if kind == "l2Book":
                try:
                    agg = aggregation(sub)
                except SimBadRequest:
                    return [error(f"Invalid subscription {_text(sub)}")]
                topic = front.l2_topic(agg)
            if method == "unsubscribe":
                hub.unsubscribe(conn, topic)
                return out
            hub.subscribe(conn, topic, kind)
            if kind == "l2Book":
                out.append(_text({"channel": "l2Book", "data": front.book_payload(agg)}))
            elif kind == "candle":
                latest = front.candle_feeds[topic].latest()
                if latest is not None:
                    row = candles.row(front, latest, sub["interval"], INTERVALS_MS[sub["interval"]])
                    out.append(_text({"channel": "candle", "data": row}))
            elif kind == "activeAssetCtx":
                ctx = {"coin": front.coin, "ctx": front.asset_ctx()}
                out.append(_text({"channel": "activeAssetCtx", "data": ctx}))
            return out
        channel = USER.get(kind)
        user = sub.get("user")
        if channel is None or not info.is_address(user):
            return [error(f"Invalid subscription {_text(sub)}")]
        if not front.accounts.is_account(user) or not isinstance(conn, HlConn):
            return out  # a user with no activity: confirmed, never anything to send
        if method == "unsubscribe":
            conn.user_channels.discard(channel)
            if not conn.user_channels:
                hub.users.discard(conn)
            return out
        conn.user_channels.add(channel)
        hub.add_user(conn)
        if kind == "userFills":
            fills = info.user_fills(front, {"user": user})
            data: dict[str, Any] = {
                "isSnapshot": True,
                "user": front.accounts.account,
                "fills": fills,
            }
            out.append(_text({"channel": "userFills", "data": data}))
        return out

    # --- post ------------------------------------------------------------------------------
    def _post(self, conn: StreamConn, msg: dict[str, Any]) -> None:
        if self.nursery is None:
            conn.offer(error("the venue is not running"))
            return
        self.nursery.start_soon(self._answer_post, conn, msg)

    async def _answer_post(self, conn: StreamConn, msg: dict[str, Any]) -> None:
        v = self.venue
        rid = msg.get("id")
        request = msg.get("request")
        latency = v.config.latency_s
        if latency:
            await trio.sleep(latency)  # the request's way in (the answer's way out: offer)
        if isinstance(rid, bool) or not isinstance(rid, int) or not isinstance(request, dict):
            conn.offer(error(f"Invalid post request id={rid}"))
            return
        kind, payload = request.get("type"), request.get("payload")
        response: dict[str, Any]
        drop = False
        limited = False
        refused: RateLimitHit | None = None
        now = trio.current_time()
        try:
            if kind == "info":
                ptype = payload.get("type") if isinstance(payload, dict) else None
                base = info.weight(str(ptype))
                self.front.rest.charge(base, is_action=False, now=now)
                result, weight = info.answer(self.front, payload)
                v.limiter.add_weight(weight - base, now)  # its per-item weight
                response = {"type": "info", "payload": {"type": ptype, "data": result}}
            elif kind == "action":
                action = payload.get("action") if isinstance(payload, dict) else None
                cost = exchange.weight(action) if isinstance(action, dict) else 1
                self.front.rest.charge(cost, is_action=True, now=now)
                result = exchange.execute(self.front, payload)
                response = {"type": "action", "payload": result}
                faults = v.faults
                if faults.order_drop > 0:
                    faults.order_drop -= 1
                    drop = True
                elif faults.order_5xx > 0:
                    faults.order_5xx -= 1
                    response = {"type": "error", "payload": "Internal error (injected): the "
                                "action may have executed"}  # fmt: skip
            else:
                response = {"type": "error", "payload": f"Unknown post type {kind!r}"}
        except RateLimitHit as hit:
            limited, refused = hit.status == 429, hit
            # The wait is said in words: a post has no header to carry it, and the client is
            # held to it as a REST client is to its Retry-After (a request inside it: banned).
            response = {"type": "error", "payload": limit_text(hit.detail, hit.retry_after_s)}
        except (ProtocolError, SimBadRequest) as exc:
            response = {"type": "error", "payload": f"Failed to deserialize the request: {exc}"}
        except Exception as exc:  # the sim's own bug: an answer, never a dead connection
            self.front.rest.internal_errors += 1
            response = {"type": "error", "payload": f"Internal error: {type(exc).__name__}"}
        hold = v.faults.take_delay(v.true_ms())
        if hold:
            # A 429 held back by a latency fault: until it leaves, what the client sends is in
            # flight (429, no ban), as on the REST path (chaos seed 1822 on Hyperliquid: a
            # post sent 37 ms after a post's 429, which sat 1.2 s in the fault, drew a ban).
            held = limited and v.limiter.answer_held(now)
            await trio.sleep(hold)
            if held and conn.delivers():  # a dead or muted connection's 429 is never read
                v.limiter.answer_sent(trio.current_time() + conn.latency_s, refused)
        elif limited and not conn.delivers():
            # never read all the same (ws_mute drops it, or the connection is gone): the
            # client is not told; what it sends meanwhile is in flight until a 429 reaches it
            v.limiter.answer_held(now)
        if not drop:
            if conn.delivers():  # else never read
                answer_left(refused, v.true_ms())
            conn.offer(_text({"channel": "post", "data": {"id": rid, "response": response}}))
