"""From the validated :class:`Config` to the core's :class:`StrategyConfig`; ``--set`` overrides.

:func:`build_strategy_config` is the one conversion the runtime, the backtester and sweeps
share. Decisions where the config file has no key (each a fixed, documented constant):

- ``quoting.gamma`` is in 1/(USDT·base unit); the core's γ is per tick per unit of q, q being
  inventory in base order sizes, so ``γ_core = γ · tick_size · base_qty`` (the same utility
  measured in the model's money unit, one tick on one base order).
- ``max_orders_per_window``: the venue's order budget per minute (``orders_per_minute``, from
  its declared rate limits; Binance USD-M: 1,200) minus ``execution.rate_budget_margin``,
  over 60 s: the strategy's own runaway-rate cap.
- Sizes: ``quoting.base_qty`` and ``risk.max_position`` are base-asset quantities; the
  instrument (read from the venue, or from the recording) must hold them as whole lots at or
  above its minimum size, and ``risk.max_notional`` must leave room for one quote per level
  at its minimum notional. Each violation is a ConfigError naming the key and the venue's
  figure, raised at start before anything is sent.
- ``query_delay_ms`` = ``execution.request_timeout_ms`` + ``venue.recv_window_ms``: a request
  we lost track of can still reach the venue until its timeout, and is accepted there within
  recvWindow; after both, the venue refuses a late copy, so the query's answer is final.
- σ fallback before the volatility estimate warms up: ``SIGMA_FALLBACK_TICKS`` = 30 ticks/√s.
  Measured on the shipped BTCUSDT recordings (EWMA of mid returns, 1-s sampled sd): 10 (2023-04),
  27–33 (2024-07) and 80–96 (2024-08) ticks/√s. 30 sits mid-range: wide for a quiet market,
  and a volatile one replaces it within the warm-up.
- Warm-up: ``max(VOL_MIN_RETURNS, estimators.warmup_ms / 100)`` mid returns, since the depth
  stream brings about one mid update per 100 ms.
- Post-only safety decays after ``POST_ONLY_DECAY_AFTER`` accepted post-only places; markouts
  at 1/5/30/60 s; a mid sample every ``MID_SAMPLE_MS``; no size tolerance (a size change is
  always requoted: sizes change only with inventory bands).

``section.key=value`` overrides are read by :mod:`mmtrio.config.overrides`;
:func:`apply_overrides` applies them (CLI ``--set``/``--sweep``) to a loaded config and
re-validates the whole configuration through the same pydantic models, so an override gets the
same checks and messages as the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mmtrio.config.loading import parse_config
from mmtrio.config.model import Config
from mmtrio.config.overrides import set_keys
from mmtrio.core.defence import DefenceParams
from mmtrio.core.instruments import Instrument
from mmtrio.core.markouts import DEFAULT_HORIZONS_MS
from mmtrio.core.quote_params import QuoteModel, QuoteParams
from mmtrio.core.risk import RiskLimits
from mmtrio.core.strategy_config import StrategyConfig
from mmtrio.errors import ConfigError, InstrumentError

DEFAULT_ORDERS_PER_MINUTE = 1_200  # Binance USD-M's account budget; the backtester's default
ORDER_RATE_WINDOW_MS = 60_000
SIGMA_FALLBACK_TICKS = 30.0
VOL_MIN_RETURNS = 20
POST_ONLY_DECAY_AFTER = 10
MID_SAMPLE_MS = 250  # markouts start at 1 s: sample the mid four times finer

_MODELS = {"as": QuoteModel.AS, "as_infinite": QuoteModel.AS_INFINITE, "glft": QuoteModel.GLFT}


def size_lots(cfg: Config, inst: Instrument) -> tuple[int, int]:
    """(base_qty, max_position) in the instrument's lots; ConfigError naming what is wrong."""
    problems: list[str] = []
    out: list[int] = []
    for key, qty in (
        ("quoting.base_qty", cfg.quoting.base_qty),
        ("risk.max_position", cfg.risk.max_position),
    ):
        try:
            out.append(inst.base_to_lots(qty, key))
        except InstrumentError:
            problems.append(
                f"{key} = {qty} is not a whole number of {inst.symbol} lots "
                f"({inst.base_per_lot} {inst.base_asset or 'base units'} each, as the venue "
                "states it)"
            )
            out.append(0)
    if not problems and out[0] < inst.min_qty:
        problems.append(
            f"quoting.base_qty = {cfg.quoting.base_qty} is below {inst.symbol}'s minimum order "
            f"size {inst.lots_to_base(inst.min_qty)}"
        )
    need = inst.min_notional * cfg.quoting.levels
    if cfg.risk.max_notional < need:
        problems.append(
            f"risk.max_notional = {cfg.risk.max_notional} {inst.quote_asset} is below "
            f"{cfg.quoting.levels} level(s) × {inst.symbol} min notional "
            f"{inst.min_notional} = {need} {inst.quote_asset}"
        )
    if problems:
        raise ConfigError("config does not fit the venue's instrument: " + "; ".join(problems))
    return out[0], out[1]


def build_strategy_config(
    cfg: Config, instrument: Instrument, *, orders_per_minute: int = DEFAULT_ORDERS_PER_MINUTE
) -> StrategyConfig:
    """The core's StrategyConfig for ``cfg`` on ``instrument`` (derived values: module doc)."""
    inst = instrument
    base_lots, max_lots = size_lots(cfg, inst)
    q = cfg.quoting
    gamma = q.gamma * float(inst.tick_size) * float(q.base_qty)
    quote = QuoteParams(
        model=_MODELS[q.model],
        gamma=gamma,
        base_size_lots=base_lots,
        max_inventory_lots=max_lots,
        horizon_s=q.horizon_s,
        levels=q.levels,
        level_spacing_ticks=q.level_spacing_ticks,
        inventory_skew=q.inventory_skew,
        funding_bias=q.funding_bias,
        min_half_spread_ticks=float(q.min_half_spread_ticks),
        max_half_spread_ticks=float(q.max_half_spread_ticks),
        post_only_safety_ticks=q.post_only_safety_ticks,
    )
    r = cfg.risk
    budget = int(orders_per_minute * (1.0 - cfg.execution.rate_budget_margin))
    limits = RiskLimits(
        max_position_lots=max_lots,
        max_notional=r.max_notional,
        max_drawdown=r.max_drawdown,
        stale_book_ms=r.stale_book_ms,
        max_feed_latency_ms=r.max_feed_latency_ms,
        max_orders_per_window=max(1, budget),
        order_rate_window_ms=ORDER_RATE_WINDOW_MS,
        warn_fraction=r.warn_fraction,
        critical_fraction=r.critical_fraction,
        hard_fraction=r.hard_fraction,
        max_daily_loss=r.max_daily_loss,
        max_cumulative_loss=r.max_cumulative_loss,
        day_start_hour_utc=r.day_start_hour_utc,
        margin_ratio_reduce=r.margin_ratio_reduce,
        margin_ratio_halt=r.margin_ratio_halt,
        min_balance=r.min_balance,
    )
    e, d = cfg.estimators, cfg.defence
    return StrategyConfig(
        instrument=inst,
        quote=quote,
        limits=limits,
        vol_half_life_ms=e.vol_half_life_ms,
        vol_min_returns=max(VOL_MIN_RETURNS, e.warmup_ms // 100),
        sigma_fallback_ticks=SIGMA_FALLBACK_TICKS,
        intensity_window_ms=e.intensity_window_ms,
        intensity_min_trades=e.min_trades,
        fallback_a=e.fallback_a,
        fallback_k=e.fallback_k,
        reprice_tolerance_ticks=q.reprice_tolerance_ticks,
        size_tolerance_lots=0,
        use_amend=q.amend_vs_replace == "amend",
        min_requote_interval_ms=q.requote_interval_ms,
        cancel_deadline_ms=cfg.execution.cancel_confirm_deadline_ms,
        query_delay_ms=cfg.execution.request_timeout_ms + cfg.venue.recv_window_ms,
        post_only_base_ticks=q.post_only_safety_ticks,
        post_only_max_ticks=q.post_only_safety_max_ticks,
        post_only_decay_after=POST_ONLY_DECAY_AFTER,
        markout_horizons_ms=DEFAULT_HORIZONS_MS,
        flatten_slippage_bps=r.flatten_max_slippage_bps,
        mid_sample_ms=MID_SAMPLE_MS,
        warmup_ms=e.warmup_ms,
        min_fit_r2=e.min_fit_r2,
        defence=DefenceParams(
            markout_horizon_ms=d.markout_horizon_ms,
            markout_half_life_ms=d.markout_half_life_ms,
            markout_threshold_ticks=d.markout_threshold_ticks,
            markout_gain=d.markout_gain,
            max_widen_ticks=d.max_widen_ticks,
            regime_window_ms=d.regime_window_ms,
            regime_max_scale=d.regime_max_scale,
        ),
    )


def apply_overrides(cfg: Config, overrides: Sequence[str], source: str = "--set") -> Config:
    """A new Config with each ``section.key=value`` applied, validated like a config file.

    An unknown section or key, or a value out of range, raises :class:`ConfigError` (a
    ``ConfigValidationError`` listing every problem), naming the key and the allowed range.
    """
    if not overrides:
        return cfg
    dumped: dict[str, Any] = cfg.model_dump(mode="json", by_alias=True, exclude_none=True)
    data = set_keys(dumped, overrides, Config)
    # Paths in the dumped config are already absolute, so the base directory is irrelevant.
    return parse_config(data, base_dir=Path("/"), source=f"{source} {' '.join(overrides)}")
