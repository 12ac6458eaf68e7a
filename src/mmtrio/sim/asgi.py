"""Small raw-ASGI helpers shared by the admin app and the front ends' REST apps.

No framework: one dict lookup per request is all routing needs, and a raw ASGI app is served
by Hypercorn on loopback or called in-process (an httpx ASGI transport) the same way.
"""

from __future__ import annotations

import trio

from mmtrio.sim.frontend import Receive, Scope, Send

JSON_HEADERS: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json")]


def header(scope: Scope, name: bytes) -> str | None:
    """A request header by its lower-case name (None when absent)."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit`` (→ 413)."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b""
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def hold_answer(receive: Receive, seconds: float) -> bool:
    """Hold an answer ``seconds`` on its way out (latency, a ``delay`` fault). False when the
    client went away meanwhile: its request timed out and it closed the connection, so the
    answer is never read (a held 429 then told the client nothing; see
    :meth:`~mmtrio.sim.limits.RateLimiter.answer_sent`). Called in-process (an httpx ASGI
    transport), a client's timeout cancels the app itself and this never returns."""
    with trio.move_on_after(seconds):
        while (await receive())["type"] != "http.disconnect":
            pass
        return False
    return True


async def respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": JSON_HEADERS + headers})
    await send({"type": "http.response.body", "body": body})


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
