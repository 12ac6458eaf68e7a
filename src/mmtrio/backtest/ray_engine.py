"""Running sweep jobs on Ray (optional extra ``mmtrio[ray]``): same jobs, same ranking.

Each job is the same pure :func:`mmtrio.backtest.sweep.run_job` the local pool runs, submitted
as a Ray task; results are ranked by the same total order, so both engines print identical
tables. Without ``address``, a local Ray runtime is started for the sweep (no dashboard) and
shut down afterwards (:mod:`mmtrio.ray_runtime`); with one (``ray://host:10001`` or ``auto``),
the sweep joins that cluster: recordings and stores must then be readable at the same paths on
every node (a shared file system), and each worker memory-maps the store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mmtrio.backtest.runner import BacktestSettings
from mmtrio.backtest.sweep import Job, SweepPoint, run_job
from mmtrio.ray_runtime import ray_runtime


def run_ray(  # noqa: PLR0917 - a sweep's inputs, passed once
    base: dict[str, Any],
    jobs: Sequence[Job],
    settings: BacktestSettings,
    mode: str,
    workers: int | None = None,
    address: str | None = None,
    tick: Callable[[], None] | None = None,
) -> list[SweepPoint]:
    """Run the jobs as Ray tasks (``workers`` caps the CPUs of a local Ray runtime)."""
    with ray_runtime(address, workers) as ray:
        task = ray.remote(run_job)
        pending = [task.remote(base, job, settings, mode) for job in jobs]
        points: list[SweepPoint] = []
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            points.extend(ray.get(done))
            if tick is not None:
                tick()
    return points
