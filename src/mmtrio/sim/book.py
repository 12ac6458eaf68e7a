"""The public order book the simulated venue serves: the market's book plus our resting orders.

A real venue's book includes every participant's orders, ours too, so the sim shows
``market size + our size`` at each level. Our place/cancel/fill changes the public book; those
changes are published **folded into the next market delta**, the way a venue's aggregated
depth stream carries every change of its interval in one message. So every published delta
keeps the market's own sequence ids (a recording's real update ids), with ``prev_seq`` = the
last published ``seq``: an unbroken chain for clients.

Consistency by construction: the book served (REST snapshot, tickers) is always the state of
the last published delta, under its ``seq``; market changes are applied only as they are
published, and our sizes as published are what the public view holds. A client that builds a
book from the depth stream therefore matches every ticker and snapshot carrying the same
``seq``.
"""

from __future__ import annotations

from collections.abc import Callable

from mmtrio.core.events import BookDelta, BookSnapshot, BookTicker, Level
from mmtrio.core.instruments import Instrument


class PublicBook:
    """Market levels (ticks → lots) per side, our published lots per side, the public seq.

    The market's best price per side is cached (a recording's book holds thousands of levels
    and a ticker is served for every recorded book ticker: a scan per ticker capped the replay
    at a few thousand messages a second). Only this class changes ``bids``/``asks``.
    """

    def __init__(self, instrument: Instrument, snapshot: BookSnapshot) -> None:
        self.instrument = instrument
        self.bids: dict[int, int] = {p: q for p, q in snapshot.bids if q > 0}
        self.asks: dict[int, int] = {p: q for p, q in snapshot.asks if q > 0}
        self.our_bids: dict[int, int] = {}
        self.our_asks: dict[int, int] = {}
        self.seq = snapshot.seq
        self.ts = snapshot.ts
        self._best_bid: int | None = max(self.bids, default=None)
        self._best_ask: int | None = min(self.asks, default=None)

    def publish(
        self, delta: BookDelta, ours_b: dict[int, int], ours_a: dict[int, int]
    ) -> BookDelta:
        """Apply the market ``delta`` and our current lots; the public delta to send."""
        changed_b = _changed(ours_b, self.our_bids)
        changed_a = _changed(ours_a, self.our_asks)
        self.our_bids, self.our_asks = dict(ours_b), dict(ours_a)
        self._best_bid = _apply(self.bids, delta.bids, self._best_bid, is_bid=True)
        self._best_ask = _apply(self.asks, delta.asks, self._best_ask, is_bid=False)
        out_b = self._side(delta.bids, changed_b, self.public_bid)
        out_a = self._side(delta.asks, changed_a, self.public_ask)
        public = BookDelta(
            delta.symbol,
            out_b,
            out_a,
            delta.ts,
            seq=delta.seq,
            prev_seq=self.seq,
            first_seq=delta.first_seq or delta.seq,
        )
        self.seq, self.ts = delta.seq, delta.ts
        return public

    @staticmethod
    def _side(
        levels: tuple[Level, ...], changed: set[int], size: Callable[[int], int]
    ) -> tuple[Level, ...]:
        seen = {p for p, _ in levels}
        out = [(p, size(p)) for p, _ in levels]
        out.extend((p, size(p)) for p in sorted(changed - seen))
        return tuple(out)

    def public_bid(self, price: int) -> int:
        return self.bids.get(price, 0) + self.our_bids.get(price, 0)

    def public_ask(self, price: int) -> int:
        return self.asks.get(price, 0) + self.our_asks.get(price, 0)

    def _side_levels(
        self, market: dict[int, int], ours: dict[int, int], reverse: bool, n: int
    ) -> list[Level]:
        prices = sorted(market.keys() | ours.keys(), reverse=reverse)[:n]
        return [(p, market.get(p, 0) + ours.get(p, 0)) for p in prices]

    def top(self, n: int) -> tuple[list[Level], list[Level]]:
        """The best ``n`` public levels per side (bids descending, asks ascending)."""
        return (
            self._side_levels(self.bids, self.our_bids, True, n),
            self._side_levels(self.asks, self.our_asks, False, n),
        )

    def best(self) -> tuple[Level | None, Level | None]:
        bid = max((p for p in (self._best_bid, *self.our_bids) if p is not None), default=None)
        ask = min((p for p in (self._best_ask, *self.our_asks) if p is not None), default=None)
        return (
            (bid, self.public_bid(bid)) if bid is not None else None,
            (ask, self.public_ask(ask)) if ask is not None else None,
        )

    def ticker(self, ts: int) -> BookTicker | None:
        """Best bid and ask of the published book, under its ``seq`` (None if a side is empty)."""
        bid, ask = self.best()
        if bid is None or ask is None:
            return None
        return BookTicker(self.instrument.symbol, bid[0], bid[1], ask[0], ask[1], ts, self.seq)


def _apply(
    book: dict[int, int], levels: tuple[Level, ...], best: int | None, *, is_bid: bool
) -> int | None:
    """Apply absolute sizes to one market side; the side's new best price."""
    rescan = False
    for price, qty in levels:
        if qty > 0:
            book[price] = qty
            if best is None or (price > best if is_bid else price < best):
                best = price
        elif book.pop(price, None) is not None and price == best:
            rescan = True  # the best level went: find the next one once, after the delta
    if rescan:
        best = (max if is_bid else min)(book, default=None)
    return best


def _changed(new: dict[int, int], old: dict[int, int]) -> set[int]:
    return {p for p in new.keys() | old.keys() if new.get(p) != old.get(p)}
