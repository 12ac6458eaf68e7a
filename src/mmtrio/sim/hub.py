"""Fan-out of stream messages to websocket connections, with the stream-level faults.

Venue-neutral: a front end names its streams (``topic``: its own canonical key, e.g. a
symbol plus a channel), renders each message as a JSON object and publishes it here; the hub
serialises it once and offers it to every subscribed connection. A connection that
multiplexes several streams carries an :data:`Envelope` (the front end's wrapping, applied
once per stream name). Each connection owns a bounded outgoing queue; a client too slow to
drain it is disconnected (like real venues), never allowed to grow the server's memory.
Depth and user-stream faults (skip, duplicate, reorder) are applied here, once for all
connections, so every client sees the same corrupted sequence. The hub also keeps the latest
fill events (the front end says which of its user events is a fill: ``publish_user(...,
fill=True)``), which the ``user_replay`` fault sends again.
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import trio

from mmtrio.sim.faults import FaultState

QUEUE_SIZE = 10_000
RECENT_FILLS = 100

# Compact JSON, as venues send it: ``json.dumps(data, separators=(",", ":"))`` builds this
# encoder anew for every call (keyword arguments skip its cached default encoder); one
# encoder, kept, gives the same text for less (a few thousand messages a simulated minute).
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def compact_json(data: Any) -> str:
    """``json.dumps(data, separators=(",", ":"))``, with one kept encoder."""
    return _COMPACT.encode(data)


# An envelope wraps one serialised message for a connection that multiplexes streams:
# (stream name as the client subscribed it, message text) -> the text to send.
Envelope = Callable[[str, str], str]


@dataclass(eq=False)
class StreamConn:
    """One websocket connection: its subscriptions and outgoing queue."""

    user: bool  # a user-data (private) stream rather than market data
    envelope: Envelope | None  # None: each message is sent as rendered
    # (due trio time, text): the writer sends each message ``latency_s`` after its offer
    send: trio.MemorySendChannel[tuple[float, str]]
    receive: trio.MemoryReceiveChannel[tuple[float, str]]
    names: dict[str, str] = field(default_factory=dict)  # topic -> name as subscribed
    user_name: str = ""  # the name user messages are enveloped under (the session's key)
    stall_until: float = 0.0  # trio time; the writer waits until then
    mute_until: float = 0.0  # trio time; what is offered before then is dropped (ws_mute)
    muted: int = 0  # messages dropped by ws_mute
    closed: trio.Event = field(default_factory=trio.Event)
    close_reason: str = ""
    overflowed: bool = False
    latency_s: float = 0.0  # one-way network latency (SimConfig.latency_ms)

    @classmethod
    def create(
        cls,
        user: bool,
        envelope: Envelope | None,
        latency_s: float = 0.0,
        queue: int = QUEUE_SIZE,
    ) -> StreamConn:
        send, receive = trio.open_memory_channel[tuple[float, str]](queue)
        return cls(user=user, envelope=envelope, send=send, receive=receive, latency_s=latency_s)

    def offer(self, text: str) -> None:
        if self.closed.is_set():
            return
        if self.mute_until and trio.current_time() < self.mute_until:
            self.muted += 1  # ws_mute: never sent, and the connection stays open
            return
        try:
            self.send.send_nowait((trio.current_time() + self.latency_s, text))
        except trio.WouldBlock:
            self.overflowed = True
            self.close("client too slow: outgoing queue full")

    def delivers(self) -> bool:
        """Whether a message offered now reaches the client: not once the connection closed,
        nor while the ``ws_mute`` fault drops what is offered."""
        if self.closed.is_set():
            return False
        return not (self.mute_until and trio.current_time() < self.mute_until)

    def close(self, reason: str) -> None:
        if not self.closed.is_set():
            self.close_reason = reason
            self.closed.set()


class StreamHub:
    def __init__(self, faults: FaultState) -> None:
        self.faults = faults
        self.market: dict[str, set[StreamConn]] = {}
        self.users: set[StreamConn] = set()
        self.orders: set[StreamConn] = set()  # order-entry sockets (a front end's WebSocket API)
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

    def add(self, conn: StreamConn) -> None:
        """Register a new connection: its pre-set ``names`` and, if ``user``, the user stream."""
        for topic, name in list(conn.names.items()):
            self.subscribe(conn, topic, name)
        if conn.user:
            self.add_user(conn)

    def remove(self, conn: StreamConn) -> None:
        for canonical in list(conn.names):
            self.unsubscribe(conn, canonical)
        self.users.discard(conn)
        self.orders.discard(conn)

    def has_subscribers(self, canonical: str) -> bool:
        return bool(self.market.get(canonical))

    def conns(self, target: str) -> list[StreamConn]:
        """Connections for a fault target: market, user, orders (the order-entry sockets) or all."""
        market = {c for subs in self.market.values() for c in subs}
        if target == "market":
            return list(market)
        if target == "user":
            return list(self.users)
        if target == "orders":
            return list(self.orders)
        return list(market | self.users | self.orders)

    # --- publishing ---------------------------------------------------------------------
    def _fan_out(
        self, subs: set[StreamConn] | list[StreamConn], canonical: str, data: dict[str, Any]
    ) -> None:
        text = compact_json(data)
        wrapped: dict[str, str] = {}
        for conn in list(subs):
            if conn.envelope is not None:
                name = conn.names.get(canonical, canonical)
                out = wrapped.get(name)
                if out is None:
                    out = wrapped[name] = conn.envelope(name, text)
                conn.offer(out)
            else:
                conn.offer(text)
            self.sent += 1

    def publish(self, canonical: str, data: dict[str, Any]) -> None:
        subs = self.market.get(canonical)
        if subs:
            self._fan_out(subs, canonical, data)

    def publish_book(self, canonical: str, data: dict[str, Any]) -> None:
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

    def publish_user(self, data: dict[str, Any], *, fill: bool = False) -> None:
        """A user-stream event, through the user faults (duplicate, reorder). ``fill``: the
        front end says this event reports a trade of ours (the one its clients book fills
        from); the hub keeps the last ``RECENT_FILLS`` for the user_replay fault."""
        if fill:
            self.recent_fills.append(data)
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
        """Send the last ``count`` fill events again, as they were first published, oldest
        first (the user_replay fault: a venue replaying history to a reconnected client)."""
        events = list(self.recent_fills)[-count:] if count > 0 else []
        for data in events:
            self._send_user(data)
        return len(events)

    def _send_user(self, data: dict[str, Any]) -> None:
        if not self.users:
            return
        text = compact_json(data)
        for conn in list(self.users):
            env = conn.envelope
            conn.offer(env(conn.user_name, text) if env is not None else text)
            self.sent += 1

    def close_user_streams(self, reason: str) -> None:
        for conn in list(self.users):
            conn.close(reason)

    def stall(self, target: str, seconds: float) -> None:
        until = trio.current_time() + (seconds if math.isfinite(seconds) else 1e9)
        for conn in self.conns(target):
            conn.stall_until = until

    def mute(self, target: str, seconds: float) -> None:
        """The ws_mute fault: the connections of ``target`` open now drop what they are
        offered for ``seconds``; pings and answers to the client's own messages (subscribe
        answers, application-level pongs) do not pass through the hub and still go out."""
        until = trio.current_time() + (seconds if math.isfinite(seconds) else 1e9)
        for conn in self.conns(target):
            conn.mute_until = until
