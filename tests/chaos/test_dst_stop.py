"""SIGTERM to a deterministic campaign stops the campaign, not one of its simulated bots.

Found on 2026-12-04: a 500-seed campaign (`mmtrio chaos --deterministic --jobs 1`) was sent
SIGTERM; the bot running inside the simulation took it as its own (its engine listened to
the process's signals), stopped gracefully in the middle of seed 529's schedule, and the
campaign went on to the next seed. A signal between two runs killed the campaign on the spot
with no summary. Now the simulated bots never listen to the process's signals, and the
campaign finishes the runs under way, starts no other, prints what it has and exits 1.

A real process and a real signal: wall time, no virtual clock.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

RUNS = 200  # far more than can run before the signal: a campaign that ignores it times out


def _sigterm_after_the_first_run(
    cmd: list[str], out_path: Path, err_path: Path
) -> subprocess.Popen[str]:
    """Start the campaign; once a run has been judged (others are under way), SIGTERM it and
    wait for it to end."""
    with out_path.open("w") as out_file, err_path.open("w") as err_file:
        proc = subprocess.Popen(cmd, stdout=out_file, stderr=err_file, text=True)
    try:
        deadline = time.monotonic() + 120
        while "seed " not in out_path.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, err_path.read_text()[-2000:]
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc


@pytest.mark.parametrize("jobs", [1, 2])
def test_sigterm_stops_the_campaign_after_the_runs_under_way(tmp_path: Path, jobs: int) -> None:
    cmd = [sys.executable, "-m", "mmtrio", "chaos", "--deterministic", "--runs", str(RUNS)]
    cmd += ["--seed", "1", "--duration", "10.5", "--jobs", str(jobs), "--out", str(tmp_path)]
    out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
    proc = _sigterm_after_the_first_run(cmd, out_path, err_path)
    out, err = out_path.read_text(), err_path.read_text()
    lines = [line for line in out.splitlines() if line.startswith("seed ")]
    assert proc.returncode == 1, err[-2000:]
    assert "SIGTERM received: stopped after" in err, err[-2000:]
    # the runs done or under way when the signal came are reported (a pool's workers may
    # have finished later seeds while the first was still running, and the pool queues one
    # run beyond its workers), nothing after them; each is judged as if nothing had
    # happened: no simulated bot took the campaign's SIGTERM for its own
    assert 1 <= len(lines) <= 4 * jobs + 2, lines
    seeds = [int(line.split()[1]) for line in lines]
    assert seeds == list(range(1, len(lines) + 1))
    assert all(line.rstrip().endswith(" ok") for line in lines), lines
    assert f"{len(lines)} runs:" in out


def test_a_stopped_campaign_is_carried_on_by_resume(tmp_path: Path) -> None:
    """SIGTERM, then the same command with --resume: every seed judged exactly once."""
    cmd = [sys.executable, "-m", "mmtrio", "chaos", "--deterministic", "--seed", "1"]
    cmd += ["--duration", "10.5", "--out", str(tmp_path)]
    proc = _sigterm_after_the_first_run(
        [*cmd, "--runs", str(RUNS)], tmp_path / "stdout", tmp_path / "stderr"
    )
    assert proc.returncode == 1
    record = tmp_path / "runs.jsonl"
    judged = [json.loads(line)["seed"] for line in record.read_text().splitlines()]
    assert judged == list(range(1, len(judged) + 1))
    total = len(judged) + 3  # carry it on, three runs further than it got
    again = subprocess.run(
        [*cmd, "--runs", str(total), "--resume"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{len(judged)} runs already judged" in again.stdout
    ran = [int(line.split()[1]) for line in again.stdout.splitlines() if line.startswith("seed ")]
    assert ran == list(range(len(judged) + 1, total + 1))
    seeds = [json.loads(line)["seed"] for line in record.read_text().splitlines()]
    assert seeds == list(range(1, total + 1))
    totals = json.loads((tmp_path / "campaign.json").read_text())["totals"]
    assert totals["runs"] == totals["clean"] == total
