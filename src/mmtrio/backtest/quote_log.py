"""Our quotes and trading-state changes over a backtest, for the HTML report's charts.

``mmtrio report`` reads the same picture from a journal (:mod:`mmtrio.reporting.timeline`);
a backtest has no journal, so :class:`QuoteLog` records it as the run goes, from what the
strategy sends and what it is told:

- **quote segments**: each order's price from its place (or amend) until its amend, its
  cancel (a cancel-all ends every open one), its rejection or a terminal order update;
- **markers**: every ``state_change`` notice (ACTIVE / REDUCING_ONLY / HALTED and why), so
  the charts shade the halts.

Cost: a dictionary operation per command and per order event (the strategy's ``decide``
costs hundreds of µs). Memory is bounded: the most recent :data:`MAX_SEGMENTS` segments and
:data:`MAX_MARKERS` markers are kept (a chart shows no more).
"""

from __future__ import annotations

from collections import deque

from mmtrio.core.commands import AmendOrder, CancelAll, CancelOrder, Command, PlaceOrder
from mmtrio.core.events import Event, OrderStatus, OrderUpdate, PlaceRejected
from mmtrio.reporting.timeline import Marker, QuoteSegment, Timeline

MAX_SEGMENTS = 20_000
MAX_MARKERS = 5_000
_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED}
)


class QuoteLog:
    """Quote segments and state markers of one run (see the module doc)."""

    def __init__(self) -> None:
        self._open: dict[str, tuple[str, int, int]] = {}  # client id → (side, price, since)
        self._done: deque[QuoteSegment] = deque(maxlen=MAX_SEGMENTS)
        self._markers: deque[Marker] = deque(maxlen=MAX_MARKERS)

    def command(self, cmd: Command, now: int) -> None:
        if isinstance(cmd, PlaceOrder):
            self._open[cmd.client_id] = (cmd.side.value, cmd.price, now)
        elif isinstance(cmd, AmendOrder):
            self._close(cmd.client_id, now)
            self._open[cmd.client_id] = (cmd.side.value, cmd.price, now)
        elif isinstance(cmd, CancelOrder):
            self._close(cmd.client_id, now)
        elif isinstance(cmd, CancelAll):
            for cid in list(self._open):
                self._close(cid, now)

    def event(self, ev: Event, now: int) -> None:
        if isinstance(ev, PlaceRejected) or (
            isinstance(ev, OrderUpdate) and ev.status in _TERMINAL
        ):
            self._close(ev.client_id, now)

    def state(self, ts: int, to_state: str, reason: str) -> None:
        self._markers.append(Marker(ts, "state", to_state, reason))

    def _close(self, cid: str, now: int) -> None:
        seg = self._open.pop(cid, None)
        if seg is not None:
            side, price, since = seg
            self._done.append(QuoteSegment(side, price, since, now))

    def timeline(self, end_ms: int) -> Timeline:
        """Everything recorded up to ``end_ms`` (the data's last event): open quotes end
        there, and what happened after it (the book going stale) is left out."""
        quotes = [s for s in self._done if s.t0 <= end_ms]
        quotes += [
            QuoteSegment(side, price, since, end_ms)
            for side, price, since in self._open.values()
            if since <= end_ms
        ]
        quotes = [QuoteSegment(s.side, s.price, s.t0, min(s.t1, end_ms)) for s in quotes]
        markers = tuple(m for m in self._markers if m.ts <= end_ms)
        return Timeline(tuple(quotes[-MAX_SEGMENTS:]), markers)
