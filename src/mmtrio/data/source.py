"""An event store read back as neutral events: the ``Source`` the Python backtest engine and
the simulated venue's replay take (the same ``(local_receive_ns, event)`` pairs, in the same
order, as the venue's recording reader gave when the store was written).

Reading goes a block of rows at a time (each block's CRC and structure checked first, see
:mod:`mmtrio.data.store`), so memory stays flat whatever the store's length. bookTicker
events are skipped unless asked for, as the recording reader does for the backtester.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

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
    BLOCK_ROWS,
    K_DELTA,
    K_INVALID,
    K_MARK,
    K_SNAPSHOT,
    K_TICKER,
    K_TRADE,
    unpack_exponents,
)
from mmtrio.data.store import Store, open_store


def iter_events(store: Store, *, book_ticker: bool = False) -> Iterator[tuple[int, Event]]:
    """Every event of ``store`` in order (see module doc)."""
    sym = store.symbol
    reasons = store.reasons
    msgs, levels = store.messages, store.levels
    checked_levels: set[int] = set()
    for block in range((len(msgs) + BLOCK_ROWS - 1) // BLOCK_ROWS):
        store.check_block("messages", block)
        rows = msgs[block * BLOCK_ROWS : (block + 1) * BLOCK_ROWS]
        kinds = rows["kind"].tolist()
        local = rows["local_ns"].tolist()
        ts = rows["ts"].tolist()
        a, b, c = rows["a"].tolist(), rows["b"].tolist(), rows["c"].tolist()
        d, e = rows["d"].tolist(), rows["e"].tolist()
        flag = rows["flag"].tolist()
        start, nb, na = rows["start"].tolist(), rows["n_bids"].tolist(), rows["n_asks"].tolist()
        book_rows = [i for i, k in enumerate(kinds) if k in (K_SNAPSHOT, K_DELTA)]
        lo = start[book_rows[0]] if book_rows else 0
        hi = max((start[i] + nb[i] + na[i] for i in book_rows), default=lo)
        for lb in range(lo // BLOCK_ROWS, (hi + BLOCK_ROWS - 1) // BLOCK_ROWS):
            if lb not in checked_levels:
                store.check_block("levels", lb)
                checked_levels.add(lb)
        px = levels["px"][lo:hi].tolist()
        qty = levels["qty"][lo:hi].tolist()
        for i, kind in enumerate(kinds):
            ev: Event
            if kind in (K_DELTA, K_SNAPSHOT):
                s = start[i] - lo
                m = s + nb[i]
                z = m + na[i]
                bids = tuple(zip(px[s:m], qty[s:m], strict=True))
                asks = tuple(zip(px[m:z], qty[m:z], strict=True))
                if kind == K_DELTA:
                    ev = BookDelta(sym, bids, asks, ts[i], a[i], b[i], c[i])
                else:
                    ev = BookSnapshot(sym, bids, asks, ts[i], a[i])
            elif kind == K_TRADE:
                ev = Trade(sym, a[i], b[i], c[i], flag[i] == 1, ts[i])
            elif kind == K_TICKER:
                if not book_ticker:
                    continue
                ev = BookTicker(sym, b[i], c[i], d[i], e[i], ts[i], a[i])
            elif kind == K_MARK:
                e1, e2, e3 = unpack_exponents(e[i])
                ev = MarkPrice(
                    sym,
                    Decimal(b[i]).scaleb(e1),
                    Decimal(c[i]).scaleb(e2),
                    Decimal(d[i]).scaleb(e3),
                    a[i],
                    ts[i],
                )
            elif kind == K_INVALID:
                ev = BookInvalid(sym, reasons[a[i]], ts[i])
            else:  # pragma: no cover - check_block refuses unknown kinds
                continue
            yield local[i], ev


@dataclass(frozen=True, slots=True)
class StoreSource:
    """A store as a re-readable, picklable source of ``(local_ns, event)`` pairs."""

    path: Path
    book_ticker: bool = False

    @property
    def instrument(self) -> Instrument:
        return open_store(self.path).instrument

    def __call__(self) -> Iterator[tuple[int, Event]]:
        return iter_events(open_store(self.path), book_ticker=self.book_ticker)
