"""OKX's WebSocket protocol on the shared server (:mod:`mmtrio.sim.wsserve`).

Paths: ``/ws/v5/public`` (market channels), ``/ws/v5/private`` (login, private channels,
order ops) and the root path, which serves both (a convenience of the sim). Client messages:

- the text ``ping`` → ``pong`` (OKX's keep-alive; not answered under the ``ws_no_pong``
  fault);
- ``{"op": "login", "args": [...]}`` → ``{"event": "login", "code": "0"}`` or an ``error``
  event with OKX's 600xx code (:mod:`.auth`); a logged-in connection receives the private
  pushes (all of them: the sim does not filter by the private channels subscribed, which
  only matters to a client that subscribes to some and not others);
- ``subscribe``/``unsubscribe`` with ``args`` ``[{"channel", "instId" | "instType" | "ccy"}]``
  → one ``{"event": "subscribe", "arg"}`` per channel; ``books`` then gets its snapshot,
  ``books5``, ``bbo-tbt``, ``tickers`` (:mod:`.quotes`), ``mark-price``, ``funding-rate``,
  ``positions`` and ``account`` their current state;
- order ops ``order``, ``batch-orders``, ``amend-order``, ``batch-amend-orders``,
  ``cancel-order``, ``batch-cancel-orders`` with an ``id`` → ``{"id", "op", "code", "msg",
  "data"}`` (per-order ``sCode``; :mod:`.trade`), after the network latency each way, under
  the same limits as REST and the ``order_5xx``/``order_drop`` faults. A logged-in
  connection that sent one is an order-entry socket: the websocket faults' target
  ``orders`` (as Binance's ws-fapi); every logged-in connection is ``user``.

Anything else gets an ``{"event": "error"}`` answer with OKX's code (60012 invalid request,
60018 no such channel, 60011 please log in, 60008 no login on the public path).
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import trio

from mmtrio.sim.hub import StreamConn
from mmtrio.sim.limits import RateLimitHit
from mmtrio.sim.okx.auth import OkxAuthError, verify_login
from mmtrio.sim.okx.rest import SYSTEM_ERROR, Route, costs
from mmtrio.sim.okx.wire import OkxError, ops_envelope
from mmtrio.sim.wsserve import WsRejected

if TYPE_CHECKING:
    from mmtrio.sim.okx.frontend import OkxFrontEnd

MAX_CLIENT_MESSAGE = 64 * 1024
PUBLIC = frozenset(
    {"books", "books5", "bbo-tbt", "tickers", "trades", "mark-price", "funding-rate"}
)
PRIVATE = frozenset({"orders", "positions", "account"})
OPS: dict[str, Route] = {
    "order": Route("place", op="order"),
    "batch-orders": Route("batch_place", op="order", batch=True),
    "amend-order": Route("amend", op="amend"),
    "batch-amend-orders": Route("batch_amend", op="amend", batch=True),
    "cancel-order": Route("cancel", op="cancel"),
    "batch-cancel-orders": Route("batch_cancel", op="cancel", batch=True),
}
_PATHS = {"/ws/v5/public": "public", "/ws/v5/private": "private", "": "any", "/ws": "any"}


@dataclass(eq=False)
class _State:
    kind: str
    conn_id: str
    logged_in: bool = False
    channels: set[str] = field(default_factory=set)


def _event(event: str, code: str = "", msg: str = "", **extra: Any) -> str:
    out: dict[str, Any] = {"event": event}
    out.update(extra)
    if code:
        out.update(code=code, msg=msg)
    return json.dumps(out, separators=(",", ":"))


class OkxWs:
    """:class:`~mmtrio.sim.wsserve.WsProtocol` for OKX (see the module docstring)."""

    def __init__(self, front: OkxFrontEnd) -> None:
        self.front = front
        self.venue = front.venue
        self._state: weakref.WeakKeyDictionary[StreamConn, _State] = weakref.WeakKeyDictionary()
        self._next = 0
        self.answers_dropped = 0

    def open(self, target: str) -> StreamConn:
        path = urlsplit(target).path.rstrip("/")
        kind = _PATHS.get(path)
        if kind is None:
            raise WsRejected(404, json.dumps({"msg": "Not Found", "code": 404}).encode())
        conn = StreamConn.create(user=False, envelope=None, latency_s=self.venue.config.latency_s)
        self._next += 1
        self._state[conn] = _State(kind, f"{self._next:08x}")
        return conn

    def state(self, conn: StreamConn) -> _State:
        st = self._state.get(conn)
        if st is None:  # a connection not opened here (cannot happen through wsserve)
            st = self._state[conn] = _State("any", "0")
        return st

    async def on_message(self, conn: StreamConn, data: str | bytes) -> list[str]:
        if data == "ping":
            return [] if self.venue.faults.no_pong else ["pong"]
        st = self.state(conn)
        if isinstance(data, bytes) or len(data) > MAX_CLIENT_MESSAGE:
            return [_event("error", "60012", "Invalid request: a text JSON message",
                           connId=st.conn_id)]  # fmt: skip
        try:
            msg = json.loads(data)
        except ValueError:
            return [_event("error", "60012", f"Invalid request: {data[:100]}", connId=st.conn_id)]
        if not isinstance(msg, dict) or not isinstance(msg.get("op"), str):
            return [_event("error", "60012", "Invalid request: no op", connId=st.conn_id)]
        op = msg["op"]
        if op == "login":
            return self._login(conn, st, msg.get("args"))
        if op in ("subscribe", "unsubscribe"):
            return self._subscribe(conn, st, op, msg.get("args"))
        if op in OPS:
            await self._order_op(conn, st, op, msg)
            return []
        return [_event("error", "60019", f"Invalid op: {op}", connId=st.conn_id)]

    # --- login and subscriptions --------------------------------------------------------------
    def _login(self, conn: StreamConn, st: _State, args: Any) -> list[str]:
        if st.kind == "public":
            return [_event("error", "60008", "Login is not supported for public channels",
                           connId=st.conn_id)]  # fmt: skip
        try:
            verify_login(self.front.credentials, args, self.venue.wall_ms())
        except OkxAuthError as err:
            return [_event("error", err.code, err.msg, connId=st.conn_id)]
        if not st.logged_in:
            st.logged_in = True
            self.venue.hub.add_user(conn)
        return [_event("login", "0", "", connId=st.conn_id)]

    def _subscribe(self, conn: StreamConn, st: _State, op: str, args: Any) -> list[str]:
        if not isinstance(args, list) or not args or not all(isinstance(a, dict) for a in args):
            return [_event("error", "60012", "Invalid request: args", connId=st.conn_id)]
        replies: list[str] = []
        for a in args:
            channel = a.get("channel")
            err = self._check_channel(st, a)
            if err is not None:
                replies.append(err)
                continue
            replies.append(_event(op, arg=a, connId=st.conn_id))
            if channel in PUBLIC:
                topic = self.front.streams.topics[str(channel)]
                if op == "subscribe":
                    self.venue.hub.subscribe(conn, topic, str(channel))
                    self._initial(conn, str(channel))
                else:
                    self.venue.hub.unsubscribe(conn, topic)
            elif op == "subscribe":
                st.channels.add(str(channel))
                self._initial(conn, str(channel))
            else:
                st.channels.discard(str(channel))
        return replies

    def _check_channel(self, st: _State, a: dict[str, Any]) -> str | None:
        channel = a.get("channel")
        sym = self.front.symbol
        if channel in PUBLIC and st.kind != "private" and a.get("instId") == sym:
            return None
        if channel in PRIVATE and st.kind != "public":
            if not st.logged_in:
                return _event("error", "60011", "Please log in", connId=st.conn_id)
            if channel == "account" and a.get("ccy", "USDT") in ("USDT", ""):
                return None
            if a.get("instType", "SWAP") in ("SWAP", "ANY") and a.get("instId", sym) == sym:
                return None
        text = json.dumps(a, separators=(",", ":"))
        return _event("error", "60018", f"Wrong URL or channel:{text} doesn't exist",
                      connId=st.conn_id)  # fmt: skip

    def _initial(self, conn: StreamConn, channel: str) -> None:
        """What OKX pushes at once on a subscription (through the connection's queue, so it
        follows whatever was queued before it)."""
        streams = self.front.streams
        quotes = streams.quotes
        push: dict[str, Any] | None = {
            "books": streams.books_snapshot,
            "books5": lambda: quotes.snapshot("books5"),
            "bbo-tbt": lambda: quotes.snapshot("bbo-tbt"),
            "tickers": lambda: quotes.snapshot("tickers"),
            "mark-price": streams.mark_push,
            "funding-rate": streams.funding_push,
            "positions": streams.positions_push,
            "account": lambda: {
                "arg": {"channel": "account", "ccy": "USDT"},
                "data": [streams.account_row()],
            },
        }.get(channel, lambda: None)()
        if push is not None:
            conn.offer(json.dumps(push, separators=(",", ":")))

    # --- order ops ------------------------------------------------------------------------------
    async def _order_op(self, conn: StreamConn, st: _State, op: str, msg: dict[str, Any]) -> None:
        venue = self.venue
        req_id = msg.get("id")
        args = msg.get("args")
        if venue.config.latency_s:  # the request's way in
            await trio.sleep(venue.config.latency_s)
        answer: dict[str, Any]
        route = OPS[op]
        drop = False
        if st.logged_in:  # it enters orders: the ws faults' target "orders" (and "all")
            venue.hub.orders.add(conn)
        if not isinstance(req_id, str) or not req_id or len(req_id) > 32:
            answer = {"code": "60013", "msg": "Invalid args: id", "data": []}
        elif not st.logged_in:
            answer = {"code": "60011", "msg": "Please log in", "data": []}
        elif not isinstance(args, list) or not args:
            answer = {"code": "60013", "msg": "Invalid args", "data": []}
        else:
            body: Any = args if route.batch else args[0]
            try:
                if not route.batch and len(args) != 1:
                    raise OkxError("60013", "Invalid args: one order")
                self.front.limiter.charge(costs(route, body), trio.current_time(), venue.true_ms())
                results = self.front.trading.run(route.op, body)
            except OkxError as err:
                answer = {"code": err.code, "msg": err.msg, "data": []}
            except RateLimitHit:
                answer = {"code": "50011", "msg": "Rate limit reached.", "data": []}
            else:
                answer = ops_envelope(results)
                faults = venue.faults
                if faults.order_drop > 0:
                    faults.order_drop -= 1
                    drop = True
                elif faults.order_5xx > 0:
                    faults.order_5xx -= 1
                    answer = {"code": SYSTEM_ERROR[0], "msg": SYSTEM_ERROR[1], "data": []}
        if drop:
            self.answers_dropped += 1
            return
        now = str(venue.true_ms() * 1000)
        answer = {"id": req_id if isinstance(req_id, str) else "", "op": op, **answer,
                  "inTime": now, "outTime": now}  # fmt: skip
        conn.offer(json.dumps(answer, separators=(",", ":")))
