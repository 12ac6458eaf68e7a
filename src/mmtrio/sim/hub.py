"""Fan-out of stream messages to websocket connections, with the stream-level faults.

Each connection owns a bounded outgoing queue; a client too slow to drain it is
disconnected (like Binance), never allowed to grow the server's memory. A message is
serialised once per publish, and wrapped per connection only for combined streams.
Depth and user-stream faults (skip, duplicate, reorder) are applied here, once for all
connections, so every client sees the same corrupted sequence.
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import trio

from mmtrio.sim.faults import FaultState

QUEUE_SIZE = 10_000
RECENT_FILLS = 100

# canonical stream kind for each accepted stream name suffix
_SUFFIXES: dict[str, str] = {
    "depth": "depth",
    "depth@0ms": "depth",
    "depth@100ms": "depth",
    "depth@250ms": "depth",
    "depth@500ms": "depth",
    "trade": "trade",
    "aggtrade": "aggTrade",
    "bookticker": "bookTicker",
    "markprice": "markPrice",
    "markprice@1s": "markPrice",
    "markprice@3s": "markPrice",
}


def canonical_stream(name: str, symbols: set[str]) -> str | None:
    """``btcusdt@depth@100ms`` → ``btcusdt@depth``; None for an unknown stream or symbol.

    All depth speeds get every public diff as it happens (the sim does not aggregate to
    100/250/500 ms): each diff still carries a consistent U/u/pu, so a client following the
    sync algorithm is unaffected, it just receives more, smaller messages.
    """
    sym, _, suffix = name.partition("@")
    kind = _SUFFIXES.get(suffix.lower())
    if kind is None or sym.lower() not in symbols:
        return None
    return f"{sym.lower()}@{kind}"


@dataclass(eq=False)
class StreamConn:
    """One websocket connection: its subscriptions and outgoing queue."""

    user: bool  # a user-data stream (listen key) rather than market data
    combined: bool
    # (due trio time, text): the writer sends each message ``latency_s`` after its offer
    send: trio.MemorySendChannel[tuple[float, str]]
    receive: trio.MemoryReceiveChannel[tuple[float, str]]
    names: dict[str, str] = field(default_factory=dict)  # canonical -> name as subscribed
    listen_key: str = ""
    stall_until: float = 0.0  # trio time; the writer waits until then
    closed: trio.Event = field(default_factory=trio.Event)
    close_reason: str = ""
    overflowed: bool = False
    latency_s: float = 0.0  # one-way network latency (SimConfig.latency_ms)

    @classmethod
    def create(
        cls, user: bool, combined: bool, latency_s: float = 0.0, queue: int = QUEUE_SIZE
    ) -> StreamConn:
        send, receive = trio.open_memory_channel[tuple[float, str]](queue)
        return cls(user=user, combined=combined, send=send, receive=receive, latency_s=latency_s)

    def offer(self, text: str) -> None:
        if self.closed.is_set():
            return
        try:
            self.send.send_nowait((trio.current_time() + self.latency_s, text))
        except trio.WouldBlock:
            self.overflowed = True
            self.close("client too slow: outgoing queue full")

    def close(self, reason: str) -> None:
        if not self.closed.is_set():
            self.close_reason = reason
            self.closed.set()


class StreamHub:
    def __init__(self, faults: FaultState) -> None:
        self.faults = faults
        self.market: dict[str, set[StreamConn]] = {}
        self.users: set[StreamConn] = set()
        self._held_depth: tuple[str, dict[str, Any]] | None = None
        self._held_user: dict[str, Any] | None = None
        self.sent = 0
        # the latest fill events sent, for the user_replay fault (bounded)
        self.recent_fills: deque[dict[str, Any]] = deque(maxlen=RECENT_FILLS)

    # --- membership ---------------------------------------------------------------------
    def subscribe(self, conn: StreamConn, canonical: str, name: str) -> None:
        conn.names[canonical] = name
        self.market.setdefault(canonical, set()).add(conn)

    def unsubscribe(self, conn: StreamConn, canonical: str) -> None:
        conn.names.pop(canonical, None)
        subs = self.market.get(canonical)
        if subs is not None:
            subs.discard(conn)

    def add_user(self, conn: StreamConn) -> None:
        self.users.add(conn)

    def remove_user(self, conn: StreamConn) -> None:
        self.users.discard(conn)

    def remove(self, conn: StreamConn) -> None:
        for canonical in list(conn.names):
            self.unsubscribe(conn, canonical)
        self.users.discard(conn)

    def has_subscribers(self, canonical: str) -> bool:
        return bool(self.market.get(canonical))

    def conns(self, target: str) -> list[StreamConn]:
        """Connections for a fault target: market, user or all."""
        market = {c for subs in self.market.values() for c in subs}
        if target == "market":
            return list(market)
        if target == "user":
            return list(self.users)
        return list(market | self.users)

    # --- publishing ---------------------------------------------------------------------
    def _fan_out(
        self, subs: set[StreamConn] | list[StreamConn], canonical: str, data: dict[str, Any]
    ) -> None:
        text = json.dumps(data, separators=(",", ":"))
        wrapped: dict[str, str] = {}
        for conn in list(subs):
            if conn.combined:
                name = conn.names.get(canonical, canonical)
                out = wrapped.get(name)
                if out is None:
                    out = wrapped[name] = f'{{"stream":"{name}","data":{text}}}'
                conn.offer(out)
            else:
                conn.offer(text)
            self.sent += 1

    def publish(self, canonical: str, data: dict[str, Any]) -> None:
        subs = self.market.get(canonical)
        if subs:
            self._fan_out(subs, canonical, data)

    def publish_depth(self, canonical: str, data: dict[str, Any]) -> None:
        """A public depth diff, through the depth faults (skip, duplicate, reorder)."""
        f = self.faults
        if f.depth_skip > 0:
            f.depth_skip -= 1
            return
        if f.depth_reorder > 0 and self._held_depth is None:
            self._held_depth = (canonical, data)
            return
        self.publish(canonical, data)
        if self._held_depth is not None:
            held, self._held_depth = self._held_depth, None
            f.depth_reorder -= 1
            self.publish(*held)
        if f.depth_duplicate > 0:
            f.depth_duplicate -= 1
            self.publish(canonical, data)

    def publish_user(self, data: dict[str, Any]) -> None:
        """A user-stream event, through the user faults (duplicate, reorder)."""
        f = self.faults
        if f.user_reorder > 0 and self._held_user is None:
            self._held_user = data
            return
        self._send_user(data)
        if self._held_user is not None:
            held, self._held_user = self._held_user, None
            f.user_reorder -= 1
            self._send_user(held)
        if f.user_duplicate > 0:
            f.user_duplicate -= 1
            self._send_user(data)

    def replay_fills(self, count: int) -> int:
        """Send the last ``count`` fill events again (the user_replay fault)."""
        events = list(self.recent_fills)[-count:] if count > 0 else []
        for data in events:
            self._send_user(data, remember=False)
        return len(events)

    def _send_user(self, data: dict[str, Any], *, remember: bool = True) -> None:
        if remember and data.get("e") == "ORDER_TRADE_UPDATE" and data["o"].get("x") == "TRADE":
            self.recent_fills.append(data)
        if not self.users:
            return
        text = json.dumps(data, separators=(",", ":"))
        for conn in list(self.users):
            conn.offer(f'{{"stream":"{conn.listen_key}","data":{text}}}' if conn.combined else text)
            self.sent += 1

    def close_user_streams(self, reason: str) -> None:
        for conn in list(self.users):
            conn.close(reason)

    def stall(self, target: str, seconds: float) -> None:
        until = trio.current_time() + (seconds if math.isfinite(seconds) else 1e9)
        for conn in self.conns(target):
            conn.stall_until = until
