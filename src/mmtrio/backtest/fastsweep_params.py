"""The sweep model's parameters: where each sits in its vector, what it is read from.

The compiled model (:mod:`mmtrio.backtest.fastsweep_kernel`) takes its parameters as one float
vector (numba compiles a flat array best); ``P_*`` name its slots, as
:mod:`mmtrio.backtest.compiled.slots` names the engine's. :class:`FastParams` fills it from the
strategy config and the backtest settings; :data:`FAST_AXES` are the config keys it reads, the
only ones a fast sweep may vary (:func:`check_axes`).

numba compiles the ``P_*`` values into the kernels as constants, and its disk cache checks only
each kernel's own file: the cache directory is therefore keyed by a digest of the whole
package's sources (:mod:`mmtrio.backtest.compiled.jit`), so a layout change here recompiles.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mmtrio.backtest.settings import BacktestSettings
from mmtrio.core.quote_params import QuoteModel
from mmtrio.core.strategy import INTENSITY_MAX_DEPTH_TICKS, INTENSITY_REFRESH_MS
from mmtrio.core.strategy_config import StrategyConfig
from mmtrio.errors import ParameterError

F64 = npt.NDArray[np.float64]

# parameter vector P[...]
P_GAMMA, P_BASE, P_MAXINV, P_LEVELS, P_SPACING, P_SIZEMUL, P_INVRED, P_SKEW = range(8)
P_MINHALF, P_MAXHALF, P_SAFETY, P_MICRO, P_MAXPOS, P_HARD, P_REQUOTE, P_VOL_HL = range(8, 16)
P_VOL_MIN, P_SIGMA_FB, P_INT_WIN, P_INT_MIN, P_FB_A, P_FB_K, P_LAT, P_TOL = range(16, 24)
P_AMEND, P_MIDEVERY, P_MAXDEPTH, P_REFRESH, P_MINR2 = range(24, 29)
P_SIZE = 32


FAST_AXES: tuple[str, ...] = (
    "quoting.gamma",
    "quoting.base_qty",
    "quoting.levels",
    "quoting.level_spacing_ticks",
    "quoting.inventory_skew",
    "quoting.min_half_spread_ticks",
    "quoting.max_half_spread_ticks",
    "quoting.post_only_safety_ticks",
    "quoting.requote_interval_ms",
    "quoting.reprice_tolerance_ticks",
    "quoting.amend_vs_replace",
    "risk.max_position",
    "risk.hard_fraction",
    "estimators.vol_half_life_ms",
    "estimators.warmup_ms",
    "estimators.intensity_window_ms",
    "estimators.min_trades",
    "estimators.fallback_a",
    "estimators.fallback_k",
    "estimators.min_fit_r2",
)
"""The config keys the sweep model reads (:meth:`FastParams.of`, through
``mmtrio.config.strategy.build_strategy_config``): the only keys a fast sweep may vary. Any
other key leaves the model's result unchanged, so a fast sweep over it is refused
(:func:`check_axes`); ``tests/integration/test_backtest_cli_outputs.py`` checks this list
against the model."""


def check_axes(keys: Iterable[str]) -> None:
    """ParameterError naming every swept key the sweep model does not read, and the allowed."""
    unknown = sorted({k for k in keys if k not in FAST_AXES})
    if unknown:
        raise ParameterError(
            f"--sweep-mode fast does not model {', '.join(unknown)} (its rows would be "
            f"identical): sweep it with --sweep-mode exact, or sweep only {', '.join(FAST_AXES)}"
        )


@dataclass(frozen=True, slots=True)
class FastParams:
    """The model's parameters, read from the strategy config (see the module doc)."""

    vector: F64

    @staticmethod
    def of(cfg: StrategyConfig, settings: BacktestSettings) -> FastParams:
        q, lim = cfg.quote, cfg.limits
        if q.model is not QuoteModel.GLFT:
            raise ParameterError(
                f"--sweep-mode fast models GLFT quoting only; quoting.model is {q.model.value}"
            )
        if q.levels > 64:
            raise ParameterError("--sweep-mode fast supports at most 64 levels a side")
        p = np.zeros(P_SIZE, np.float64)
        p[P_GAMMA], p[P_BASE], p[P_MAXINV] = q.gamma, q.base_size_lots, q.max_inventory_lots
        p[P_LEVELS], p[P_SPACING], p[P_SIZEMUL] = q.levels, q.level_spacing_ticks, q.size_multiplier
        p[P_INVRED], p[P_SKEW] = q.inventory_size_reduction, q.inventory_skew
        p[P_MINHALF], p[P_MAXHALF] = q.min_half_spread_ticks, q.max_half_spread_ticks
        p[P_SAFETY], p[P_MICRO] = cfg.post_only_base_ticks, 1.0 if q.use_microprice else 0.0
        p[P_MAXPOS], p[P_HARD] = lim.max_position_lots, lim.hard_fraction
        p[P_REQUOTE] = max(1, cfg.min_requote_interval_ms)
        p[P_VOL_HL], p[P_VOL_MIN] = cfg.vol_half_life_ms, cfg.vol_min_returns
        p[P_SIGMA_FB] = cfg.sigma_fallback_ticks
        p[P_INT_WIN], p[P_INT_MIN] = cfg.intensity_window_ms, cfg.intensity_min_trades
        p[P_FB_A], p[P_FB_K] = cfg.fallback_a, cfg.fallback_k
        p[P_LAT], p[P_TOL] = settings.order_latency_ms, cfg.reprice_tolerance_ticks
        p[P_AMEND], p[P_MIDEVERY] = 1.0 if cfg.use_amend else 0.0, settings.mid_sample_ms
        p[P_MAXDEPTH], p[P_REFRESH] = INTENSITY_MAX_DEPTH_TICKS, INTENSITY_REFRESH_MS
        p[P_MINR2] = cfg.min_fit_r2
        return FastParams(p)


__all__ = ["FAST_AXES", "FastParams", "check_axes"]
