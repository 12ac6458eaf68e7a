"""Running a sweep on Ray (optional extra ``mmtrio[ray]``): same points, same ranking.

Each grid point is the same pure :func:`mmtrio.backtest.sweep.run_point` the local pool
runs, submitted as a Ray task; results are ranked by the same total order, so both engines
print identical tables. Without ``address``, a local Ray runtime is started for the sweep
(no dashboard) and shut down afterwards; with one, the sweep joins that cluster (recording
files must then be readable at the same paths on every node).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mmtrio.backtest.feed import Source
from mmtrio.backtest.runner import BacktestSettings
from mmtrio.backtest.sweep import SweepPoint, rank, run_point
from mmtrio.config.loading import parse_config
from mmtrio.config.strategy import apply_overrides
from mmtrio.core.instruments import Instrument
from mmtrio.errors import MmtrioError


def run_ray(
    base: dict[str, Any],
    grid: Sequence[tuple[str, ...]],
    source: Source,
    instrument: Instrument,
    settings: BacktestSettings,
    *,
    workers: int | None = None,
    address: str | None = None,
) -> list[SweepPoint]:
    """Run the grid as Ray tasks (``workers`` caps the CPUs of a local Ray runtime)."""
    try:
        import ray
    except ImportError:
        raise MmtrioError(
            "--engine ray needs Ray: pip install 'mmtrio[ray]' (or use the default local engine)"
        ) from None
    cfg = parse_config(base, base_dir=Path("/"))
    for point in grid:
        apply_overrides(cfg, point, source="--sweep")
    started = False
    if not ray.is_initialized():
        ray.init(
            address=address,
            num_cpus=None if address else workers,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
        started = True
    try:
        task = ray.remote(run_point)
        refs = [task.remote(base, p, source, instrument, settings) for p in grid]
        points: list[SweepPoint] = ray.get(refs)
    finally:
        if started:
            ray.shutdown()
    return rank(points)
