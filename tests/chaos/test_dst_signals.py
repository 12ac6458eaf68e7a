"""A signal the process takes during a deterministic run does not change the run.

Found on 2026-12-06: seed 2 (10.5 s) ran under a campaign that was sent SIGTERM in the
middle of it, and its trace hash was not the seed's. The campaign's stop handler made
Python's C signal handler write to Trio's wakeup socket, which woke a task mid-run and moved
the seeded scheduler off its course. Now the run detaches the wakeup socket
(``mmtrio.chaos.dst_sched.quiet_signals``); the handler still runs.

A real signal from another process, so wall time: a storm of SIGTERM over the whole run.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from types import FrameType

import pytest

from mmtrio.chaos import dst_run
from mmtrio.chaos.dst import run_one

SEED, DURATION_S = 2, 10.5


def _under_a_signal_storm(workdir: Path) -> tuple[str, int]:
    taken: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        taken.append(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    storm = subprocess.Popen(
        ["sh", "-c", f"while kill -TERM {os.getpid()}; do sleep 0.005; done"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        result = run_one(SEED, DURATION_S, workdir)
    finally:
        storm.kill()
        storm.wait()
        signal.signal(signal.SIGTERM, previous)
    return result.trace_hash, len(taken)


def test_signals_during_a_run_leave_its_trace_alone(tmp_path: Path) -> None:
    quiet = run_one(SEED, DURATION_S, tmp_path / "quiet").trace_hash
    stormy, taken = _under_a_signal_storm(tmp_path / "storm")
    assert taken >= 10  # the signals came, all through the run, and the handler took them
    assert stormy == quiet


def test_without_the_fix_the_storm_moves_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test above can fail: with the wakeup socket left attached, the trace changes."""
    quiet = run_one(SEED, DURATION_S, tmp_path / "quiet").trace_hash
    monkeypatch.setattr(dst_run, "quiet_signals", lambda: None)
    stormy, taken = _under_a_signal_storm(tmp_path / "storm")
    assert taken >= 10  # each has about even odds of moving the run (measured: 4 of 8)
    assert stormy != quiet
