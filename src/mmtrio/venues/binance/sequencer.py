"""Binance's diff-depth continuity rule: the one place it is written (PROTOCOL.md "Sync").

Open the stream and buffer; take a snapshot; drop diffs with ``u < lastUpdateId``; the first
applied diff has ``U <= lastUpdateId <= u``; every later diff's ``pu`` must equal the previous
diff's ``u``. A diff whose ``pu`` is the snapshot's id also continues it: that happens when
the snapshot sits exactly on a diff boundary (a snapshot rebuilt from the stream itself, as
the simulated venue and the recording reader make). Anything else is a gap: the book is
invalid until a fresh snapshot bridges the stream again.

Pure (no I/O, no clock): the live market stream, the recording reader, the backtester's feed
and the simulated venue's replay driver all run this same class, so a recording yields
exactly the neutral events the live connector yields for the same bytes.

Output is neutral: :class:`~mmtrio.core.events.BookSnapshot` (``seq`` = lastUpdateId) and
:class:`~mmtrio.core.events.BookDelta` (``seq``/``prev_seq``/``first_seq`` = u/pu/U), each
known to continue the previous one.
"""

from __future__ import annotations

from collections import deque

from mmtrio.core.events import BookDelta, BookSnapshot
from mmtrio.venues.binance.codec_market import DepthSnapshot, DepthUpdate


def as_delta(d: DepthUpdate) -> BookDelta:
    """The neutral form of a diff the chain accepted."""
    return BookDelta(d.symbol, d.bids, d.asks, d.ts, d.last_id, d.prev_last_id, d.first_id)


def as_snapshot(s: DepthSnapshot) -> BookSnapshot:
    return BookSnapshot(s.symbol, s.bids, s.asks, s.ts, s.last_update_id)


class DepthSequencer:
    """Decides which diffs reach the consumer, and when the book must be resynced.

    ``on_diff``/``on_snapshot`` return ``(events to forward, gap)``; on a gap the sequencer
    has already reset itself to buffering and the caller must fetch a fresh snapshot (and tell
    the consumer the book is invalid). ``gaps`` counts them.
    """

    def __init__(self, max_buffer: int = 2_000) -> None:
        self._buf: deque[DepthUpdate] = deque(maxlen=max_buffer)  # oldest go first
        self._snap_id: int | None = None  # snapshot taken, waiting for the bridging diff
        self._last: int | None = None  # synced: ``u`` of the last forwarded diff
        self.gaps = 0

    @property
    def synced(self) -> bool:
        return self._last is not None

    @property
    def last_id(self) -> int | None:
        """``u`` of the last forwarded diff (None until synced)."""
        return self._last

    def reset(self) -> None:
        self._buf.clear()
        self._snap_id = None
        self._last = None

    def on_diff(self, d: DepthUpdate) -> tuple[list[BookDelta], bool]:
        if self._last is not None:
            if d.prev_last_id != self._last:
                self.reset()
                self.gaps += 1
                return [], True
            self._last = d.last_id
            return [as_delta(d)], False
        if self._snap_id is None:
            self._buf.append(d)
            return [], False
        if d.last_id < self._snap_id:
            return [], False  # already contained in the snapshot
        if d.first_id <= self._snap_id or d.prev_last_id == self._snap_id:
            self._snap_id, self._last = None, d.last_id
            return [as_delta(d)], False
        self.reset()  # the stream is past the snapshot: it is too old to bridge
        self.gaps += 1
        return [], True

    def on_snapshot(self, snap: DepthSnapshot) -> tuple[list[BookSnapshot | BookDelta], bool]:
        """Apply a snapshot and replay the buffered diffs over it."""
        pending = list(self._buf)
        self._buf.clear()
        self._snap_id, self._last = snap.last_update_id, None
        out: list[BookSnapshot | BookDelta] = [as_snapshot(snap)]
        for d in pending:
            fwd, gap = self.on_diff(d)
            if gap:
                return [], True
            out.extend(fwd)
        # If no buffered diff reached the snapshot yet, the snapshot is the book until the
        # bridging diff arrives, which on_diff then checks against the snapshot's id.
        return out, False
