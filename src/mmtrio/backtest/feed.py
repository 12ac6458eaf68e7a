"""Recorded market data as a timed event stream for the backtester.

Each item is ``(exchange_ms, arrival_ms, event)``: the venue's event time (when the matching
engine sees the message) and the time the strategy receives it.

The events come from a *source*: a callable returning ``(local_receive_ns, event)`` pairs of
neutral core events, in file order (the CLI passes the venue package's recording reader,
which runs the live codec and the live depth sequencer over the data, so the strategy's book
syncs exactly as it does live). The backtester imports no venue: it only sees neutral events.

Book continuity. A depth gap in the data arrives as :class:`~mmtrio.core.events.BookInvalid`
(the strategy stops quoting, as live) and the book is rebuilt from the next snapshot in the
data, if there is one; ``gaps`` counts them and the report states it. Nothing is refused. The
BookInvalid carries the times of the last message before the gap: continuity was lost there.

Exchange time is made non-decreasing (messages of different streams are recorded in local
receive order, and their event times can be a few ms out of order; such a time is raised to
the previous one), so the engine never goes back in time.

Feed latency (``FeedLatency``):
- ``recorded`` (default): the recording host's clock is offset from the exchange's (about
  1.3-1.5 s behind in the shipped files), so ``local - E`` is offset + latency. The offset is
  estimated as the minimum of ``local - E`` over the first ``OFFSET_SCAN_EVENTS`` events (the
  fastest message is taken to have had ``base_ms`` of latency); each message then arrives at
  ``local - offset + base_ms``, which keeps the recorded jitter and bursts and preserves the
  recorded arrival order. Arrival is never before ``E``.
- ``constant``: every message arrives ``base_ms`` after its ``E``.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from mmtrio.core.events import (
    BookDelta,
    BookInvalid,
    BookSnapshot,
    BookTicker,
    Event,
    MarkPrice,
    Trade,
)
from mmtrio.errors import ParameterError, ProtocolError

OFFSET_SCAN_EVENTS = 20_000
"""Events read ahead to estimate the recording host's clock offset."""

MarketEvent = BookSnapshot | BookDelta | BookInvalid | Trade | BookTicker | MarkPrice
_MARKET_TYPES = (BookSnapshot, BookDelta, BookInvalid, Trade, BookTicker, MarkPrice)
Source = Callable[[], Iterable[tuple[int, Event]]]
"""A fresh iterable of ``(local_receive_ns, event)`` per call (the recording, read again)."""


class FeedLatency(enum.Enum):
    RECORDED = "recorded"
    CONSTANT = "constant"


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One market message: when the venue stamped it and when the strategy receives it."""

    exchange_ms: int
    arrival_ms: int
    event: MarketEvent


def estimate_clock_offset_ms(source: Source, events: int = OFFSET_SCAN_EVENTS) -> int:
    """Minimum of ``local_ms - E`` over the first ``events`` timed events of ``source``."""
    best: int | None = None
    for local_ns, ev in itertools.islice(source(), events):
        ts = getattr(ev, "ts", None)
        if isinstance(ts, int) and not isinstance(ev, BookInvalid):
            d = local_ns // 1_000_000 - ts
            best = d if best is None else min(best, d)
    if best is None:
        raise ProtocolError("no timed market event in the recording; is this a recording?")
    return best


class RecordingFeed:
    """Iterates :class:`FeedItem`s of one continuous recording (see module doc)."""

    def __init__(
        self,
        source: Source,
        *,
        latency: FeedLatency = FeedLatency.RECORDED,
        base_ms: int = 0,
    ) -> None:
        if base_ms < 0:
            raise ParameterError(f"feed latency base must be >= 0 ms, got {base_ms}")
        self.source = source
        self.latency = latency
        self.base_ms = base_ms
        self.offset_ms = estimate_clock_offset_ms(source) if latency is FeedLatency.RECORDED else 0
        self.messages = 0  # events read, for throughput figures
        self.level_updates = 0  # depth levels applied (snapshots excluded) + trades
        self.gaps = 0  # book continuity lost (resynced from the next snapshot, if any)

    def __iter__(self) -> Iterator[FeedItem]:
        recorded = self.latency is FeedLatency.RECORDED
        offset, base = self.offset_ms, self.base_ms
        synced = False
        last_e = 0
        last_arrival = 0
        for local_ns, ev in self.source():
            self.messages += 1
            if not isinstance(ev, _MARKET_TYPES):
                continue  # a recording holds market data only; anything else is not replayed
            if isinstance(ev, BookSnapshot):
                synced = True
            elif not synced:
                continue  # nothing before the first book is replayed
            if isinstance(ev, BookInvalid):
                # The data stopped being continuous after the previous message: the book is
                # unknown from there on, not from the message that revealed the gap (which may
                # come after a hole of minutes or weeks). Stamped with the previous message's
                # times, the strategy stops quoting at once instead of stepping its timers
                # through the hole on a book the data no longer vouches for.
                self.gaps += 1
                yield FeedItem(last_e, last_arrival, ev)
                continue
            e = max(ev.ts, last_e)
            if isinstance(ev, BookDelta):
                self.level_updates += len(ev.bids) + len(ev.asks)
            elif isinstance(ev, Trade):
                self.level_updates += 1
            last_e = e
            at = local_ns // 1_000_000 - offset + base if recorded else e + base
            at = max(at, e)
            arrival = at if at > last_arrival else last_arrival
            last_arrival = arrival
            yield FeedItem(e, arrival, ev)
        if not synced:
            raise ProtocolError(
                "no depth snapshot in the recording; the first file of a recording pair "
                "carries it, pass the files in order"
            )
