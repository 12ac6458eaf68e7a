"""Seeded chaos smoke: short runs through the real CLI (sim + bot as subprocesses).

The seeds are regression seeds: each once exposed a bot bug (listed below), so the smoke
replays exactly those schedules (a schedule depends on seed and duration). Three 25-second
runs, about 100 s in all. On a violation the CLI exits 4; the assertion message carries the
first violation and the evidence directory.

- 414 @ 25 s (SIGKILL + restart, SIGHUP valid/invalid, disk full): once, a fill made just
  before the SIGKILL was booked by the restarted bot's start-up reconciliation but never
  journaled (invariant 1); and a SIGHUP sent before the restarted bot had installed its
  handler killed it (the harness now waits for the bot's first log line before a SIGHUP).
- 26 @ 25 s (foreign order, 429, depth gaps): a place journaled in the very step that
  resynced the book was once misread as "sent while out of sync" (invariant 7 is now judged
  in journal order, step-aware).
- 102 @ 25 s (429 bursts, 5xx, dropped responses, listen-key expiry): the reconciler task
  crashed on the client-side 429 back-off (RateLimited) and was restarted by the supervisor
  (absorbed: counted as a child restart, not a violation).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REGRESSION_SEEDS = (414, 26, 102)
DURATION_S = "25"


def _chaos(out: Path, *args: str) -> tuple[int, dict[str, object], str]:
    cmd = [sys.executable, "-m", "mmtrio", "chaos", "--json", "--out", str(out), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, check=False)
    lines = done.stdout.strip().splitlines()
    assert lines, f"no output; stderr: {done.stderr[-2000:]}"
    summary: dict[str, object] = json.loads(lines[-1])
    return done.returncode, summary, done.stderr


@pytest.mark.parametrize("seed", REGRESSION_SEEDS)
def test_chaos_seed(seed: int, tmp_path: Path) -> None:
    code, summary, stderr = _chaos(
        tmp_path, "--runs", "1", "--seed", str(seed), "--duration", DURATION_S
    )
    assert summary["runs"] == 1
    assert summary["harness_errors"] == 0, (summary["first_failure"], stderr[-2000:])
    # faults were really injected and the bot really traded through them
    assert isinstance(summary["faults_total"], int) and summary["faults_total"] >= 3
    assert isinstance(summary["fills"], int) and summary["fills"] > 0
    run_dir = tmp_path / f"seed-{seed}"
    assert (run_dir / "evidence.json").is_file() and (run_dir / "bot-0.log").is_file()
    assert code == 0, f"chaos violations: {json.dumps(summary['first_failure'])}"


def test_chaos_rejects_bad_arguments(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "mmtrio", "chaos", "--runs", "0", "--out", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "--runs" in done.stderr
    cmd = [sys.executable, "-m", "mmtrio", "chaos", "--duration", "5", "--out", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "no fault window" in done.stderr
