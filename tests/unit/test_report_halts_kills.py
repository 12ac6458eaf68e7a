"""The text (and JSON) ``mmtrio report`` lists the kills and halts, as the HTML report does.

Operator QA: the text report listed resumes but not the kills and halts before them, which
only the HTML report's "halts, kills and resumes" table showed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmtrio.cli import main
from mmtrio.runtime.journal import JOURNAL_NAME, Journal
from mmtrio.runtime.journal_schema import Kind, Record

DRAWDOWN = "ACTIVE -> HALTED: drawdown 0.15 exceeds the limit 0.05"


def _journal(state_dir: Path) -> Path:
    j = Journal.open(state_dir)
    j.next_epoch()
    mid = {"symbol": "BTCUSDT", "bid": 600_000, "ask": 600_002}
    kill = "operator kill (control socket)"
    j.write_batch(
        [
            Record(Kind.START, 1_000, {}),
            Record(Kind.MID_SAMPLE, 1_100, mid),
            Record(Kind.KILL_SWITCH, 2_000, {"reason": kill, "flatten": True}),
            Record(Kind.STATE_CHANGE, 2_000, {"state": "HALTED", "reason": f"kill: {kill}"}),
            Record(Kind.STATE_CHANGE, 92_000, {"state": "ACTIVE", "reason": "resumed"}),
            Record(Kind.STATE_CHANGE, 100_000, {"state": "HALTED", "reason": DRAWDOWN}),
            Record(Kind.MID_SAMPLE, 130_000, mid),
        ]
    )
    j.close()
    return state_dir / JOURNAL_NAME


def test_text_lists_kills_and_halts_with_when_why_and_how_long(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "r.html"
    assert main(["report", "--journal", str(_journal(tmp_path)), "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert "halts 2" in out and "kills 1" in out
    assert (
        "1970-01-01 00:00:02 UTC  kill switch (with flatten): operator kill (control socket)" in out
    )
    assert (
        "1970-01-01 00:00:02 UTC  halted for 1 min 30 s: kill: operator kill (control socket)"
        in out
    )
    assert (
        "1970-01-01 00:01:40 UTC  halted for 30 s (still halted at the report's end): "
        f"{DRAWDOWN}" in out
    )
    html = page.read_text(encoding="utf-8")  # the same halts and kills as the HTML lists
    assert "halted for 1 min 30 s" in html and "halted for 30 s" in html
    assert "<td>operator kill (control socket)</td>" in html


def test_json_lists_them_and_a_quiet_window_says_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _journal(tmp_path)
    assert main(["report", "--journal", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["kills"] == [
        {"ts_ms": 2_000, "reason": "operator kill (control socket)", "flatten": True}
    ]
    assert [(h["from_ms"], h["to_ms"], h["ongoing"]) for h in doc["halts"]] == [
        (2_000, 92_000, False),
        (100_000, 130_000, True),
    ]
    assert main(["report", "--journal", str(path), "--since", "120000"]) == 0
    out = capsys.readouterr().out
    assert "halts none" in out and "kills none" in out
