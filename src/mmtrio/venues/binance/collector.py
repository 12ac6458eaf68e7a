"""Neutral market events → lines of the hftbacktest collector format (what
:mod:`mmtrio.venues.binance.recording` reads, and hftbacktest's own converter).

One line per event: ``<local_receive_ns> <json>``, the json a combined-stream envelope
(``<symbol>@depth@0ms``, ``@trade``, ``@bookTicker``, ``@markPrice@1s``) or a bare REST depth
snapshot, with Binance's field names and the instrument's own decimal strings. The ids the
live sequencer kept on each delta (U/u/pu as ``first_seq``/``seq``/``prev_seq``) are written
back, so a recording made by ``mmtrio record`` syncs and checks continuity exactly as one made
by the collector. A ``BookInvalid`` writes nothing: the next diff's ``pu`` shows the gap to
any reader, and the resync snapshot follows.
"""

from __future__ import annotations

import orjson

from mmtrio.core.events import (
    BookDelta,
    BookSnapshot,
    BookTicker,
    Event,
    Level,
    MarkPrice,
    Trade,
)
from mmtrio.core.instruments import Instrument


def _levels(inst: Instrument, levels: tuple[Level, ...]) -> list[list[str]]:
    return [[inst.price_str(p), inst.qty_str(q)] for p, q in levels]


def encode_line(local_ns: int, ev: Event, inst: Instrument) -> bytes | None:
    """One collector line (with its newline) for ``ev``; None for what has no line."""
    sym = inst.symbol
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
                "q": inst.qty_str(ev.qty),
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
                "B": inst.qty_str(ev.bid_qty),
                "a": inst.price_str(ev.ask_price),
                "A": inst.qty_str(ev.ask_qty),
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
