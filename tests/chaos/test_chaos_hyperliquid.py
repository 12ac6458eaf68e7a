"""`mmtrio chaos --venue hyperliquid`: the same seeded faults and invariants against the
simulated Hyperliquid venue and the Hyperliquid connector (real sim and bot processes).

One 25-second run through the CLI: the bot must have run on Hyperliquid (its config and the
venue's agent key), traded through the faults, and broken no invariant.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED = 1


def test_chaos_on_hyperliquid(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "mmtrio", "chaos", "--json", "--venue", "hyperliquid"]
    cmd += ["--runs", "1", "--seed", str(SEED), "--duration", "25", "--out", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, check=False)
    lines = done.stdout.strip().splitlines()
    assert lines, f"no output; stderr: {done.stderr[-2000:]}"
    summary = json.loads(lines[-1])
    assert summary["harness_errors"] == 0, (summary["first_failure"], done.stderr[-2000:])
    run_dir = tmp_path / f"seed-{SEED}"
    venue = tomllib.loads((run_dir / "config.toml").read_text())["venue"]
    assert venue["name"] == "hyperliquid" and venue["symbol"] == "BTC"
    assert venue["account"].startswith("0x")
    assert "hyperliquid BTC (testnet)" in (run_dir / "bot-0.log").read_text()
    assert isinstance(summary["faults_total"], int) and summary["faults_total"] >= 3
    assert isinstance(summary["fills"], int) and summary["fills"] > 0
    assert done.returncode == 0, f"chaos violations: {json.dumps(summary['first_failure'])}"
