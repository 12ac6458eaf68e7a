"""[defence] and estimators.min_fit_r2: validated like every key, documented as reloadable
(except the regime window), and really applied by a reload of the running strategy."""

from __future__ import annotations

from dataclasses import replace

from mmtrio.config.reload import diff_reload
from mmtrio.config.strategy import build_strategy_config
from mmtrio.core.defence import DefenceParams
from mmtrio.core.events import Side
from mmtrio.core.instruments import BTCUSDT
from tests.unit.test_config import parse, problems, shipped_data, with_changes
from tests.unit.test_strategy import quoting_session


def test_shipped_defence_reaches_the_core() -> None:
    cfg = parse(shipped_data())
    scfg = build_strategy_config(cfg, BTCUSDT)
    d = cfg.defence
    assert scfg.defence == DefenceParams(
        markout_horizon_ms=d.markout_horizon_ms,
        markout_half_life_ms=d.markout_half_life_ms,
        markout_threshold_ticks=d.markout_threshold_ticks,
        markout_gain=d.markout_gain,
        max_widen_ticks=d.max_widen_ticks,
        regime_window_ms=d.regime_window_ms,
        regime_max_scale=d.regime_max_scale,
    )
    assert scfg.min_fit_r2 == cfg.estimators.min_fit_r2
    assert d.max_widen_ticks > 0 and d.regime_max_scale > 1  # shipped on


def test_defence_keys_are_validated() -> None:
    found = problems(with_changes(defence__markout_horizon_ms=2000))
    assert "defence.markout_horizon_ms" in found and "1000" in found["defence.markout_horizon_ms"]
    found = problems(with_changes(defence__regime_max_scale=0.5, estimators__min_fit_r2=1.5))
    assert {"defence.regime_max_scale", "estimators.min_fit_r2"} <= set(found)


def test_defence_reloads_except_the_regime_window() -> None:
    old = parse(shipped_data())
    plan = diff_reload(
        old,
        parse(
            with_changes(
                defence__max_widen_ticks=3,
                defence__markout_gain=2.0,
                defence__regime_max_scale=2.5,
                estimators__min_fit_r2=0.5,
            )
        ),
    )
    assert plan.ok
    assert {c.key for c in plan.changes} == {
        "defence.max_widen_ticks",
        "defence.markout_gain",
        "defence.regime_max_scale",
        "estimators.min_fit_r2",
    }
    refused = diff_reload(old, parse(with_changes(defence__regime_window_ms=30_000)))
    assert not refused.ok and [c.key for c in refused.refused] == ["defence.regime_window_ms"]


def test_a_reload_applies_the_new_bounds_and_keeps_the_scores() -> None:
    s, _, _ = quoting_session(defence=DefenceParams(max_widen_ticks=2))
    s.mm.planner.defence.on_markout(Side.BUY, 1_000, -40.0, s.now)
    s.mm.reconfigure(
        replace(s.mm.config, defence=DefenceParams(max_widen_ticks=6), min_fit_r2=0.5), s.now
    )
    assert s.mm.planner.defence.params.max_widen_ticks == 6
    assert s.mm.planner.defence.markouts.fills[Side.BUY] == 1  # the score survived
    assert s.mm.status(s.now).defence_bid_ticks == 6  # -40/3 shrunk, capped at the new bound
    assert s.mm.planner.config.min_fit_r2 == 0.5
