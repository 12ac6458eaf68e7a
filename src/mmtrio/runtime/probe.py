"""Optional tick-to-order latency probe: ``perf_counter_ns`` stamps at the pipeline's stage
boundaries, for ``benchmarks/latency.py``. Off unless a probe is installed.

The hot path pays one module-attribute load and an ``is None`` test per hook when no probe
is installed (:data:`ACTIVE` is None); nothing is allocated, nothing is timed.

What one trace follows — a depth diff from the market socket to the order request(s) it
caused::

    arrive   bytes holding the message returned from the socket (fed by the benchmark's
             socket wrapper through :meth:`LatencyProbe.socket_message`; else = msg)
    msg      ``ws.get_message()`` returned in MarketStream (our code starts here)
    parsed   the codec turned it into a BookDelta
    step     the trading loop starts ``mm.step`` for it (sequencer, MarketBuffer, feed
             forwarder and the loop's event channel lie between ``parsed`` and ``step``)
    stepped  ``mm.step`` returned its commands (sub-stages may be added by the caller with
             :meth:`LatencyProbe.add`, e.g. book / risk time measured around core methods)
    exec     execution took the first order command off its channel (journaling of the
             event and commands, and the channel hand-off, lie between ``stepped`` and here)
    handed   httpx handed the first order request to its transport (:class:`ProbeTransport`)
    written  httpcore finished writing that request's bytes to the socket (trace extension)

Traces are matched to requests by client order id (``newClientOrderId`` for a place,
``origClientOrderId`` for an amend), which is exact: every id is unique.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx

from mmtrio.core.commands import AmendOrder, Command, PlaceOrder
from mmtrio.core.events import BookDelta, BookSnapshot

ACTIVE: LatencyProbe | None = None
"""The installed probe, or None (the default: every hook is a no-op)."""

MAX_PENDING = 20_000  # bound on traces waiting for their step / request (dropped events)


@dataclass(slots=True)
class Trace:
    """Stamps (ns, ``time.perf_counter_ns``) of one depth diff through the pipeline."""

    arrive: int
    msg: int
    parsed: int
    step: int = 0
    stepped: int = 0
    exec: int = 0
    handed: int = 0
    written: int = 0
    last_handed: int = 0  # the event's last order request (a requote is often bid + ask)
    orders: int = 0  # order commands the step produced
    requests: int = 0  # of those, handed to the transport
    sub: dict[str, int] = field(default_factory=dict)  # caller-defined sub-stage durations


class LatencyProbe:
    """Collects :class:`Trace` records; install with :func:`install`, read ``done``."""

    def __init__(self) -> None:
        self._arrivals: deque[int] = deque()
        self._by_record: dict[int, tuple[BookDelta | BookSnapshot, Trace]] = {}
        self._by_client_id: dict[str, Trace] = {}
        self.current: Trace | None = None  # the trace whose step is running
        # The oldest depth diff applied without planning (absorbed) since the last planning
        # step: the next planning step's orders are its result. Crediting the OLDEST diff of
        # a burst is the conservative reading of "tick to order" (the newer ones are dropped).
        self._waiting: Trace | None = None
        self.done: list[Trace] = []  # traces whose first order request was handed over
        self.dropped = 0  # traces discarded by the MAX_PENDING bound

    # --- market stream ----------------------------------------------------------------
    def socket_message(self, arrive_ns: int) -> None:
        """One complete websocket message arrived in bytes read at ``arrive_ns``."""
        self._arrivals.append(arrive_ns)

    def message_in(self) -> int:
        """``get_message`` returned; the message's socket-arrival stamp, or now."""
        now = time.perf_counter_ns()
        self._msg_ns = now
        return self._arrivals.popleft() if self._arrivals else now

    def parsed(self, records: list[Any], arrive_ns: int) -> None:
        """The codec's records for the message that arrived at ``arrive_ns`` (book deltas,
        or whole snapshots on a venue that sends only those, are traced)."""
        now = time.perf_counter_ns()
        for rec in records:
            if isinstance(rec, BookDelta | BookSnapshot):  # a snapshot venue's book message
                if len(self._by_record) >= MAX_PENDING:
                    self.dropped += len(self._by_record)
                    self._by_record.clear()
                # Keeping the record alive keeps its id unique while the trace waits.
                self._by_record[id(rec)] = (rec, Trace(arrive_ns, self._msg_ns, now))

    # --- trading loop -----------------------------------------------------------------
    def absorbed(self, event: object, t_ns: int) -> None:
        """A depth diff was applied without planning (newer events were queued)."""
        entry = self._by_record.pop(id(event), None)
        if entry is not None and entry[0] is event and self._waiting is None:
            self._waiting = entry[1]

    def step_begin(self, event: object, t_ns: int) -> None:
        entry = self._by_record.pop(id(event), None)
        own = entry[1] if entry is not None and entry[0] is event else None
        tr, self._waiting = (self._waiting or own), None
        if tr is not None:
            tr.step = t_ns
        self.current = tr

    def add(self, stage: str, ns: int) -> None:
        """Add ``ns`` to sub-stage ``stage`` of the running step's trace (if traced)."""
        tr = self.current
        if tr is not None:
            tr.sub[stage] = tr.sub.get(stage, 0) + ns

    def step_end(self, commands: list[Command], t_ns: int) -> None:
        tr = self.current
        self.current = None
        if tr is None:
            return
        tr.stepped = t_ns
        if len(self._by_client_id) >= MAX_PENDING:
            self.dropped += len(self._by_client_id)
            self._by_client_id.clear()
        for cmd in commands:
            if isinstance(cmd, PlaceOrder | AmendOrder):
                tr.orders += 1
                self._by_client_id[cmd.client_id] = tr

    # --- execution / transport --------------------------------------------------------
    def exec_begin(self, cmd: Command) -> None:
        if isinstance(cmd, PlaceOrder | AmendOrder):
            tr = self._by_client_id.get(cmd.client_id)
            if tr is not None and tr.exec == 0:
                tr.exec = time.perf_counter_ns()

    def request_handed(self, client_id: str, t_ns: int) -> Trace | None:
        tr = self._by_client_id.get(client_id)
        if tr is None:
            return None
        tr.requests += 1
        tr.last_handed = t_ns
        if tr.handed == 0:
            tr.handed = t_ns
            self.done.append(tr)
        return tr

    def request_written(self, client_id: str, t_ns: int) -> None:
        tr = self._by_client_id.pop(client_id, None)
        if tr is not None and tr.written == 0:
            tr.written = t_ns


def install(probe: LatencyProbe | None) -> None:
    """Install ``probe`` (None uninstalls): the runtime's hooks report to it from now on."""
    global ACTIVE  # noqa: PLW0603 - one switch the hot path reads without a lookup chain
    ACTIVE = probe


def _order_client_id(request: httpx.Request) -> str | None:
    if request.url.path != "/fapi/v1/order" or request.method not in ("POST", "PUT"):
        return None
    for key, value in parse_qsl(request.url.query.decode()):
        if key in ("newClientOrderId", "origClientOrderId"):
            return value
    return None


class ProbeTransport(httpx.AsyncBaseTransport):
    """Wraps an httpx transport: stamps the moment httpx hands an order request over
    (``handed``) and, through httpcore's ``trace`` extension, the moment its bytes were
    written to the socket (``written``: after ``send_request_headers`` completed — these
    requests have no body). Other requests pass through untouched."""

    def __init__(self, inner: httpx.AsyncBaseTransport, probe: LatencyProbe) -> None:
        self._inner = inner
        self._probe = probe

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        t_ns = time.perf_counter_ns()
        client_id = _order_client_id(request)
        if client_id is not None and self._probe.request_handed(client_id, t_ns) is not None:
            probe, cid = self._probe, client_id

            async def trace(name: str, info: dict[str, Any]) -> None:
                if name == "http11.send_request_headers.complete":
                    probe.request_written(cid, time.perf_counter_ns())

            request.extensions["trace"] = trace
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


__all__ = ["ACTIVE", "LatencyProbe", "ProbeTransport", "Trace", "install"]
