"""Recording a market feed to rotating gzip files (the collector format's framing).

:class:`Recorder` is a market sink (:class:`mmtrio.venues.protocol.MarketSink`'s shape): the
feed hands it neutral events and never waits; each is stamped with the local receive time in
ns and encoded at once into a line by the venue's encoder (for Binance,
:func:`mmtrio.venues.binance.collector.encode_line`). :class:`RotatingFiles` writes the lines:
one gzip file at a time, named ``<symbol>_<YYYYMMDD>.gz`` when rotating daily at 00:00 UTC (as
the hftbacktest collector does) or ``<symbol>_<YYYYMMDD_HHMMSS>.gz`` when rotating every N
minutes or N MB. A rotated file continues the book of the one before (no new snapshot), like
the collector's pairs: replay them together, in order.

Lines are handed to the writer in batches (the caller flushes, off the event loop, about once
a second), so a crash loses at most the last batch and leaves a gzip file cut mid-stream,
which every reader of this project names with its offset. Memory is bounded: past
``max_pending`` lines not yet written, new events are dropped and counted, and the caller is
told to ask the feed for a resync (the book is then rebuilt from a fresh snapshot, as live):
once per overflow (a run of drops between two flushes). ``dropped_total`` and ``overflows``
keep the whole recording's count for its summary.
"""

from __future__ import annotations

import datetime as dt
import gzip
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmtrio.core.events import Event
from mmtrio.errors import ParameterError

Encoder = Callable[[int, Event], bytes | None]


@dataclass(frozen=True, slots=True)
class Rotation:
    """``daily`` (00:00 UTC), or every ``minutes``, or past ``megabytes`` (uncompressed)."""

    daily: bool = True
    minutes: int = 0
    megabytes: int = 0

    def __post_init__(self) -> None:
        if self.minutes < 0 or self.megabytes < 0:
            raise ParameterError("rotation minutes and megabytes must be >= 0")
        if not self.daily and not self.minutes and not self.megabytes:
            raise ParameterError("rotation: daily, or every N >= 1 minutes or megabytes")


@dataclass
class RotatingFiles:
    """Gzip files under ``out_dir`` for one symbol (see the module doc). Blocking I/O: call
    from a worker thread."""

    out_dir: Path
    symbol: str
    rotation: Rotation
    files: list[Path] = field(default_factory=list)
    _fh: gzip.GzipFile | None = None
    _opened_ns: int = 0
    _bytes: int = 0

    def _name(self, local_ns: int) -> Path:
        t = dt.datetime.fromtimestamp(local_ns / 1e9, tz=dt.UTC)
        stamp = t.strftime("%Y%m%d") if self.rotation.daily else t.strftime("%Y%m%d_%H%M%S")
        path = self.out_dir / f"{self.symbol.lower()}_{stamp}.gz"
        n = 1
        while path.exists() or path in self.files:
            n += 1
            path = self.out_dir / f"{self.symbol.lower()}_{stamp}.{n}.gz"
        return path

    def _due(self, local_ns: int) -> bool:
        if self._fh is None:
            return True
        r = self.rotation
        if r.megabytes and self._bytes >= r.megabytes * 1_000_000:
            return True
        if r.minutes:
            return local_ns - self._opened_ns >= r.minutes * 60 * 1_000_000_000
        if r.daily:
            day = 86_400 * 1_000_000_000
            return local_ns // day != self._opened_ns // day
        return False

    def write(self, lines: list[tuple[int, bytes]]) -> None:
        for local_ns, line in lines:
            if self._due(local_ns):
                self.close()
                self.out_dir.mkdir(parents=True, exist_ok=True)
                path = self._name(local_ns)
                self._fh = gzip.open(path, "wb")  # noqa: SIM115 - held across calls
                self.files.append(path)
                self._opened_ns = local_ns
                self._bytes = 0
            fh = self._fh
            if fh is not None:
                fh.write(line)
                self._bytes += len(line)
        if self._fh is not None:
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


@dataclass
class Recorder:
    """A market sink that encodes what it gets into pending lines (see the module doc)."""

    encode: Encoder
    clock_ns: Callable[[], int]
    max_pending: int = 1_000_000
    pending: list[tuple[int, bytes]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    dropped: int = 0  # in the current overflow: reset by take()
    dropped_total: int = 0
    overflows: int = 0
    statuses: list[Any] = field(default_factory=list)
    on_overflow: Callable[[], None] | None = None

    def market(self, event: Event) -> None:
        if len(self.pending) >= self.max_pending:
            self.dropped += 1
            self.dropped_total += 1
            if self.dropped == 1:
                self.overflows += 1
                if self.on_overflow is not None:
                    self.on_overflow()
            return
        now = self.clock_ns()
        line = self.encode(now, event)
        self.counts[type(event).__name__] += 1
        if line is not None:
            self.pending.append((now, line))

    def status(self, event: Any) -> None:
        self.statuses.append(event)

    def take(self) -> list[tuple[int, bytes]]:
        out, self.pending = self.pending, []
        self.dropped = 0  # the next drop starts a new overflow (and asks for a resync again)
        return out
