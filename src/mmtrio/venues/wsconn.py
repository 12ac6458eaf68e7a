"""A reconnecting websocket connection, shared by every venue package's streams.

Reconnects use exponential backoff with full jitter and a cap (:class:`Backoff`, RNG
injected). Liveness: a ping every ``ping_interval_s``; no pong within ``pong_timeout_s``
reconnects (trio-websocket answers the server's pings by itself). A request that got no answer
in time (:meth:`WsConnection.doubt_link`) brings the next ping forward, with that request's
timeout as the pong deadline: a link that went silent (a half-open TCP path) is replaced
within about two request timeouts, not after a ping interval and a pong timeout (chaos seed
10067: Binance's order socket stayed silent for the run's last 7 s, every order and
reconciliation read on it timed out, and a fill made during a halt went unlearnt). A late
answer on a live link does not reconnect: its pong comes back. Connections are rotated
before ``max_connection_age_s`` (Binance and OKX cut at 24 h). Every connect and disconnect
is reported through :meth:`WsConnection._emit_status`. A planned reconnect (rotation, a key
renewal) skips the backoff.

The backoff starts over only after a connection proven healthy: one that delivered what it
was opened for (its stream says so with :meth:`WsConnection._proven`: market data, an account
event, an answer to a request), or that stayed up :data:`HEALTHY_AFTER_S`. A pong, a
subscription or login answer proves nothing: a venue that accepts the connection, answers
its pings and then drops or refuses the subscription is retried at the backoff's growing
pace, not in a tight loop: a reconnect storm is what venues ban for, and OKX's and
Hyperliquid's streams made one when any first message (a pong, a subscription answer) reset
the backoff.

A market stream (``market_silence_s`` set) is also replaced when it delivers no market
message for that long although it stays connected (:mod:`mmtrio.venues.silence`): pings
prove the link, not that the venue still sends on it.

The transport is injectable (``connect``): the default opens a real socket with
trio-websocket; the deterministic simulation passes one that runs the same protocol over an
in-memory stream.
"""

from __future__ import annotations

import abc
import random
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import trio
from loguru import logger
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection, open_websocket_url

from mmtrio import determinism
from mmtrio.error_text import error_text
from mmtrio.errors import ConfigError, ProtocolError, VenueError
from mmtrio.venues.silence import SilenceWatch

HEALTHY_AFTER_S = 60.0
"""A connection that stayed up this long counts as healthy although nothing proved it (a quiet
user stream, an order socket without orders). Longer than the silence watchdog's default
(10 s), so a market connection the venue keeps mute is never counted healthy by its age; a
connection that lived this long cannot flap faster than once a minute anyway."""

Connect = Callable[..., AbstractAsyncContextManager[WebSocketConnection]]
"""``connect(url, *, connect_timeout, extra_headers) -> async context manager of a connection``."""

# What ends one connection attempt (and starts the backoff); anything else is a bug and
# propagates to the supervisor.
NETWORK_ERRORS = (
    OSError,
    HandshakeError,
    ConnectionClosed,
    VenueError,
    ProtocolError,
    trio.BrokenResourceError,
)


def open_socket(
    url: str, *, connect_timeout: float, extra_headers: list[tuple[bytes, bytes]] | None = None
) -> AbstractAsyncContextManager[WebSocketConnection]:
    """The production transport: trio-websocket over a real TCP (TLS for wss://) socket."""
    return open_websocket_url(url, connect_timeout=connect_timeout, extra_headers=extra_headers)


class Backoff:
    """Exponential backoff with full jitter: delay ~ U(0, min(cap, base·2^attempt))."""

    def __init__(self, base_s: float = 0.5, cap_s: float = 30.0, rng: random.Random | None = None):
        if not 0 < base_s <= cap_s:
            raise ConfigError(f"backoff needs 0 < base <= cap, got base={base_s}, cap={cap_s}")
        self.base_s, self.cap_s = base_s, cap_s
        self._rng = rng if rng is not None else determinism.rng("backoff")
        self.attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(self.attempt, 30))
        self.attempt += 1
        return self._rng.uniform(0.0, ceiling)

    def reset(self) -> None:
        self.attempt = 0


class WsConnection(abc.ABC):
    """Shared connection loop: backoff, ping/pong deadline, rotation, status reports."""

    stream_name = ""
    venue_name = ""  # for the log (the silence watchdog's warning)
    healthy_after_s = HEALTHY_AFTER_S  # see _proven

    def __init__(
        self,
        *,
        rng: random.Random | None,
        clock_ms: Callable[[], int],
        backoff_base_s: float,
        backoff_cap_s: float,
        ping_interval_s: float,
        pong_timeout_s: float,
        max_connection_age_s: float,
        connect_timeout_s: float,
        connect: Connect = open_socket,
        market_silence_s: float | None = None,
    ) -> None:
        self.backoff = Backoff(backoff_base_s, backoff_cap_s, rng)
        # None or 0: not watched (user streams, order sockets: silence there is normal)
        self.silence = SilenceWatch(market_silence_s)
        self._clock_ms = clock_ms
        self._connect = connect
        self.ping_interval_s = ping_interval_s
        self.pong_timeout_s = pong_timeout_s
        self.max_connection_age_s = max_connection_age_s
        self.connect_timeout_s = connect_timeout_s
        self.connects = 0
        self.protocol_errors = 0
        self.last_protocol_error: str | None = None
        self._end_reason = ""
        self._planned = False  # a planned reconnect (rotation, key renewal) skips the backoff
        self._doubt = trio.Event()  # a request had no answer: ping now (see doubt_link)
        self._doubt_deadline_s = pong_timeout_s
        self.doubts = 0  # pings brought forward by a request without an answer
        self.reported_up = False  # the consumer was last told "connected" (see _report)
        self._proved = False  # the current (or last) connection was proven healthy

    @abc.abstractmethod
    async def _emit_status(self, connected: bool, reason: str) -> None:
        """Tell the consumer the stream went up or down."""

    @abc.abstractmethod
    async def _session(self, ws: WebSocketConnection) -> None:
        """Read one connection until it ends (the stream's own message handling)."""

    @abc.abstractmethod
    async def _url(self) -> str:
        """The URL to connect to now (a user stream's may include a fresh key)."""

    def _headers(self) -> list[tuple[bytes, bytes]] | None:
        """Extra handshake headers (an API key for an authenticated stream); none by default."""
        return None

    async def _report(self, connected: bool, reason: str) -> None:
        """Tell the consumer the stream went up or down, remembering what it was last told.

        "Up" counts as told before it is sent and "down" only once it was: a report cut
        short by a cancellation leaves at worst one "down" too many, never a stale "up".
        """
        if connected:
            self.reported_up = True
        await self._emit_status(connected, reason)
        if not connected:
            self.reported_up = False

    async def _loop(self) -> None:
        """Connect, serve, reconnect — forever (cancel the surrounding scope to stop)."""
        while True:
            reason = await self._connect_once()
            await self._report(False, reason)
            await trio.sleep(self._retry_delay())

    def _proven(self) -> None:
        """The current connection delivered what it was opened for (market data, an account
        event, an answer to a request): it is healthy, and the backoff starts over after it.
        Not for a pong, a subscription or login answer: those come from a venue that then
        drops the subscription too."""
        self._proved = True

    def _retry_delay(self) -> float:
        """The pause before the next attempt, once one ended: none for a planned reconnect;
        the backoff's next delay, started over first if the connection was proven healthy
        (:meth:`_proven`, or up for :attr:`healthy_after_s`)."""
        if self._proved:
            self.backoff.reset()
        return 0.0 if self._planned else self.backoff.next_delay()

    async def _connect_once(self) -> str:
        if self.reported_up:
            # The consumer was last told "connected", but that connection is gone: the
            # run serving it crashed or was cancelled (a supervised restart) and never said
            # so. Say it before connecting again, or the consumer trusts a stream that
            # delivers nothing meanwhile: DST seed 137, the user stream's task crashed while
            # connected, its new connection hung in the opening handshake (a reset link;
            # only the connect timeout, 10 s, ends that), and the bot kept quoting for 6 s,
            # every fill unseen until a reconciliation, its position past the limit.
            await self._report(False, "connection abandoned (the stream's task restarted)")
        self._end_reason, self._planned = "connection closed", False
        self._proved = False
        opened_at: float | None = None
        reason = ""
        try:
            url = await self._url()
            async with self._connect(
                url, connect_timeout=self.connect_timeout_s, extra_headers=self._headers()
            ) as ws:
                self.connects += 1
                opened_at = trio.current_time()
                self._doubt = trio.Event()  # a doubt about an earlier connection is settled
                await self._report(True, "connected")
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._pinger, ws, nursery.cancel_scope)
                    await self._serve(ws, nursery)
                    nursery.cancel_scope.cancel()
            reason = self._end_reason
        except* NETWORK_ERRORS as group:
            reason = error_text(group)
        if opened_at is not None and trio.current_time() - opened_at >= self.healthy_after_s:
            self._proven()  # up long enough: healthy although nothing said so (quiet stream)
        return reason

    async def _serve(self, ws: WebSocketConnection, nursery: trio.Nursery) -> None:
        with trio.move_on_after(self.max_connection_age_s) as age:
            with self.silence.scope() as quiet:
                await self._session(ws)
        silent_s = self.silence.fired(quiet)
        if silent_s is not None:
            # Not planned: the backoff applies (a venue mute on every new connection too is
            # retried at the backoff's pace, never in a tight loop).
            self._end_reason = f"no market message for {silent_s:.1f} s while connected"
            logger.warning(
                "{} {} stream: no market message for {:.1f} s while connected (pings do not "
                "prove the venue still sends); reconnecting",
                self.venue_name or "venue",
                self.stream_name or "market",
                silent_s,
            )
        elif age.cancelled_caught:
            self._end_reason = "rotating the connection before the venue's connection age limit"
            self._planned = True

    def doubt_link(self, deadline_s: float) -> None:
        """A request on this connection got no answer within ``deadline_s``: ping now, and
        reconnect unless the pong comes within ``deadline_s`` (at most ``pong_timeout_s``)."""
        if self._doubt.is_set():
            return  # a probe is already due
        self.doubts += 1
        self._doubt_deadline_s = min(self.pong_timeout_s, max(deadline_s, 0.1))
        self._doubt.set()

    async def _next_ping(self) -> tuple[float, str]:
        """Wait until a ping is due (the interval, or a doubt); its pong deadline and the
        reason a missing pong ends the connection with."""
        with trio.move_on_after(self.ping_interval_s):
            await self._doubt.wait()
        if not self._doubt.is_set():
            return self.pong_timeout_s, f"no pong within {self.pong_timeout_s:g} s"
        self._doubt = trio.Event()
        deadline = self._doubt_deadline_s
        return deadline, f"no pong within {deadline:g} s after a request had no answer"

    async def _pinger(self, ws: WebSocketConnection, scope: trio.CancelScope) -> None:
        while True:
            deadline, reason = await self._next_ping()
            with trio.move_on_after(deadline) as cs:
                await ws.ping()
            if cs.cancelled_caught:
                self._end_reason = reason
                scope.cancel()
                return

    def _count_protocol_error(self, exc: ProtocolError) -> None:
        # One bad message is counted, not fatal (a lost diff shows up as a gap and resyncs).
        self.protocol_errors += 1
        self.last_protocol_error = str(exc)
