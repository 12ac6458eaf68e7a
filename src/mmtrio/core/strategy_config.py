"""The MarketMaker's configuration: its validation, and what a live reload keeps.

:class:`StrategyConfig` is built by the runtime from ``mmtrio.config`` and validated on
construction. :meth:`mmtrio.core.strategy.MarketMaker.reconfigure` builds everything a new
config needs before it swaps anything; the two functions here decide what survives the swap:
:func:`kept_parts` (estimators keep their warm-up unless their own parameters changed) and
:func:`carry_over_risk` (a reload never clears a kill switch, a drawdown peak or the order-rate
history).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from mmtrio.core.book import OrderBook
from mmtrio.core.defence import DEFENCE_OFF, DefenceParams
from mmtrio.core.instruments import Instrument
from mmtrio.core.intensity import IntensityEstimator
from mmtrio.core.markouts import MarkoutTracker
from mmtrio.core.post_only import PostOnlySafety
from mmtrio.core.quote_params import QuoteParams
from mmtrio.core.risk import RiskLimits, RiskManager
from mmtrio.core.volatility import EwmaVolatility
from mmtrio.errors import ParameterError

ADOPTED_LEVEL: Final = 1_000  # slot levels from here hold adopted venue orders (cancelled)

Parts = tuple[EwmaVolatility, IntensityEstimator, MarkoutTracker, PostOnlySafety]
"""The estimator-side objects a config determines: volatility, intensity, markouts, safety."""


@dataclass(frozen=True)
class StrategyConfig:
    """Everything the MarketMaker needs; built by the runtime from ``mmtrio.config``.

    Validated on construction (ParameterError naming the field). ``quote.allow_bid/ask`` are
    overridden every step by the risk view.
    """

    instrument: Instrument
    quote: QuoteParams
    limits: RiskLimits
    vol_half_life_ms: int
    vol_min_returns: int
    sigma_fallback_ticks: float
    intensity_window_ms: int
    intensity_min_trades: int
    fallback_a: float
    fallback_k: float
    reprice_tolerance_ticks: int
    size_tolerance_lots: int
    use_amend: bool
    min_requote_interval_ms: int
    cancel_deadline_ms: int
    query_delay_ms: int
    post_only_base_ticks: int
    post_only_max_ticks: int
    post_only_decay_after: int
    markout_horizons_ms: tuple[int, ...]
    flatten_slippage_bps: float
    mid_sample_ms: int
    warmup_ms: int = 0  # no quote before this long after the first book (estimators.warmup_ms)
    min_fit_r2: float = 0.0  # the intensity fit's quality gate (core/fit_gate.py)
    defence: DefenceParams = DEFENCE_OFF  # markout and regime widening (core/defence.py)

    def __post_init__(self) -> None:
        for name, low in (
            ("vol_half_life_ms", 1),
            ("vol_min_returns", 1),
            ("intensity_window_ms", 1),
            ("intensity_min_trades", 1),
            ("reprice_tolerance_ticks", 0),
            ("size_tolerance_lots", 0),
            ("min_requote_interval_ms", 0),
            ("cancel_deadline_ms", 1),
            ("query_delay_ms", 1),
            ("post_only_base_ticks", 0),
            ("post_only_max_ticks", 0),
            ("post_only_decay_after", 1),
            ("mid_sample_ms", 1),
            ("warmup_ms", 0),
        ):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, int) or val < low:
                raise ParameterError(f"strategy {name} must be an integer >= {low}, got {val!r}")
        for name in ("sigma_fallback_ticks", "fallback_a", "fallback_k", "flatten_slippage_bps"):
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, int | float) or not math.isfinite(val):
                raise ParameterError(f"strategy {name} must be a finite number, got {val!r}")
        if self.sigma_fallback_ticks < 0:
            raise ParameterError(
                f"sigma_fallback_ticks must be >= 0 ticks/√s, got {self.sigma_fallback_ticks}"
            )
        if self.fallback_a <= 0 or self.fallback_k <= 0:
            raise ParameterError(
                f"fallback_a and fallback_k must be > 0, got {self.fallback_a}, {self.fallback_k}"
            )
        if not 0 < self.flatten_slippage_bps <= 1_000:
            raise ParameterError(
                f"flatten_slippage_bps must be in (0, 1000], got {self.flatten_slippage_bps}"
            )
        if not isinstance(self.use_amend, bool):
            raise ParameterError(f"use_amend must be a boolean, got {self.use_amend!r}")
        if self.post_only_base_ticks > self.post_only_max_ticks:
            raise ParameterError(
                "post_only_base_ticks must be <= post_only_max_ticks, got "
                f"{self.post_only_base_ticks}, {self.post_only_max_ticks}"
            )
        r2 = self.min_fit_r2
        if isinstance(r2, bool) or not isinstance(r2, int | float) or not 0.0 <= r2 <= 1.0:
            raise ParameterError(f"strategy min_fit_r2 must be in [0, 1], got {r2!r}")
        if not isinstance(self.defence, DefenceParams):
            raise ParameterError(f"strategy defence must be DefenceParams, got {self.defence!r}")
        if self.defence.markout_horizon_ms not in self.markout_horizons_ms:
            raise ParameterError(
                f"defence markout_horizon_ms {self.defence.markout_horizon_ms} must be one of "
                f"the markout horizons {list(self.markout_horizons_ms)} ms"
            )
        if self.quote.levels >= ADOPTED_LEVEL:
            raise ParameterError(f"quote levels must be < {ADOPTED_LEVEL}")


def kept_parts(old: StrategyConfig, new: StrategyConfig, *, current: Parts, built: Parts) -> Parts:
    """Per part, ``current`` if the reload left that part's parameters unchanged (it keeps its
    warm-up), else the freshly ``built`` one."""
    vol, intensity, markouts, safety = current
    if (old.vol_half_life_ms, old.vol_min_returns) != (
        new.vol_half_life_ms,
        new.vol_min_returns,
    ):
        vol = built[0]
    if (
        old.intensity_window_ms,
        old.intensity_min_trades,
        old.fallback_a,
        old.fallback_k,
    ) != (
        new.intensity_window_ms,
        new.intensity_min_trades,
        new.fallback_a,
        new.fallback_k,
    ):
        intensity = built[1]
    if old.markout_horizons_ms != new.markout_horizons_ms:
        markouts = built[2]
    if (old.post_only_base_ticks, old.post_only_max_ticks, old.post_only_decay_after) != (
        new.post_only_base_ticks,
        new.post_only_max_ticks,
        new.post_only_decay_after,
    ):
        safety = built[3]
    return vol, intensity, markouts, safety


def carry_over_risk(
    current: RiskManager,
    old: StrategyConfig,
    config: StrategyConfig,
    now: int,
    *,
    book: OrderBook,
    last_book_update: int | None,
) -> RiskManager:
    """A RiskManager for ``config`` that keeps ``current``'s latches, histories and state.

    The kill switch, feed latency, history and trading state always carry over; the order-rate
    window only when its limit is unchanged (a new rate window starts empty); the loss limits'
    totals, peak, bases and latched breaches always (a new drawdown limit applies from the
    current peak; a reload never clears a breach). The stale-book guard is
    re-seeded from the strategy's book. ``current`` is not modified.
    """
    risk = RiskManager(config.limits, config.instrument)
    # Carry the latches and histories over: a reload must not clear a kill switch.
    risk.kill_switch = current.kill_switch
    if config.limits.order_rate_window_ms == old.limits.order_rate_window_ms:
        risk.flow = current.flow  # else a new window starts empty
    risk.latency = current.latency
    risk.history = current.history
    risk.margin = current.margin
    risk.account = current.account  # the last reading; the new thresholds judge it
    # Totals, peaks and latched breaches carry over; a new limit applies from the current peak.
    lim = config.limits
    risk.losses = current.losses.retuned(
        lim.max_drawdown,
        lim.max_daily_loss,
        lim.max_cumulative_loss,
        lim.day_start_hour_utc,
        now=now,
    )
    if last_book_update is not None and book.synced:
        risk.book.on_update(last_book_update)
    elif not book.synced:
        risk.book.invalidate(book.out_of_sync_reason or "book not synced")
    risk._state = current.state
    return risk
