"""Proof that the deterministic simulation finds real bugs: two defects the process-level
chaos once found, put back (only inside these tests, by monkeypatching the fixed function),
must be found by a seeded campaign and shrunk to a minimal schedule.

- **The fill lost after an early kill -9** (issue #20, finding 1): a journal whose start
  record says the venue listed no trade yet was taken for a new journal, so a fill made
  while the bot was down was adopted into the position and never journaled (invariant 1).
  Put back: recovery's reconcile no longer told the journal has a past (``journal_new``
  falls back to "no watermark").
- **The dead-man countdown firing after one stalled refresh** (issue #20, finding 2): the
  next refresh was paced from the end of an attempt that could hang unbounded, so one
  stalled request used up the countdown and the venue cancelled a live bot's quotes. Put
  back: the refresh without an attempt timeout, paced from the attempt's end.

Campaigns run in this process (the patch must reach the bot), seeds in order, at most
``LIMIT`` of them (the issue asks for each defect within 1,000 seeds; the seeds here are
the campaign's first ones whose schedule has the fault at all, which is what a campaign
with the fault would reach first).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from mmtrio.chaos.dst import DstResult, run_one
from mmtrio.chaos.dst_shrink import shrink, violated
from mmtrio.chaos.schedule import make_schedule
from mmtrio.errors import MmtrioError
from mmtrio.runtime import deadman, recovery

DURATION_S = 12.0
STALL_DURATION_S = 25.0  # a REST stall longer than the 5 s countdown needs a longer run
LIMIT = 12  # seeds tried per defect (each a full run)


def _campaign(
    seeds: list[int], tmp: Path, duration_s: float = DURATION_S
) -> tuple[int, DstResult] | None:
    for seed in seeds:
        result = run_one(seed, duration_s, tmp)
        if result.result.violations:
            return seed, result
    return None


def _seeds_with(kind: str, count: int) -> list[int]:
    """The first seeds whose schedule (at DURATION_S) holds a fault of ``kind``."""
    out, seed = [], 1
    while len(out) < count:
        if any(a.kind == kind for a in make_schedule(seed, int(DURATION_S * 1000)).actions):
            out.append(seed)
        seed += 1
    return out


def test_the_fill_lost_after_an_early_kill_is_found_and_shrunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed = recovery.reconcile

    async def defective(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop("journal_new", None)  # the defect: a journal with a past taken for new
        return await fixed(*args, **kwargs)

    monkeypatch.setattr(recovery, "reconcile", defective)
    found = _campaign(_seeds_with("early_kill", LIMIT), tmp_path)
    assert found is not None, f"no violation in {LIMIT} early-kill seeds"
    seed, first = found
    assert 1 in violated(first), first.result.violations  # a venue fill never journaled
    done = shrink(make_schedule(seed, int(DURATION_S * 1000)), first, max_runs=40)
    kinds = [fault[0].kind for fault in done.faults]
    assert "early_kill" in kinds
    assert len(kinds) <= 2, kinds
    assert 1 in violated(done.result)


def test_the_deadman_firing_after_a_stalled_refresh_is_found_and_shrunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def defective(
        gateway: Any, symbol: str, countdown_ms: int, refresh_ms: int, armed_at: float
    ) -> float:
        # the defect: no bound on an attempt, the next one paced from this one's end
        while True:
            try:
                await gateway.arm_deadman(symbol, countdown_ms)
                return trio.current_time()
            except MmtrioError:
                await trio.sleep(refresh_ms / 1000)

    monkeypatch.setattr(deadman, "_refresh", defective)
    found = _campaign(_stall_seeds(LIMIT), tmp_path, STALL_DURATION_S)
    assert found is not None, f"no violation in {LIMIT} seeds with a long REST stall"
    seed, first = found
    done = shrink(make_schedule(seed, int(STALL_DURATION_S * 1000)), first, max_runs=40)
    kinds = [fault[0].kind for fault in done.faults]
    assert "half_open" in kinds
    assert len(kinds) <= 2, kinds


def _stall_seeds(count: int) -> list[int]:
    """Seeds whose schedule silences REST for longer than the dead-man countdown (5 s)."""
    out, seed = [], 1
    while len(out) < count:
        for a in make_schedule(seed, int(STALL_DURATION_S * 1000)).actions:
            p = a.params
            if a.kind == "half_open" and p["target"] in ("rest", "all") and p["seconds"] > 5:
                out.append(seed)
                break
        seed += 1
    return out

