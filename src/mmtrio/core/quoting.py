"""From a market view, an inventory and model inputs to a ladder of post-only quotes.

The model (`mmtrio.core.models`) gives float distances from a reference price; this module
decides everything that reaches the venue: integer tick prices rounded *outward* (bids floor,
asks ceil, so rounding never makes a quote more aggressive than the model asked), post-only
safety against the current book, level ladders, and whole-lot sizes that meet the
instrument's filters. Anything that makes quoting unsafe (empty or crossed book, NaN input)
gives `CannotQuote` with a reason instead of an exception: the strategy keeps running and
pulls its quotes.

Order of operations, each a deliberate choice:

1. reference ``s`` = microprice (or mid), shifted by the funding bias;
2. model distances at inventory ``q`` (units of the base size), and at ``q = 0``; the
   inventory part is scaled by ``inventory_skew``: ``δ = δ₀ + skew·(δ(q) − δ₀)``;
3. the half spread (mean of the two distances) is clamped to the min/max, keeping the centre;
   then the defence's widening (:mod:`mmtrio.core.defence`, bounded by its own keys) scales
   it and moves each side out;
4. top prices rounded outward, then clamped to the post-only limits; deeper levels step
   ``level_spacing_ticks`` away from the top, so levels are distinct and ordered by
   construction;
5. sizes shaped per level and reduced on the side that grows |inventory|; levels whose
   price or size cannot satisfy the instrument are dropped, never bent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mmtrio.core.defence import Widening, widen
from mmtrio.core.events import Side
from mmtrio.core.frozen import fast_init
from mmtrio.core.instruments import Instrument
from mmtrio.core.models import (
    QuoteDistances,
    as_distances,
    as_infinite_distances,
    glft_distances,
)
from mmtrio.core.quote_params import MarketView, ModelInputs, QuoteModel, QuoteParams
from mmtrio.errors import ParameterError


@fast_init
@dataclass(frozen=True, slots=True)
class Quote:
    side: Side
    level: int  # 0 = best
    price_ticks: int
    qty_lots: int


@fast_init
@dataclass(frozen=True, slots=True)
class QuoteSet:
    """Quotes best-first per side (one side may be empty), plus the reference used."""

    bids: tuple[Quote, ...]
    asks: tuple[Quote, ...]
    reference: float


@dataclass(frozen=True, slots=True)
class CannotQuote:
    reason: str


QuoteResult = QuoteSet | CannotQuote


def _model(params: QuoteParams, q: float, inputs: ModelInputs) -> QuoteDistances:
    if params.model is QuoteModel.AS:
        return as_distances(q, params.gamma, inputs.sigma, inputs.k, params.horizon_s)
    if params.model is QuoteModel.AS_INFINITE:
        q_max = params.max_inventory_lots / params.base_size_lots
        # Beyond the bound the model is undefined; at the bound it already refuses the side
        # that grows inventory, which is the right answer for any |q| ≥ q_max.
        return as_infinite_distances(
            max(-q_max, min(q_max, q)), params.gamma, inputs.sigma, inputs.k, q_max
        )
    return glft_distances(q, params.gamma, inputs.sigma, inputs.k, inputs.a)


def _distances(params: QuoteParams, q: float, inputs: ModelInputs) -> QuoteDistances:
    """Model distances with the skew scaled and the half spread clamped."""
    d_q = _model(params, q, inputs)
    d_0 = _model(params, 0.0, inputs)
    s = params.inventory_skew
    bid = d_q.bid if math.isinf(d_q.bid) else d_0.bid + s * (d_q.bid - d_0.bid)
    ask = d_q.ask if math.isinf(d_q.ask) else d_0.ask + s * (d_q.ask - d_0.ask)
    if math.isinf(bid) or math.isinf(ask):
        # One-sided at the inventory bound: the unwind side keeps its model distance (it may
        # be inside the min half spread: unwinding is the point), capped on the wide end.
        return QuoteDistances(
            bid=bid if math.isinf(bid) else min(bid, params.max_half_spread_ticks),
            ask=ask if math.isinf(ask) else min(ask, params.max_half_spread_ticks),
        )
    centre = (ask - bid) / 2.0
    half = min(max((ask + bid) / 2.0, params.min_half_spread_ticks), params.max_half_spread_ticks)
    return QuoteDistances(bid=half - centre, ask=half + centre)


def _size(
    instrument: Instrument, params: QuoteParams, level: int, price: int, reduce: float
) -> int | None:
    """Whole-lot size of one level, or None when no valid size exists."""
    target = math.floor(params.base_size_lots * params.size_multiplier**level * reduce)
    if target < 1:
        return None  # reduced to nothing: the level is withdrawn, not bumped to the minimum
    # A target below the venue minimum is raised to it (the base size is a target; the
    # venue's floor is a hard rule); above the maximum it is capped.
    need = instrument.min_lots_for_notional(price)
    lots = min(max(target, need), instrument.max_qty)
    if lots < need:
        return None
    return lots


def _build_ladder(
    instrument: Instrument,
    params: QuoteParams,
    side: Side,
    top: int,
    reduce: float,
) -> tuple[Quote, ...]:
    """The side's levels from ``top`` outward."""
    step = -params.level_spacing_ticks if side is Side.BUY else params.level_spacing_ticks
    # Each level rounds outward on the instrument's grid (bids down, asks up); on a grid that
    # depends on the price (Hyperliquid's significant figures) two levels may round to the
    # same price: the farther one then moves one more grid step out, so levels stay distinct.
    rnd = instrument.floor_price if side is Side.BUY else instrument.ceil_price
    quotes: list[Quote] = []
    last: int | None = None
    for level in range(params.levels):
        price = rnd(top + level * step)
        if last is not None and price == last:
            price = rnd(price + (-1 if side is Side.BUY else 1))
        last = price
        if not instrument.min_price_ticks <= price <= instrument.max_price_ticks:
            continue
        lots = _size(instrument, params, level, price, reduce)
        if lots is not None:
            quotes.append(Quote(side, len(quotes), price, lots))
    return tuple(quotes)


class QuoteMemo:
    """The last result of each of :func:`quote`'s costly pure steps, for one caller.

    A plan mostly repeats the previous one's work: σ, A and k are re-sampled about once a
    second and q moves on fills, so the model runs on the same inputs again; the widening is
    the same object while unchanged; and a new plan mostly rounds to the same top of ladder
    (86 % of the ladders on the BTCUSDT 2024-08-08 backtest). Each step is a pure function of
    its arguments, so one entry per step remembers the last arguments and the result.

    Keys are the identity of the frozen instrument, params, inputs and widening (the planner
    hands the same objects while they are unchanged; the memo holds them, so an identity is
    never reused while remembered) and the equality of the numbers. A hit is the very value a
    fresh computation gives, and the same (immutable) object, so the planner's desired quotes
    compare by identity. A step that raises is never remembered.

    One memo per quoting caller (the planner owns one): callers with their own params would
    only evict each other's entries.
    """

    __slots__ = ("_distances", "_ladders", "_widened")

    def __init__(self) -> None:
        self._distances: tuple[QuoteParams, float, ModelInputs, QuoteDistances] | None = None
        self._widened: tuple[QuoteDistances, Widening, QuoteDistances] | None = None
        # per side: BUY at 0, SELL at 1
        self._ladders: list[
            tuple[Instrument, QuoteParams, int, float, tuple[Quote, ...]] | None
        ] = [None, None]

    def distances(self, params: QuoteParams, q: float, inputs: ModelInputs) -> QuoteDistances:
        """``_distances(params, q, inputs)``."""
        last = self._distances
        if last is not None and last[0] is params and last[2] is inputs and last[1] == q:
            return last[3]
        dist = _distances(params, q, inputs)
        self._distances = (params, q, inputs, dist)
        return dist

    def widened(self, dist: QuoteDistances, widening: Widening) -> QuoteDistances:
        """``widen(dist, widening)``."""
        last = self._widened
        if last is not None and last[0] is dist and last[1] is widening:
            return last[2]
        out = widen(dist, widening)
        self._widened = (dist, widening, out)
        return out

    def ladder(
        self, instrument: Instrument, params: QuoteParams, side: Side, top: int, reduce: float
    ) -> tuple[Quote, ...]:
        """``_build_ladder(instrument, params, side, top, reduce)``."""
        i = 0 if side is Side.BUY else 1
        last = self._ladders[i]
        if (
            last is not None
            and last[0] is instrument
            and last[1] is params
            and last[2] == top
            and last[3] == reduce
        ):
            return last[4]
        quotes = _build_ladder(instrument, params, side, top, reduce)
        self._ladders[i] = (instrument, params, top, reduce, quotes)
        return quotes


def quote(
    instrument: Instrument,
    view: MarketView,
    *,
    inventory_lots: int,
    inputs: ModelInputs,
    params: QuoteParams,
    funding_rate: float,
    safety_ticks: int | None = None,
    widening: Widening | None = None,
    memo: QuoteMemo | None = None,
) -> QuoteResult:
    """Quotes for one instrument, or `CannotQuote` with the reason.

    ``safety_ticks`` overrides ``params.post_only_safety_ticks`` (pass
    `PostOnlySafety.ticks`). ``funding_rate`` is the current rate per funding interval
    (e.g. 0.0001). Guarantees for any input: bids ≤ best_ask − 1 − safety, asks ≥
    best_bid + 1 + safety, every bid < every ask, levels strictly ordered, sizes whole lots
    within the instrument's min/max qty and min notional, prices inside its price filter.

    ``memo``: the caller's :class:`QuoteMemo` (a repeated plan skips the model and the
    ladders); the result is the same with or without it.
    """
    bb, ba = view.best_bid, view.best_ask
    if bb is None or ba is None:
        return CannotQuote(f"book side empty (best_bid={bb}, best_ask={ba})")
    if bb >= ba:
        return CannotQuote(f"book crossed or locked (best_bid={bb} >= best_ask={ba})")
    safety = params.post_only_safety_ticks if safety_ticks is None else safety_ticks
    if safety < 0:
        return CannotQuote(f"post-only safety must be >= 0 ticks, got {safety}")
    ref = view.microprice if params.use_microprice else view.mid
    if not math.isfinite(ref) or ref <= 0:
        name = "microprice" if params.use_microprice else "mid"
        return CannotQuote(f"{name} is not a positive finite price ({ref!r})")
    if not math.isfinite(funding_rate) or abs(funding_rate) >= 1:
        return CannotQuote(f"funding rate {funding_rate!r} is not a finite fraction")
    if not (params.allow_bid or params.allow_ask):
        return CannotQuote("risk layer allows neither side")
    if memo is None:
        memo = QuoteMemo()  # nothing remembered: every step computed afresh
    q = inventory_lots / params.base_size_lots
    try:
        dist = memo.distances(params, q, inputs)
    except ParameterError as exc:
        return CannotQuote(f"model {params.model.value}: {exc}")
    if widening is not None:
        dist = memo.widened(dist, widening)
    s = ref - funding_rate * params.funding_bias * ref

    # Post-only limits, exact integers; the float comparison against them is exact because
    # tick counts are far below 2**53.
    bid_cap = ba - 1 - safety
    ask_floor = bb + 1 + safety
    # Outward: bid floor, ask ceil, each onto the instrument's price grid (a valid price at
    # or below / above the model's: the post-only limits still hold). Float extremes (a skew
    # of 1e30 ticks) are clamped to the post-only limit or drop out of the price filter
    # below; ±inf means "no quote".
    bid_f = min(s - dist.bid, float(bid_cap))
    ask_f = max(s + dist.ask, float(ask_floor))
    lim = float(10 * instrument.max_price_ticks)
    bid_top = instrument.floor_price(math.floor(max(bid_f, -lim))) if math.isfinite(bid_f) else None
    ask_top = instrument.ceil_price(math.ceil(min(ask_f, lim))) if math.isfinite(ask_f) else None
    if bid_top is not None and ask_top is not None and bid_top >= ask_top:
        # Only possible when the (skew-scaled) model spread is not positive: floor(x) < ceil(y)
        # whenever x < y. A degenerate model is refused explicitly, never "fixed" silently.
        return CannotQuote(f"model produced bid {bid_top} >= ask {ask_top}")

    reduce_bid = reduce_ask = 1.0
    frac = min(1.0, abs(inventory_lots) / params.max_inventory_lots)
    cut = max(0.0, 1.0 - params.inventory_size_reduction * frac)
    if inventory_lots > 0:
        reduce_bid = cut
    elif inventory_lots < 0:
        reduce_ask = cut
    bids = (
        memo.ladder(instrument, params, Side.BUY, bid_top, reduce_bid)
        if params.allow_bid and bid_top is not None
        else ()
    )
    asks = (
        memo.ladder(instrument, params, Side.SELL, ask_top, reduce_ask)
        if params.allow_ask and ask_top is not None
        else ()
    )
    if not bids and not asks:
        return CannotQuote(
            "no level survives the instrument filters and inventory limits "
            f"(bid top {bid_top}, ask top {ask_top}, inventory {inventory_lots} lots)"
        )
    return QuoteSet(bids=bids, asks=asks, reference=s)
