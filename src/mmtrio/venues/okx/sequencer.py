"""OKX's ``books`` continuity rule and checksum: the one place they are written.

OKX v5 docs ("Order book channel", "seqId / prevSeqId"): the first push after subscribing
is a ``snapshot`` (``prevSeqId`` -1); every ``update`` carries the ``seqId`` of the book it
produces and the ``prevSeqId`` of the book it applies to. The ids are **not** consecutive
(they jump by the number of engine events in between), so the only continuity rule is
``prevSeqId == the last seqId``; a push that does not name the last one is a gap (lost or
reordered), and the book is invalid until a fresh snapshot. Two documented special cases
follow from the same rule: a keep-alive push with no levels has ``prevSeqId == seqId`` (it
continues and changes nothing), and after a maintenance reset ``seqId`` may be *smaller*
than ``prevSeqId`` (it continues all the same: ``prevSeqId`` names the last id).

OKX's book has no REST snapshot carrying a ``seqId``; a resync is a fresh subscription,
whose first push is the snapshot (the stream does that, :mod:`mmtrio.venues.okx.streams`).

**The checksum is validated only when it is non-zero.** OKX documents ``checksum`` as the
signed CRC-32 of the top 25 bid and ask levels interleaved as ``bidPx:bidSz:askPx:askSz:…``
(the strings as printed). Since 2026 OKX has been reported sending 0 on every ``books``
frame (snapshot and update alike), and clients that validated it broke in production:
ccxt removed its validation (PRs #28660, #30299), Qubx PR #387 followed; tickvault measured
0 on every frame of two instruments. A 0 is therefore "not sent", not a mismatch. When OKX
sends a non-zero value it is checked against the book as maintained here, and a mismatch is
a gap (resync): the rule costs nothing while OKX sends 0 and protects the book if it stops.
The book is kept with the level strings as received, because the checksum is computed over
those strings, not over a re-printed price.

Pure (no I/O, no clock); output is neutral: :class:`~mmtrio.core.events.BookSnapshot`
(``seq`` = seqId) and :class:`~mmtrio.core.events.BookDelta` (``seq``/``prev_seq``/
``first_seq`` = seqId/prevSeqId/seqId), each known to continue the previous one.
"""

from __future__ import annotations

import heapq
import zlib

from mmtrio.core.events import BookDelta, BookSnapshot
from mmtrio.venues.okx.codec_market import BooksMessage, RawLevel

CHECKSUM_DEPTH = 25


def checksum_string(
    bids: list[tuple[str, str]], asks: list[tuple[str, str]], depth: int = CHECKSUM_DEPTH
) -> str:
    """OKX's checksum input: best-first levels interleaved bid, ask, bid, ask…"""
    parts: list[str] = []
    for i in range(depth):
        if i < len(bids):
            parts.extend(bids[i])
        if i < len(asks):
            parts.extend(asks[i])
    return ":".join(parts)


def crc32_signed(text: str) -> int:
    """CRC-32 of ``text`` as OKX prints it: a signed 32-bit integer."""
    value = zlib.crc32(text.encode())
    return value - (1 << 32) if value >= 1 << 31 else value


class BooksSequencer:
    """Decides which ``books`` pushes reach the consumer, and when to resync.

    :meth:`on_message` returns ``(events, gap)``. On a gap the sequencer has already reset
    itself (it waits for a snapshot) and the caller must resubscribe and tell the consumer
    the book is invalid. ``gaps`` and ``checksum_mismatches`` count them; ``checked`` counts
    the non-zero checksums validated.
    """

    def __init__(self) -> None:
        self._last: int | None = None
        self._bids: dict[int, tuple[str, str]] = {}
        self._asks: dict[int, tuple[str, str]] = {}
        self.gaps = 0
        self.checksum_mismatches = 0
        self.checked = 0
        self.last_gap = ""

    @property
    def synced(self) -> bool:
        return self._last is not None

    @property
    def last_seq(self) -> int | None:
        return self._last

    def reset(self) -> None:
        self._last = None
        self._bids.clear()
        self._asks.clear()

    def on_message(self, msg: BooksMessage) -> tuple[list[BookSnapshot | BookDelta], bool]:
        if msg.snapshot:
            self.reset()
            self._apply(msg)
            if not self._checksum_ok(msg):
                return self._gap(f"snapshot seqId {msg.seq} fails its checksum {msg.checksum}")
            self._last = msg.seq
            bids, asks = msg.neutral_levels()
            return [BookSnapshot(msg.symbol, bids, asks, msg.ts, msg.seq)], False
        if self._last is None:
            return [], False  # updates before the (re)subscription's snapshot: not ours yet
        if msg.prev_seq != self._last:
            return self._gap(f"prevSeqId {msg.prev_seq} does not continue seqId {self._last}")
        self._apply(msg)
        if not self._checksum_ok(msg):
            return self._gap(f"update seqId {msg.seq} fails its checksum {msg.checksum}")
        self._last = msg.seq
        if not msg.bids and not msg.asks:
            return [], False  # a keep-alive: nothing changed
        bids, asks = msg.neutral_levels()
        return [BookDelta(msg.symbol, bids, asks, msg.ts, msg.seq, msg.prev_seq, msg.seq)], False

    def _gap(self, reason: str) -> tuple[list[BookSnapshot | BookDelta], bool]:
        self.reset()
        self.gaps += 1
        self.last_gap = reason
        return [], True

    def _apply(self, msg: BooksMessage) -> None:
        for side, levels in ((self._bids, msg.bids), (self._asks, msg.asks)):
            _apply_side(side, levels)

    def _checksum_ok(self, msg: BooksMessage) -> bool:
        if msg.checksum == 0:
            return True  # not sent (see the module docstring)
        self.checked += 1
        best_bids = [self._bids[p] for p in heapq.nlargest(CHECKSUM_DEPTH, self._bids)]
        best_asks = [self._asks[p] for p in heapq.nsmallest(CHECKSUM_DEPTH, self._asks)]
        ok = crc32_signed(checksum_string(best_bids, best_asks)) == msg.checksum
        if not ok:
            self.checksum_mismatches += 1
        return ok


def _apply_side(side: dict[int, tuple[str, str]], levels: tuple[RawLevel, ...]) -> None:
    for ticks, lots, px, sz in levels:
        if lots == 0:
            side.pop(ticks, None)
        else:
            side[ticks] = (px, sz)
