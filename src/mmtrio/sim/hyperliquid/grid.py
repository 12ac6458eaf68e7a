"""The recording's instrument said in Hyperliquid's terms: the one place these conversions live.

The engine trades the recording's instrument (BTCUSDT: tick 0.1, lot 0.001, in base units).
Hyperliquid names a perpetual by its coin (``BTC``: the symbol without its quote asset),
counts sizes in the coin with ``szDecimals`` decimals (here the recording's lot: 0.001 → 3),
and accepts a price with at most 5 significant figures and at most ``6 − szDecimals``
decimals (an integer always). The simulated venue keeps the engine's tick as well: a price
valid on Hyperliquid's rule but not a multiple of the recording's tick is refused with the
venue's ``Tick`` text, as an off-grid price is.

**The published book** is re-expressed, not copied: the recording's levels (at 60000.1, …)
are not valid Hyperliquid prices at 5 significant figures, so each side is aggregated onto
the grid (bids rounded down, asks up, sizes summed; a bucket the other side's best reaches
is dropped, so the book stays uncrossed) and the best 20 levels a side are published, with
the number of orders ``n`` (1 per recorded level in the bucket, plus ours). Trades are
published at their price rounded the aggressor's way onto the same grid. Matching is the
engine's, against the recorded book at its own prices: a fill can print at a recorded price
(61800.1) that Hyperliquid's grid would not show, a difference of less than one grid step
that the re-expression cannot remove without changing the market being replayed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal, InvalidOperation

from mmtrio.core.events import Level, Side
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ConfigError
from mmtrio.venues.hyperliquid.codec import wire_number

LEVELS = 20
MAX_DECIMALS = 6  # a perp price has at most 6 − szDecimals decimals
SIG_FIGS = 5
_MEMO = 100_000  # grid prices remembered per direction before the memo starts afresh
QUOTES = ("USDT", "USDC", "USD", "BUSD")


class GridRefusal(Exception):
    """A number the venue refuses, with Hyperliquid's words for it."""


def coin_of(symbol: str) -> str:
    for quote in QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            return symbol[: -len(quote)]
    return symbol


def _decimals(step: Decimal) -> int | None:
    """k when ``step`` is 10^-k (k >= 0), else None."""
    norm = step.normalize()
    exp = norm.as_tuple().exponent
    if not isinstance(exp, int) or norm.as_tuple().digits != (1,):
        return None
    return max(0, -exp) if exp <= 0 else None


class Grid:
    """Conversions between the engine's ticks/lots and Hyperliquid's strings and grid."""

    def __init__(self, engine: Instrument) -> None:
        sz = _decimals(engine.lot_size)
        tick_dec = _decimals(engine.tick_size)
        if sz is None or sz > MAX_DECIMALS:
            raise ConfigError(
                f"{engine.symbol}: lot {engine.lot_size} is not a power of ten of at most 6 "
                "decimals, so it has no Hyperliquid szDecimals; use another recording"
            )
        if tick_dec is None or tick_dec > MAX_DECIMALS - sz:
            raise ConfigError(
                f"{engine.symbol}: tick {engine.tick_size} does not fit Hyperliquid's price "
                f"rule with szDecimals {sz} (a power of ten of at most {MAX_DECIMALS - sz} "
                "decimals); use another recording"
            )
        self.engine = engine
        self.coin = coin_of(engine.symbol)
        self.sz_decimals = sz
        self.max_price_decimals = MAX_DECIMALS - sz
        # The same ticks as the engine, with the significant-figure rule on top.
        self.rule = replace(
            engine, symbol=self.coin, tick_size=engine.tick_size.normalize(), sig_figs=SIG_FIGS
        )
        self._floors: dict[int, int] = {}  # raw ticks -> grid price (memo: prices recur)
        self._ceils: dict[int, int] = {}
        self._px: dict[int, str] = {}  # ticks -> the price as written

    # --- out -------------------------------------------------------------------------------
    def px(self, ticks: int) -> str:
        text = self._px.get(ticks)
        if text is None:
            if len(self._px) > _MEMO:
                self._px.clear()
            text = self._px[ticks] = wire_number(self.engine.ticks_to_price(ticks))
        return text

    def sz(self, lots: int) -> str:
        return wire_number(self.engine.lots_to_qty(lots))

    def trade_price(self, ticks: int, aggressor: Side) -> int:
        return (
            self.rule.ceil_price(ticks) if aggressor is Side.BUY else self.rule.floor_price(ticks)
        )

    def book(
        self,
        bids: list[Level],
        asks: list[Level],
        ours: tuple[dict[int, int], dict[int, int]],
        rounding: tuple[Callable[[int], int], Callable[[int], int]] | None = None,
    ) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """(price, size, n) per side on the grid, best 20 (module docstring); ``rounding``
        (bids, asks) replaces the grid's for a coarser aggregation (:mod:`.l2`: nSigFigs).

        ``bids`` descending and ``asks`` ascending (``PublicBook.top``). Rounding is monotone,
        so a side is read only until its 21st grid price: the levels beyond cannot reach the
        best 20 (this runs on every published book; reading all 400 raw levels a side made it
        the sim's main cost)."""
        floor, ceil = rounding or (self._floor, self._ceil)
        b = self._side(bids, ours[0], floor, None)
        best_bid = next(iter(b), None)
        a = self._side(asks, ours[1], ceil, best_bid)
        return [(p, v[0], v[1]) for p, v in b.items()], [(p, v[0], v[1]) for p, v in a.items()]

    def _side(
        self,
        levels: list[Level],
        mine: dict[int, int],
        to_grid: Callable[[int], int],
        above: int | None,
    ) -> dict[int, list[int]]:
        """Grid price → [size, n] for the best LEVELS grid prices of one side, best first;
        an ask side keeps only prices above the best bid ``above`` (rounding outward can
        never cross, but our own orders folded into the raw book may)."""
        out: dict[int, list[int]] = {}
        for p, q in levels:
            g = to_grid(p)
            if above is not None and g <= above:
                continue
            cell = out.get(g)
            if cell is None:
                if len(out) == LEVELS:
                    break
                cell = out[g] = [0, 0]
            cell[0] += q
            cell[1] += 1 + (1 if mine.get(p) else 0)
        return out

    def _floor(self, ticks: int) -> int:
        g = self._floors.get(ticks)
        if g is None:
            if len(self._floors) > _MEMO:
                self._floors.clear()
            g = self._floors[ticks] = self.rule.floor_price(ticks)
        return g

    def _ceil(self, ticks: int) -> int:
        g = self._ceils.get(ticks)
        if g is None:
            if len(self._ceils) > _MEMO:
                self._ceils.clear()
            g = self._ceils[ticks] = self.rule.ceil_price(ticks)
        return g

    # --- in --------------------------------------------------------------------------------
    def parse_px(self, text: object) -> int:
        """Ticks of a client's price; GridRefusal with the venue's text when it is off grid."""
        dec = _number(text, "Order has invalid price.")
        if dec <= 0:
            raise GridRefusal("Order has invalid price.")
        whole = dec == dec.to_integral_value()
        digits = dec.normalize().as_tuple()
        decimals = max(0, -int(digits.exponent))
        if not whole and (len(digits.digits) > SIG_FIGS or decimals > self.max_price_decimals):
            raise GridRefusal("Price must be divisible by tick size.")
        ticks, rem = divmod(dec, self.engine.tick_size)
        if rem != 0:
            raise GridRefusal("Price must be divisible by tick size.")
        return int(ticks)

    def parse_sz(self, text: object) -> int:
        dec = _number(text, "Order has invalid size.")
        if dec < 0:
            raise GridRefusal("Order has invalid size.")
        if dec == 0:
            raise GridRefusal("Order has zero size.")
        lots, rem = divmod(dec, self.engine.lot_size)
        if rem != 0:
            raise GridRefusal("Order has invalid size.")
        return int(lots)


def _number(text: object, refusal: str) -> Decimal:
    if not isinstance(text, str):
        raise GridRefusal(refusal)
    try:
        dec = Decimal(text)
    except (InvalidOperation, ValueError):
        raise GridRefusal(refusal) from None
    if not dec.is_finite():
        raise GridRefusal(refusal)
    return dec


def canonical_number(text: object) -> object:
    """``text`` as the venue re-encodes a number before hashing (non-numbers unchanged)."""
    if not isinstance(text, str):
        return text
    try:
        dec = Decimal(text)
    except (InvalidOperation, ValueError):
        return text
    return wire_number(dec) if dec.is_finite() else text
