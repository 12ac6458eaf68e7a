"""Neutral market events → an event store (:mod:`mmtrio.data.layout`).

:func:`write_store` takes any iterable of ``(local_receive_ns, event)`` pairs: the venue
package's recording reader (the live codec and depth sequencer, so a store holds exactly the
events the live connector would deliver, gaps included as ``BookInvalid``), the Tardis and
hftbacktest importers, or the recorder. It streams: memory stays at one block of rows
whatever the input's length.

:func:`convert` is what ``mmtrio data convert`` runs: it names the store by the content hash
of the input files and skips the work when that store already exists and opens cleanly
(:func:`reusable`); the Tardis and hftbacktest importers skip theirs the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from mmtrio.core.events import (
    BookDelta,
    BookInvalid,
    BookSnapshot,
    BookTicker,
    Event,
    MarkPrice,
    Trade,
)
from mmtrio.core.instruments import Instrument
from mmtrio.data.layout import (
    K_DELTA,
    K_INVALID,
    K_MARK,
    K_SNAPSHOT,
    K_TICKER,
    K_TRADE,
    LEVEL_DTYPE,
    MSG_DTYPE,
    pack_exponents,
)
from mmtrio.data.store import StoreWriter, content_key, is_store, open_store
from mmtrio.errors import DataFileError

FLUSH_ROWS = 65_536
_I64 = (-(2**63), 2**63 - 1)


def _mantissa(value: Decimal, what: str) -> tuple[int, int]:
    """An exact (mantissa, exponent) pair of a finite Decimal, both fitting the store."""
    if not value.is_finite():
        raise DataFileError(f"{what} {value} is not a finite number")
    sign, digits, exp = value.as_tuple()
    mant = int("".join(map(str, digits)) or "0")
    if sign:
        mant = -mant
    if not isinstance(exp, int) or not -128 <= exp <= 127 or not _I64[0] <= mant <= _I64[1]:
        raise DataFileError(f"{what} {value} has too many digits for the store")
    return mant, exp


class _Blocks:
    """Accumulates message and level rows; hands full blocks to the writer."""

    def __init__(self, writer: StoreWriter, symbol: str) -> None:
        self.w = writer
        self.symbol = symbol
        self.msgs = np.zeros(FLUSH_ROWS, MSG_DTYPE)
        self.n = 0
        self.levels: list[tuple[int, int]] = []

    def add(self, local_ns: int, ev: Event) -> None:
        sym = getattr(ev, "symbol", self.symbol)
        if sym != self.symbol:
            raise DataFileError(
                f"the input mixes symbols ({self.symbol} and {sym}); a store holds one"
            )
        row = self.msgs[self.n]
        row["local_ns"] = local_ns
        if isinstance(ev, BookDelta | BookSnapshot):
            row["kind"] = K_DELTA if isinstance(ev, BookDelta) else K_SNAPSHOT
            row["ts"] = ev.ts
            row["a"] = ev.seq
            if isinstance(ev, BookDelta):
                row["b"] = ev.prev_seq
                row["c"] = ev.first_seq
            row["start"] = self.w.level_rows + len(self.levels)
            row["n_bids"] = len(ev.bids)
            row["n_asks"] = len(ev.asks)
            self.levels.extend(ev.bids)
            self.levels.extend(ev.asks)
        elif isinstance(ev, Trade):
            row["kind"] = K_TRADE
            row["ts"] = ev.ts
            row["a"], row["b"], row["c"] = ev.trade_id, ev.price, ev.qty
            row["flag"] = 1 if ev.buyer_is_maker else 0
        elif isinstance(ev, BookTicker):
            row["kind"] = K_TICKER
            row["ts"] = ev.ts
            row["a"], row["b"], row["c"] = ev.seq, ev.bid_price, ev.bid_qty
            row["d"], row["e"] = ev.ask_price, ev.ask_qty
        elif isinstance(ev, MarkPrice):
            row["kind"] = K_MARK
            row["ts"] = ev.ts
            row["a"] = ev.next_funding_ts
            m1, e1 = _mantissa(ev.mark_price, "mark price")
            m2, e2 = _mantissa(ev.index_price, "index price")
            m3, e3 = _mantissa(ev.funding_rate, "funding rate")
            row["b"], row["c"], row["d"] = m1, m2, m3
            row["e"] = pack_exponents(e1, e2, e3)
        elif isinstance(ev, BookInvalid):
            row["kind"] = K_INVALID
            row["ts"] = ev.ts
            row["a"] = len(self.w.reasons)
            self.w.reasons.append(ev.reason)
        else:
            return  # not market data: a store holds the market only
        self.n += 1
        if self.n == FLUSH_ROWS or len(self.levels) >= 4 * FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        levels = np.array(self.levels, dtype=np.int64).reshape(-1, 2)
        lv = np.zeros(len(levels), LEVEL_DTYPE)
        if len(levels):
            lv["px"], lv["qty"] = levels[:, 0], levels[:, 1]
        self.w.write(self.msgs[: self.n].copy(), lv)
        self.msgs[:] = 0
        self.n = 0
        self.levels = []


def write_store(
    events: Iterable[tuple[int, Event]],
    final_dir: Path,
    instrument: Instrument,
    source: dict[str, Any],
    *,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Stream ``events`` into a new store at ``final_dir`` (replaced if it exists)."""
    writer = StoreWriter(final_dir, instrument, source)
    blocks = _Blocks(writer, instrument.symbol)
    try:
        for n, (local_ns, ev) in enumerate(events, 1):
            blocks.add(local_ns, ev)
            if progress is not None and n % 100_000 == 0:
                progress(n)
        blocks.flush()
    except BaseException:
        writer.abort()
        raise
    if writer.counts.get("snapshot", 0) == 0:
        writer.abort()
        named = ", ".join(str(f) for f in source.get("files") or [final_dir])
        raise DataFileError(
            f"{named}: no book snapshot in the data; a recording must start with (or contain) "
            "a full book"
        )
    return writer.finish()


def reusable(final: Path) -> bool:
    """Whether the store at ``final`` exists and opens cleanly (its meta, headers and sizes
    agree), so a conversion keyed to it has nothing to do; a damaged one is converted again."""
    if not is_store(final):
        return False
    try:
        open_store(final)
    except DataFileError:
        return False
    return True


def convert(
    paths: Sequence[Path],
    root: Path,
    instrument: Instrument,
    events: Callable[[], Iterable[tuple[int, Event]]],
    kind: str,
    *,
    force: bool = False,
) -> tuple[Path, bool]:
    """The store of ``paths`` under ``root`` (by content hash); (path, True) if written now."""
    key = content_key(paths, kind)
    final = root / key
    if not force and reusable(final):
        return final, False
    source = {"kind": kind, "files": [p.name for p in paths]}
    return write_store(events(), final, instrument, source), True
