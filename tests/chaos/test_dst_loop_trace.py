"""The deterministic simulation's cheaper run loop (mmtrio.chaos.dst_loop) changes how much
a run costs, not what it does: a seed's trace is the same with Trio's own loop.

Seed 2 at 10.5 s: a short run with a restart, a half-open link and a CPU starvation (whose
instrument jumps the clock), so start-up, a kill, clock jumps and the end of a run are all
in it.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from mmtrio.chaos import dst, dst_loop
from mmtrio.chaos.dst import run_one

SEED, DURATION_S = 2, 10.5


def test_a_seed_s_trace_is_the_same_without_the_cheaper_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    skipped = dst_loop._Loop.skipped
    cheap = run_one(SEED, DURATION_S, tmp_path / "cheap")
    assert dst_loop._Loop.skipped - skipped > 500  # the polls were skipped
    monkeypatch.setattr(dst, "cheap_loop", contextlib.nullcontext)
    trio_s = run_one(SEED, DURATION_S, tmp_path / "trio")
    assert cheap.result.restarts >= 1
    assert cheap.result.faults.get("cpu_starved_run") == 1
    assert cheap.trace_hash == trio_s.trace_hash, dst.first_divergence(
        cheap.trace, trio_s.trace, cheap.run_dir, trio_s.run_dir
    )
