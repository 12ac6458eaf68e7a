"""The tick the core trades on Hyperliquid: the price step the venue enforces at the price.

A perp price on Hyperliquid has at most 5 significant figures and at most ``6 − szDecimals``
decimals, and any whole number is valid (the docs' own example: 123456 is a valid price,
12345.6 is not). The finest step ``10^−(6−szDecimals)`` (0.1 for BTC) is therefore not what
the venue accepts near 28,000: there the step is 1.0. Every tick-based setting of the core
(``min_half_spread_ticks``, the pick-off defence's widening, the amend threshold) counts
the instrument's tick, so an instrument with the finest tick made all of them about 1000×
finer than the prices the bot could quote (QA: ``min_half_spread_ticks = 16`` was 0.016 USDC
and the quotes sat at the touch). The instrument's tick is the step at the price level:

    tick = max(10^−(6−szDecimals), min(1, 10^(floor(log10 price) − 4)))

(:func:`tick_at`; the cap at 1 is the whole-number rule: above 100,000 the 5-figure step
would be 10, but every integer is accepted, so the venue's step there is 1).

**Decision: the tick is fixed for the session, from the mid at start.** The step changes
10× when the price crosses a power of ten (BTC at 10,000, ETH at 1,000). The runtime has one
path for a venue's rules changing while the bot runs, the instrument watch, and it latches
the kill switch (a strategy cannot switch grids under resting orders; journaled ticks would
change meaning), so re-deriving the tick through it would stop the bot each time a coin
crosses a decade, and again when it crosses back. Instead:

- the session derives the tick once, from ``metaAndAssetCtxs``'s ``midPx`` (``markPx`` when
  there is no mid), and later reads of the instrument (the watch) keep it: only a change of
  ``szDecimals`` is a change of rules;
- the instrument keeps ``sig_figs = 5``, so every order is still rounded outward onto the
  venue's grid at order time: after an upward crossing (step 10× the tick) orders stay valid;
  after a downward one (step a tenth of the tick) they are valid on a coarser grid than needed;
- :class:`TickDrift` watches the book's mid and logs a warning when the venue's step at the
  price is no longer the tick (tick-based settings now mean 10× more, or less, than the
  venue's step), and again when it is back; a restart derives the tick at the new price;
- venue prices finer than the tick (the book below a downward crossing, a taker fill at a
  maker's finer price, the simulated venue's fills at recorded prices) are rounded onto the
  tick by the codec (:func:`mmtrio.venues.hyperliquid.codec.ticks_of`): book levels outward
  (bids down, asks up, sizes of levels that meet summed), anything else to the nearest tick.
  A price finer than the venue's finest step is still malformed.
"""

from __future__ import annotations

from decimal import Decimal

from mmtrio.errors import ProtocolError
from mmtrio.venues.hyperliquid.codec import MAX_DECIMALS_PERP, SIG_FIGS

DRIFT_MARGIN = Decimal("0.005")  # the mid must be 0.5 % inside a new band: no flapping at 10^k


def finest_exponent(sz_decimals: int) -> int:
    """The exponent of the finest price step of a perp with ``sz_decimals``."""
    return -(MAX_DECIMALS_PERP - sz_decimals)


def tick_exponent(price: Decimal, sz_decimals: int) -> int:
    """The exponent of the venue's price step at ``price`` (module docstring)."""
    if not price.is_finite() or price <= 0:
        raise ProtocolError(f"cannot derive a price step at {price}: not a positive price")
    sig_step = price.adjusted() - (SIG_FIGS - 1)  # adjusted(): floor(log10(price))
    return max(finest_exponent(sz_decimals), min(0, sig_step))


def tick_at(price: Decimal, sz_decimals: int) -> Decimal:
    """The venue's price step at ``price`` for a perp with ``sz_decimals`` (0 ≤ sz ≤ 6)."""
    return Decimal(1).scaleb(tick_exponent(price, sz_decimals))


def reference_price(ctx: object) -> Decimal | None:
    """The price the tick is derived from: an asset context's ``midPx``, else ``markPx``
    (None when neither is a positive number)."""
    if not isinstance(ctx, dict):
        return None
    for key in ("midPx", "markPx"):
        raw = ctx.get(key)
        if isinstance(raw, str):
            try:
                value = Decimal(raw)
            except ArithmeticError:
                continue
            if value.is_finite() and value > 0:
                return value
    return None


class TickDrift:
    """Tells when the venue's step at the mid stops (or starts again) being the tick. Pure.

    :meth:`observe` returns a warning to log on a change, None otherwise. A change needs the
    whole ±0.5 % neighbourhood of the mid in the new band, so a mid sitting on 10,000.0 does
    not warn on every book."""

    def __init__(self, tick: Decimal, sz_decimals: int) -> None:
        self.tick = tick
        self.sz_decimals = sz_decimals
        self.tick_exp = tick.adjusted()  # the tick is a power of ten
        self.current = self.tick_exp

    def observe(self, bid_ticks: int, ask_ticks: int) -> str | None:
        if bid_ticks <= 0 or ask_ticks <= bid_ticks:
            return None
        mid = self.tick * (bid_ticks + ask_ticks) / 2
        low = tick_exponent(mid * (1 - DRIFT_MARGIN), self.sz_decimals)
        high = tick_exponent(mid * (1 + DRIFT_MARGIN), self.sz_decimals)
        if low != high or low == self.current:
            return None
        self.current = low
        step = Decimal(1).scaleb(low)
        if low == self.tick_exp:
            return (
                f"the price ({mid:f}) is back where the venue's price step is the tick "
                f"{self.tick}: tick-based settings mean what they say again"
            )
        ratio = 10 ** abs(low - self.tick_exp)
        meaning = "less" if low > self.tick_exp else "more"
        return (
            f"the price ({mid:f}) crossed a power of ten: the venue's price step is now "
            f"{step}, the bot's tick stays {self.tick}, so tick-based settings "
            f"(min_half_spread_ticks, defence widening, …) mean {ratio}× {meaning} than the "
            f"venue's step (orders are still rounded onto the venue's grid); restart the bot "
            "to derive the tick at this price"
        )


__all__ = [
    "DRIFT_MARGIN",
    "TickDrift",
    "finest_exponent",
    "reference_price",
    "tick_at",
    "tick_exponent",
]
