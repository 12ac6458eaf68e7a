"""Recorded market data as a timed event stream for the backtester.

Each item is ``(exchange_ms, arrival_ms, event)``: the venue's event time ``E`` (when the
matching engine sees the message) and the time the strategy receives it.

Start (Binance's sync rule, see data/binance-usdm/README.md). Messages before the REST
snapshot are not replayed, except the depth diffs: they are buffered, and right after the
snapshot those with ``u >= lastUpdateId`` are released (the first of them covers
``lastUpdateId``), all at the snapshot's own times. So the strategy's order book syncs exactly
as it does live, and the matching engine starts from the same book.

Continuity. Several files are one continuous recording (a pair across midnight: the second
file has no snapshot). A break in the ``pu``/``u`` chain raises :class:`ProtocolError` naming
the file: a backtest over a gap would match our orders against a book that is wrong, so it is
refused rather than silently resynced. A later snapshot in the stream is redundant and skipped.

Exchange time is made non-decreasing (messages of different streams are recorded in local
receive order, and their ``E`` can be a few ms out of order; such an ``E`` is raised to the
previous one), so the engine never goes back in time.

Feed latency (``FeedLatency``):
- ``recorded`` (default): the recording host's clock is offset from the exchange's (about
  1.3-1.5 s behind in the shipped files), so ``local - E`` is offset + latency. The offset is
  estimated as the minimum of ``local - E`` over the first ``OFFSET_SCAN_LINES`` lines (the
  fastest message is taken to have had ``base_ms`` of latency); each message then arrives at
  ``local - offset + base_ms``, which keeps the recorded jitter and bursts and preserves the
  recorded arrival order. Arrival is never before ``E``.
- ``constant``: every message arrives ``base_ms`` after its ``E``.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from mmtrio.core.events import BookSnapshot, BookTicker, DepthDiff, MarkPrice, Trade
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ParameterError, ProtocolError
from mmtrio.recordings import Converter, RawMessage, iter_file

OFFSET_SCAN_LINES = 20_000
"""Lines read ahead to estimate the recording host's clock offset."""

MarketEvent = BookSnapshot | DepthDiff | Trade | BookTicker | MarkPrice


class FeedLatency(enum.Enum):
    RECORDED = "recorded"
    CONSTANT = "constant"


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One market message: when the venue stamped it and when the strategy receives it."""

    exchange_ms: int
    arrival_ms: int
    event: MarketEvent


def estimate_clock_offset_ms(path: Path, lines: int = OFFSET_SCAN_LINES) -> int:
    """Minimum of ``local_ms - E`` over the first ``lines`` stream messages of ``path``."""
    best: int | None = None
    for msg in itertools.islice(iter_file(path), lines):
        e = msg.data.get("E")
        if isinstance(e, int):
            d = msg.local_ns // 1_000_000 - e
            best = d if best is None else min(best, d)
    if best is None:
        raise ProtocolError(f"{path}: no message with an event time E; is this a recording?")
    return best


class RecordingFeed:
    """Iterates :class:`FeedItem`s of one continuous recording (see module doc)."""

    def __init__(
        self,
        paths: Sequence[Path],
        instrument: Instrument,
        *,
        latency: FeedLatency = FeedLatency.RECORDED,
        base_ms: int = 0,
        book_ticker: bool = False,
    ) -> None:
        if not paths:
            raise ParameterError("a backtest needs at least one recording file (--data)")
        for p in paths:
            if not Path(p).is_file():
                raise ProtocolError(f"recording file {p} does not exist")
        if base_ms < 0:
            raise ParameterError(f"feed latency base must be >= 0 ms, got {base_ms}")
        self.paths = [Path(p) for p in paths]
        self.instrument = instrument
        self.latency = latency
        self.base_ms = base_ms
        self.book_ticker = book_ticker
        self.offset_ms = (
            estimate_clock_offset_ms(self.paths[0]) if latency is FeedLatency.RECORDED else 0
        )
        self.messages = 0  # raw lines read, for throughput figures
        self.level_updates = 0  # depth levels applied (snapshot excluded) + trades

    def _raw(self) -> Iterator[tuple[Path, RawMessage]]:
        for path in self.paths:
            for msg in iter_file(path):
                yield path, msg

    def __iter__(self) -> Iterator[FeedItem]:
        conv = Converter(self.instrument)
        recorded = self.latency is FeedLatency.RECORDED
        offset, base = self.offset_ms, self.base_ms
        want_ticker = self.book_ticker
        buffered: list[tuple[Path, RawMessage]] = []
        synced = False
        await_cover = False  # synced with no diff yet: the next one must cover the snapshot
        last_u = 0
        last_e = 0
        last_arrival = 0
        for path, msg in self._raw():
            self.messages += 1
            kind = msg.kind
            if not synced:
                if kind == "depth":
                    buffered.append((path, msg))
                elif kind == "snapshot":
                    snap = conv.snapshot(msg.data)
                    last_e = snap.ts
                    last_arrival = self._arrival(msg, snap.ts, 0, recorded, offset, base)
                    yield FeedItem(last_e, last_arrival, snap)
                    synced = True
                    first = True
                    for bpath, bmsg in buffered:
                        diff = conv.depth(bmsg.data)
                        if diff.last_id < snap.last_update_id:
                            continue
                        if first and not diff.first_id <= snap.last_update_id <= diff.last_id:
                            raise ProtocolError(
                                f"{bpath}: first diff after the snapshot (U={diff.first_id}, "
                                f"u={diff.last_id}) does not cover lastUpdateId "
                                f"{snap.last_update_id}: the recording cannot be synced"
                            )
                        if not first and diff.prev_last_id != last_u:
                            raise ProtocolError(
                                f"{bpath}: depth sequence gap (pu={diff.prev_last_id}, "
                                f"previous u={last_u})"
                            )
                        first = False
                        last_u = diff.last_id
                        self.level_updates += len(diff.bids) + len(diff.asks)
                        yield FeedItem(last_e, last_arrival, diff)
                    buffered = []
                    if first:
                        last_u = snap.last_update_id
                        await_cover = True
                continue
            if kind == "snapshot":
                continue  # redundant once synced (the shipped pairs carry one, in file 1)
            data = msg.data
            e = data["E"]
            if not isinstance(e, int):
                raise ProtocolError(f"{path}: {kind} message without an integer E")
            e = max(e, last_e)
            if kind == "depth":
                diff = conv.depth(data)
                if await_cover and diff.last_id < last_u:
                    continue  # stale: already contained in the snapshot
                if (not await_cover and diff.prev_last_id != last_u) or (
                    await_cover and not diff.first_id <= last_u <= diff.last_id
                ):
                    raise ProtocolError(
                        f"{path}: depth sequence gap (pu={diff.prev_last_id}, previous "
                        f"u={last_u}); the files are not one continuous recording"
                    )
                await_cover = False
                last_u = diff.last_id
                self.level_updates += len(diff.bids) + len(diff.asks)
                event: MarketEvent = diff
            elif kind == "trade":
                event = conv.trade(data)
                self.level_updates += 1
            elif kind == "markPrice":
                event = conv.mark_price(data)
            elif kind == "bookTicker":
                if not want_ticker:
                    continue
                event = conv.book_ticker(data)
            else:  # pragma: no cover - parse_line only yields the kinds above
                raise ProtocolError(f"{path}: unexpected message kind {kind!r}")
            last_e = e
            arrival = self._arrival(msg, e, last_arrival, recorded, offset, base)
            last_arrival = arrival
            yield FeedItem(e, arrival, event)
        if not synced:
            raise ProtocolError(
                f"{self.paths[0]}: no depth snapshot in the recording; the first file of a "
                "recording pair carries it, pass the files in order"
            )

    @staticmethod
    def _arrival(msg: RawMessage, e: int, last: int, recorded: bool, offset: int, base: int) -> int:  # noqa: PLR0917 - hot path
        at = msg.local_ns // 1_000_000 - offset + base if recorded else e + base
        at = max(at, e)
        return at if at > last else last
