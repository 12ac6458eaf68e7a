"""Proof that the deterministic simulation finds a real bug: a defect the process-level chaos
once found, put back (only inside this test, by monkeypatching the fixed function), is found
by its seeded runs and shrunk to a minimal schedule.

**The fill lost after an early kill -9** (issue #20, finding 1): a journal whose start record
says the venue listed no trade yet was taken for a new journal, so a fill made while the bot
was down was adopted into the position and never journaled (invariant 1). Put back here:
recovery's reconcile is no longer told the journal has a past (``journal_new`` falls back to
"no watermark").

With the defect put back, a campaign over the seeds 1.. at 12 s (`mmtrio chaos
--deterministic`, in a process with the same patch, the first 40 seeds with an early kill)
violated invariant 1 first at seed 77, then 115 (seed 30 violates invariant 2 on the fixed
code too, see CHANGELOG). The test replays seed 77 both ways (clean on the fixed code) and
shrinks the defective run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mmtrio.chaos.dst import run_one
from mmtrio.chaos.dst_shrink import shrink, violated
from mmtrio.chaos.schedule import make_schedule
from mmtrio.runtime import recovery
from mmtrio.runtime.reconcile import reconcile

DURATION_S = 12.0
SEED = 77


def test_the_fill_lost_after_an_early_kill_is_found_and_shrunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed_run = run_one(SEED, DURATION_S, tmp_path / "fixed")
    assert fixed_run.result.violations == []
    fixed = reconcile  # the function recovery imported, replaced there below

    async def defective(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop("journal_new", None)  # the defect: a journal with a past taken for new
        return await fixed(*args, **kwargs)

    monkeypatch.setattr(recovery, "reconcile", defective)
    first = run_one(SEED, DURATION_S, tmp_path / "defective")
    assert 1 in violated(first), first.result.violations  # a venue fill never journaled
    schedule = make_schedule(SEED, int(DURATION_S * 1000))
    done = shrink(schedule, first, max_runs=30)
    kinds = [fault[0].kind for fault in done.faults]
    assert "early_kill" in kinds and len(kinds) <= 2, kinds  # the kill is what loses it
    assert 1 in violated(done.result)
    assert sum(1 for a in schedule.actions if a.counted) > len(kinds)
