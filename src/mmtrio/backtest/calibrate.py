"""Walk-forward calibration: fit on some recordings, report the same figures on held-out ones.

``mmtrio calibrate --data R [--data R ...] --holdout R [--holdout R ...]`` (R: one recording,
files comma-separated as in ``mmtrio backtest``). Nothing is ever evaluated on the data it
was fitted on without saying so: every figure is labelled in-sample or held-out.

1. **k and A.** The intensity ``λ(δ) = A·e^(−kδ)`` is fitted on each training recording
   (:mod:`mmtrio.backtest.intensity_fit`, the core's estimator over the whole recording);
   the geometric means become ``estimators.fallback_a``/``fallback_k``, the figures the
   strategy quotes on until its online fit exists or while the fit fails its r² gate. The
   same fit is reported on each held-out recording (is the market's depth profile stable?).
2. **γ and the spread bounds.** A grid (``--grid``, default :data:`DEFAULT_GRID`) over
   ``quoting.gamma``, ``min_half_spread_ticks``, ``max_half_spread_ticks`` and
   ``inventory_skew`` runs on the training recordings on the fast sweep model
   (:mod:`mmtrio.backtest.fastsweep`: the GLFT strategy compiled, without the defence).
   The chosen point has the highest total equity *after fees* on the training recordings
   among the points with at least ``min_fills`` fills on *each* of them (ties: the smaller
   total drawdown, then the text). The activity floor is deliberate: at a maker fee of
   2 bps, the point that loses least is one quoting so wide that it hardly trades — the
   absence of a market maker, not a calibration of one. When no point reaches the floor,
   the busiest is chosen and the report says so.
3. **The defence's bounds.** The fast model has no defence, so its bounds
   (``--defence-grid``, default :data:`DEFAULT_DEFENCE_GRID`: ``defence.max_widen_ticks`` and
   ``defence.regime_max_scale``) are chosen on the exact engine, on the training recordings,
   at the chosen point, by the same rule (after fees, the same activity floor).
4. **Confirmation on the exact engine** (:func:`mmtrio.backtest.runner.run_backtest`: the live
   strategy at the live cadence, the defence included) for three configurations on every
   recording, training and held-out: the configuration *as given*, the calibrated one with
   the defence off, and the calibrated one. Each row gives the P&L before fees, the fees and
   the P&L after fees, the spread capture and the inventory P&L; a summary line per
   configuration and set says plainly on how many recordings it loses, before and after fees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from mmtrio.backtest.intensity_fit import RecordingFit, fit_recording, pooled
from mmtrio.backtest.runner import BacktestSettings, engine_for, run_backtest
from mmtrio.backtest.sweep import Job, SweepPoint, parse_sweep, run_jobs
from mmtrio.config.loading import parse_config
from mmtrio.config.strategy import apply_overrides, build_strategy_config
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ConfigError
from mmtrio.reporting.pnl import compute_report, decimal_text

DEFAULT_GRID: tuple[str, ...] = (
    "quoting.gamma=0.1,1,10",
    "quoting.min_half_spread_ticks=8,16,32,48,64,96",
    "quoting.max_half_spread_ticks=100,200,400",
    "quoting.inventory_skew=1,3",
)
DEFAULT_DEFENCE_GRID: tuple[str, ...] = (
    "defence.max_widen_ticks=10,20,40,80",
    "defence.regime_max_scale=1,1.5,2,3",
)
DEFAULT_MIN_FILLS = 20
DEFENCE_OFF = ("defence.max_widen_ticks=0", "defence.regime_max_scale=1")
GIVEN, NO_DEFENCE, CALIBRATED = "as given", "calibrated, defence off", "calibrated"


@dataclass(frozen=True, slots=True)
class Rec:
    """One recording as calibration takes it."""

    label: str
    source: Any  # mmtrio.backtest.feed.Source (a picklable callable)
    instrument: Instrument


@dataclass(frozen=True, slots=True)
class Row:
    """One exact-engine run: a configuration on a recording, its P&L split."""

    config: str
    role: str  # "in-sample" | "held-out"
    recording: str
    engine: str
    before_fees: Decimal
    fees: Decimal  # negative: a cost
    after_fees: Decimal
    spread_capture: Decimal
    inventory: Decimal
    fills: int
    max_drawdown: Decimal

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "role": self.role,
            "recording": self.recording,
            "engine": self.engine,
            "before_fees": decimal_text(self.before_fees),
            "fees": decimal_text(self.fees),
            "after_fees": decimal_text(self.after_fees),
            "spread_capture": decimal_text(self.spread_capture),
            "inventory": decimal_text(self.inventory),
            "fills": self.fills,
            "max_drawdown": decimal_text(self.max_drawdown),
        }


@dataclass(frozen=True, slots=True)
class GridScore:
    """One grid point summed over the training recordings (fast sweep model)."""

    overrides: tuple[str, ...]
    after_fees: Decimal
    before_fees: Decimal
    fills_min: int  # fewest fills on one training recording
    fills: int
    drawdown: Decimal


@dataclass(slots=True)
class Calibration:
    """Everything the calibration found; see the module doc."""

    train_fits: list[RecordingFit | str]
    holdout_fits: list[RecordingFit | str]
    fallback_a: float
    fallback_k: float
    grid: list[GridScore]
    chosen: GridScore
    floor_met: bool
    min_fills: int
    defence_grid: list[GridScore] = field(default_factory=list)  # exact engine, in-sample
    defence: GridScore | None = None
    defence_floor_met: bool = True
    rows: list[Row] = field(default_factory=list)

    @property
    def model_overrides(self) -> tuple[str, ...]:
        """The calibrated model keys (stages 1 and 2), as ``--set`` overrides."""
        return (
            f"estimators.fallback_a={self.fallback_a:.4g}",
            f"estimators.fallback_k={self.fallback_k:.4g}",
            *self.chosen.overrides,
        )

    @property
    def chosen_overrides(self) -> tuple[str, ...]:
        """Every calibrated key, as ``--set`` overrides."""
        extra = self.defence.overrides if self.defence is not None else ()
        return (*self.model_overrides, *extra)


def score_rows(rows: Sequence[Row], overrides: tuple[str, ...]) -> GridScore:
    """Exact-engine rows of one point on the training recordings, summed."""
    after = sum((r.after_fees for r in rows), Decimal(0))
    return GridScore(
        overrides=overrides,
        after_fees=after,
        before_fees=sum((r.before_fees for r in rows), Decimal(0)),
        fills_min=min(r.fills for r in rows),
        fills=sum(r.fills for r in rows),
        drawdown=sum((r.max_drawdown for r in rows), Decimal(0)),
    )


def score_grid(points: Sequence[SweepPoint], n_train: int) -> list[GridScore]:
    """Per grid point, the training totals (a point missing a recording is dropped)."""
    by: dict[tuple[str, ...], list[SweepPoint]] = {}
    for p in points:
        by.setdefault(p.overrides, []).append(p)
    out = []
    for ov, ps in by.items():
        if len(ps) != n_train:
            continue
        after = sum((Decimal(p.equity) for p in ps), Decimal(0))
        fees = sum((Decimal(p.fees) for p in ps), Decimal(0))
        out.append(
            GridScore(
                overrides=ov,
                after_fees=after,
                before_fees=after - fees,
                fills_min=min(p.fills for p in ps),
                fills=sum(p.fills for p in ps),
                drawdown=sum((Decimal(p.max_drawdown) for p in ps), Decimal(0)),
            )
        )
    return out


def choose(scores: Sequence[GridScore], min_fills: int) -> tuple[GridScore, bool]:
    """The best point that trades at least ``min_fills`` on each training recording (see the
    module doc), and whether the floor was met (else: the busiest point)."""
    if not scores:
        raise ConfigError("the calibration grid produced no point on every training recording")
    active = [s for s in scores if s.fills_min >= min_fills]
    if not active:
        return max(scores, key=lambda s: (s.fills_min, s.after_fees)), False
    return min(active, key=lambda s: (-s.after_fees, s.drawdown, s.overrides)), True


def _sorted(scores: Sequence[GridScore]) -> list[GridScore]:
    return sorted(scores, key=lambda s: (-s.after_fees, s.drawdown, s.overrides))


def exact_row(  # noqa: PLR0917 - one run's inputs
    base: dict[str, Any],
    overrides: Sequence[str],
    rec: Rec,
    settings: BacktestSettings,
    config: str,
    role: str,
) -> Row:
    """One configuration on one recording on the exact engine, its P&L split."""
    cfg = apply_overrides(parse_config(base, base_dir=Path("/")), overrides, "calibrate")
    result = run_backtest(rec.source, build_strategy_config(cfg, rec.instrument), settings)
    rep = compute_report(result.report_input)
    after, fees = rep.pnl["equity"], rep.pnl["fees"]
    return Row(
        config=config,
        role=role,
        recording=rec.label,
        engine=f"exact ({result.engine})",
        before_fees=after - fees,
        fees=fees,
        after_fees=after,
        spread_capture=rep.attribution["spread_capture"],
        inventory=rep.attribution["inventory"],
        fills=rep.fills,
        max_drawdown=rep.max_drawdown,
    )


def _defence_keys_only(dpoints: Sequence[tuple[str, ...]]) -> None:
    """Stage 2 chooses the defence's bounds at the point stage 1 chose: a key of another
    section there would override that point (two values of quoting.gamma among the calibrated
    keys, and "defence off" compared with another point). ConfigError (exit 2)."""
    keys = {o.partition("=")[0] for p in dpoints for o in p}
    others = sorted(k for k in keys if not k.startswith("defence."))
    if others:
        raise ConfigError(
            f"--defence-grid {', '.join(others)}: only defence.* keys (the defence's bounds, "
            "chosen at the grid's point); put other keys in --grid or --set"
        )


def _one_symbol(train: Sequence[Rec]) -> None:
    """The in-sample recordings hold one symbol: A and k are pooled over their fits and one
    grid point is chosen on their summed P&L, so a second symbol would be averaged into the
    first one's model. Held-out recordings are only run (never fitted on): holding out another
    symbol asks whether the calibration carries over, and is allowed (docs/OPERATOR.md)."""
    if len({r.instrument.symbol for r in train}) > 1:
        named = ", ".join(f"{r.label} ({r.instrument.symbol})" for r in train)
        raise ConfigError(
            f"the --data recordings hold different symbols: {named}; a calibration fits one "
            "symbol's market: run one `mmtrio calibrate` per symbol, with that symbol's "
            "recordings as --data (--holdout may hold any symbol)"
        )


def calibrate(  # noqa: PLR0917 - the calibration's inputs, passed once
    base: dict[str, Any],
    train: Sequence[Rec],
    holdout: Sequence[Rec],
    settings: BacktestSettings,
    grid: Sequence[str] = DEFAULT_GRID,
    defence_grid: Sequence[str] = DEFAULT_DEFENCE_GRID,
    min_fills: int = DEFAULT_MIN_FILLS,
    workers: int | None = 1,
    progress: Callable[[str], None] | None = None,
) -> Calibration:
    """Fit on ``train``, report on ``train`` and ``holdout`` (see the module doc)."""
    say = progress or (lambda _msg: None)
    if not train or not holdout:
        raise ConfigError("calibrate needs at least one --data and one --holdout recording")
    _one_symbol(train)
    engine_for(settings)  # a missing numba is said before an hour of work
    points = parse_sweep(grid)
    dpoints = parse_sweep(defence_grid)
    _defence_keys_only(dpoints)
    given = parse_config(base, base_dir=Path("/"))
    for flag, pts in (("--grid", points), ("--defence-grid", dpoints)):
        for p in pts:  # every point applies cleanly: a typo must not surface after the fits
            apply_overrides(given, p, flag)
    say("fitting the intensity λ(δ) = A·e^(−kδ) on each recording")
    train_fits = [fit_recording(r.label, r.source, r.instrument.symbol) for r in train]
    holdout_fits = [fit_recording(r.label, r.source, r.instrument.symbol) for r in holdout]
    good = [f for f in train_fits if isinstance(f, RecordingFit)]
    if not good:
        raise ConfigError("no training recording gives an intensity fit: " + str(train_fits))
    a, k = pooled(good)
    fitted = (f"estimators.fallback_a={a:.4g}", f"estimators.fallback_k={k:.4g}")
    base_fit = apply_overrides(parse_config(base, base_dir=Path("/")), fitted, "calibrate")
    base_fit_doc = base_fit.model_dump(mode="json", by_alias=True, exclude_none=True)
    say(f"grid: {len(points)} points × {len(train)} training recording(s) on the fast model")
    jobs = [Job(p, r.label, r.source, r.instrument) for r in train for p in points]
    swept = run_jobs(base_fit_doc, jobs, settings, mode="fast", workers=workers)
    scores = score_grid(swept, len(train))
    chosen, met = choose(scores, min_fills)
    cal = Calibration(train_fits, holdout_fits, a, k, _sorted(scores), chosen, met, min_fills)
    # Stage 2 (exact engine, in-sample): the defence's bounds at the chosen point.
    tried: dict[tuple[str, ...], list[Row]] = {}
    for dp in dpoints:
        say(f"exact engine, in-sample: defence {' '.join(dp) or '(as given)'}")
        ov = (*cal.model_overrides, *dp)
        tried[dp] = [exact_row(base, ov, r, settings, CALIBRATED, "in-sample") for r in train]
    dscores = [score_rows(rows, dp) for dp, rows in tried.items()]
    cal.defence, cal.defence_floor_met = choose(dscores, min_fills)
    cal.defence_grid = _sorted(dscores)
    configs = (
        (GIVEN, ()),
        (NO_DEFENCE, (*cal.model_overrides, *DEFENCE_OFF)),
        (CALIBRATED, cal.chosen_overrides),
    )
    for name, ov in configs:
        for role, recs in (("in-sample", train), ("held-out", holdout)):
            if name == CALIBRATED and role == "in-sample":
                cal.rows.extend(tried[cal.defence.overrides])  # already run in stage 2
                continue
            for rec in recs:
                say(f"exact engine: {name} on {rec.label} ({role})")
                cal.rows.append(exact_row(base, ov, rec, settings, name, role))
    return cal


__all__ = [
    "CALIBRATED",
    "DEFAULT_DEFENCE_GRID",
    "DEFAULT_GRID",
    "DEFAULT_MIN_FILLS",
    "GIVEN",
    "NO_DEFENCE",
    "Calibration",
    "GridScore",
    "Rec",
    "Row",
    "calibrate",
    "choose",
    "score_grid",
    "score_rows",
]
