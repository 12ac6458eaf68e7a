"""`mmtrio chaos --deterministic --replay-check` on seeds whose trace holds their run's
directory (QA: seed 139 at 30 s, a kill reason naming ``<run>/state``): reproduced, exit 0.

Which seeds put their directory in the trace depends on the code (seed 139 stopped doing so
when the clock sync began taking several samples), so the test takes the first of a few
candidates that does, and fails when none does.

The two runs of a seed go to two temporary directories; the trace hash replaces each run's
directory by ``<run>``, and the replay check compares that same normalised form.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mmtrio.chaos.dst import DstResult, first_divergence, run_one

pytestmark = [pytest.mark.slow]

# seeds whose journal names the run's state directory (the disk guard's stop reason), on
# the code each was found with (139: 16bb453; 116, 131, 143: c0a913a)
CANDIDATES = (116, 131, 143, 139)


@pytest.fixture(scope="module")
def with_path(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, DstResult]:
    """The first candidate seed whose raw trace holds its run's directory, and that run."""
    for seed in CANDIDATES:
        run = run_one(seed, 30.0, tmp_path_factory.mktemp(f"a{seed}"))
        if run.run_dir in json.dumps(run.trace):
            return seed, run
    raise AssertionError(f"none of the seeds {CANDIDATES} names its run directory any more")


def test_two_runs_in_two_directories_reproduce_as_the_hash_reads_them(
    tmp_path: Path, with_path: tuple[int, DstResult]
) -> None:
    seed, first = with_path
    again = run_one(seed, 30.0, tmp_path / "another-directory")
    assert first.run_dir != again.run_dir
    assert first_divergence(first.trace, again.trace) is not None  # raw: the paths differ
    assert first_divergence(first.trace, again.trace, first.run_dir, again.run_dir) is None
    assert first.trace_hash == again.trace_hash


def test_the_documented_replay_check_passes(with_path: tuple[int, DstResult]) -> None:
    seed = with_path[0]
    cmd = [sys.executable, "-m", "mmtrio", "chaos", "--deterministic", "--runs", "1"]
    cmd += ["--seed", str(seed), "--replay-check"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert done.stdout.startswith(f"seed {seed}: trace ")
    assert "reproduced in another process" in done.stdout
