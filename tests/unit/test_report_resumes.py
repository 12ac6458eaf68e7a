"""``mmtrio report`` lists every operator resume (text, JSON, HTML), accepted or refused.

OPERATOR.md §6 promised it ("``mmtrio report`` lists resumes"); the report did not read the
journal's ``resume`` records at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmtrio.cli import main
from mmtrio.runtime.journal import JOURNAL_NAME, Journal
from mmtrio.runtime.journal_schema import Kind, Record

REFUSAL = (
    "resume refused: drawdown 0.15 exceeds the limit 0.05 (peak +0.00, equity -0.15) at "
    "2026-12-07T00:08:12Z; resume with the loss-limit override (mmtrio resume --override "
    "--reason …) to accept the loss and restart the limit"
)


def _resume(ts: int, accepted: bool, override: bool, reason: str, outcome: str) -> Record:
    payload = {
        "accepted": accepted,
        "override": override,
        "operator_reason": reason,
        "outcome": outcome,
    }
    return Record(Kind.RESUME, ts, payload)


def _journal(state_dir: Path) -> Path:
    j = Journal.open(state_dir)
    j.next_epoch()
    mid = {"symbol": "BTCUSDT", "bid": 600_000, "ask": 600_002}
    j.write_batch(
        [
            Record(Kind.START, 1_000, {}),
            Record(Kind.MID_SAMPLE, 1_100, mid),
            Record(Kind.KILL_SWITCH, 1_200, {"reason": "operator kill", "flatten": False}),
            _resume(2_000, True, False, "operator resume (mmtrio resume)", "resumed: …"),
            _resume(3_000, False, False, "operator resume (mmtrio resume)", REFUSAL),
            _resume(4_000, True, True, "loss accepted by ops", "resumed: loss accepted by ops"),
            Record(Kind.MID_SAMPLE, 5_000, mid),
        ]
    )
    j.close()
    return state_dir / JOURNAL_NAME


def test_json_lists_every_resume_with_how_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--journal", str(_journal(tmp_path)), "--json"]) == 0
    resumes = json.loads(capsys.readouterr().out)["resumes"]
    assert resumes == [
        {
            "ts_ms": 2_000,
            "accepted": True,
            "override": False,
            "how": "operator resume",
            "reason": "operator resume (mmtrio resume)",
            "refused_because": None,
        },
        {
            "ts_ms": 3_000,
            "accepted": False,
            "override": False,
            "how": "operator resume",
            "reason": "operator resume (mmtrio resume)",
            "refused_because": "drawdown 0.15 exceeds the limit 0.05 (peak +0.00, equity "
            "-0.15) at 2026-12-07T00:08:12Z",
        },
        {
            "ts_ms": 4_000,
            "accepted": True,
            "override": True,
            "how": "operator resume with the loss-limit override",
            "reason": "loss accepted by ops",
            "refused_because": None,
        },
    ]


def test_text_and_html_list_the_resumes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "r.html"
    assert main(["report", "--journal", str(_journal(tmp_path)), "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert "resumes 3" in out
    assert (
        "1970-01-01 00:00:04 UTC  resumed  operator resume with the loss-limit override, "
        "reason: loss accepted by ops"
    ) in out
    assert "REFUSED  operator resume, reason: operator resume (mmtrio resume); refused: " in out
    html = page.read_text(encoding="utf-8")
    assert "<h2>halts, kills and resumes</h2>" in html
    assert "<td>operator resume with the loss-limit override: resumed</td>" in html
    assert "<td>reason: loss accepted by ops</td>" in html
    assert "refused: drawdown 0.15 exceeds the limit 0.05" in html


def test_a_window_without_resumes_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--journal", str(_journal(tmp_path)), "--since", "4500"]) == 0
    assert "resumes none" in capsys.readouterr().out
