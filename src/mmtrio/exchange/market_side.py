"""One side of the simulated venue's market book: size by price and a cached best price."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from mmtrio.core.events import Level

__all__ = ["MarketSide"]


@dataclass(slots=True)
class MarketSide:
    """One side of the market book: size by price plus a cached best price."""

    is_bid: bool
    levels: dict[int, int] = field(default_factory=dict)
    best: int | None = None

    def set(self, price: int, qty: int) -> None:
        if qty > 0:
            self.levels[price] = qty
            if self.best is None or (price > self.best if self.is_bid else price < self.best):
                self.best = price
        elif self.levels.pop(price, None) is not None and price == self.best:
            self._recompute()

    def _recompute(self) -> None:
        if not self.levels:
            self.best = None
        else:
            self.best = max(self.levels) if self.is_bid else min(self.levels)

    def reset(self, levels: tuple[Level, ...]) -> None:
        self.levels = {p: q for p, q in levels if q > 0}
        self._recompute()

    def through(self, limit: int) -> list[int]:
        """Prices at or better than ``limit`` for a taker, best first."""
        if self.is_bid:
            return sorted((p for p in self.levels if p >= limit), reverse=True)
        return sorted(p for p in self.levels if p <= limit)

    def top(self, n: int) -> list[Level]:
        prices = heapq.nlargest(n, self.levels) if self.is_bid else heapq.nsmallest(n, self.levels)
        return [(p, self.levels[p]) for p in prices]
