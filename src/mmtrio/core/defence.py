"""The strategy's self-defence: widen the side being picked off, and both sides in a fast regime.

Two inputs the quote model does not see, each bounded by the config ([defence]):

- **Adverse selection, from our own markouts** (:class:`MarkoutDefence`). Each completed
  markout of one of our fills at ``markout_horizon_ms`` (``side·(mid(t+h) − fill price)`` in
  ticks, :mod:`mmtrio.core.markouts`) enters a per-side score decayed by time (half-life
  ``markout_half_life_ms``). The score is ``Σw·m / (Σw + PRIOR_FILLS)``: a mean markout shrunk
  towards 0 by a prior of ``PRIOR_FILLS`` neutral fills, so one fill cannot move it far and a
  side that stops filling relaxes back to 0 as its weights decay (a widened side fills less:
  without the shrinkage it would stay wide for ever on a stale reading). A side whose score is
  below ``−markout_threshold_ticks`` is being picked off: the mean markout includes the spread
  we earned, so a negative one means the market moved through our quotes by more than that.
  That side's quote moves away by ``markout_gain`` ticks per tick of excess, rounded to whole
  ticks, at most ``max_widen_ticks``.
- **The volatility regime** (:class:`VolRegime`). The mid is sampled on a regular grid
  (every ``REGIME_SAMPLE_MS``: tick-by-tick returns are mostly zeros and bid-ask bounce) into
  two :class:`~mmtrio.core.volatility.RealizedVolatility` windows: a short one
  (``regime_window_ms``) and a long baseline (``REGIME_LONG_FACTOR`` times longer). The
  regime is the ratio of their *bipower* volatilities: bipower variation is robust to jumps,
  so a single jump (already in the past) neither widens the next seconds nor inflates the
  baseline for the next minutes; a sustained faster market does both. (The short window's
  *realised* volatility against the long bipower one was tried first: on a discrete price
  grid sampled at 250 ms many returns are zero, which biases bipower variation down more than
  realised variance, and that ratio sat above 1.2 in a steady market — on the shipped
  recordings the half spread was doubled half of the time. Like against like, the bias
  cancels.) When the ratio reaches ``REGIME_ACT_RATIO`` the half spread is multiplied by it,
  clamped to ``regime_max_scale``; below, sampling noise widens nothing. The scale is
  recomputed at most once per ``REGIME_REFRESH_MS`` and quantised down to ``SCALE_STEP`` so
  that it does not make every decision a new plan. It never narrows: the model's own σ (an
  EWMA) already follows the level of volatility; this input reacts to a change of regime
  faster than that EWMA. The realised/bipower ratio of the short window is kept as
  ``jump_share`` for the status line.

Both only ever widen (a quote moves away from the reference, never toward it), so neither
can make a quote cross the book or take a post-only rejection. :func:`widen` applies them to
the model's distances before rounding; quoting (:mod:`mmtrio.core.quoting`) clamps to the
post-only limits afterwards, as for any model output. ``max_widen_ticks = 0`` and
``regime_max_scale = 1`` switch each off.

The operator is told (a ``defence`` notice: the log, the journal) when the widening starts or
stops on a side or in the scale, when the scale has moved by ``NOTICE_SCALE``, and when a
side's ticks have moved by ``NOTICE_SHARE`` of what was last told (at least
``NOTICE_MIN_TICKS``): :func:`worth_telling`. A decaying score changes a side's ticks by one
every second or so, and the regime's scale steps by 0.05 as often; a notice for each such step
filled the log with near-identical lines. The status shows the widening in force at all times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from mmtrio.core.estimator_base import NotEnoughData
from mmtrio.core.events import Side
from mmtrio.core.models import QuoteDistances
from mmtrio.core.volatility import RealizedVolatility
from mmtrio.errors import ParameterError

PRIOR_FILLS: Final = 2.0  # neutral fills the markout score is shrunk towards (see module doc)
REGIME_REFRESH_MS: Final = 1_000
REGIME_SAMPLE_MS: Final = 250  # the mid grid of the regime's returns
REGIME_LONG_FACTOR: Final = 8  # the long (baseline) window, in short windows
REGIME_MIN_RETURNS: Final = 20  # returns in a window before it is measured
REGIME_ACT_RATIO: Final = 1.2  # below this ratio the regime widens nothing (noise)
SCALE_STEP: Final = 0.05
NOTICE_SHARE: Final = 0.25  # a side's ticks must move this share of the told value ...
NOTICE_MIN_TICKS: Final = 2  # ... and at least this many, for a new notice
NOTICE_SCALE: Final = 0.2  # the half-spread scale must move this much for a new notice
_LN2 = math.log(2.0)


@dataclass(frozen=True, slots=True)
class DefenceParams:
    """The [defence] section as the core takes it; validated on construction."""

    markout_horizon_ms: int = 1_000
    markout_half_life_ms: int = 60_000
    markout_threshold_ticks: float = 0.0
    markout_gain: float = 1.0
    max_widen_ticks: int = 10
    regime_window_ms: int = 15_000
    regime_max_scale: float = 2.0

    def __post_init__(self) -> None:
        for name in ("markout_horizon_ms", "markout_half_life_ms", "regime_window_ms"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, int) or val < 1:
                raise ParameterError(f"defence {name} must be an integer >= 1, got {val!r}")
        mw = self.max_widen_ticks
        if isinstance(mw, bool) or not isinstance(mw, int) or not 0 <= mw <= 10_000:
            raise ParameterError(f"defence max_widen_ticks must be in [0, 10000], got {mw!r}")
        for name, low, high in (
            ("markout_threshold_ticks", 0.0, 1e4),
            ("markout_gain", 0.0, 100.0),
            ("regime_max_scale", 1.0, 10.0),
        ):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, int | float) or not low <= val <= high:
                raise ParameterError(f"defence {name} must be in [{low:g}, {high:g}], got {val!r}")


@dataclass(frozen=True, slots=True)
class Widening:
    """What the defence adds to the model's quote: whole ticks per side, a half-spread scale."""

    bid_ticks: int = 0
    ask_ticks: int = 0
    scale: float = 1.0

    @property
    def active(self) -> bool:
        return self.bid_ticks > 0 or self.ask_ticks > 0 or self.scale > 1.0


NO_WIDENING: Final = Widening()


def worth_telling(told: Widening, now: Widening) -> bool:
    """Whether ``now`` differs enough from the widening last told to the operator: a side
    starts or stops widening, the scale starts or stops widening or moves by ``NOTICE_SCALE``,
    or a side moves by ``NOTICE_SHARE`` of its told ticks (at least ``NOTICE_MIN_TICKS``)."""
    if (now.scale > 1.0) != (told.scale > 1.0):
        return True
    if abs(now.scale - told.scale) >= NOTICE_SCALE - 1e-9:  # the scale moves in 0.05 steps
        return True
    for was, is_ in ((told.bid_ticks, now.bid_ticks), (told.ask_ticks, now.ask_ticks)):
        if (was == 0) != (is_ == 0):
            return True
        if abs(is_ - was) >= max(NOTICE_MIN_TICKS, NOTICE_SHARE * was):
            return True
    return False


DEFENCE_OFF: Final = DefenceParams(max_widen_ticks=0, regime_max_scale=1.0)


def widen(dist: QuoteDistances, w: Widening) -> QuoteDistances:
    """The model's distances with the half spread scaled around its centre and each side
    moved out by its ticks; an infinite distance (no quote on that side) stays infinite."""
    if not w.active:
        return dist
    bid, ask = dist.bid, dist.ask
    if math.isinf(bid) or math.isinf(ask):
        return QuoteDistances(
            bid=bid if math.isinf(bid) else bid * w.scale + w.bid_ticks,
            ask=ask if math.isinf(ask) else ask * w.scale + w.ask_ticks,
        )
    half, centre = (ask + bid) / 2.0, (ask - bid) / 2.0
    # A negative half spread cannot occur after quoting's clamp (min_half_spread >= 0), but
    # scaling one up would narrow it: only a positive half spread is scaled.
    scaled = half * w.scale if half > 0 else half
    return QuoteDistances(bid=scaled - centre + w.bid_ticks, ask=scaled + centre + w.ask_ticks)


class MarkoutDefence:
    """Per-side adverse-selection score from completed markouts (see the module doc)."""

    def __init__(self) -> None:
        # per side, indexed by _index (BUY 0, SELL 1; a list index, not an Enum-keyed dict:
        # Enum.__hash__ is a Python call): decayed Σw·m, decayed Σw, time of the last decay
        self._sum: list[float] = [0.0, 0.0]
        self._weight: list[float] = [0.0, 0.0]
        self._at: list[int | None] = [None, None]
        self.fills: dict[Side, int] = {Side.BUY: 0, Side.SELL: 0}  # fills counted

    @staticmethod
    def _index(side: Side) -> int:
        return 0 if side is Side.BUY else 1

    def _decay(self, i: int, now: int, half_life_ms: int) -> None:
        at = self._at[i]
        if at is not None and now > at:
            d = math.exp(-_LN2 * (now - at) / half_life_ms)
            self._sum[i] *= d
            self._weight[i] *= d
        if at is None or now > at:
            self._at[i] = now

    def on_markout(self, side: Side, ticks: float, now: int, half_life_ms: int) -> None:
        """One completed markout (ticks, positive = in our favour) of a fill on ``side``."""
        if not math.isfinite(ticks):
            return
        i = self._index(side)
        self._decay(i, now, half_life_ms)
        self._sum[i] += ticks
        self._weight[i] += 1.0
        self.fills[side] += 1

    def score(self, side: Side, now: int, half_life_ms: int) -> float:
        """The side's shrunk mean markout in ticks at ``now`` (0 with no evidence)."""
        i = self._index(side)
        self._decay(i, now, half_life_ms)
        return self._sum[i] / (self._weight[i] + PRIOR_FILLS)

    def extra_ticks(self, side: Side, now: int, p: DefenceParams) -> int:
        """Ticks to move ``side``'s quote away: 0 unless the side is being picked off."""
        if p.max_widen_ticks == 0:
            return 0
        excess = -self.score(side, now, p.markout_half_life_ms) - p.markout_threshold_ticks
        if excess <= 0:
            return 0
        return min(p.max_widen_ticks, round(p.markout_gain * excess))

    def extra_ticks_both(self, now: int, p: DefenceParams) -> tuple[int, int]:
        """``(extra_ticks(BUY), extra_ticks(SELL))``, the decay factor computed once when
        both sides were last decayed at the same time (always, but after a markout between
        two decisions): the same factor, so the very values two calls give."""
        if p.max_widen_ticks == 0:
            return 0, 0
        at = self._at[0]
        if at is None or at != self._at[1] or now <= at:
            return self.extra_ticks(Side.BUY, now, p), self.extra_ticks(Side.SELL, now, p)
        d = math.exp(-_LN2 * (now - at) / p.markout_half_life_ms)
        total, weight = self._sum, self._weight
        # Both sides written out (every decision passes here): the same operations as
        # _decay and extra_ticks, in the same order.
        s_buy, s_sell = total[0] * d, total[1] * d
        w_buy, w_sell = weight[0] * d, weight[1] * d
        total[0], total[1], weight[0], weight[1] = s_buy, s_sell, w_buy, w_sell
        self._at[0] = self._at[1] = now
        threshold = p.markout_threshold_ticks
        bid = ask = 0
        excess = -(s_buy / (w_buy + PRIOR_FILLS)) - threshold
        if excess > 0:
            bid = min(p.max_widen_ticks, round(p.markout_gain * excess))
        excess = -(s_sell / (w_sell + PRIOR_FILLS)) - threshold
        if excess > 0:
            ask = min(p.max_widen_ticks, round(p.markout_gain * excess))
        return bid, ask


class VolRegime:
    """Short-window realised volatility against a long-window bipower baseline, on a regular
    mid grid (see the module doc)."""

    def __init__(self, window_ms: int) -> None:
        self.window_ms = window_ms
        self.short = RealizedVolatility(window_ms, REGIME_MIN_RETURNS)
        self.long = RealizedVolatility(window_ms * REGIME_LONG_FACTOR, REGIME_MIN_RETURNS)
        self.scale = 1.0
        self.ratio: float | None = None  # short / long bipower σ at the last refresh
        self.jump_share: float | None = None  # 1 − bipower/realised variance, short window
        self._next_sample: int | None = None
        self._at = -(10**18)

    def on_mid(self, mid: float, t: int) -> None:
        """A mid at ``t``: kept when it is the first at or after the next grid time."""
        if self._next_sample is not None and t < self._next_sample:
            return
        self._next_sample = t - t % REGIME_SAMPLE_MS + REGIME_SAMPLE_MS
        self.short.update(mid, t)
        self.long.update(mid, t)

    def refresh(self, now: int, max_scale: float) -> float:
        """The half-spread scale for ``now`` (re-measured at most every REGIME_REFRESH_MS)."""
        if max_scale <= 1.0:
            self.scale = 1.0
            return 1.0
        if now - self._at < REGIME_REFRESH_MS:
            return min(self.scale, max_scale)
        self._at = now
        short, long = self.short.sigma_bipower(1000.0), self.long.sigma_bipower(1000.0)
        if isinstance(short, NotEnoughData) or isinstance(long, NotEnoughData) or not long > 0:
            self.ratio = self.jump_share = None
            self.scale = 1.0
            return 1.0
        self.ratio = short / long
        rv = self.short.realized_variance_per_ms()
        if not isinstance(rv, NotEnoughData) and rv > 0:
            self.jump_share = max(0.0, 1.0 - (short * short / 1000.0) / rv)
        if self.ratio < REGIME_ACT_RATIO:
            self.scale = 1.0
        else:
            raw = min(self.ratio, max_scale)
            self.scale = math.floor(raw / SCALE_STEP + 1e-9) * SCALE_STEP
        return self.scale


class Defence:
    """Both inputs together, and the widening they ask for now."""

    def __init__(self, params: DefenceParams) -> None:
        self.params = params
        self.markouts = MarkoutDefence()
        self.regime = VolRegime(params.regime_window_ms)
        self.current = NO_WIDENING

    def retune(self, params: DefenceParams) -> None:
        """A reloaded config: the markout scores carry over; a new regime window starts
        empty (its returns were gathered under the old window)."""
        if params.regime_window_ms != self.params.regime_window_ms:
            self.regime = VolRegime(params.regime_window_ms)
        self.params = params

    def on_mid(self, mid: float, t: int) -> None:
        self.regime.on_mid(mid, t)

    def on_markout(self, side: Side, horizon_ms: int, ticks: float, t: int) -> None:
        """A completed markout from the tracker; only the configured horizon is used."""
        if horizon_ms == self.params.markout_horizon_ms:
            self.markouts.on_markout(side, ticks, t, self.params.markout_half_life_ms)

    def widening(self, now: int) -> Widening:
        """The widening in force at ``now`` (the same object while it is unchanged)."""
        p = self.params
        bid, ask = self.markouts.extra_ticks_both(now, p)
        scale = self.regime.refresh(now, p.regime_max_scale)
        cur = self.current
        if bid != cur.bid_ticks or ask != cur.ask_ticks or scale != cur.scale:  # Widening's ==
            cur = self.current = Widening(bid, ask, scale)
        return cur

    def describe(self, w: Widening, now: int) -> str:
        """One line for the notice and the status: what acts and why."""
        if not w.active:
            return "defence idle"
        parts = []
        p = self.params
        for side, ticks, name in ((Side.BUY, w.bid_ticks, "bid"), (Side.SELL, w.ask_ticks, "ask")):
            if ticks:
                score = self.markouts.score(side, now, p.markout_half_life_ms)
                parts.append(
                    f"{name} +{ticks} ticks (mean {p.markout_horizon_ms / 1000:g} s markout of "
                    f"our {'buys' if side is Side.BUY else 'sells'} {score:+.2f} ticks)"
                )
        if w.scale > 1.0:
            jumps = self.regime.jump_share
            parts.append(
                f"half spread ×{w.scale:.2f} (bipower σ over the last "
                f"{p.regime_window_ms / 1000:g} s is {self.regime.ratio or 0.0:.2f}× that over "
                f"{p.regime_window_ms * REGIME_LONG_FACTOR / 1000:g} s"
                + ("" if jumps is None else f"; jumps {jumps:.0%} of the short variance")
                + ")"
            )
        return "defence widens: " + "; ".join(parts)


__all__ = [
    "DEFENCE_OFF",
    "NO_WIDENING",
    "Defence",
    "DefenceParams",
    "MarkoutDefence",
    "VolRegime",
    "Widening",
    "widen",
    "worth_telling",
]
