"""Recorded-market driver: replays a recording's neutral events, endlessly if asked.

Reading. The driver reads an :data:`~mmtrio.sim.market.EventSource`: a callable that opens
the recording afresh and yields the neutral events (snapshots, deltas known continuous or a
``BookInvalid``, trades, tickers, mark prices) the live connector would have delivered for
it. The assembly (:mod:`mmtrio.sim.paper`) passes the recorded venue's reader; this module
knows no venue. A depth gap in the data (a ``BookInvalid``) is refused naming the
recording: the sim publishes one continuous book to its clients and cannot invent the
missing updates.

Start. The recording's snapshot plus the first delta that continues it give the starting book;
``initial_snapshot()`` is that book, with ``seq`` = that delta's ``seq`` and ``ts`` = its time.
Everything read before that point is not replayed; book tickers older than the start are
dropped.

Several files. A source may read several files as one continuous recording (a pair across
midnight: the second file has no snapshot and continues the first one's chain).

Time. ``MarketMessage.ts`` is exchange time in ms, shifted per pass (below) and made
non-decreasing (messages of different streams arrive in local-receive order, and their ``E``
can be a few ms out of order; such a time is raised to the previous message's).

Wrap (``loop=True``). At the end of the recording the driver emits ONE synthetic delta that
turns the current book into the starting book, then replays again from the start with:
  - sequence ids (delta seq/prev_seq/first_seq, ticker seq) offset by
    ``span = max_seq - start_seq + 1`` per pass; the wrap delta has ``prev_seq`` = the last
    replayed ``seq`` and ``seq = first_seq = start_seq + offset_next``, so the next pass's first
    delta (whose prev_seq is start_seq) continues the chain and ids keep increasing;
  - trade ids offset by ``max_t - min_t + 1`` per pass, so they keep increasing;
  - times shifted by ``period = max_ts - start_ts + WRAP_GAP_MS`` per pass; the wrap delta is
    stamped ``WRAP_GAP_MS // 2`` after the pass's last message; mark prices' next funding time
    is shifted with everything else.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from mmtrio.core.events import (
    BookDelta,
    BookInvalid,
    BookSnapshot,
    BookTicker,
    Event,
    MarketData,
    MarkPrice,
    Trade,
)
from mmtrio.core.instruments import Instrument
from mmtrio.errors import DataFileError, ProtocolError
from mmtrio.sim.market import EventSource, MarketDriver, MarketMessage, apply_levels, diff_to

WRAP_GAP_MS = 100


@dataclass(slots=True)
class _PassStats:
    """Facts about the recording learnt during the first pass (needed to wrap)."""

    last_seq: int
    max_seq: int
    max_ts: int
    min_t: int | None = None
    max_t: int | None = None


class ReplayDriver(MarketDriver):
    """Replays recordings of one instrument (see module doc for sync, time and wrap rules)."""

    def __init__(
        self, source: EventSource, instrument: Instrument, loop: bool = True, name: str = ""
    ) -> None:
        self.instrument = instrument
        self.source = source
        self.name = name or "the recording"  # for messages: the file(s) it reads
        self.loop = loop
        self._bids: dict[int, int] = {}
        self._asks: dict[int, int] = {}
        self._start_seq = 0
        self._start_ts = 0
        self._skip = 0  # reader events consumed by the start (not replayed)
        self._sync()

    def initial_snapshot(self) -> BookSnapshot:
        return BookSnapshot(
            symbol=self.instrument.symbol,
            bids=tuple(sorted(self._bids.items(), reverse=True)),
            asks=tuple(sorted(self._asks.items())),
            ts=self._start_ts,
            seq=self._start_seq,
        )

    def _events(self) -> Iterator[tuple[int, Event]]:
        for n, ev in enumerate(self.source(), 1):
            if isinstance(ev, BookInvalid):
                raise ProtocolError(
                    f"{self.name}: {ev.reason}; the sim replays one continuous book, so the "
                    "recording cannot be replayed past this point (pass continuous files in "
                    "order)"
                )
            yield n, ev

    # --- start: snapshot + the first delta that continues it ------------------------------------
    def _sync(self) -> None:
        snap: BookSnapshot | None = None
        for n, ev in self._events():
            if isinstance(ev, BookSnapshot):
                snap = ev
                self._bids, self._asks = dict(ev.bids), dict(ev.asks)
                self._start_ts = ev.ts
            elif isinstance(ev, BookDelta) and snap is not None:
                apply_levels(self._bids, ev.bids)
                apply_levels(self._asks, ev.asks)
                self._start_ts, self._start_seq, self._skip = ev.ts, ev.seq, n
                return
        raise DataFileError(
            f"{self.name}: no depth snapshot followed by a continuing diff; the first file "
            "of a recording pair carries the snapshot, pass the files in order"
        )

    # --- replay ---------------------------------------------------------------------------
    def __iter__(self) -> Iterator[MarketMessage]:
        start_bids, start_asks = self._bids, self._asks
        bids, asks = dict(start_bids), dict(start_asks)
        stats: _PassStats | None = None
        last_ts = self._start_ts
        for k in itertools.count():
            id_off = t_off = shift = 0
            if stats is not None:
                id_off = k * (stats.max_seq - self._start_seq + 1)
                t_off = k * ((stats.max_t or 0) - (stats.min_t or 0) + 1)
                shift = k * (stats.max_ts - self._start_ts + WRAP_GAP_MS)
            seen = _PassStats(
                last_seq=self._start_seq, max_seq=self._start_seq, max_ts=self._start_ts
            )
            for _, ev in itertools.islice(self._events(), self._skip, None):
                out = self._shifted(ev, seen, id_off, t_off, shift)
                if out is None:
                    continue
                ts = max(last_ts, out.ts)
                last_ts = ts
                if ts != out.ts:
                    out = dataclasses.replace(out, ts=ts)
                if isinstance(out, BookDelta):
                    apply_levels(bids, out.bids)
                    apply_levels(asks, out.asks)
                yield MarketMessage(ts=ts, event=out)
            if not self.loop:
                return
            if stats is None:
                stats = seen
            next_off = (k + 1) * (stats.max_seq - self._start_seq + 1)
            last_ts = max(last_ts, stats.max_ts + shift + WRAP_GAP_MS // 2)
            yield self._wrap_message(
                bids, asks, seen.last_seq + id_off, self._start_seq + next_off, last_ts
            )
            bids, asks = dict(start_bids), dict(start_asks)

    def _shifted(
        self, ev: Event, seen: _PassStats, id_off: int, t_off: int, shift: int
    ) -> MarketData | None:
        """``ev`` moved into this pass (ids, trade ids, times); None when not replayed."""
        if isinstance(ev, BookDelta):
            seen.last_seq = ev.seq
            seen.max_seq = max(seen.max_seq, ev.seq)
            seen.max_ts = max(seen.max_ts, ev.ts)
            return dataclasses.replace(
                ev,
                seq=ev.seq + id_off,
                prev_seq=ev.prev_seq + id_off,
                first_seq=ev.first_seq + id_off,
                ts=ev.ts + shift,
            )
        if isinstance(ev, BookTicker):
            if ev.seq < self._start_seq:
                return None  # older than the starting book
            seen.max_seq = max(seen.max_seq, ev.seq)
            seen.max_ts = max(seen.max_ts, ev.ts)
            return dataclasses.replace(ev, seq=ev.seq + id_off, ts=ev.ts + shift)
        if isinstance(ev, Trade):
            seen.min_t = ev.trade_id if seen.min_t is None else min(seen.min_t, ev.trade_id)
            seen.max_t = ev.trade_id if seen.max_t is None else max(seen.max_t, ev.trade_id)
            seen.max_ts = max(seen.max_ts, ev.ts)
            return dataclasses.replace(ev, trade_id=ev.trade_id + t_off, ts=ev.ts + shift)
        if isinstance(ev, MarkPrice):
            seen.max_ts = max(seen.max_ts, ev.ts)
            return dataclasses.replace(
                ev, ts=ev.ts + shift, next_funding_ts=ev.next_funding_ts + shift
            )
        return None  # a later snapshot: redundant once replaying

    def _wrap_message(
        self, bids: dict[int, int], asks: dict[int, int], prev: int, seq: int, ts: int
    ) -> MarketMessage:
        """The one delta that turns the book at the end of a pass into the starting book."""
        b = diff_to(bids, self._bids)[::-1]  # bids best first, like the venue prints them
        a = diff_to(asks, self._asks)
        event = BookDelta(self.instrument.symbol, b, a, ts, seq=seq, prev_seq=prev, first_seq=seq)
        return MarketMessage(ts=ts, event=event)
