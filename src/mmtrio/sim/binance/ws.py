"""Binance's websocket protocol on the shared server (:mod:`mmtrio.sim.wsserve`).

Paths: ``/ws/<stream>[/<stream>…]`` and ``/public|market/ws/…`` (raw payloads),
``/stream?streams=a/b`` and ``/public|market/stream?streams=…`` (combined envelopes),
``/private/ws?listenKey=K`` and ``/private/stream?listenKey=K`` (user data; the legacy form
is the listen key as a stream name). Any known market stream is accepted on any market
path (the sim does not enforce Binance's traffic-class split). Client ``SUBSCRIBE``,
``UNSUBSCRIBE``, ``LIST_SUBSCRIPTIONS``, ``SET_PROPERTY`` and ``GET_PROPERTY`` are supported
(:mod:`.control`); anything else gets an error frame with Binance's documented code.
``SUBSCRIBE ["<listenKey>"]`` makes the connection a user-data stream: the official Binance
SDK opens ``/private/stream`` bare and subscribes so (issue #20, finding 7: refused as an
unknown stream, that client got no user events); events then arrive as
``{"stream": "<listenKey>", "data": …}``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from mmtrio.sim.binance import control, wsapi
from mmtrio.sim.binance.streams import canonical_stream, combined_envelope
from mmtrio.sim.hub import StreamConn
from mmtrio.sim.wsserve import WsRejected

if TYPE_CHECKING:
    from mmtrio.sim.binance.frontend import BinanceFrontEnd
    from mmtrio.sim.binance.listenkey import ListenKeys
    from mmtrio.sim.venue import SimVenue

MAX_CLIENT_MESSAGE = 64 * 1024


def _reject(status: int, msg: str) -> WsRejected:
    return WsRejected(status, json.dumps({"code": -1000, "msg": msg}).encode())


class BinanceWs:
    """:class:`~mmtrio.sim.wsserve.WsProtocol` for Binance's market and user streams."""

    def __init__(
        self, venue: SimVenue, listen_keys: ListenKeys, front: BinanceFrontEnd | None = None
    ) -> None:
        self.venue = venue
        self.listen_keys = listen_keys
        self.front = front  # for the order-entry WebSocket API (wsapi.py)
        self.orders = wsapi.OrderEntry(front) if front is not None else None
        self.symbols = {venue.symbol.lower()}

    def open(self, target: str) -> StreamConn:
        parts = urlsplit(target)
        path = parts.path.rstrip("/")
        if path == wsapi.PATH and self.front is not None:
            conn = StreamConn.create(
                user=False,
                envelope=None,
                latency_s=self.venue.config.latency_s,
                queue=self.venue.config.stream_queue,
            )
            self.venue.hub.orders.add(conn)  # a fault target; answered in on_message
            if self.orders is not None:
                self.orders.opened(conn)
            return conn
        query = parse_qs(parts.query)
        for prefix in ("/public", "/market", "/private"):
            if path.startswith(prefix + "/"):
                path = path[len(prefix) :]
                break
        names: list[str]
        if path == "/stream":
            combined = True
            names = [n for n in query.get("streams", [""])[0].split("/") if n]
        elif path == "/ws" or path.startswith("/ws/"):
            combined = False
            names = [n for n in path[len("/ws/") :].split("/") if n]
        else:
            raise _reject(404, f"unknown websocket path {parts.path!r}")
        names.extend(query.get("listenKey", []))
        key = self.listen_keys.key
        user = False
        pairs: dict[str, str] = {}
        for name in names:
            canonical = canonical_stream(name, self.symbols)
            if canonical is not None:
                pairs[canonical] = name
            elif key is not None and name == key:
                user = True
            elif "@" in name:
                raise _reject(400, f"unknown stream {name!r}")
            else:
                raise _reject(401, "invalid or expired listenKey")
        conn = StreamConn.create(
            user=user,
            envelope=combined_envelope if combined else None,
            latency_s=self.venue.config.latency_s,
            queue=self.venue.config.stream_queue,
        )
        conn.names.update(pairs)
        conn.user_name = key or ""
        return conn

    async def on_message(self, conn: StreamConn, data: str | bytes) -> list[str]:
        """A control message (control.py); garbage gets an error frame. On an order socket: a
        ws-fapi request (wsapi.py)."""
        if conn in self.venue.hub.orders and self.orders is not None and isinstance(data, str):
            if len(data) > MAX_CLIENT_MESSAGE:
                return [control.invalid("message too large")]
            return self.orders.receive(conn, data)
        if isinstance(data, bytes):
            return [control.invalid("binary frames are not supported")]
        if len(data) > MAX_CLIENT_MESSAGE:
            return [control.invalid("message too large")]
        msg = control.parse(data)
        if isinstance(msg, str):
            return [msg]  # the refusal
        return [control.handle(self.venue.hub, conn, self.listen_keys, self.symbols, msg)]
