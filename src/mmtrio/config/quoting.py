"""[quoting], [estimators] and [defence]: the quote model, the estimates it reads, its widening."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import field_validator, model_validator

from mmtrio.config.checks import _fail, _positive_size
from mmtrio.config.fields import Section, setting


class QuotingConfig(Section):
    """[quoting]: the quote model and its ladder. Reloadable (applied on the next requote)."""

    model: Literal["as", "as_infinite", "glft"] = setting(
        reload=True, doc="Avellaneda–Stoikov finite horizon, its infinite-horizon form, or GLFT"
    )
    gamma: float = setting(
        reload=True,
        unit="1/(USDT·base unit)",
        ge=1e-6,
        le=10.0,
        doc="risk aversion γ of the quote model",
    )
    horizon_s: float = setting(
        60.0, reload=True, unit="s", ge=1.0, le=86_400.0, doc="horizon T of model 'as'"
    )
    levels: int = setting(1, reload=True, ge=1, le=10, doc="quotes per side")
    level_spacing_ticks: int = setting(
        1, reload=True, unit="ticks", ge=1, le=10_000, doc="distance between successive levels"
    )
    base_qty: Decimal = setting(
        reload=True,
        strict=False,
        unit="base asset",
        gt=0,
        le=100,
        doc='size of each quote, e.g. "0.002" (must be a whole number of lots)',
    )
    inventory_skew: float = setting(
        1.0, reload=True, ge=0.0, le=10.0, doc="multiplier on the model's inventory skew"
    )
    funding_bias: float = setting(
        0.0,
        reload=True,
        ge=0.0,
        le=2.0,
        doc="share of the expected funding to next settlement priced into the reservation",
    )
    min_half_spread_ticks: int = setting(
        1, reload=True, unit="ticks", ge=1, le=10_000, doc="narrowest half spread quoted"
    )
    max_half_spread_ticks: int = setting(
        1000, reload=True, unit="ticks", ge=1, le=100_000, doc="widest half spread quoted"
    )
    reprice_tolerance_ticks: int = setting(
        0, reload=True, unit="ticks", ge=0, le=1000, doc="keep a resting quote within this"
    )
    amend_vs_replace: Literal["amend", "replace"] = setting(
        "amend", reload=True, doc="reprice by modifying the order, or by cancel + new"
    )
    post_only_safety_ticks: int = setting(
        1, reload=True, unit="ticks", ge=0, le=1000, doc="extra distance after a post-only reject"
    )
    post_only_safety_max_ticks: int = setting(
        20, reload=True, unit="ticks", ge=0, le=10_000, doc="cap of that extra distance"
    )
    requote_interval_ms: int = setting(
        100, reload=True, unit="ms", ge=10, le=60_000, doc="minimum time between requotes"
    )

    _base_qty_positive = field_validator("base_qty")(_positive_size)

    @model_validator(mode="after")
    def _check(self) -> QuotingConfig:
        problems: list[str] = []
        if self.min_half_spread_ticks > self.max_half_spread_ticks:
            problems.append(
                f"min_half_spread_ticks ({self.min_half_spread_ticks}) must be <= "
                f"max_half_spread_ticks ({self.max_half_spread_ticks})"
            )
        if self.post_only_safety_ticks > self.post_only_safety_max_ticks:
            problems.append(
                f"post_only_safety_ticks ({self.post_only_safety_ticks}) must be <= "
                f"post_only_safety_max_ticks ({self.post_only_safety_max_ticks})"
            )
        _fail(problems)
        return self


class EstimatorsConfig(Section):
    """[estimators]: volatility and fill-intensity estimation.

    Windows and warm-up are immutable: they define the estimators' state, and mixing
    statistics gathered under two windows would be wrong. Thresholds and fallbacks reload.
    """

    vol_half_life_ms: int = setting(
        30_000, reload=False, unit="ms", ge=1000, le=3_600_000, doc="EWMA volatility half-life"
    )
    intensity_window_ms: int = setting(
        300_000, reload=False, unit="ms", ge=10_000, le=3_600_000, doc="trade-intensity window"
    )
    min_trades: int = setting(
        50, reload=True, ge=1, le=100_000, doc="trades needed before the fit replaces fallbacks"
    )
    fallback_a: float = setting(
        1.0, reload=True, unit="1/s", gt=0.0, le=1000.0, doc="fill intensity A at distance 0"
    )
    fallback_k: float = setting(
        0.5, reload=True, unit="1/tick", gt=0.0, le=100.0, doc="intensity decay k per tick"
    )
    warmup_ms: int = setting(
        30_000, reload=False, unit="ms", ge=0, le=3_600_000, doc="no quoting before this"
    )
    min_fit_r2: float = setting(
        0.8,
        reload=True,
        ge=0.0,
        le=1.0,
        doc="quality gate of the intensity fit: an r² below this quotes on fallback_a/fallback_k",
    )


class DefenceConfig(Section):
    """[defence]: widen the side our markouts say is picked off; widen in a fast regime.

    Every key reloads except regime_window_ms (a new window starts its statistics empty).
    ``max_widen_ticks = 0`` turns the markout defence off, ``regime_max_scale = 1`` the regime.
    """

    markout_horizon_ms: Literal[1000, 5000, 30000, 60000] = setting(
        1000, reload=True, unit="ms", doc="markout horizon the defence reads (one of 1/5/30/60 s)"
    )
    markout_half_life_ms: int = setting(
        60_000,
        reload=True,
        unit="ms",
        ge=1000,
        le=3_600_000,
        doc="memory of the per-side markout score (time decay)",
    )
    markout_threshold_ticks: float = setting(
        0.0,
        reload=True,
        unit="ticks",
        ge=0.0,
        le=10_000.0,
        doc="a side whose mean markout is below minus this is being picked off",
    )
    markout_gain: float = setting(
        1.0, reload=True, ge=0.0, le=100.0, doc="ticks of widening per tick of excess loss"
    )
    max_widen_ticks: int = setting(
        80, reload=True, unit="ticks", ge=0, le=10_000, doc="bound of the markout widening"
    )
    regime_window_ms: int = setting(
        15_000,
        reload=False,
        unit="ms",
        ge=5_000,
        le=600_000,
        doc="short window of the bipower volatility, compared with a window 8 times longer",
    )
    regime_max_scale: float = setting(
        1.5, reload=True, ge=1.0, le=10.0, doc="bound of the half-spread multiplier"
    )


__all__ = ["DefenceConfig", "EstimatorsConfig", "QuotingConfig"]
