"""`mmtrio chaos --venue extended`: the same seeded faults and invariants against the
simulated Extended venue and the Extended connector (Stark-signed orders; real sim and bot
processes).

One 25-second run through the CLI: the bot must have run on Extended (its config with the
vault, the paper API key and Stark key in its environment), traded through the faults, and
broken no invariant.
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


def test_chaos_on_extended(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "mmtrio", "chaos", "--json", "--venue", "extended"]
    cmd += ["--runs", "1", "--seed", str(SEED), "--duration", "25", "--out", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, check=False)
    lines = done.stdout.strip().splitlines()
    assert lines, f"no output; stderr: {done.stderr[-2000:]}"
    summary = json.loads(lines[-1])
    assert summary["harness_errors"] == 0, (summary["first_failure"], done.stderr[-2000:])
    run_dir = tmp_path / f"seed-{SEED}"
    config_text = (run_dir / "config.toml").read_text()
    venue = tomllib.loads(config_text)["venue"]
    assert venue["name"] == "extended" and venue["symbol"] == "BTC-USD"
    assert venue["account"].isdigit()  # the vault number
    assert "api_key" not in venue and "private_key" not in venue  # secrets: environment only
    assert "extended BTC-USD (testnet)" in (run_dir / "bot-0.log").read_text()
    assert isinstance(summary["faults_total"], int) and summary["faults_total"] >= 3
    assert isinstance(summary["fills"], int) and summary["fills"] > 0
    assert done.returncode == 0, f"chaos violations: {json.dumps(summary['first_failure'])}"
