"""Neutral market events → lines of the hftbacktest collector format (what
:mod:`mmtrio.venues.binance.recording` reads, and hftbacktest's own converter).

One line per event: ``<local_receive_ns> <json>``, the json a combined-stream envelope
(``<symbol>@depth@0ms``, ``@trade``, ``@bookTicker``, ``@markPrice@1s``) or a bare REST depth
snapshot, with Binance's field names and the instrument's own decimal strings. The ids the
live sequencer kept on each delta (U/u/pu as ``first_seq``/``seq``/``prev_seq``) are written
back, so a recording made by ``mmtrio record`` syncs and checks continuity exactly as one made
by the collector. A ``BookInvalid`` writes nothing: the next diff's ``pu`` shows the gap to
any reader, and the resync snapshot follows.

**Other venues' feeds** (``mmtrio record`` on OKX, Hyperliquid or Extended) are written in the
same format, as Binance would name and size that market, so that every reader of this project
(the backtester, ``mmtrio data convert``, each venue's simulated venue) replays them unchanged:

- the symbol is the base and quote assets (OKX ``BTC-USDT-SWAP`` → ``BTCUSDT``, Hyperliquid
  ``BTC`` → ``BTCUSDC``, Extended ``BTC-USD`` → ``BTCUSD``); the file name keeps the venue's;
- sizes are in the base asset (OKX's contracts times their ``ctVal``), prices as the venue's;
- the venue's own sequence ids are kept (OKX ``seqId``/``prevSeqId``, Extended ``seq``: ``U``
  = ``u`` = the id, ``pu`` = the one it continues); the first diff after a snapshot has
  ``pu`` = the snapshot's id, which continues it for the sequencer every reader runs
  (:mod:`mmtrio.venues.binance.sequencer`);
- a venue that sends whole books and no diffs (Hyperliquid's ``l2Book``, 20 levels a side)
  is written as its first book, then each book's changes from the one before as a diff
  (a level gone from the book: size 0), with ids counted from the first book's, so that the
  replayed book passes through the same states as the venue's;
- a mark price whose venue states no index price (OKX's mark-price channel) is written with
  ``"i": "0"``, which the readers take as "not stated".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import orjson

from mmtrio.core.events import (
    BookDelta,
    BookInvalid,
    BookSnapshot,
    BookTicker,
    Event,
    Level,
    MarkPrice,
    Trade,
)
from mmtrio.core.instruments import Instrument


def recording_symbol(inst: Instrument) -> str:
    """The market's name in a recording: base + quote (``BTCUSDT``), as Binance names it."""
    return f"{inst.base_asset}{inst.quote_asset}".upper()


def _size(inst: Instrument) -> Callable[[int], str]:
    """Lots as base-asset text: the instrument's own size text when a lot is in the base
    asset (Binance, Hyperliquid, Extended), contracts × contract size otherwise (OKX)."""
    return inst.qty_str if inst.contract_size == 1 else inst.base_str


def _levels(inst: Instrument, levels: tuple[Level, ...]) -> list[list[str]]:
    size = _size(inst)
    return [[inst.price_str(p), size(q)] for p, q in levels]


class CollectorEncoder:
    """:func:`encode_line` for one feed, with what a line depends on before it, for a venue
    that sends whole books (module docstring): the last book and the ids given to its
    changes."""

    def __init__(self, inst: Instrument) -> None:
        self.inst = inst
        self._book: tuple[dict[int, int], dict[int, int]] | None = None  # no diff since
        self._whole_books = False  # snapshots follow snapshots: each change becomes a diff
        self._last_id = 0

    def __call__(self, local_ns: int, ev: Event) -> bytes | None:
        if isinstance(ev, BookSnapshot):
            return self._snapshot(local_ns, ev)
        if isinstance(ev, (BookDelta, BookInvalid)):
            self._book = None  # diffs, or a gap: the next snapshot is a resync
        return encode_line(local_ns, ev, self.inst)

    def _snapshot(self, local_ns: int, ev: BookSnapshot) -> bytes | None:
        prev, self._book = self._book, (dict(ev.bids), dict(ev.asks))
        if prev is None:  # the first book, or a resync: a snapshot line
            seq = self._last_id + 1 if self._whole_books else ev.seq
            self._last_id = seq
            return encode_line(local_ns, replace(ev, seq=seq), self.inst)
        self._whole_books = True
        bids, asks = _changed(prev[0], self._book[0], True), _changed(prev[1], self._book[1], False)
        if not bids and not asks:
            return None  # the same book again: nothing changed, nothing to replay
        pu = self._last_id
        u = self._last_id = pu + 1
        return encode_line(local_ns, BookDelta(ev.symbol, bids, asks, ev.ts, u, pu, u), self.inst)


def _changed(old: dict[int, int], new: dict[int, int], bids: bool) -> tuple[Level, ...]:
    """The levels of ``new`` that differ from ``old``, size 0 for a level gone, best first."""
    out = [(px, qty) for px, qty in new.items() if old.get(px) != qty]
    out += [(px, 0) for px in old if px not in new]
    return tuple(sorted(out, reverse=bids))


def encode_line(local_ns: int, ev: Event, inst: Instrument) -> bytes | None:
    """One collector line (with its newline) for ``ev``; None for what has no line."""
    sym = recording_symbol(inst)
    low = sym.lower()
    obj: dict[str, object]
    if isinstance(ev, BookDelta):
        obj = {
            "stream": f"{low}@depth@0ms",
            "data": {
                "e": "depthUpdate",
                "E": ev.ts,
                "T": ev.ts,
                "s": sym,
                "U": ev.first_seq,
                "u": ev.seq,
                "pu": ev.prev_seq,
                "b": _levels(inst, ev.bids),
                "a": _levels(inst, ev.asks),
            },
        }
    elif isinstance(ev, BookSnapshot):
        obj = {
            "lastUpdateId": ev.seq,
            "E": ev.ts,
            "T": ev.ts,
            "bids": _levels(inst, ev.bids),
            "asks": _levels(inst, ev.asks),
        }
    elif isinstance(ev, Trade):
        obj = {
            "stream": f"{low}@trade",
            "data": {
                "e": "trade",
                "E": ev.ts,
                "T": ev.ts,
                "s": sym,
                "t": ev.trade_id,
                "p": inst.price_str(ev.price),
                "q": _size(inst)(ev.qty),
                "X": "MARKET",
                "m": ev.buyer_is_maker,
            },
        }
    elif isinstance(ev, BookTicker):
        obj = {
            "stream": f"{low}@bookTicker",
            "data": {
                "e": "bookTicker",
                "u": ev.seq,
                "s": sym,
                "b": inst.price_str(ev.bid_price),
                "B": _size(inst)(ev.bid_qty),
                "a": inst.price_str(ev.ask_price),
                "A": _size(inst)(ev.ask_qty),
                "T": ev.ts,
                "E": ev.ts,
            },
        }
    elif isinstance(ev, MarkPrice):
        obj = {
            "stream": f"{low}@markPrice@1s",
            "data": {
                "e": "markPriceUpdate",
                "E": ev.ts,
                "s": sym,
                "p": str(ev.mark_price),
                "i": str(ev.index_price),
                "P": "0",
                "r": str(ev.funding_rate),
                "T": ev.next_funding_ts,
            },
        }
    else:
        return None
    return b"%d %s\n" % (local_ns, orjson.dumps(obj))
