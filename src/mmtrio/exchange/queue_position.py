"""Queue position of our resting orders inside a market price level.

The recorded market book is L2 (size per price), so where our order sits in the FIFO queue
at its price is estimated. Each of our orders carries ``ahead``: the market size (lots)
in front of it. Our own orders at one price are kept in time priority, and their ``ahead``
values are non-decreasing in that order (a later order joined behind an earlier one); every
function here preserves that ordering, so the earliest order is always filled first.

Two models decide what a size decrease at our level means:

- CONSERVATIVE: only trades at our price move us forward. A decrease that is not a trade
  is assumed to be a cancellation *behind* us. The one exception is physical: more size
  cannot be ahead of us than is displayed at the level, so ``ahead`` is capped at the new
  displayed size (the "risk-averse" model of hftbacktest).
- PROBABILISTIC: a decrease not explained by trades is a cancellation somewhere in the
  queue; it is in front of us with probability ahead/(ahead+behind). We apply the *expected*
  value (rounded to the nearest lot) instead of drawing, so the engine stays deterministic
  and two runs over the same data give the same fills.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence


class QueueModel(enum.Enum):
    """How queue ahead of a resting order advances."""

    CONSERVATIVE = "conservative"  # queue ahead advances only on trades at our price
    PROBABILISTIC = "probabilistic"  # also on cancellations at our level (expected value)


def split_trade(
    aheads: Sequence[int], remaining: Sequence[int], trade_qty: int
) -> tuple[list[int], list[int]]:
    """Split a market trade of ``trade_qty`` at our price over the queue at that level.

    ``aheads``/``remaining`` describe our orders at the level in time priority. The trade
    eats the queue from its front: market size ahead of our first order, then that order,
    then the market size between it and our next order, and so on. Returns the fill (lots)
    of each order and each order's queue ahead afterwards (market size eaten in front of an
    order is removed from its ``ahead``; size left over after our last order hit market
    orders behind all of ours).
    """
    fills: list[int] = []
    left = trade_qty
    market_eaten = 0
    for ahead, rem in zip(aheads, remaining, strict=True):
        eat = min(left, max(0, ahead - market_eaten))
        market_eaten += eat
        left -= eat
        fill = min(left, rem)
        left -= fill
        fills.append(fill)
    return fills, [max(0, a - market_eaten) for a in aheads]


def aheads_after_level_change(
    aheads: Sequence[int],
    old_size: int,
    new_size: int,
    traded_since: int,
    model: QueueModel,
) -> list[int]:
    """Queue ahead of each of our orders after the market size at the level changed.

    ``old_size``/``new_size`` are the displayed market sizes before and after the diff;
    ``traded_since`` is the market trade size at this level since the previous diff touched
    it (those trades already advanced ``aheads``, so they do not count as cancellations).
    """
    if new_size <= 0:
        return [0 for _ in aheads]
    out: list[int] = []
    base = max(0, old_size - traded_since)  # size the queue had once known trades are removed
    cancelled = max(0, base - new_size)
    for ahead in aheads:
        a = min(ahead, base) if base > 0 else 0
        if model is QueueModel.PROBABILISTIC and cancelled > 0 and base > 0:
            behind = base - a
            total = a + behind  # == base
            # Expected lots cancelled in front of us, rounded half up, in integers only.
            a -= (2 * cancelled * a + total) // (2 * total)
        out.append(max(0, min(a, new_size)))
    # Keep time priority consistent: a later order is never ahead of an earlier one.
    for i in range(1, len(out)):
        out[i] = max(out[i], out[i - 1])
    return out
