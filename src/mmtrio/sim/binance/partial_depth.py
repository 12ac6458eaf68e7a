"""Binance's partial book depth streams: ``<symbol>@depth<levels>[@100ms|@500ms]``.

Binance USDⓈ-M "Partial Book Depth Streams" (developers.binance.com/docs/derivatives/
usds-margined-futures/websocket-market-streams/Partial-Book-Depth-Streams): the top 5, 10 or
20 levels a side, every 250 ms (or 500 ms, 100 ms), as an event shaped like the diff stream:

``{"e":"depthUpdate","E":ms,"T":ms,"s":"BTCUSDT","U":first,"u":last,"pu":prev,"b":[...],"a":[...]}``

``b``/``a`` are the whole top levels (not changes), bids best first, asks best first. ``U`` is
the first update id the event covers, ``u`` the last, and ``pu`` the ``u`` of the stream's
previous event, so a client can tell it missed one. The sim pushes an event when at least one
public delta arrived since the last and the stream's interval has passed on the wire clock
(market time re-based to wall time), as Binance pushes no event for an unchanged book; the
levels are those of the public book the diff stream describes (our resting orders included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mmtrio.core.events import BookDelta

if TYPE_CHECKING:
    from mmtrio.sim.binance.wire import Formatter
    from mmtrio.sim.venue import SimVenue


@dataclass(slots=True)
class _Topic:
    """One partial stream's pacing: what its next event covers."""

    name: str  # canonical topic: btcusdt@depth5@250ms
    levels: int
    interval_ms: int
    last_push_ms: int | None = None  # wire ms of the last event
    last_u: int | None = None  # the last event's u: the next one's pu
    first: int | None = None  # U of the next event: first update id since the last
    prev: int | None = None  # pu for a first event: the covered deltas' previous id


class PartialDepth:
    """Renders the partial depth topics that have subscribers, each at its own pace."""

    def __init__(self, venue: SimVenue, fmt: Formatter, topics: list[tuple[str, int, int]]) -> None:
        self.venue = venue
        self.fmt = fmt
        self.topics = [_Topic(name, n, ms) for name, n, ms in topics]

    def on_book(self, public: BookDelta) -> None:
        hub = self.venue.hub
        now: int | None = None
        for topic in self.topics:
            if not hub.has_subscribers(topic.name):
                # nobody to stay continuous for: the next subscriber starts afresh
                topic.first = topic.prev = topic.last_u = topic.last_push_ms = None
                continue
            if topic.first is None:
                topic.first = public.first_seq or public.seq
                topic.prev = public.prev_seq
            if now is None:
                now = self.venue.out_ts()
            due = topic.last_push_ms is None or now - topic.last_push_ms >= topic.interval_ms
            if due:
                self._push(topic, public.seq, now)

    def _push(self, topic: _Topic, last: int, now: int) -> None:
        bids, asks = self.venue.book.top(topic.levels)
        fmt = self.fmt
        data = {
            "e": "depthUpdate",
            "E": now,
            "T": now,
            "s": self.venue.symbol,
            "U": topic.first,
            "u": last,
            "pu": topic.last_u if topic.last_u is not None else topic.prev,
            "b": [[fmt.px(p), fmt.qty(q)] for p, q in bids],
            "a": [[fmt.px(p), fmt.qty(q)] for p, q in asks],
        }
        self.venue.hub.publish(topic.name, data)
        topic.last_push_ms, topic.last_u = now, last
        topic.first = topic.prev = None
