"""Extended's order-book stream and its continuity rule: the one place it is written.

``/orderbooks/<market>`` sends ``{"type": "SNAPSHOT" | "DELTA", "data": {"m", "b": [{"p",
"q"}], "a": […]}, "ts", "seq"}``. Extended's documentation: the first message is a snapshot
(``seq`` 1), every later number is the next message ("monotonic"; a client receiving a
sequence out of order should reconnect); a new snapshot comes every minute; a snapshot's ``q``
is a level's size, a delta's ``q`` the **change** of that level's size (the SDK adds it).

The rule mmtrio checks: a DELTA applies only to the book it follows, i.e. its ``seq`` is the
previous message's ``seq`` + 1; a SNAPSHOT replaces the book whatever its number. A DELTA
before any snapshot, out of sequence, or that would leave a level negative (a malformed or
lost message) is a gap: the book is invalid until a fresh snapshot (the stream reconnects to
get one). Output is neutral: :class:`BookSnapshot` and :class:`BookDelta` with **absolute**
sizes (the core's convention), ``seq``/``prev_seq``/``first_seq`` = seq/seq−1/seq.

Pure (no I/O, no clock): the live stream and the simulated venue's tests use the same class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mmtrio.core.events import BookDelta, BookSnapshot, Level
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ProtocolError
from mmtrio.venues.extended.fields import get_int, get_list, get_obj, get_str, lots, ticks

__all__ = ["BookMessage", "BookSequencer", "parse_book"]


@dataclass(frozen=True, slots=True)
class BookMessage:
    """One order-book stream message, decoded (sizes as sent: absolute or changes)."""

    snapshot: bool
    seq: int
    ts: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


def _side(inst: Instrument, data: Any, key: str, kind: str) -> tuple[Level, ...]:
    out: list[Level] = []
    for row in get_list(data, key, kind):
        out.append((ticks(inst, row, "p", kind), lots(inst, row, "q", kind)))
    return tuple(out)


def parse_book(msg: Any, inst: Instrument) -> BookMessage:
    kind = "orderbook message"
    word = get_str(msg, "type", kind)
    if word not in ("SNAPSHOT", "DELTA"):
        raise ProtocolError(f"{kind}: type must be SNAPSHOT or DELTA, got {word!r}")
    data = get_obj(msg, "data", kind)
    market = get_str(data, "m", kind)
    if market != inst.symbol:
        raise ProtocolError(f"{kind}: market {market!r} is not {inst.symbol!r}")
    return BookMessage(
        snapshot=word == "SNAPSHOT",
        seq=get_int(msg, "seq", kind),
        ts=get_int(msg, "ts", kind),
        bids=_side(inst, data, "b", kind),
        asks=_side(inst, data, "a", kind),
    )


class BookSequencer:
    """Checks ``seq`` continuity and turns size changes into absolute levels (module doc).

    :meth:`on_message` returns ``(event, gap)``: the neutral event to forward, or None with
    ``gap`` naming why the book is now invalid (the sequencer has reset itself; the caller
    must get a fresh snapshot). ``gaps`` counts them.
    """

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._bids: dict[int, int] = {}
        self._asks: dict[int, int] = {}
        self._last: int | None = None
        self.gaps = 0

    @property
    def synced(self) -> bool:
        return self._last is not None

    @property
    def last_seq(self) -> int | None:
        return self._last

    def reset(self) -> None:
        self._bids.clear()
        self._asks.clear()
        self._last = None

    def _gap(self, why: str) -> tuple[None, str]:
        self.reset()
        self.gaps += 1
        return None, why

    def on_message(self, msg: BookMessage) -> tuple[BookSnapshot | BookDelta | None, str]:
        if msg.snapshot:
            self._bids = {p: q for p, q in msg.bids if q > 0}
            self._asks = {p: q for p, q in msg.asks if q > 0}
            if any(q < 0 for _, q in (*msg.bids, *msg.asks)):
                return self._gap(f"snapshot seq {msg.seq} has a negative size")
            self._last = msg.seq
            return (
                BookSnapshot(
                    self.symbol,
                    tuple(sorted(self._bids.items(), reverse=True)),
                    tuple(sorted(self._asks.items())),
                    msg.ts,
                    msg.seq,
                ),
                "",
            )
        if self._last is None:
            return self._gap(f"delta seq {msg.seq} before any snapshot")
        if msg.seq != self._last + 1:
            return self._gap(f"delta seq {msg.seq} does not follow seq {self._last}")
        bids = self._apply(self._bids, msg.bids)
        asks = self._apply(self._asks, msg.asks)
        if bids is None or asks is None:
            return self._gap(f"delta seq {msg.seq} leaves a level with a negative size")
        prev, self._last = self._last, msg.seq
        return BookDelta(self.symbol, bids, asks, msg.ts, msg.seq, prev, msg.seq), ""

    @staticmethod
    def _apply(book: dict[int, int], changes: tuple[Level, ...]) -> tuple[Level, ...] | None:
        """Apply size changes; the changed levels with their new absolute sizes (0 = gone)."""
        new: dict[int, int] = {}
        for price, change in changes:
            size = new.get(price, book.get(price, 0)) + change
            if size < 0:
                return None
            new[price] = size
        for price, size in new.items():
            if size:
                book[price] = size
            else:
                book.pop(price, None)
        return tuple(new.items())
