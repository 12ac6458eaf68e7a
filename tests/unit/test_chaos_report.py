"""Chaos report (table, JSON summary) and the harness's generated bot configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmtrio.chaos.botconfig import MAX_POSITION_LOTS, bot_config
from mmtrio.chaos.invariants import Violation
from mmtrio.chaos.report import RunResult, format_table, summary
from mmtrio.config import load_config
from mmtrio.errors import ConfigError

URLS = {"rest": "http://127.0.0.1:1", "ws": "ws://127.0.0.1:2", "admin": "http://127.0.0.1:3"}


def test_table_and_summary_name_the_failing_seed() -> None:
    ok = RunResult(7, "/x/seed-7", faults={"ws_drop_user": 2}, restarts=1, fills=10)
    bad = RunResult(8, "/x/seed-8", faults={"ws_drop_user": 1, "order_5xx": 3}, fills=4)
    bad.violations = [Violation(1, None, "fill lost: venue trade 40 (mmt1-38) not in journal")]
    table = format_table([ok, bad])
    assert "VIOLATION seed 8: invariant 1: fill lost" in table and "/x/seed-8" in table
    assert "ws_drop_user=3" in table and "order_5xx=3" in table
    doc = summary([ok, bad], 7)
    assert doc["runs"] == 2 and doc["failed_runs"] == 1 and doc["faults_total"] == 6
    assert doc["restarts"] == 1 and doc["fills"] == 14 and doc["violations"] == 1
    assert doc["first_failure"]["seed"] == 8
    assert summary([ok], 7)["first_failure"] is None


def test_harness_error_is_reported() -> None:
    r = RunResult(9, "/x/seed-9", error="ChaosHarnessError: sim did not start")
    assert not r.ok
    assert "HARNESS ERROR seed 9" in format_table([r])


@pytest.mark.parametrize("variant", ["valid", "disk_full"])
def test_generated_configs_validate(variant: str, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    text = bot_config(URLS, tmp_path / "state", tmp_path / "c.sock", gamma=0.2, variant=variant)
    path.write_text(text)
    cfg = load_config(path)
    assert (cfg.venue.name, cfg.venue.mode) == (
        "binance",
        "testnet",
    ) and cfg.venue.rest_url == URLS["rest"]
    assert cfg.quoting.gamma == 0.2
    assert cfg.risk.max_position * 1000 == MAX_POSITION_LOTS
    if variant == "disk_full":
        assert cfg.journal.disk_halt_free_mb == 999_999


def test_invalid_variant_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        bot_config(URLS, tmp_path / "s", tmp_path / "c.sock", gamma=0.1, variant="invalid")
    )
    with pytest.raises(ConfigError, match="gamma"):
        load_config(path)
