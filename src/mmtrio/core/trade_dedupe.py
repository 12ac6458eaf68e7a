"""Bounded memory of the venue trade ids the ledger booked (fills are deduped by trade id)."""

from __future__ import annotations

from collections import deque

from mmtrio.errors import ParameterError


class TradeIdDedupe:
    """Bounded memory of seen venue trade ids: a set + ring of the last ``capacity`` ids.

    When an id falls out of the ring, the low-water mark rises to it: any later id at or
    below the mark is reported as already seen. Binance trade ids increase per symbol, so an
    id below the mark that we never saw would be a fill delayed behind ``capacity`` newer
    fills of ours — far beyond any real reordering (the user stream and a REST fill query
    disagree by seconds, not by 100,000 fills). Treating it as seen errs on the side of not
    double-booking; the count is kept (``below_watermark``) and the periodic position
    reconciliation corrects the position if such a fill was real.
    """

    __slots__ = ("_ring", "_seen", "below_watermark", "capacity", "duplicates", "watermark")

    def __init__(self, capacity: int) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ParameterError(f"dedupe capacity must be a positive int, got {capacity!r}")
        self.capacity = capacity
        self._seen: set[int] = set()
        self._ring: deque[int] = deque()
        self.watermark: int | None = None
        self.duplicates = 0
        self.below_watermark = 0

    def __len__(self) -> int:
        return len(self._ring)

    def __contains__(self, trade_id: object) -> bool:
        """Would ``trade_id`` be reported as seen? (No side effect, unlike :meth:`is_new`.)"""
        if not isinstance(trade_id, int):
            return False
        return trade_id in self._seen or (self.watermark is not None and trade_id <= self.watermark)

    def seen_through(self, trade_id: int) -> None:
        """Report every id at or below ``trade_id`` as seen from now on (the low-water mark
        rises to it; it never falls)."""
        self.watermark = trade_id if self.watermark is None else max(self.watermark, trade_id)

    def is_new(self, trade_id: int) -> bool:
        """True and remember ``trade_id`` if never seen; False for a repeat."""
        if trade_id in self._seen:
            self.duplicates += 1
            return False
        if self.watermark is not None and trade_id <= self.watermark:
            self.below_watermark += 1
            return False
        self._seen.add(trade_id)
        self._ring.append(trade_id)
        if len(self._ring) > self.capacity:
            old = self._ring.popleft()
            self._seen.discard(old)
            self.watermark = old if self.watermark is None else max(self.watermark, old)
        return True


__all__ = ["TradeIdDedupe"]
