"""`mmtrio chaos --venue okx`: the campaign's faults and invariants with the OKX connector
against the simulated OKX venue (sim and bot as real subprocesses, the fault proxy between).

One seeded run through the CLI, judged as every Binance run is, plus what makes it an OKX
run: the bot's config names OKX, its symbol and the venue's own endpoint paths through the
proxy, and the journal holds the fills under ``BTC-USDT-SWAP``. An unknown venue is refused.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from mmtrio.chaos.harness import Harness
from mmtrio.chaos.venues import chaos_venue
from mmtrio.errors import MmtrioError

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SEED = 1603


def test_one_okx_chaos_run_is_clean(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "mmtrio", "chaos", "--venue", "okx", "--json"]
    cmd += ["--runs", "1", "--seed", str(SEED), "--duration", "20", "--out", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, check=False)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["harness_errors"] == 0, (summary["first_failure"], done.stderr[-2000:])
    assert summary["violations"] == 0, summary["first_failure"]
    assert isinstance(summary["faults_total"], int) and summary["faults_total"] >= 3
    assert isinstance(summary["fills"], int) and summary["fills"] > 0
    assert done.returncode == 0

    run_dir = tmp_path / f"seed-{SEED}"
    venue = tomllib.loads((run_dir / "config.toml").read_text())["venue"]
    assert venue["name"] == "okx" and venue["symbol"] == "BTC-USDT-SWAP"
    assert venue["market_ws_url"].endswith("/ws/v5/public")
    assert venue["private_ws_url"].endswith("/ws/v5/private")
    runtime = tomllib.loads((run_dir / "config.toml").read_text())["runtime"]
    assert runtime["deadman_countdown_ms"] == chaos_venue("okx").deadman_ms == 10_000
    # the OKX connector, on the sim (a bot the schedule kills early may have logged nothing
    # on a loaded machine: any of the run's bots says it)
    logs = "".join(p.read_text() for p in run_dir.glob("bot-*.log"))
    assert "okx BTC-USDT-SWAP (testnet)" in logs


def test_an_unknown_venue_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MmtrioError, match="chaos runs on binance, extended, hyperliquid, okx"):
        Harness(1, 12.0, tmp_path, venue="nosuch")
    cmd = [sys.executable, "-m", "mmtrio", "chaos", "--venue", "nosuch", "--out", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "nosuch" in done.stderr


def test_a_journal_without_its_tables_holds_nothing(tmp_path: Path) -> None:
    # chaos --venue okx seed 1612: a starved bot's journal got its first page and no schema
    # (journal_full); reading it crashed the whole campaign with "no such table: fills"
    import sqlite3

    h = Harness(1612, 12.0, tmp_path, venue="okx")
    try:
        h.state_dir.mkdir(parents=True)
        sqlite3.connect(h.state_dir / "journal.sqlite3").execute("PRAGMA user_version = 1")
        assert h._journal() == ([], [])
    finally:
        h.http.close()
        h.sock_dir.rmdir()
