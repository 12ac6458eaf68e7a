"""One loopback port for a front end's REST app and its websockets.

Some clients derive the websocket URL from the REST base: Hyperliquid's official SDK connects
to ``"ws" + base_url[4:] + "/ws"``, the same host and port as ``/info`` and ``/exchange``, as
on the real venue. A front end that says ``ws_on_rest_port = True`` is served here: each
accepted connection's request head is read, then a websocket upgrade goes to the front end's
own websocket server (:mod:`mmtrio.sim.wsserve`, the same code as the separate websocket
port: pings with a pong deadline, stalls, faults) and anything else to Hypercorn, with the
bytes already read put back in front of the stream.

Why not Hypercorn's ASGI websocket: it exposes no ping/pong frames (the wsserve docstring).
Why not a byte proxy to a hidden Hypercorn port: every REST request would pay a second
loopback hop. Hypercorn's public ``serve`` binds and accepts on its own sockets, so this
module runs Hypercorn's per-connection handler (``TCPServer``, what ``serve`` runs for each
accepted connection) itself. The REST apps' ASGI lifespan does nothing, so none is run.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from hypercorn.app_wrappers import ASGIWrapper
from hypercorn.config import Config
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext

MAX_HEAD = 64 * 1024  # a longer head is Hypercorn's to refuse (431)
_log = logging.getLogger("mmtrio.sim.door")
WsHandler = Callable[[trio.abc.Stream], Awaitable[None]]


class Replayed(trio.abc.HalfCloseableStream):
    """A socket stream whose first bytes, already read, are offered again.

    ``socket`` is the socket's (Hypercorn reads the peer's address from it); there is no
    ``do_handshake``, which is how Hypercorn tells a plain stream from a TLS one."""

    def __init__(self, stream: trio.SocketStream, head: bytes) -> None:
        self.transport = stream
        self.socket = stream.socket
        self._head = head

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        if self._head:
            await trio.lowlevel.checkpoint()
            cut = len(self._head) if max_bytes is None else max_bytes
            data, self._head = self._head[:cut], self._head[cut:]
            return data
        return bytes(await self.transport.receive_some(max_bytes))

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.transport.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.transport.wait_send_all_might_not_block()

    async def send_eof(self) -> None:
        await self.transport.send_eof()

    async def aclose(self) -> None:
        await self.transport.aclose()


def is_websocket_upgrade(head: bytes) -> bool:
    """Whether a request head (up to its blank line) asks for a websocket: a GET with an
    ``Upgrade: websocket`` header (the rest of the handshake is the websocket server's to
    check)."""
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"GET "):
        return False
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() == b"upgrade":
            return b"websocket" in value.strip().lower()
    return False


async def read_head(stream: trio.abc.ReceiveStream, timeout_s: float) -> bytes:
    """The bytes read until the end of a request head, ``MAX_HEAD`` or the peer's EOF (or
    what came within ``timeout_s``)."""
    buf = bytearray()
    with trio.move_on_after(timeout_s):
        while b"\r\n\r\n" not in buf and len(buf) <= MAX_HEAD:
            try:
                data = await stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                break
            if not data:
                break
            buf += data
    return bytes(buf)


class SharedPort:
    """Serves one listener: websocket upgrades to ``ws``, the rest to ``app`` (Hypercorn)."""

    def __init__(self, app: Any, ws: WsHandler, config: Config) -> None:
        self.app = ASGIWrapper(app)
        self.ws = ws
        self.config = config
        self.context = WorkerContext(None)
        self.state: dict[str, Any] = {}

    async def handle(self, stream: trio.SocketStream) -> None:
        try:
            head = await read_head(stream, self.config.keep_alive_timeout)
            if not head:
                await stream.aclose()
                return
            replayed = Replayed(stream, head)
            if is_websocket_upgrade(head):
                await self.ws(replayed)
            else:
                server = TCPServer(self.app, self.config, self.context, self.state, replayed)  # type: ignore[arg-type]
                await server.run()
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass  # the peer went away
        except Exception:  # the sim's own bug: this connection ends, never the listener
            _log.exception("connection on the shared REST/websocket port failed")


async def serve_shared_port(
    app: Any,
    ws: WsHandler,
    config: Config,
    host: str,
    port: int,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` and ``ws`` on ``host:port`` until cancelled; ``task_status`` gets
    ``[base URL]`` as Hypercorn's ``serve`` reports its binds."""
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound = listeners[0].socket.getsockname()[1]
    task_status.started([f"http://{host}:{bound}"])
    await trio.serve_listeners(SharedPort(app, ws, config).handle, listeners)
