"""The simulated Hyperliquid venue's book on the significant-figure grid: the fast path (stop
at the 21st grid price, memoised rounding) gives what aggregating every raw level gives."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from mmtrio.core.instruments import Instrument
from mmtrio.sim.hyperliquid.grid import LEVELS, Grid

ENGINE = Instrument("BTCUSDT", Decimal("0.1"), Decimal("0.001"), 1, 10**6, Decimal(5))


def reference(
    grid: Grid,
    bids: list[tuple[int, int]],
    asks: list[tuple[int, int]],
    ours: tuple[dict[int, int], dict[int, int]],
) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
    """Every raw level rounded outward and summed, then the best 20 a side (no shortcut)."""

    def agg(levels: list[tuple[int, int]], mine: dict[int, int], up: bool) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for p, q in levels:
            g = grid.rule.ceil_price(p) if up else grid.rule.floor_price(p)
            cell = out.setdefault(g, [0, 0])
            cell[0] += q
            cell[1] += 1 + (1 if mine.get(p) else 0)
        return out

    b, a = agg(bids, ours[0], up=False), agg(asks, ours[1], up=True)
    best_bid = max(b, default=None)
    if best_bid is not None:
        a = {p: v for p, v in a.items() if p > best_bid}
    return (
        [(p, v[0], v[1]) for p, v in sorted(b.items(), reverse=True)[:LEVELS]],
        [(p, v[0], v[1]) for p, v in sorted(a.items())[:LEVELS]],
    )


prices = st.sets(st.integers(min_value=90_000, max_value=1_100_000), max_size=120)


@settings(max_examples=300, deadline=None)
@given(
    bid_px=prices,
    ask_px=prices,
    sizes=st.lists(st.integers(1, 5_000), min_size=240, max_size=240),
    mine=st.sets(st.integers(min_value=90_000, max_value=1_100_000), max_size=10),
)
def test_the_fast_grid_book_equals_the_full_aggregation(
    bid_px: set[int], ask_px: set[int], sizes: list[int], mine: set[int]
) -> None:
    # Crossed raw books included (our own orders folded in can cross the market's levels).
    bids = [(p, sizes[i]) for i, p in enumerate(sorted(bid_px, reverse=True))]
    asks = [(p, sizes[120 + i]) for i, p in enumerate(sorted(ask_px))]
    ours = ({p: 1 for p in mine if p in bid_px}, {p: 1 for p in mine if p in ask_px})
    grid = Grid(ENGINE)
    assert grid.book(bids, asks, ours) == reference(grid, bids, asks, ours)
    assert grid.book(bids, asks, ours) == reference(grid, bids, asks, ours)  # memo warm
