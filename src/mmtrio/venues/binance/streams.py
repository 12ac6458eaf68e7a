"""Binance USD-M websocket streams on trio-websocket: market data and the user stream.

Why the two streams treat a slow consumer differently:

* **Market data** is perishable. The socket reader must never wait for the strategy, or the
  venue's send buffer fills and it disconnects us. So market events go into a
  :class:`MarketBuffer` that never blocks the writer. Its overflow policy: when it is full, every
  queued market event is dropped (they are stale: the consumer is behind), FeedStatus records
  are kept, a ``BookInvalid("consumer fell behind")`` is queued, and the book is resynced from a
  fresh REST snapshot. The consumer therefore sees BookInvalid → BookSnapshot → diffs, exactly
  as after a sequence gap, and never a silently holed diff chain.
* **User data** must never be lost (fills are money). It goes through a bounded trio memory
  channel with backpressure: if the consumer is slow the reader waits, and the kernel socket
  buffer holds the bytes meanwhile.

Depth sync follows Binance's rule (:class:`DepthSequencer`, pure): buffer diffs, fetch the
snapshot, drop diffs with ``u < lastUpdateId``, the first applied diff has
``U <= lastUpdateId <= u``, then each ``pu`` must equal the previous ``u``; otherwise the
stream emits BookInvalid and resyncs from a new snapshot.

Reconnects use exponential backoff with full jitter and a cap (:class:`Backoff`, RNG injected).
Liveness: a ping every ``ping_interval_s``; no pong within ``pong_timeout_s`` reconnects
(trio-websocket answers the server's pings by itself). Connections are rotated before the
venue's 24 h cut. Every connect/disconnect is reported as a FeedStatus.
"""

from __future__ import annotations

import abc
import random
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from typing import Protocol

import trio
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection, open_websocket_url

from mmtrio.core.events import BookInvalid, BookSnapshot, DepthDiff, FeedStatus
from mmtrio.errors import ConfigError, ProtocolError, VenueError
from mmtrio.venues.binance.codec import BinanceDecoder, Record
from mmtrio.venues.binance.codec_user import ListenKeyExpired
from mmtrio.venues.binance.rest import wall_clock_ms

MarketEvent = Record | FeedStatus | BookInvalid | BookSnapshot
UserEvent = Record | FeedStatus

# What ends one connection attempt (and starts the backoff); anything else is a bug and
# propagates to the supervisor.
_NETWORK_ERRORS = (
    OSError,
    HandshakeError,
    ConnectionClosed,
    VenueError,
    ProtocolError,
    trio.BrokenResourceError,
)
CODE_LISTEN_KEY_MISSING = -1125


class Backoff:
    """Exponential backoff with full jitter: delay ~ U(0, min(cap, base·2^attempt))."""

    def __init__(self, base_s: float = 0.5, cap_s: float = 30.0, rng: random.Random | None = None):
        if not 0 < base_s <= cap_s:
            raise ConfigError(f"backoff needs 0 < base <= cap, got base={base_s}, cap={cap_s}")
        self.base_s, self.cap_s = base_s, cap_s
        self._rng = rng if rng is not None else random.Random()
        self.attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(self.attempt, 30))
        self.attempt += 1
        return self._rng.uniform(0.0, ceiling)

    def reset(self) -> None:
        self.attempt = 0


RESYNC_QUIET_S = 30.0
"""Seconds without a resync after which the snapshot back-off starts again from its base."""


class DepthSequencer:
    """Pure depth-chain checker: decides which diffs reach the consumer, and when to resync.

    ``on_diff``/``on_snapshot`` return ``(diffs to forward, gap)``; on a gap the sequencer has
    already reset itself to buffering and the caller must fetch a fresh snapshot.
    """

    def __init__(self, max_buffer: int = 2_000) -> None:
        self._buf: deque[DepthDiff] = deque(maxlen=max_buffer)  # oldest go first: least useful
        self._snap_id: int | None = None  # snapshot taken, waiting for the bridging diff
        self._last: int | None = None  # synced: ``u`` of the last forwarded diff

    @property
    def synced(self) -> bool:
        return self._last is not None

    def reset(self) -> None:
        self._buf.clear()
        self._snap_id = None
        self._last = None

    def on_diff(self, d: DepthDiff) -> tuple[list[DepthDiff], bool]:
        if self._last is not None:
            if d.prev_last_id != self._last:
                self.reset()
                return [], True
            self._last = d.last_id
            return [d], False
        if self._snap_id is None:
            self._buf.append(d)
            return [], False
        if d.last_id < self._snap_id:
            return [], False  # already contained in the snapshot
        # Binance's bridge is U <= lastUpdateId <= u; a diff whose pu is the snapshot's id
        # continues it too (the snapshot sits on a diff boundary and that diff's message has
        # not arrived yet, or arrived before the buffer started): same rule as core.book.
        if d.first_id <= self._snap_id or d.prev_last_id == self._snap_id:
            self._snap_id, self._last = None, d.last_id
            return [d], False
        self.reset()  # the stream is past the snapshot: it is too old to bridge
        return [], True

    def on_snapshot(self, snap: BookSnapshot) -> tuple[list[DepthDiff], bool]:
        pending = list(self._buf)
        self._buf.clear()
        self._snap_id, self._last = snap.last_update_id, None
        out: list[DepthDiff] = []
        for d in pending:
            fwd, gap = self.on_diff(d)
            if gap:
                return [], True
            out.extend(fwd)
        return out, False


class MarketBuffer:
    """Single-consumer market-event queue whose writer never blocks (policy: module doc)."""

    def __init__(self, capacity: int = 4_096) -> None:
        if capacity < 8:
            raise ConfigError(f"market buffer capacity must be >= 8, got {capacity}")
        self.capacity = capacity
        self._q: deque[MarketEvent] = deque()
        self._nonempty = trio.Event()
        self.dropped: Counter[str] = Counter()
        self.overflows = 0

    def __len__(self) -> int:
        return len(self._q)

    def put(self, ev: MarketEvent) -> bool:
        """Queue ``ev``; False when the buffer overflowed (stale events were dropped)."""
        ok = True
        if len(self._q) >= self.capacity:
            ok = False
            self.overflows += 1
            kept = [e for e in self._q if isinstance(e, FeedStatus)]
            for e in self._q:
                if not isinstance(e, FeedStatus):
                    self.dropped[type(e).__name__] += 1
            self._q.clear()
            self._q.extend(kept)
        self._q.append(ev)
        self._nonempty.set()
        return ok

    async def receive(self) -> MarketEvent:
        while not self._q:
            if self._nonempty.is_set():
                self._nonempty = trio.Event()
            await self._nonempty.wait()
        await trio.lowlevel.checkpoint()
        return self._q.popleft()

    def __aiter__(self) -> MarketBuffer:
        return self

    async def __anext__(self) -> MarketEvent:
        return await self.receive()


def market_stream_url(ws_base: str, symbol: str, depth_speed: str = "100ms") -> str:
    """Combined-stream URL: diff depth, trades, bookTicker and mark price for ``symbol``."""
    if depth_speed not in ("0ms", "100ms", "250ms", "500ms"):
        raise ConfigError(f"depth speed must be 0ms, 100ms, 250ms or 500ms, got {depth_speed!r}")
    s = symbol.lower()
    streams = f"{s}@depth@{depth_speed}/{s}@trade/{s}@bookTicker/{s}@markPrice@1s"
    return f"{ws_base.rstrip('/')}/stream?streams={streams}"


class _Connection(abc.ABC):
    """Shared connection loop: backoff, ping/pong deadline, rotation, FeedStatus."""

    stream_name = ""

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
    ) -> None:
        self.backoff = Backoff(backoff_base_s, backoff_cap_s, rng)
        self._clock_ms = clock_ms
        self.ping_interval_s = ping_interval_s
        self.pong_timeout_s = pong_timeout_s
        self.max_connection_age_s = max_connection_age_s
        self.connect_timeout_s = connect_timeout_s
        self.connects = 0
        self.protocol_errors = 0
        self.last_protocol_error: str | None = None
        self._end_reason = ""
        self._planned = False  # a planned reconnect (rotation, key renewal) skips the backoff

    @abc.abstractmethod
    async def _emit_status(self, connected: bool, reason: str) -> None:
        """Tell the consumer the stream went up or down (each stream has its own channel)."""

    @abc.abstractmethod
    async def _session(self, ws: WebSocketConnection) -> None:
        """Read one connection until it ends (the stream's own message handling)."""

    @abc.abstractmethod
    async def _url(self) -> str:
        """The URL to connect to now (the user stream's includes a fresh listen key)."""

    async def run(self) -> None:
        """Connect, serve, reconnect — forever (cancel the surrounding scope to stop)."""
        while True:
            reason = await self._connect_once()
            await self._emit_status(False, reason)
            await trio.sleep(0.0 if self._planned else self.backoff.next_delay())

    async def _connect_once(self) -> str:
        self._end_reason, self._planned = "connection closed", False
        reason = ""
        try:
            url = await self._url()
            async with open_websocket_url(url, connect_timeout=self.connect_timeout_s) as ws:
                self.connects += 1
                await self._emit_status(True, "connected")
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._pinger, ws, nursery.cancel_scope)
                    await self._serve(ws, nursery)
                    nursery.cancel_scope.cancel()
            reason = self._end_reason
        except* _NETWORK_ERRORS as group:
            first = group.exceptions[0]
            reason = f"{type(first).__name__}: {first}"
        return reason

    async def _serve(self, ws: WebSocketConnection, nursery: trio.Nursery) -> None:
        with trio.move_on_after(self.max_connection_age_s) as age:
            await self._session(ws)
        if age.cancelled_caught:
            self._end_reason = "rotating the connection before the venue's 24 h limit"
            self._planned = True

    async def _pinger(self, ws: WebSocketConnection, scope: trio.CancelScope) -> None:
        while True:
            await trio.sleep(self.ping_interval_s)
            with trio.move_on_after(self.pong_timeout_s) as cs:
                await ws.ping()
            if cs.cancelled_caught:
                self._end_reason = f"no pong within {self.pong_timeout_s} s"
                scope.cancel()
                return

    def _decode(self, decoder: BinanceDecoder, msg: str | bytes) -> list[Record]:
        # One bad message is counted, not fatal (a lost diff shows up as a gap and resyncs).
        try:
            return decoder.decode(msg)
        except ProtocolError as exc:
            self.protocol_errors += 1
            self.last_protocol_error = str(exc)
            return []


class MarketStream(_Connection):
    """Market data for one symbol; consume ``events`` (a :class:`MarketBuffer`)."""

    stream_name = "market"

    def __init__(
        self,
        url: str,
        decoder: BinanceDecoder,
        symbol: str,
        snapshot: Callable[[str], Awaitable[BookSnapshot]],
        *,
        rng: random.Random | None = None,
        clock_ms: Callable[[], int] = wall_clock_ms,
        buffer_capacity: int = 4_096,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        ping_interval_s: float = 30.0,
        pong_timeout_s: float = 10.0,
        max_connection_age_s: float = 23.5 * 3600,
        connect_timeout_s: float = 10.0,
    ) -> None:
        super().__init__(
            rng=rng,
            clock_ms=clock_ms,
            backoff_base_s=backoff_base_s,
            backoff_cap_s=backoff_cap_s,
            ping_interval_s=ping_interval_s,
            pong_timeout_s=pong_timeout_s,
            max_connection_age_s=max_connection_age_s,
            connect_timeout_s=connect_timeout_s,
        )
        self._ws_url = url
        self.decoder = decoder
        self.symbol = decoder.codec_for(symbol, "market stream").instrument.symbol
        self._snapshot = snapshot
        self.events = MarketBuffer(buffer_capacity)
        self.sequencer = DepthSequencer()
        self.resyncs = 0
        self._generation = 0
        self._want_snapshot = trio.Event()
        self._snapshot_backoff = Backoff(backoff_base_s, backoff_cap_s, rng)

    async def _url(self) -> str:
        return self._ws_url

    async def _emit_status(self, connected: bool, reason: str) -> None:
        now = self._clock_ms()
        self._put(FeedStatus(self.stream_name, connected, reason, now))
        if not connected:
            self._invalidate(f"market stream down: {reason}", fetch=False)

    def _put(self, ev: MarketEvent) -> None:
        if not self.events.put(ev):
            self._invalidate("consumer fell behind: stale market events dropped")

    def request_resync(self, reason: str) -> None:
        """Rebuild the book from a fresh snapshot (the consumer found it unusable).

        Goes through the same path as a gap the stream detects itself, including the resync
        back-off, so a consumer that keeps asking cannot turn into a snapshot storm.
        """
        self._invalidate(f"resync requested: {reason}")

    def _invalidate(self, reason: str, *, fetch: bool = True) -> None:
        self.sequencer.reset()
        self._generation += 1
        self.events.put(BookInvalid(self.symbol, reason, self._clock_ms()))
        if fetch:
            self.resyncs += 1
            self._want_snapshot.set()

    async def _serve(self, ws: WebSocketConnection, nursery: trio.Nursery) -> None:
        # Open the stream first (diffs buffer in the sequencer), then fetch the snapshot.
        self.sequencer.reset()
        self._generation += 1
        self._want_snapshot.set()
        nursery.start_soon(self._snapshot_worker)
        await super()._serve(ws, nursery)

    async def _snapshot_worker(self) -> None:
        last_fetch: float | None = None
        while True:
            await self._want_snapshot.wait()
            self._want_snapshot = trio.Event()
            # A resync soon after the previous one waits out the back-off, which only resets
            # after RESYNC_QUIET_S without one: a storm of gaps (a flaky feed, a slow consumer)
            # must not become a storm of depth snapshots (weight 20 each) and a 429 that would
            # then block cancels and the dead-man refresh too.
            if last_fetch is not None and trio.current_time() - last_fetch < RESYNC_QUIET_S:
                await trio.sleep(self._snapshot_backoff.next_delay())
            else:
                self._snapshot_backoff.reset()
            gen = self._generation
            while True:
                try:
                    snap = await self._snapshot(self.symbol)
                    break
                except (VenueError, ProtocolError, OSError):
                    await trio.sleep(self._snapshot_backoff.next_delay())
                    gen = self._generation
            last_fetch = trio.current_time()
            if gen != self._generation:
                continue  # invalidated again while we waited; a newer request is pending
            fwd, gap = self.sequencer.on_snapshot(snap)
            if gap:
                self._invalidate("snapshot older than the buffered stream; refetching")
                continue
            self._put(snap)
            for d in fwd:
                self._put(d)

    async def _session(self, ws: WebSocketConnection) -> None:
        first = True
        while True:
            msg = await ws.get_message()
            if first:
                self.backoff.reset()  # only a connection that delivers counts as healthy
                first = False
            for rec in self._decode(self.decoder, msg):
                if isinstance(rec, DepthDiff):
                    fwd, gap = self.sequencer.on_diff(rec)
                    if gap:
                        self._invalidate(
                            f"depth gap: pu={rec.prev_last_id} does not continue the chain"
                        )
                    for d in fwd:
                        self._put(d)
                else:
                    self._put(rec)


class ListenKeyApi(Protocol):
    """What the user stream needs from the REST client (BinanceRest satisfies it)."""

    async def new_listen_key(self) -> str: ...
    async def keepalive_listen_key(self) -> None: ...


class UserStream(_Connection):
    """The user data stream: every event goes to ``send`` (bounded, with backpressure)."""

    stream_name = "user"

    def __init__(
        self,
        ws_base: str,
        decoder: BinanceDecoder,
        api: ListenKeyApi,
        send: trio.MemorySendChannel[UserEvent],
        *,
        url_template: str = "{base}/ws/{listen_key}",
        rng: random.Random | None = None,
        clock_ms: Callable[[], int] = wall_clock_ms,
        keepalive_interval_s: float = 30 * 60,
        keepalive_retry_s: float = 60.0,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        ping_interval_s: float = 30.0,
        pong_timeout_s: float = 10.0,
        max_connection_age_s: float = 23.5 * 3600,
        connect_timeout_s: float = 10.0,
    ) -> None:
        super().__init__(
            rng=rng,
            clock_ms=clock_ms,
            backoff_base_s=backoff_base_s,
            backoff_cap_s=backoff_cap_s,
            ping_interval_s=ping_interval_s,
            pong_timeout_s=pong_timeout_s,
            max_connection_age_s=max_connection_age_s,
            connect_timeout_s=connect_timeout_s,
        )
        self._ws_base = ws_base.rstrip("/")
        self._template = url_template
        self.decoder = decoder
        self._api = api
        self._send = send
        self.keepalive_interval_s = keepalive_interval_s
        self.keepalive_retry_s = keepalive_retry_s
        self.listen_key: str | None = None
        self.keepalive_failures = 0
        self.renewals = 0
        self.key_reuses = 0
        self._key_extended_at: float | None = None  # trio time of the last POST/PUT success
        self._key_proven = False  # the current key has connected at least once

    async def _url(self) -> str:
        """The stream URL; the listen key is fetched (POST) only when it must be.

        After a plain drop the live key is reused: Binance keeps it valid for 60 min after the
        last POST/PUT, and it is reused only while that was under ``keepalive_interval_s``
        ago. The reconnect then needs no REST request, so a user stream dropped during a
        429 back-off comes back at once and fills keep arriving (chaos seed 139: the
        reconnect waited for the back-off and a fill went unseen for 4 s). A key that has
        not connected since it was fetched, or was reported expired, is fetched again.
        """
        reusable = (
            self.listen_key is not None
            and self._key_proven
            and self._key_extended_at is not None
            and trio.current_time() - self._key_extended_at < self.keepalive_interval_s
        )
        if reusable:
            self.key_reuses += 1
        else:
            # POST listenKey returns the live key (extending it) or a new one after expiry.
            self.listen_key = await self._api.new_listen_key()
            self._key_extended_at = trio.current_time()
        self._key_proven = False  # until this attempt connects
        return self._template.format(base=self._ws_base, listen_key=self.listen_key)

    async def _emit_status(self, connected: bool, reason: str) -> None:
        await self._send.send(FeedStatus(self.stream_name, connected, reason, self._clock_ms()))

    async def _serve(self, ws: WebSocketConnection, nursery: trio.Nursery) -> None:
        self._key_proven = True  # the venue accepted the connection with this key
        nursery.start_soon(self._keepalive, nursery.cancel_scope)
        await super()._serve(ws, nursery)

    async def _keepalive(self, scope: trio.CancelScope) -> None:
        # Counted from the key's last extension, not from this connection: a reused key
        # is already that old.
        extended = self._key_extended_at
        now = trio.current_time()
        delay = self.keepalive_interval_s - (0.0 if extended is None else now - extended)
        delay = max(0.0, delay)
        while True:
            await trio.sleep(delay)
            try:
                await self._api.keepalive_listen_key()
                self._key_extended_at = trio.current_time()
                delay = self.keepalive_interval_s
            except VenueError as exc:
                self.keepalive_failures += 1
                if exc.code == CODE_LISTEN_KEY_MISSING:
                    self._key_proven = False  # fetch a new one on the reconnect
                    self._end_reason, self._planned = "listen key no longer exists", True
                    scope.cancel()
                    return
                # Keep the stream; retry soon. If the key lapses the venue pushes
                # listenKeyExpired and the session renews it.
                delay = self.keepalive_retry_s

    async def _session(self, ws: WebSocketConnection) -> None:
        first = True
        while True:
            msg = await ws.get_message()
            if first:
                self.backoff.reset()
                first = False
            for rec in self._decode(self.decoder, msg):
                await self._send.send(rec)
                if isinstance(rec, ListenKeyExpired):
                    self._key_proven = False  # fetch a new one on the reconnect
                    self.renewals += 1
                    self._end_reason = "listen key expired; renewing"
                    self._planned = True
                    return
