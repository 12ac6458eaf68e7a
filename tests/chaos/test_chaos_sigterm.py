"""SIGTERM to a process-level campaign (`mmtrio chaos`) leaves no process behind.

Found on 2026-12-05: campaigns stopped with `pkill -f chaos_campaign.py` left the run under
way's simulated venue and bot running, orphaned. Now the run under way finishes (its bot and
sim stopped as every run's are, and judged), no other starts, the figures cover the runs
made, and the exit is 1.

Real processes and a real signal: wall time, no virtual clock.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path


def _children(pid: int) -> set[int]:
    """Every descendant of ``pid`` now (Linux /proc)."""
    out: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = (task / "children").read_text().split()
            except OSError:
                continue
            for k in map(int, kids):
                if k not in out:
                    out.add(k)
                    todo.append(k)
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def test_sigterm_finishes_the_run_under_way_and_leaves_no_process(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "mmtrio", "chaos", "--runs", "3", "--seed", "1"]
    cmd += ["--duration", "12", "--out", str(tmp_path / "out")]
    err_path = tmp_path / "stderr"
    with err_path.open("w") as err_file:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_file, text=True)
    try:
        deadline = time.monotonic() + 120
        bot_log = tmp_path / "out" / "seed-1" / "bot-0.log"
        while not bot_log.exists() and time.monotonic() < deadline:
            assert proc.poll() is None, err_path.read_text()[-2000:]
            time.sleep(0.1)
        time.sleep(1.0)  # the run's processes are up
        kids = _children(proc.pid)
        assert kids, "the run's sim and bot should be running"
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = err_path.read_text()
    assert proc.returncode == 1, (out[-2000:], err[-2000:])
    assert "SIGTERM received: stopped after 1 of 3 runs" in err, err[-2000:]
    assert re.search(r"total\s+1 runs", out), out[-2000:]  # the figures of that run
    assert not (tmp_path / "out" / "seed-2").exists()  # no other run started
    left = [k for k in kids if _alive(k)]
    assert left == [], left
