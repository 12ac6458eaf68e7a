"""`mmtrio chaos --deterministic --replay-check` on seeds whose trace holds their run's
directory (QA: seed 139 at 30 s, a kill reason naming ``<run>/state``): reproduced, exit 0.

The two runs of a seed go to two temporary directories; the trace hash replaces each run's
directory by ``<run>``, and the replay check compares that same normalised form.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mmtrio.chaos.dst import first_divergence, run_one

pytestmark = [pytest.mark.slow]

SEED = 139  # its journal names the run's state directory (the disk guard's stop reason)


def test_two_runs_in_two_directories_reproduce_as_the_hash_reads_them(tmp_path: Path) -> None:
    first = run_one(SEED, 30.0, tmp_path / "a")
    again = run_one(SEED, 30.0, tmp_path / "another-directory")
    assert first.run_dir != again.run_dir
    assert first_divergence(first.trace, again.trace) is not None  # raw: the paths differ
    assert first_divergence(first.trace, again.trace, first.run_dir, again.run_dir) is None
    assert first.trace_hash == again.trace_hash


def test_the_documented_replay_check_passes() -> None:
    cmd = [sys.executable, "-m", "mmtrio", "chaos", "--deterministic", "--runs", "1"]
    cmd += ["--seed", str(SEED), "--replay-check"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert done.stdout.startswith(f"seed {SEED}: trace ")
    assert "reproduced in another process" in done.stdout
