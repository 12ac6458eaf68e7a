"""The public order book the simulated venue serves: the market's book plus our resting orders.

A real venue's book includes every participant's orders, ours too, so the sim shows
``market size + our size`` at each level. That means our place/cancel/fill changes the public
book, and those changes must go out as depth diffs in the same sequence as the market's own
diffs. The sim therefore numbers its public diffs itself: every published diff gets one new
update id (``U == u``, ``pu`` = the previous ``u``), and the REST snapshot's ``lastUpdateId``
is the id of the last diff published, read atomically with the book (no await in between),
so a client following Binance's sync algorithm rebuilds exactly this book.
"""

from __future__ import annotations

from typing import Any

from mmtrio.core.events import BookSnapshot, DepthDiff, Level
from mmtrio.core.instruments import Instrument


class PublicBook:
    """Market levels (ticks → lots) per side, our resting lots per side, the public sequence."""

    def __init__(self, instrument: Instrument, first_update_id: int = 1) -> None:
        self.instrument = instrument
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.our_bids: dict[int, int] = {}
        self.our_asks: dict[int, int] = {}
        self.update_id = first_update_id

    def load(self, snap: BookSnapshot) -> None:
        self.bids = {p: q for p, q in snap.bids if q > 0}
        self.asks = {p: q for p, q in snap.asks if q > 0}

    def apply_market(self, diff: DepthDiff) -> None:
        for book, levels in ((self.bids, diff.bids), (self.asks, diff.asks)):
            for price, qty in levels:
                if qty > 0:
                    book[price] = qty
                else:
                    book.pop(price, None)

    def set_ours(self, bids: dict[int, int], asks: dict[int, int]) -> tuple[set[int], set[int]]:
        """Replace our resting lots; return the bid and ask prices whose public size changed."""
        changed_b = {
            p for p in bids.keys() | self.our_bids.keys() if bids.get(p) != self.our_bids.get(p)
        }
        changed_a = {
            p for p in asks.keys() | self.our_asks.keys() if asks.get(p) != self.our_asks.get(p)
        }
        self.our_bids, self.our_asks = dict(bids), dict(asks)
        return changed_b, changed_a

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
        bid_prices = self.bids.keys() | self.our_bids.keys()
        ask_prices = self.asks.keys() | self.our_asks.keys()
        bid = max(bid_prices) if bid_prices else None
        ask = min(ask_prices) if ask_prices else None
        return (
            (bid, self.public_bid(bid)) if bid is not None else None,
            (ask, self.public_ask(ask)) if ask is not None else None,
        )

    def next_diff(
        self,
        diff: DepthDiff | None,
        payload: dict[str, Any] | None,
        extra_bids: set[int],
        extra_asks: set[int],
        ts: int,
    ) -> dict[str, Any] | None:
        """The public diff for a market diff (may be None) plus our changed prices.

        Market level strings are reused from the driver's payload where we have no order
        there (formatting Decimals is the hot path's main cost); levels with our size are
        reformatted. Returns None when nothing changed.
        """
        inst = self.instrument
        out_b: list[list[str]] = []
        out_a: list[list[str]] = []
        for levels, raw, ours, out, extra, pub in (
            (
                diff.bids if diff else (),
                payload["b"] if payload else (),
                self.our_bids,
                out_b,
                extra_bids,
                self.public_bid,
            ),
            (
                diff.asks if diff else (),
                payload["a"] if payload else (),
                self.our_asks,
                out_a,
                extra_asks,
                self.public_ask,
            ),
        ):
            reuse = len(raw) == len(levels)
            seen: set[int] = set()
            for i, (price, qty) in enumerate(levels):
                seen.add(price)
                if price in ours or not reuse:
                    out.append([inst.price_str(price), inst.qty_str(qty + ours.get(price, 0))])
                else:
                    out.append(raw[i])
            for price in sorted(extra - seen):
                out.append([inst.price_str(price), inst.qty_str(pub(price))])
        if not out_b and not out_a and diff is None:
            return None
        prev = self.update_id
        self.update_id = prev + 1
        return {
            "e": "depthUpdate",
            "E": ts,
            "T": ts,
            "s": inst.symbol,
            "U": self.update_id,
            "u": self.update_id,
            "pu": prev,
            "b": out_b,
            "a": out_a,
        }
