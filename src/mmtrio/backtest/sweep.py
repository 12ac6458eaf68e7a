"""Parameter sweeps: a grid of config overrides, each point one full backtest.

A point is a tuple of ``section.key=value`` overrides applied to the base configuration
(:func:`mmtrio.config.strategy.apply_overrides`, so every point is validated like a config
file). Points run on a local process pool by default, or on Ray (:mod:`ray_engine`); each
point is a pure function of (base config, overrides, files, settings), so both engines give
identical results, and the table is ranked the same way: by session equity (best first), then
by the smaller max drawdown, then by the overrides' text (a total, deterministic order).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmtrio.backtest.feed import Source
from mmtrio.backtest.runner import BacktestSettings, run_backtest
from mmtrio.config.loading import parse_config
from mmtrio.config.overrides import parse_override
from mmtrio.config.strategy import apply_overrides
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ConfigError
from mmtrio.reporting.pnl import compute_report

MAX_POINTS = 10_000


@dataclass(frozen=True, slots=True)
class SweepPoint:
    """The headline numbers of one grid point (strings for money: exact, as in the report)."""

    overrides: tuple[str, ...]
    equity: str
    spread_capture: str
    fees: str  # negative: a cost
    max_drawdown: str
    fills: int
    quote_to_trade: float | None
    final_position_lots: int

    def to_json(self) -> dict[str, Any]:
        return {
            "overrides": list(self.overrides),
            "equity": self.equity,
            "spread_capture": self.spread_capture,
            "fees": self.fees,
            "max_drawdown": self.max_drawdown,
            "fills": self.fills,
            "quote_to_trade": self.quote_to_trade,
            "final_position_lots": self.final_position_lots,
        }


def parse_sweep(specs: Sequence[str]) -> list[tuple[str, ...]]:
    """``["quoting.gamma=0.01,0.1", "quoting.levels=1,2"]`` → the grid's override tuples."""
    axes: list[list[str]] = []
    for spec in specs:
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


def run_point(
    base: dict[str, Any],
    overrides: tuple[str, ...],
    source: Source,
    instrument: Instrument,
    settings: BacktestSettings,
) -> SweepPoint:
    """One grid point (a pure function of its arguments: runs in any worker process)."""
    # Imported here so a worker process pays for the strategy import only when it runs.
    from mmtrio.config.strategy import build_strategy_config

    cfg = apply_overrides(parse_config(base, base_dir=Path("/")), overrides, source="--sweep")
    result = run_backtest(source, build_strategy_config(cfg, instrument), settings)
    rep = compute_report(result.report_input)
    return SweepPoint(
        overrides=overrides,
        equity=str(rep.pnl["equity"]),
        spread_capture=str(rep.attribution["spread_capture"]),
        fees=str(rep.pnl["fees"]),
        max_drawdown=str(rep.max_drawdown),
        fills=rep.fills,
        quote_to_trade=rep.quote_to_trade,
        final_position_lots=rep.position_lots,
    )


def rank(points: Sequence[SweepPoint]) -> list[SweepPoint]:
    """Best first: higher equity, then lower max drawdown, then overrides text."""
    from decimal import Decimal

    return sorted(points, key=lambda p: (-Decimal(p.equity), Decimal(p.max_drawdown), p.overrides))


def run_local(  # noqa: PLR0917 - a sweep's inputs, passed once
    base: dict[str, Any],
    grid: Sequence[tuple[str, ...]],
    source: Source,
    instrument: Instrument,
    settings: BacktestSettings,
    workers: int | None = None,
) -> list[SweepPoint]:
    """Run the grid on a local process pool (``workers`` default: the CPU count)."""
    n = workers or os.cpu_count() or 1
    # Validate every point before starting any: a typo must not surface after an hour.
    cfg = parse_config(base, base_dir=Path("/"))
    for point in grid:
        apply_overrides(cfg, point, source="--sweep")
    if n == 1 or len(grid) == 1:
        return rank([run_point(base, p, source, instrument, settings) for p in grid])
    with ProcessPoolExecutor(max_workers=min(n, len(grid))) as pool:
        futures = [pool.submit(run_point, base, p, source, instrument, settings) for p in grid]
        return rank([f.result() for f in futures])


def format_table(points: Sequence[SweepPoint]) -> str:
    """The ranked table as aligned text."""
    head = ("#", "overrides", "equity", "spread", "fees", "max_dd", "fills", "q/t", "pos")
    rows = [head]
    for i, p in enumerate(points, 1):
        qt = "-" if p.quote_to_trade is None else f"{p.quote_to_trade:.2f}"
        rows.append(
            (
                str(i),
                " ".join(p.overrides) or "(base)",
                f"{float(p.equity):.4f}",
                f"{float(p.spread_capture):.4f}",
                f"{float(p.fees):.4f}",
                f"{float(p.max_drawdown):.4f}",
                str(p.fills),
                qt,
                str(p.final_position_lots),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
