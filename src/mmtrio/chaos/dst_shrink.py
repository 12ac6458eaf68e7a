"""Shrinking a violating schedule to a minimal set of faults (`--shrink`).

A schedule's actions are grouped into *faults*: a counted action and the helper actions of
the same kind that follow it (the end of a clock skew, the valid config after an invalid
one, a reconciliation case's fills and delays). Shrinking removes whole faults, never half
of one, the way delta debugging does: try dropping large chunks first, then smaller ones,
keep any removal after which the run still violates the same invariant, and stop when no
single fault can be removed. Each candidate is a full deterministic run of the same seed
(the venue's market, the bot's RNGs and Trio's scheduling stay the seed's), so what is kept
is a schedule that *by itself* reproduces the violation, byte for byte on every replay.
"""

from __future__ import annotations

import functools
import math
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from mmtrio.chaos.dst import DstResult, run_schedule
from mmtrio.chaos.schedule import FaultAction, Schedule

Fault = tuple[FaultAction, ...]


def fault_groups(schedule: Schedule) -> list[Fault]:
    """The schedule's actions as faults: each counted action with its later helpers."""
    groups: list[list[FaultAction]] = []
    last_of_kind: dict[str, list[FaultAction]] = {}
    for act in schedule.actions:
        if act.counted or act.kind not in last_of_kind:
            group = [act]
            groups.append(group)
            last_of_kind[act.kind] = group
        else:
            last_of_kind[act.kind].append(act)
    return [tuple(g) for g in groups]


def with_faults(schedule: Schedule, faults: list[Fault]) -> Schedule:
    actions = sorted((a for f in faults for a in f), key=lambda a: a.at_ms)
    return replace(schedule, actions=tuple(actions))


@dataclass
class Shrunk:
    """The outcome: the minimal faults, the run that reproduces with them, and the cost."""

    faults: list[Fault]
    result: DstResult
    runs: int
    tried: list[int] = field(default_factory=list)  # faults left in each candidate tried


def violated(result: DstResult) -> set[int]:
    return {v.invariant for v in result.result.violations}


def shrink(
    schedule: Schedule,
    first: DstResult,
    *,
    max_runs: int = 200,
    run: Callable[[Schedule], DstResult] | None = None,
    venue: str = "binance",
) -> Shrunk:
    """Shrink ``schedule`` (whose run ``first`` on ``venue`` violated) to a minimal
    violating one."""
    target = violated(first)
    if not target:
        raise ValueError("shrink needs a schedule whose run violated an invariant")
    runner = run or functools.partial(_scratch_run, venue=venue)

    def still_fails(result: DstResult) -> bool:
        return bool(violated(result) & target)

    faults, best = fault_groups(schedule), first
    out = Shrunk(faults, best, 0)
    n = 2
    while faults and out.runs < max_runs:
        chunk = max(1, math.ceil(len(faults) / n))
        removed = False
        for i in range(0, len(faults), chunk):
            candidate = faults[:i] + faults[i + chunk :]
            result = runner(with_faults(schedule, candidate))
            out.runs += 1
            out.tried.append(len(candidate))
            if still_fails(result):
                faults, best, removed = candidate, result, True
                n = max(2, n - 1)
                break
            if out.runs >= max_runs:
                break
        if not removed:
            if chunk == 1:
                break  # no single fault can go: minimal
            n = min(len(faults), n * 2)
    out.faults, out.result = faults, best
    return out


def _scratch_run(schedule: Schedule, venue: str) -> DstResult:
    scratch = Path(tempfile.mkdtemp(prefix="mmdst-shrink-"))
    try:
        return run_schedule(schedule, scratch, venue=venue)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
