"""The simulated venue's websocket server: wsproto over any Trio stream, venue-neutral.

Why not the ASGI websocket of Hypercorn: ASGI exposes no ping/pong frames, and Hypercorn
answers pings itself, so the server could neither ping with a pong deadline nor inject the
"stop answering pings" fault. A sans-I/O wsproto connection per stream gives full control
of frames, stalls and closes, and is also the faster path.  `mmtrio sim` listens for
websockets on their own loopback port (real venues serve them on a different host than REST,
too; :mod:`mmtrio.sim.server`); :func:`serve_ws_connection` serves one connection over any
``trio.abc.Stream`` (a socket, or an in-memory stream in a deterministic run).

What is venue-specific comes from the front end's :class:`WsProtocol`: which request paths
open which streams (``open``), and what to answer a client's own messages (``on_message``:
subscribe requests, order entry). This module does the handshake, the outgoing queue with
network latency and stalls, the server's pings with a pong deadline, and the close.
"""

from __future__ import annotations

import contextlib
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

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

from mmtrio.sim.hub import StreamConn

if TYPE_CHECKING:
    from mmtrio.sim.venue import SimVenue

HANDSHAKE_TIMEOUT_S = 10.0


class WsRejected(Exception):
    """Refuse a websocket handshake: HTTP ``status`` with a rendered ``body``."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(body.decode(errors="replace"))
        self.status = status
        self.body = body


class WsProtocol(Protocol):
    """A front end's websocket protocol."""

    def open(self, target: str) -> StreamConn:
        """A new connection for the request target (path and query), not yet registered:
        its ``names`` (topic -> stream name) and ``user`` say what it receives; raise
        :class:`WsRejected` to refuse the handshake."""
        ...

    async def on_message(self, conn: StreamConn, data: str | bytes) -> list[str]:
        """A client's message (text or binary frame): the text frames to answer with."""
        ...


# Two optional hooks of a protocol, looked up by name (most protocols need neither):
# ``open_request(target, headers)`` replaces ``open`` for a protocol that authenticates by
# handshake headers (Extended's X-Api-Key); ``welcome(conn)`` offers what a stream starts with
# (a book snapshot, the account's state). ``welcome`` runs right after the connection is
# registered with the hub, in the same synchronous step: everything published after the
# snapshot's state reaches the connection, and nothing published before it does. Offered in
# ``open`` instead, the snapshot would be taken before the handshake's answer is sent, and a
# delta published during that send would be lost (the client sees a gap: seq 51, then 54).


class _Session:
    """One accepted websocket: reader, writer, pinger and closer tasks share one socket."""

    def __init__(
        self,
        venue: SimVenue,
        protocol: WsProtocol,
        stream: trio.abc.Stream,
        ws: WSConnection,
        conn: StreamConn,
    ) -> None:
        self.venue = venue
        self.protocol = protocol
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
                ws.receive_data(bytes(data))
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
                elif isinstance(event, TextMessage | BytesMessage):
                    payload = event.data if isinstance(event.data, str) else bytes(event.data)
                    for reply in await self.protocol.on_message(self.conn, payload):
                        await self.send(TextMessage(data=reply))
                elif isinstance(event, CloseConnection):
                    await self.send(event.response())
                    self.conn.close("client closed")
                    return

    async def closer(self, nursery: trio.Nursery) -> None:
        await self.conn.closed.wait()
        with trio.move_on_after(1):  # let the writer finish what it already took
            await self.writer_idle.wait()
        if not self.conn.overflowed:
            # Flush what was queued before the close (e.g. a session-expired notice precedes it),
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


async def serve_ws_connection(
    venue: SimVenue, protocol: WsProtocol, stream: trio.abc.Stream
) -> None:
    """Serve one connection: handshake, then the session tasks until it closes."""
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
                    ws.receive_data(bytes(data))
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
            # A protocol that authenticates by handshake headers (Extended's X-Api-Key) reads
            # them through ``open_request``; the others need the target only.
            open_request = getattr(protocol, "open_request", None)
            if open_request is not None:
                conn = open_request(request.target, list(request.extra_headers))
            else:
                conn = protocol.open(request.target)
        except WsRejected as rej:
            body = rej.body
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
        try:
            await stream.send_all(ws.send(AcceptConnection()))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return
        # Registered after the handshake's answer (registering before it, a market message
        # could be queued ahead of the 101: it broke the book-consistency test). The
        # first messages are offered with the registration, with no await between them (see
        # the optional hooks after WsProtocol).
        venue.hub.add(conn)
        welcome = getattr(protocol, "welcome", None)
        if welcome is not None:
            welcome(conn)
        try:
            session = _Session(venue, protocol, stream, ws, conn)
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
