"""A backtest says what stopped or restricted quoting, and when: a kill switch that latches
early is why a run has few fills, and the text summary and the JSON name it."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import pytest

from mmtrio.backtest.report import restriction_lines
from mmtrio.backtest.settings import BacktestResult, Restriction
from mmtrio.cli import main
from mmtrio.reporting.pnl import ReportInput

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "binance-usdm"


def _slice(dst: Path, lines: int) -> Path:
    with gzip.open(DATA / "btcusdt_20240808.gz", "rb") as fin, gzip.open(dst, "wb") as fout:
        fout.writelines(itertools.islice(fin, lines))
    return dst


def test_a_kill_switch_that_latches_is_named_in_the_text_and_the_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _slice(tmp_path / "b.gz", 20_000)
    args = ["backtest", "--data", str(data), "--store-dir", str(tmp_path / "s")]
    # 1,200 orders a minute less a 0.9 margin: the runaway-rate kill at 120 a minute, which
    # three levels a side requoting every 100 ms pass in the first minute
    tight = [
        *("--set", "estimators.warmup_ms=0", "--set", "execution.rate_budget_margin=0.9"),
        *("--set", "quoting.levels=3", "--set", "quoting.requote_interval_ms=100"),
    ]
    assert main([*args, *tight]) == 0
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if x.startswith("HALTED once, first at 2024-08-0")]
    assert "kill switch: runaway order rate" in line and "UTC" in line
    assert main([*args, *tight, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)["backtest"]
    assert doc["final_state"] == "HALTED"
    (kill,) = [r for r in doc["restrictions"] if r["reason"].startswith("kill switch")]
    assert kill["state"] == "HALTED" and kill["count"] == 1
    # The same data without the tight cap: nothing restricted it, nothing is said.
    assert main([*args, *tight[:2]]) == 0
    out = capsys.readouterr().out
    assert "kill switch" not in out
    assert "book stale" not in out  # the tail after the data's last event: not the data's


def test_book_gaps_are_left_to_their_own_line_and_repeats_are_counted() -> None:
    result = BacktestResult(
        report_input=ReportInput(instrument=None, fills=(), mids=()),  # type: ignore[arg-type]
        market_messages=0,
        events=0,
        strategy_steps=0,
        commands=__import__("collections").Counter(),
        notices=__import__("collections").Counter(),
        alerts=[],
        strategy_position_lots=0,
        venue_position_lots=0,
        funding_payments=0,
        first_ms=0,
        last_ms=1_723_161_650_000,
        restrictions=[
            Restriction("HALTED", "book invalid: f.gz:10: depth gap (pu=5)", 1_000, 3),
            Restriction("REDUCING_ONLY", "inventory above the band: 5 lots", 1_723_161_600_000, 4),
            Restriction("HALTED", "book stale: last update 2001 ms ago", 1_723_161_700_000, 1),
        ],
        final_state="ACTIVE",
    )
    assert restriction_lines(result) == [
        "REDUCING_ONLY 4 times, first at 2024-08-09 00:00:00 UTC: inventory above the band: 5 lots"
    ]
