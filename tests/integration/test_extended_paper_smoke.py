"""Smoke: ``mmtrio run --set venue.name=extended`` paper trading as a user runs it.

A real process: the bot serves the simulated Extended venue in-process and trades it through
the Extended connector (Stark-signed orders over loopback sockets). ``mmtrio status`` (the
CLI, over the control socket) shows the live bot on Extended's ``BTC-USD`` quoting and
filling; Ctrl-C stops it with exit 0 and zero open orders confirmed; the venue's ground truth
written at exit (``sim_final.json``) has the fills and the position the exit summary reports.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_run_engine import write_config

pytestmark = pytest.mark.integration


def _status(cfg: Path) -> dict[str, Any] | None:
    done = subprocess.run(
        [sys.executable, "-m", "mmtrio", "status", "--config", str(cfg)],
        check=False,  # exit 1 while the bot is not answering yet
        capture_output=True,
        text=True,
        timeout=30,
        cwd=cfg.parent,
    )
    if done.returncode != 0:
        return None  # not answering yet
    status: dict[str, Any] = json.loads(done.stdout)
    return status


def test_paper_trading_on_extended_as_a_user_runs_it(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, speed=5.0)
    out_path, err_path = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mmtrio", "run", "--config", str(cfg),
             "--set", "venue.name=extended"],
            stdout=out, stderr=err, cwd=tmp_path,
        )  # fmt: skip
    seen: dict[str, Any] | None = None
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            status = _status(cfg)
            strategy = (status or {}).get("strategy") or {}
            if strategy.get("quotes") and int(strategy["ledger"]["fills"]) >= 1:
                seen = status
                break
            time.sleep(0.5)  # a real process: real time is the only clock it has
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stdout = out_path.read_text(errors="replace")
    assert seen is not None, f"no live status with quotes and a fill\n{stdout[-3000:]}"
    assert (seen["bot"], seen["venue"], seen["symbol"]) == ("extended-paper", "extended", "BTC-USD")
    assert seen["strategy"]["trading_state"] == "ACTIVE"
    assert code == 0, stdout[-3000:]
    messages = [json.loads(line)["record"]["message"] for line in stdout.splitlines() if line]
    assert "zero open orders confirmed at the venue" in messages
    assert not [m for m in messages if "signature" in m.lower()]  # no order refused for it
    summary = next(m for m in messages if m.startswith("exit summary"))
    truth = json.loads((tmp_path / "state" / "sim_final.json").read_text())
    assert truth["open_orders"] == []
    fills = re.search(r"; (\d+) fills,", summary)
    assert fills is not None and int(fills.group(1)) == len(truth["fills"]) >= 1
    position = re.search(r"position\s+(flat|[+-]\d+\.\d+)", summary)
    assert position is not None, summary
    ours = Decimal(0) if position.group(1) == "flat" else Decimal(position.group(1))
    assert ours == Decimal(truth["position"]["qty"])
