"""The network between the bot and the simulated venue, in memory: what the deterministic
simulation (:mod:`mmtrio.chaos.dst`) gives the bot instead of sockets, and where it injects
the link faults the process harness injects with its TCP fault proxy.

- REST: :class:`MemoryTransport`, an httpx transport that calls the venue front end's ASGI
  app in the same Trio run. httpx applies no timeouts to a transport of its own, so this one
  applies the request's read timeout itself (``httpx.ReadTimeout``), as the socket transport
  does: a request the venue accepts and never answers (``order_drop``) times out the same way.
  Each answer carries a ``Date`` header of the link's virtual wall time (``epoch_ms`` + Trio's
  clock), as the process harness's HTTP server (hypercorn) stamps the machine's: Extended's
  connector takes the venue's clock from it (without one it assumed a 0 ms offset).
- Websockets: :meth:`Link.connect` (a :data:`mmtrio.venues.wsconn.Connect`) opens an
  in-memory stream pair, serves the server half with the front end's ``serve_ws`` in the
  venue's nursery and runs trio-websocket's client handshake over the other half.

Faults, per target ``rest`` | ``ws`` | ``all``:

- ``half_open(target, seconds, then)``: nothing crosses the link for ``seconds`` (bytes and
  requests wait, as in a TCP proxy that stops forwarding; a request's read timeout still runs,
  and one that timed out waiting never reaches the venue: the proxy drops the unsent bytes
  of a connection its client closed), then it comes back (``resume``)
  or every connection opened before turns out dead (``reset``: the websocket streams break,
  the waiting requests fail with ``httpx.ReadError`` — sent, outcome unknown);
- ``kill(target)``: every current connection reset now (in-flight requests fail with
  ``httpx.ReadError``, websocket streams break);
- :meth:`Link.sever` (kill -9 of the bot): everything breaks at once and nothing new
  connects; the venue sees the connections drop, as when a process dies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

import httpx
import trio
import trio.testing
from trio_websocket import ConnectionClosed, WebSocketConnection, wrap_client_stream

TARGETS = ("rest", "ws")


def _targets(target: str) -> tuple[str, ...]:
    return TARGETS if target == "all" else (target,)


@dataclass
class _Silence:
    over: trio.Event = field(default_factory=trio.Event)
    reset: bool = False


class LinkStream(trio.abc.Stream):
    """The bot's half of one in-memory websocket connection, subject to the link's faults."""

    def __init__(
        self,
        link: Link,
        inner: trio.StapledStream[trio.testing.MemorySendStream, trio.testing.MemoryReceiveStream],
    ) -> None:
        self.link = link
        self.inner = inner
        self.broken = False

    async def _wait_link(self) -> None:
        silence = self.link.silent.get("ws")
        while silence is not None:
            await silence.over.wait()
            silence = self.link.silent.get("ws")
        if self.broken:
            raise trio.BrokenResourceError("connection reset (simulated link fault)")

    def break_now(self) -> None:
        """Reset: both halves fail from now on (the venue's handler ends too)."""
        self.broken = True
        self.inner.send_stream.close()
        self.inner.receive_stream.close()

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        # Never waits on a silence: a half-open TCP link takes the bytes (into buffers) and
        # delivers none; the receiving side holds them (:meth:`receive_some`, :class:`_Held`).
        if self.broken:
            raise trio.BrokenResourceError("connection reset (simulated link fault)")
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        await self._wait_link()
        data: bytes | bytearray = await self.inner.receive_some(max_bytes)
        await self._wait_link()  # bytes that arrived during a silence wait for its end
        return data

    async def aclose(self) -> None:
        self.inner.send_stream.close()
        self.inner.receive_stream.close()
        await trio.lowlevel.checkpoint()


class _Held(trio.abc.Stream):
    """The venue's half of a connection: what the bot sent arrives only when the link is
    not silent (the bot's half, :class:`LinkStream`, holds the other direction)."""

    def __init__(self, link: Link, inner: trio.abc.Stream) -> None:
        self.link = link
        self.inner = inner

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        data: bytes | bytearray = await self.inner.receive_some(max_bytes)
        silence = self.link.silent.get("ws")
        while silence is not None:
            await silence.over.wait()
            silence = self.link.silent.get("ws")
        return data

    async def aclose(self) -> None:
        await self.inner.aclose()


class Link:
    """The network of one bot incarnation (a new bot gets a new link)."""

    def __init__(
        self,
        rest_app: Any,
        serve_ws: Callable[[trio.abc.Stream], Awaitable[None]],
        venue_nursery: trio.Nursery,
        epoch_ms: int | None = None,
    ) -> None:
        """``epoch_ms``: the wall time Trio's time 0 stands for, to date the answers (none
        when None)."""
        self.rest = MemoryTransport(self, rest_app, epoch_ms)
        self._serve_ws = serve_ws
        self._venue_nursery = venue_nursery
        self.streams: list[LinkStream] = []
        self.in_flight: set[trio.CancelScope] = set()
        self.killed_scopes: set[trio.CancelScope] = set()
        self.silent: dict[str, _Silence] = {}
        self.dead = False

    # --- faults ---------------------------------------------------------------------------
    def kill(self, target: str) -> None:
        """Reset every current connection of ``target`` now."""
        for t in _targets(target):
            if t == "ws":
                for s in self.streams:
                    s.break_now()
                self.streams = []
            else:
                for scope in self.in_flight:
                    self.killed_scopes.add(scope)
                    scope.cancel()

    def half_open(self, target: str) -> Callable[[bool], None]:
        """Stop forwarding on ``target``; returns ``end(reset)`` that ends the silence."""
        silences = {t: _Silence() for t in _targets(target) if t not in self.silent}
        self.silent.update(silences)

        def end(reset: bool) -> None:
            if reset:  # every connection that lived through the silence turns out dead
                for t in silences:
                    self.kill(t)
            for t, s in silences.items():
                s.reset = reset
                if self.silent.get(t) is s:
                    del self.silent[t]
                s.over.set()

        return end

    def sever(self) -> None:
        """kill -9: every connection breaks and no new one opens."""
        self.dead = True
        self.kill("all")
        for s in self.silent.values():
            s.over.set()
        self.silent.clear()

    async def wait_rest(self) -> bool:
        """Wait out a REST silence; True when the request may go on, False when reset."""
        silence = self.silent.get("rest")
        if silence is None:
            return True
        await silence.over.wait()
        return not silence.reset

    # --- websockets -----------------------------------------------------------------------
    @asynccontextmanager
    async def connect(
        self,
        url: str,
        *,
        connect_timeout: float,
        extra_headers: list[tuple[bytes, bytes]] | None = None,
    ) -> AsyncIterator[WebSocketConnection]:
        """A :data:`mmtrio.venues.wsconn.Connect` over an in-memory stream pair."""
        if self.dead:
            raise OSError("connection refused (simulated: the bot was killed)")
        parts = urlsplit(url)
        resource = parts.path + (f"?{parts.query}" if parts.query else "")
        client, server = trio.testing.memory_stream_pair()
        stream = LinkStream(self, client)
        self.streams.append(stream)
        self._venue_nursery.start_soon(self._serve, _Held(self, server))
        try:
            async with trio.open_nursery() as nursery:
                with trio.fail_after(connect_timeout):
                    ws = await wrap_client_stream(
                        nursery, stream, parts.hostname or "sim", resource or "/",  # type: ignore[arg-type]
                        extra_headers=extra_headers,
                    )  # fmt: skip
                try:
                    yield ws
                finally:
                    # As trio-websocket's own ``open_websocket`` closes (unshielded): a
                    # cancelled bot does not wait for the venue's answer to its close. This
                    # was shielded for up to 1 s, which the bots that run live never wait:
                    # DST seed 111607, a journal-full stop began 1 s late, three sockets each
                    # waiting out the venue's late close answer, and took 6.7 s of its 6.5.
                    with trio.move_on_after(1.0):
                        await ws.aclose()
                    nursery.cancel_scope.cancel()
        finally:
            if stream in self.streams:
                self.streams.remove(stream)
            await stream.aclose()

    async def _serve(self, server: trio.abc.Stream) -> None:
        try:
            await self._serve_ws(server)
        except* (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionClosed):
            # The bot's side went away (a reset, a kill): a dropped connection. ``except*``:
            # a handler that serves from its own nursery raises it inside an ExceptionGroup,
            # which a plain ``except`` let through to the venue's nursery now and then.
            pass
        finally:
            await server.aclose()


class MemoryTransport(httpx.AsyncBaseTransport):
    """httpx → the front end's ASGI app, in this Trio run (see the module docstring)."""

    def __init__(self, link: Link, app: Any, epoch_ms: int | None = None) -> None:
        self.link = link
        self.asgi = httpx.ASGITransport(app=app)
        self.epoch_ms = epoch_ms

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        link = self.link
        if link.dead:
            raise httpx.ConnectError("connection refused (simulated: the bot was killed)")
        timeout = request.extensions.get("timeout", {}).get("read")
        reset = False
        with trio.CancelScope() as scope:
            # The read timeout runs from the send, through a silent link too: a request sent
            # into a half-open connection gets no answer and times out, as over the process
            # harness's TCP proxy (it used to wait out the whole silence: a dead-man refresh
            # stalled 12 s where a socket gives up after the request timeout).
            if timeout is not None:
                scope.deadline = trio.current_time() + float(timeout)
            link.in_flight.add(scope)
            try:
                if await link.wait_rest():
                    response = await self.asgi.handle_async_request(request)
                    await response.aread()
                    # an answer held by a silence that ended in reset never arrives
                    reset = not await link.wait_rest()
                else:
                    reset = True
            finally:
                link.in_flight.discard(scope)
        if scope in link.killed_scopes:
            link.killed_scopes.discard(scope)
            raise httpx.ReadError("connection reset by peer (simulated link fault)")
        if scope.cancelled_caught:
            raise httpx.ReadTimeout("timed out waiting for the venue's answer (simulated)")
        if reset:
            raise httpx.ReadError("connection reset during a silent link (simulated)")
        if self.epoch_ms is not None and "date" not in response.headers:
            # RFC 9110's IMF-fixdate, whole seconds, as an HTTP server stamps its answers
            now_s = self.epoch_ms / 1000 + trio.current_time()
            response.headers["date"] = formatdate(now_s, usegmt=True)
        return response
