"""A TCP fault proxy between the bot and the venue: half-open links and abrupt kills.

Run by the chaos harness as its own process (``python -m mmtrio.chaos.proxy``), one
listening port per upstream (the venue's REST port and its websocket port); the bot's config
points at the proxy, the harness's admin calls go to the venue directly. It prints one JSON
line ``{"rest": port, "ws": port}`` once it listens, then reads commands on stdin, one JSON
object per line, and answers each with one JSON line on stdout:

- ``{"cmd": "half_open", "target": "rest"|"ws"|"all", "seconds": S, "then": "resume"|"reset"}``
  — for S seconds nothing passes in either direction on the target's connections, old or
  new (a new connection is accepted and then hears nothing, as behind a dead route): the
  peers see a link that is up and silent. Bytes are not lost; they wait, as TCP's do for an
  unacknowledged flight. Then the link either comes back (``resume``: what waited flows) or
  turns out dead (``reset``: both sides get a TCP reset, as from a NAT that forgot the
  mapping or a peer that rebooted).
- ``{"cmd": "kill", "target": …}`` — every current connection of the target is reset at once
  (SO_LINGER 0: RST, not FIN), as a middlebox dropping state does.
- ``{"cmd": "stats"}`` — connections accepted and open per target.

Decisions: the proxy never reads a byte it cannot forward (a stalled direction stops
reading, so the kernel's buffers fill and the writer blocks, as over a dead path); it keeps
no state of the protocols it carries. EOF on stdin ends it, and with it every connection.
A connection its client closed during a silent window (a request that timed out) is reset
when the window ends, its unsent bytes dropped: a real TCP stack might still deliver them
once the path heals, but the venue would then answer a client that is gone — and the
simulated venue, stricter than Binance, bans a client for sending within the Retry-After
of a 429 it could never read. Requests that reach the venue with nobody to hear the
answer are the ``order_drop`` fault's subject, not this one's.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import socket
import struct
import sys
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import trio

BUFFER = 65_536
RESET_LINGER = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


@dataclass(eq=False)
class _Link:
    """One client connection and its upstream, with the nursery that pumps between them."""

    target: str
    client: trio.SocketStream
    upstream: trio.SocketStream | None = None
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)

    def reset(self) -> None:
        for stream in (self.client, self.upstream):
            if stream is None:
                continue
            with contextlib.suppress(OSError):  # already closed
                stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_LINGER)
        self.scope.cancel()


class FaultProxy:
    """The proxy's state: links per target and the stall windows (trio time)."""

    def __init__(self, upstreams: dict[str, tuple[str, int]]) -> None:
        self.upstreams = upstreams
        self.links: set[_Link] = set()
        self.stalled_until: dict[str, float] = dict.fromkeys(upstreams, 0.0)
        self.reset_at_end: dict[str, bool] = dict.fromkeys(upstreams, False)
        self.accepted: dict[str, int] = dict.fromkeys(upstreams, 0)
        self._window_over: dict[str, trio.Event] = {t: trio.Event() for t in upstreams}
        for ev in self._window_over.values():
            ev.set()

    def _targets(self, target: str) -> list[str]:
        if target == "all":
            return list(self.upstreams)
        if target not in self.upstreams:
            raise ValueError(f"unknown target {target!r}; use {', '.join(self.upstreams)} or all")
        return [target]

    async def gate(self, link: _Link) -> None:
        """Wait while the link's target is stalled."""
        while trio.current_time() < self.stalled_until[link.target]:
            await self._window_over[link.target].wait()

    # --- commands -------------------------------------------------------------------------
    def half_open(self, target: str, seconds: float, then: str, nursery: trio.Nursery) -> int:
        if then not in ("resume", "reset"):
            raise ValueError(f"then must be resume or reset, got {then!r}")
        if not 0 < seconds <= 600:
            raise ValueError(f"seconds must be within (0, 600], got {seconds!r}")
        for t in self._targets(target):
            self.stalled_until[t] = trio.current_time() + seconds
            self.reset_at_end[t] = then == "reset"
            # A window opened while another is in force replaces it but keeps its end event:
            # links already waiting wait on that one (chaos seed 10067: a fresh event left
            # the links stalled in the first window silent for good, as it never fired).
            if self._window_over[t].is_set():
                self._window_over[t] = trio.Event()
            nursery.start_soon(self._end_window, t, self.stalled_until[t])
        return sum(1 for link in self.links if link.target in self._targets(target))

    async def _end_window(self, target: str, until: float) -> None:
        await trio.sleep_until(until)
        if self.stalled_until[target] != until:
            return  # a later window replaced this one
        if self.reset_at_end[target]:
            self.kill(target)
        self._window_over[target].set()

    def kill(self, target: str) -> int:
        doomed = [link for link in self.links if link.target in self._targets(target)]
        for link in doomed:
            link.reset()
        return len(doomed)

    def stats(self) -> dict[str, Any]:
        return {
            "accepted": dict(self.accepted),
            "open": {t: sum(1 for lk in self.links if lk.target == t) for t in self.upstreams},
        }

    # --- data path ------------------------------------------------------------------------
    async def _pump(self, link: _Link, src: trio.SocketStream, dst: trio.SocketStream) -> None:
        try:
            while True:
                if await self._held(link, src):
                    return
                data = await src.receive_some(BUFFER)
                if not data:
                    # the sender closed its side: pass the FIN on, keep the other direction
                    await dst.send_eof()
                    return
                if await self._held(link, src):
                    return
                await dst.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            link.scope.cancel()  # a peer went away: the link ends, both sides closed

    async def _held(self, link: _Link, src: trio.SocketStream) -> bool:
        """Wait out a silent window; True when the client abandoned the link meanwhile (it is
        then reset, see the module docstring)."""
        if trio.current_time() >= self.stalled_until[link.target]:
            return False
        await self.gate(link)
        if src is link.client and _abandoned(src):
            link.reset()
            return True
        return False

    async def serve(self, target: str, client: trio.SocketStream) -> None:
        link = _Link(target, client)
        self.accepted[target] += 1
        self.links.add(link)
        try:
            with link.scope:
                await self.gate(link)  # a dead route: the connection hears nothing yet
                host, port = self.upstreams[target]
                link.upstream = await trio.open_tcp_stream(host, port)
                async with trio.open_nursery() as pumps:
                    pumps.start_soon(self._pump, link, client, link.upstream)
                    pumps.start_soon(self._pump, link, link.upstream, client)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass  # a peer went away: close the other side too
        finally:
            self.links.discard(link)
            for stream in (client, link.upstream):
                if stream is not None:
                    with trio.CancelScope(shield=True):
                        await stream.aclose()


def _abandoned(client: trio.SocketStream) -> bool:
    """True when the client closed its side while the link was silent: its FIN (or a reset)
    has arrived, whatever it sent before still waits unread (Linux POLLRDHUP)."""
    gone = select.POLLRDHUP | select.POLLHUP | select.POLLERR
    poller = select.poll()
    poller.register(client.socket.fileno(), gone)
    return any(ev & gone for _, ev in poller.poll(0))


async def _commands(proxy: FaultProxy, nursery: trio.Nursery) -> None:
    stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
    buffer = b""
    while True:
        chunk = await stdin.receive_some(4096)
        if not chunk:
            nursery.cancel_scope.cancel()  # the harness went away: so do we
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            print(json.dumps(_answer(proxy, line, nursery)), flush=True)


def _answer(proxy: FaultProxy, line: bytes, nursery: trio.Nursery) -> dict[str, Any]:
    try:
        cmd = json.loads(line)
        if not isinstance(cmd, dict):
            raise ValueError("a command is a JSON object")
        name = cmd.get("cmd")
        if name == "half_open":
            n = proxy.half_open(
                str(cmd.get("target", "all")),
                float(cmd.get("seconds", 5.0)),
                str(cmd.get("then", "resume")),
                nursery,
            )
            return {"ok": True, "connections": n}
        if name == "kill":
            return {"ok": True, "connections": proxy.kill(str(cmd.get("target", "all")))}
        if name == "stats":
            return {"ok": True, **proxy.stats()}
        raise ValueError(f"unknown command {name!r}; use half_open, kill or stats")
    except (ValueError, TypeError) as exc:
        return {"ok": False, "error": str(exc)}


async def run_proxy(upstreams: dict[str, tuple[str, int]]) -> None:
    proxy = FaultProxy(upstreams)
    async with trio.open_nursery() as nursery:
        ports: dict[str, int] = {}
        for target in upstreams:
            listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
            ports[target] = listeners[0].socket.getsockname()[1]
            nursery.start_soon(trio.serve_listeners, partial(proxy.serve, target), listeners)
        print(json.dumps(ports), flush=True)
        nursery.start_soon(_commands, proxy, nursery)


def _upstream(text: str) -> tuple[str, tuple[str, int]]:
    name, _, where = text.partition("=")
    host, _, port = where.rpartition(":")
    if not name or not host or not port.isascii() or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected NAME=HOST:PORT, got {text!r}")
    return name, (host, int(port))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="TCP fault proxy for chaos runs")
    parser.add_argument("--upstream", action="append", type=_upstream, required=True,
                        help="NAME=HOST:PORT, e.g. rest=127.0.0.1:8080 (repeatable)")  # fmt: skip
    args = parser.parse_args(argv)
    trio.run(run_proxy, dict(args.upstream))
    return 0


if __name__ == "__main__":
    sys.exit(main())
