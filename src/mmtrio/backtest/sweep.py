"""Parameter sweeps: a grid of config overrides × recordings, each pair one backtest.

A point is a tuple of ``section.key=value`` overrides applied to the base configuration
(:func:`mmtrio.config.strategy.apply_overrides`, so every point is validated like a config
file, all of them before the first runs). A job is a point on one recording. Jobs run on a
local process pool by default, or on Ray (:mod:`mmtrio.backtest.ray_engine`); each job is a
pure function of (base config, overrides, recording, settings, mode), so both engines give
identical results. The table is one: recordings in the order given, and within each the points
ranked by session equity (best first), then by the smaller max drawdown, then by the
overrides' text (a total, deterministic order). A progress bar on stderr counts the jobs.

Modes: ``exact`` runs the live strategy through the backtester (:func:`run_backtest`);
``fast`` runs the compiled GLFT sweep model (:mod:`mmtrio.backtest.fastsweep`), which is
validated against the exact engine and reports its own error in the benchmark.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from mmtrio import units
from mmtrio.backtest.feed import Source
from mmtrio.backtest.runner import BacktestSettings, run_backtest
from mmtrio.config.loading import parse_config
from mmtrio.config.overrides import parse_override
from mmtrio.config.strategy import apply_overrides
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ConfigError
from mmtrio.reporting.pnl import compute_report, decimal_text

MAX_POINTS = 10_000


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """The headline numbers of one job (strings for money: exact, as in the report)."""

    overrides: tuple[str, ...]
    equity: str
    spread_capture: str
    fees: str  # negative: a cost
    max_drawdown: str
    fills: int
    quote_to_trade: float | None
    final_position_lots: int
    recording: str = ""
    mode: str = "exact"
    final_position: str = ""  # in the base asset, to the lot: "-0.012"
    base_asset: str = ""
    inventory: str = ""  # the attribution's inventory P&L (price moves on the position)

    def to_json(self) -> dict[str, Any]:
        return {
            "recording": self.recording,
            "overrides": list(self.overrides),
            "mode": self.mode,
            "equity": self.equity,
            "spread_capture": self.spread_capture,
            "inventory": self.inventory,
            "fees": self.fees,
            "max_drawdown": self.max_drawdown,
            "fills": self.fills,
            "quote_to_trade": self.quote_to_trade,
            "final_position_lots": self.final_position_lots,
            "final_position": self.final_position,
            "base_asset": self.base_asset,
        }


@dataclass(frozen=True, slots=True)
class Job:
    """One grid point on one recording (picklable: it crosses into worker processes)."""

    overrides: tuple[str, ...]
    recording: str
    source: Source
    instrument: Instrument


def parse_sweep(specs: Sequence[str]) -> list[tuple[str, ...]]:
    """``["quoting.gamma=0.01,0.1", "quoting.levels=1,2"]`` → the grid's override tuples."""
    axes: list[list[str]] = []
    for spec in specs:
        _, sep, listed = spec.partition("=")
        if not sep or not listed.strip():
            raise ConfigError(
                f"--sweep {spec!r}: no values; use section.key=v1,v2,... (e.g. quoting.gamma=0.1,1)"
            )
        path, _ = parse_override(spec)  # validates the key shape
        key = ".".join(path)
        values = [v.strip() for v in spec.partition("=")[2].split(",")]
        if any(not v for v in values):
            raise ConfigError(f"--sweep {spec!r}: empty value in the list; use key=v1,v2,...")
        axes.append([f"{key}={v}" for v in values])
    if not axes:
        return [()]
    grid = [tuple(p) for p in itertools.product(*axes)]
    if len(grid) > MAX_POINTS:
        raise ConfigError(f"the sweep has {len(grid)} points; at most {MAX_POINTS} are allowed")
    return grid


def run_job(base: dict[str, Any], job: Job, settings: BacktestSettings, mode: str) -> SweepPoint:
    """One job (a pure function of its arguments: runs in any worker process)."""
    # Imported here so a worker process pays for the strategy import only when it runs.
    from mmtrio.config.strategy import build_strategy_config

    cfg = apply_overrides(parse_config(base, base_dir=Path("/")), job.overrides, source="--sweep")
    scfg = build_strategy_config(cfg, job.instrument)
    if mode == "fast":
        from mmtrio.backtest.fastsweep import run_fast

        result = run_fast(job.source, scfg, settings)
    else:
        result = run_backtest(job.source, scfg, settings)
    rep = compute_report(result.report_input)
    return SweepPoint(
        overrides=job.overrides,
        equity=decimal_text(rep.pnl["equity"]),
        spread_capture=decimal_text(rep.attribution["spread_capture"]),
        fees=decimal_text(rep.pnl["fees"]),
        max_drawdown=decimal_text(rep.max_drawdown),
        fills=rep.fills,
        quote_to_trade=rep.quote_to_trade,
        final_position_lots=rep.position_lots,
        recording=job.recording,
        mode=mode,
        final_position=units.size(job.instrument, rep.position_lots, signed=True),
        base_asset=job.instrument.base_asset,
        inventory=decimal_text(rep.attribution["inventory"]),
    )


def run_point(
    base: dict[str, Any],
    overrides: tuple[str, ...],
    source: Source,
    instrument: Instrument,
    settings: BacktestSettings,
) -> SweepPoint:
    """One grid point on one recording, exact mode."""
    return run_job(base, Job(overrides, "", source, instrument), settings, "exact")


def rank(points: Sequence[SweepPoint]) -> list[SweepPoint]:
    """Recordings in first-seen order; within each: higher equity, lower max drawdown, text."""
    order: dict[str, int] = {}
    for p in points:
        order.setdefault(p.recording, len(order))
    return sorted(
        points,
        key=lambda p: (
            order[p.recording],
            -Decimal(p.equity),
            Decimal(p.max_drawdown),
            p.overrides,
        ),
    )


def validate(base: dict[str, Any], jobs: Sequence[Job]) -> None:
    """Every point applies cleanly: a typo must not surface after an hour."""
    cfg = parse_config(base, base_dir=Path("/"))
    for overrides in {job.overrides for job in jobs}:
        apply_overrides(cfg, overrides, source="--sweep")


class Progress:
    """A progress bar on stderr (rich), or nothing."""

    def __init__(self, total: int, enabled: bool) -> None:
        self._bar: Any = None
        if enabled and total > 1:
            from rich.progress import Progress as Bar

            self._bar = Bar(transient=True, console=_stderr_console())
            self._bar.start()
            self._task = self._bar.add_task("backtests", total=total)

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(file=sys.stderr)


def run_jobs(
    base: dict[str, Any],
    jobs: Sequence[Job],
    settings: BacktestSettings,
    *,
    engine: str = "local",
    mode: str = "exact",
    workers: int | None = None,
    address: str | None = None,
    progress: bool = False,
) -> list[SweepPoint]:
    """Run every job on ``engine`` (``local``: a process pool; ``ray``) and rank them; in
    ``fast`` mode every swept key must be one the sweep model reads."""
    validate(base, jobs)
    if mode == "fast":
        from mmtrio.backtest.fastsweep_params import check_axes

        check_axes(o.partition("=")[0] for job in jobs for o in job.overrides)
    bar = Progress(len(jobs), progress)
    try:
        if engine == "ray":
            from mmtrio.backtest.ray_engine import run_ray

            points = run_ray(base, jobs, settings, mode, workers, address, bar.advance)
        else:
            points = _run_pool(base, jobs, settings, mode, workers, bar.advance)
    finally:
        bar.close()
    return rank(points)


def _run_pool(  # noqa: PLR0917
    base: dict[str, Any],
    jobs: Sequence[Job],
    settings: BacktestSettings,
    mode: str,
    workers: int | None,
    tick: Callable[[], None],
) -> list[SweepPoint]:
    n = workers or os.cpu_count() or 1
    if n == 1 or len(jobs) == 1:
        out = []
        for job in jobs:
            out.append(run_job(base, job, settings, mode))
            tick()
        return out
    with ProcessPoolExecutor(max_workers=min(n, len(jobs))) as pool:
        futures: set[Future[SweepPoint]] = {
            pool.submit(run_job, base, job, settings, mode) for job in jobs
        }
        done_points: list[SweepPoint] = []
        while futures:
            done, futures = wait(futures, return_when=FIRST_COMPLETED)
            for f in done:
                done_points.append(f.result())
                tick()
        return done_points


def run_local(  # noqa: PLR0917 - a sweep's inputs, passed once
    base: dict[str, Any],
    grid: Sequence[tuple[str, ...]],
    source: Source,
    instrument: Instrument,
    settings: BacktestSettings,
    workers: int | None = None,
) -> list[SweepPoint]:
    """Run the grid on one recording on a local process pool (``workers``: the CPU count)."""
    jobs = [Job(point, "", source, instrument) for point in grid]
    return run_jobs(base, jobs, settings, workers=workers)


def format_table(points: Sequence[SweepPoint]) -> str:
    """The ranked table as aligned text; money rounded to the cent, spread, inventory and fees
    rounded together so that they add up to equity as printed (funding apart, when there is
    any), and the final position in the base asset to the lot (:mod:`mmtrio.units`); the
    JSON (:meth:`SweepPoint.to_json`) keeps the exact figures."""
    head = ("#", "recording", "overrides", "equity", "spread", "inventory", "fees", "max_dd")
    rows = [(*head, "fills", "q/t", "position")]
    rank_in: dict[str, int] = {}
    for p in points:
        rank_in[p.recording] = rank_in.get(p.recording, 0) + 1
        qt = "-" if p.quote_to_trade is None else f"{p.quote_to_trade:.2f}"
        rows.append(
            (
                str(rank_in[p.recording]),
                p.recording or "-",
                " ".join(p.overrides) or "(base)",
                units.money(Decimal(p.equity)),
                *_parts(p),
                units.money(Decimal(p.max_drawdown), signed=False),
                str(p.fills),
                qt,
                _position(p),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def _parts(p: SweepPoint) -> tuple[str, str, str]:
    """Spread, inventory and fees as printed: equity's cents split over them and the rest
    (funding, reconciliation: :func:`mmtrio.units.apportion`)."""
    equity, spread, fees = Decimal(p.equity), Decimal(p.spread_capture), Decimal(p.fees)
    if not p.inventory:  # a point made without it: each rounded alone
        return units.money(spread), "-", units.money(fees)
    inventory = Decimal(p.inventory)
    rest = equity - spread - inventory - fees
    s, i, f, _ = units.apportion(units.cent(equity), [spread, inventory, fees, rest])
    return units.money(s), units.money(i), units.money(f)


def _position(p: SweepPoint) -> str:
    """``-0.012 ETH``; a point made without its instrument says its lots as such."""
    if not p.final_position:
        return f"{p.final_position_lots:+d} lots"
    return f"{p.final_position} {p.base_asset}".rstrip()
