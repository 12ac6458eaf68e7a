"""The simulated venue's websocket server: wsproto over Trio TCP streams.

Why not the ASGI websocket of Hypercorn: ASGI exposes no ping/pong frames, and Hypercorn
answers pings itself, so the server could neither ping with a pong deadline nor inject the
"stop answering pings" fault. A sans-I/O wsproto connection per socket gives full control
of frames, stalls and closes, and is also the faster path. It listens on its own loopback
port (real Binance serves websockets on a different host than REST, too).

Paths: ``/ws/<stream>[/<stream>…]`` and ``/public|market/ws/…`` (raw payloads),
``/stream?streams=a/b`` and ``/public|market/stream?streams=…`` (combined envelopes),
``/private/ws?listenKey=K`` and ``/private/stream?listenKey=K`` (user data; the legacy form
is the listen key as a stream name). Any known market stream is accepted on any market
path (the sim does not enforce Binance's traffic-class split). Client ``SUBSCRIBE``,
``UNSUBSCRIBE`` and ``LIST_SUBSCRIPTIONS`` are supported; anything else gets an error frame.
``SUBSCRIBE ["<listenKey>"]`` makes the connection a user-data stream: the official Binance
SDK opens ``/private/stream`` bare and subscribes so (issue #20, finding 7: refused as an
unknown stream, that client got no user events); events then arrive as
``{"stream": "<listenKey>", "data": …}``.
"""

from __future__ import annotations

import contextlib
import json
from collections import deque
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from mmtrio.sim.hub import StreamConn, canonical_stream

if TYPE_CHECKING:
    from mmtrio.sim.venue import SimVenue

HANDSHAKE_TIMEOUT_S = 10.0
MAX_CLIENT_MESSAGE = 64 * 1024


class _Reject(Exception):
    def __init__(self, status: int, msg: str) -> None:
        super().__init__(msg)
        self.status = status
        self.msg = msg


class _Session:
    """One accepted websocket: reader, writer, pinger and closer tasks share one socket."""

    def __init__(
        self, venue: SimVenue, stream: trio.SocketStream, ws: WSConnection, conn: StreamConn
    ) -> None:
        self.venue = venue
        self.stream = stream
        self.ws = ws
        self.conn = conn
        self.lock = trio.Lock()
        self.pong = trio.Event()
        self.writer_idle = trio.Event()  # set while the writer holds no unsent message
        self.writer_idle.set()
        self.later: deque[tuple[float, str]] = deque()  # taken from the queue, not yet due

    async def send(self, event: Any) -> None:
        try:
            data = self.ws.send(event)
        except LocalProtocolError:
            self.conn.close("protocol state does not allow sending")
            return
        async with self.lock:
            try:
                await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self.conn.close("peer went away")

    async def writer(self) -> None:
        conn = self.conn
        later = self.later
        while True:
            if not later:
                self.writer_idle.set()
                later.append(await conn.receive.receive())
            if self.writer_idle.is_set():
                self.writer_idle = trio.Event()
            if later[0][0] > trio.current_time():  # network latency: not due yet
                await trio.sleep_until(later[0][0])
            if conn.stall_until > trio.current_time():
                await trio.sleep_until(conn.stall_until)
            while len(later) < 256:
                try:
                    later.append(conn.receive.receive_nowait())
                except trio.WouldBlock:
                    break
            # Send what is due; what was offered since waits for its own time. Every message
            # has the same latency, so this keeps the order they were offered in. (The closer
            # may have flushed ``later`` while this task slept: then there is nothing to do.)
            now = trio.current_time()
            batch: list[str] = []
            while later and later[0][0] <= now:
                batch.append(later.popleft()[1])
            if not batch:
                continue
            try:
                data = b"".join(self.ws.send(TextMessage(data=text)) for text in batch)
            except LocalProtocolError:  # closing: nothing more may be sent
                return
            async with self.lock:
                try:
                    await self.stream.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    conn.close("peer went away")
                    return

    async def pinger(self) -> None:
        n = 0
        while True:
            await trio.sleep(self.venue.config.ping_interval_s)
            n += 1
            self.pong = trio.Event()
            await self.send(Ping(payload=str(n).encode()))
            with trio.move_on_after(self.venue.config.pong_timeout_s):
                await self.pong.wait()
            if not self.pong.is_set():
                self.conn.close("no pong within the deadline")
                return

    async def reader(self) -> None:
        ws = self.ws
        while True:
            try:
                data = await self.stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                data = b""
            if not data:
                self.conn.close("peer closed the connection")
                return
            try:
                ws.receive_data(data)
                events = list(ws.events())
            except RemoteProtocolError:
                self.conn.close("websocket protocol error from the client")
                return
            for event in events:
                if isinstance(event, Ping):
                    if not self.venue.faults.no_pong:
                        await self.send(event.response())
                elif isinstance(event, Pong):
                    self.pong.set()
                elif isinstance(event, TextMessage):
                    await self.on_client_message(event.data)
                elif isinstance(event, BytesMessage):
                    await self.error(None, "binary frames are not supported")
                elif isinstance(event, CloseConnection):
                    await self.send(event.response())
                    self.conn.close("client closed")
                    return

    async def error(self, req_id: Any, msg: str) -> None:
        await self.send(
            TextMessage(data=json.dumps({"error": {"code": 2, "msg": msg}, "id": req_id}))
        )

    async def on_client_message(self, text: str) -> None:
        """SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS; garbage gets an error frame."""
        if len(text) > MAX_CLIENT_MESSAGE:
            await self.error(None, "Invalid request: message too large")
            return
        try:
            msg = json.loads(text)
        except ValueError:
            await self.error(None, "Invalid JSON: the message is not valid JSON")
            return
        if not isinstance(msg, dict):
            await self.error(None, "Invalid request: expected a JSON object")
            return
        req_id = msg.get("id")
        method = msg.get("method")
        params = msg.get("params", [])
        if method == "LIST_SUBSCRIPTIONS":
            names = sorted(self.conn.names.values())
            if self.conn in self.venue.hub.users:
                names.append(self.conn.listen_key)
            await self.send(TextMessage(data=json.dumps({"result": names, "id": req_id})))
            return
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE") or not isinstance(params, list):
            await self.error(req_id, "Invalid request: unknown method or params not a list")
            return
        hub = self.venue.hub
        symbols = {self.venue.sym_lower}
        pairs = []
        user_key: str | None = None
        for name in params:
            canonical = canonical_stream(name, symbols) if isinstance(name, str) else None
            if canonical is None and isinstance(name, str) and name == self.venue.listen_key:
                user_key = name  # the user stream by its listen key (the official SDK's way)
                continue
            if canonical is None:
                await self.error(req_id, f"Invalid request: unknown stream {name!r}")
                return
            pairs.append((canonical, name))
        for canonical, name in pairs:
            if method == "SUBSCRIBE":
                hub.subscribe(self.conn, canonical, name)
            else:
                hub.unsubscribe(self.conn, canonical)
        if user_key is not None:
            if method == "SUBSCRIBE":
                self.conn.user, self.conn.listen_key = True, user_key
                hub.add_user(self.conn)
            else:
                hub.remove_user(self.conn)
        await self.send(TextMessage(data=json.dumps({"result": None, "id": req_id})))

    async def closer(self, nursery: trio.Nursery) -> None:
        await self.conn.closed.wait()
        with trio.move_on_after(1):  # let the writer finish what it already took
            await self.writer_idle.wait()
        if not self.conn.overflowed:
            # Flush what was queued before the close (e.g. listenKeyExpired precedes the close),
            # at once: latency does not hold a closing connection open.
            pending = [text for _, text in self.later]
            self.later.clear()
            while True:
                try:
                    pending.append(self.conn.receive.receive_nowait()[1])
                except trio.WouldBlock:
                    break
            for text in pending:
                await self.send(TextMessage(data=text))
        with trio.move_on_after(1):
            await self.send(CloseConnection(code=1000, reason=self.conn.close_reason[:100]))
        nursery.cancel_scope.cancel()


def _plan(venue: SimVenue, target: str) -> tuple[bool, list[tuple[str, str]], bool]:
    """(combined, [(canonical, name)], user) for a request path, or raise _Reject."""
    parts = urlsplit(target)
    path = parts.path.rstrip("/")
    query = parse_qs(parts.query)
    symbols = {venue.sym_lower}
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
        raise _Reject(404, f"unknown websocket path {parts.path!r}")
    names.extend(query.get("listenKey", []))
    user = False
    pairs: list[tuple[str, str]] = []
    for name in names:
        canonical = canonical_stream(name, symbols)
        if canonical is not None:
            pairs.append((canonical, name))
        elif venue.listen_key is not None and name == venue.listen_key:
            user = True
        elif "@" in name:
            raise _Reject(400, f"unknown stream {name!r}")
        else:
            raise _Reject(401, "invalid or expired listenKey")
    return combined, pairs, user


async def handle_connection(venue: SimVenue, stream: trio.SocketStream) -> None:
    """Serve one TCP connection: handshake, then the session tasks until it closes."""
    ws = WSConnection(ConnectionType.SERVER)
    request: Request | None = None
    async with stream:
        with trio.move_on_after(HANDSHAKE_TIMEOUT_S):
            while request is None:
                try:
                    data = await stream.receive_some(65536)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    return
                if not data:
                    return
                try:
                    ws.receive_data(data)
                    for event in ws.events():
                        if isinstance(event, Request):
                            request = event
                except RemoteProtocolError as exc:
                    if exc.event_hint is not None:
                        with contextlib.suppress(
                            trio.BrokenResourceError, trio.ClosedResourceError, LocalProtocolError
                        ):
                            await stream.send_all(ws.send(exc.event_hint))
                    return
        if request is None:
            return
        try:
            combined, pairs, user = _plan(venue, request.target)
        except _Reject as rej:
            body = json.dumps({"code": -1000, "msg": rej.msg}).encode()
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await stream.send_all(
                    ws.send(
                        RejectConnection(
                            status_code=rej.status,
                            headers=[(b"content-type", b"application/json")],
                            has_body=True,
                        )
                    )
                    + ws.send(_reject_data(body))
                )
            return
        conn = StreamConn.create(
            user=user,
            combined=combined,
            latency_s=venue.config.latency_s,
            queue=venue.config.stream_queue,
        )
        conn.listen_key = venue.listen_key or ""
        try:
            await stream.send_all(ws.send(AcceptConnection()))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return
        for canonical, name in pairs:
            venue.hub.subscribe(conn, canonical, name)
        if user:
            venue.hub.add_user(conn)
        session = _Session(venue, stream, ws, conn)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(session.reader)
                nursery.start_soon(session.writer)
                nursery.start_soon(session.pinger)
                nursery.start_soon(session.closer, nursery)
        finally:
            venue.hub.remove(conn)


def _reject_data(body: bytes) -> Any:
    from wsproto.events import RejectData

    return RejectData(data=body, body_finished=True)


async def serve_websockets(
    venue: SimVenue,
    host: str,
    port: int,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen on ``host:port`` (0 = any free port); report the bound port via task_status."""
    listeners = await trio.open_tcp_listeners(port, host=host)
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(partial(handle_connection, venue), listeners)
