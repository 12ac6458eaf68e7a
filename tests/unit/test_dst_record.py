"""The deterministic campaign's record (runs.jsonl + campaign.json) and its resume rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mmtrio.chaos.dst_record import CampaignRecord, RecordError


def _doc(seed: int, *, violation: bool = False, error: str | None = None) -> dict[str, Any]:
    return {
        "seed": seed,
        "violations": [{"invariant": 8, "message": "x"}] if violation else [],
        "error": error,
        "faults": {"ws_drop": 2, "http_429": 1},
        "fills": 10,
        "virtual_s": 60.5,
    }


def _record(out: Path, seeds: list[int], *, resume: bool, seed: int = 100) -> CampaignRecord:
    record = CampaignRecord(out, seed, len(seeds), 60.0, 1)
    record.start(resume=resume, seeds=seeds)
    return record


def test_each_run_is_on_disk_as_soon_as_it_is_added(tmp_path: Path) -> None:
    record = _record(tmp_path, [100, 101, 102], resume=False)
    record.add(_doc(100))
    record.add(_doc(101, violation=True))
    # before close: the line is flushed and the totals rewritten
    lines = (tmp_path / "runs.jsonl").read_text().splitlines()
    assert [json.loads(line)["seed"] for line in lines] == [100, 101]
    meta = json.loads((tmp_path / "campaign.json").read_text())
    assert (meta["first_seed"], meta["runs"], meta["duration_s"]) == (100, 3, 60.0)
    totals = meta["totals"]
    assert (totals["runs"], totals["clean"], totals["violations"]) == (2, 1, 1)
    assert totals["violating_seeds"] == [101]
    assert (totals["faults"], totals["fills"], totals["virtual_s"]) == (6, 20, 121.0)
    record.close()


def test_resume_gives_back_the_judged_runs_and_counts_them_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _record(tmp_path, [100, 101, 102, 103], resume=False)
    first.add(_doc(100))
    first.add(_doc(101, error="RuntimeError: boom"))  # not a verdict: it runs again
    first.close()
    again = _record(tmp_path, [100, 101, 102, 103], resume=True)
    assert sorted(again.previous) == [100]
    assert "1 run(s) of the record the harness could not complete run again (seeds 101)" in (
        capsys.readouterr().err
    )
    assert again.totals.runs == 1 and again.totals.error_seeds == []
    again.add(_doc(101))
    again.add(_doc(102))
    again.close()
    seeds = [json.loads(x)["seed"] for x in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert seeds == [100, 101, 101, 102]
    assert json.loads((tmp_path / "campaign.json").read_text())["totals"]["runs"] == 3
    third = _record(tmp_path, [100, 101, 102, 103], resume=True)  # 101's last line counts
    assert sorted(third.previous) == [100, 101, 102] and third.totals.errors == 0
    third.close()


def test_resume_of_another_campaign_is_refused_naming_both(tmp_path: Path) -> None:
    _record(tmp_path, [100, 101], resume=False).close()
    with pytest.raises(RecordError, match="of --seed 100 --duration 60, not --seed 7"):
        _record(tmp_path, [7, 8], resume=True, seed=7)


def test_resume_on_another_venue_is_refused_naming_both(tmp_path: Path) -> None:
    record = CampaignRecord(tmp_path, 100, 2, 60.0, 1, venue="okx")
    record.start(resume=False, seeds=[100, 101])
    record.add(_doc(100))
    record.close()
    assert json.loads((tmp_path / "campaign.json").read_text())["venue"] == "okx"
    with pytest.raises(RecordError, match="is of --venue okx, not --venue hyperliquid"):
        CampaignRecord(tmp_path, 100, 2, 60.0, 1, venue="hyperliquid").start(
            resume=True, seeds=[100, 101]
        )
    again = CampaignRecord(tmp_path, 100, 2, 60.0, 1, venue="okx")
    again.start(resume=True, seeds=[100, 101])
    assert sorted(again.previous) == [100]
    again.close()


def test_a_record_from_before_the_venue_was_kept_is_binances(tmp_path: Path) -> None:
    _record(tmp_path, [100, 101], resume=False).close()
    meta = json.loads((tmp_path / "campaign.json").read_text())
    del meta["venue"]  # as records written before other venues ran
    (tmp_path / "campaign.json").write_text(json.dumps(meta))
    _record(tmp_path, [100, 101], resume=True).close()  # binance: the default
    with pytest.raises(RecordError, match="is of --venue binance, not --venue okx"):
        CampaignRecord(tmp_path, 100, 2, 60.0, 1, venue="okx").start(resume=True, seeds=[100])


def test_resume_without_a_record_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="does not exist: no campaign was started"):
        _record(tmp_path / "none", [100], resume=True)
    assert not (tmp_path / "none").exists()


def test_a_last_line_cut_short_is_dropped_and_that_seed_runs_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _record(tmp_path, [100, 101, 102], resume=False)
    first.add(_doc(100))
    first.add(_doc(101))
    first.close()
    runs = tmp_path / "runs.jsonl"
    runs.write_bytes(runs.read_bytes()[:-25])  # killed while writing seed 101's line
    again = _record(tmp_path, [100, 101, 102], resume=True)
    assert sorted(again.previous) == [100]
    assert "line 2 was cut short" in capsys.readouterr().err
    again.add(_doc(101))
    again.close()
    lines = runs.read_text().splitlines()
    assert [json.loads(x)["seed"] for x in lines] == [100, 101]  # whole lines only


def test_a_damaged_line_inside_the_record_is_refused_naming_it(tmp_path: Path) -> None:
    first = _record(tmp_path, [100, 101, 102], resume=False)
    for seed in (100, 101, 102):
        first.add(_doc(seed))
    first.close()
    runs = tmp_path / "runs.jsonl"
    lines = runs.read_text().splitlines()
    lines[1] = '{"seed": garbage'
    runs.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordError, match=r"runs.jsonl: line 2 is not a run's JSON summary"):
        _record(tmp_path, [100, 101, 102], resume=True)
    assert runs.read_text().splitlines()[1] == '{"seed": garbage'  # left as it was


def test_a_new_campaign_keeps_the_earlier_record_aside(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _record(tmp_path, [100], resume=False)
    first.add(_doc(100))
    first.close()
    second = _record(tmp_path, [5], resume=False, seed=5)
    second.close()
    assert "kept as runs.previous.jsonl and campaign.previous.json" in capsys.readouterr().err
    assert json.loads((tmp_path / "runs.previous.jsonl").read_text())["seed"] == 100
    assert (tmp_path / "runs.jsonl").read_text() == ""
    assert json.loads((tmp_path / "campaign.json").read_text())["first_seed"] == 5


def test_a_resume_with_fewer_runs_than_the_record_holds_is_refused_naming_both(
    tmp_path: Path,
) -> None:
    # QA: 14 judged runs, `--resume --seed 5 --runs 10` said "0 to go" and rewrote
    # campaign.json to runs 10, totals 10, while runs.jsonl kept its 14 lines
    seeds = list(range(5, 19))
    first = _record(tmp_path, seeds, resume=False, seed=5)
    for seed in seeds:
        first.add(_doc(seed))
    first.close()
    before = (tmp_path / "campaign.json").read_text()
    with pytest.raises(RecordError) as refused:
        _record(tmp_path, seeds[:10], resume=True, seed=5)  # --runs 10
    message = str(refused.value)
    assert "--runs 10" in message and "14 judged run(s)" in message
    assert "4 seed(s) beyond the first 10" in message and "--runs 14 or more" in message
    assert (tmp_path / "campaign.json").read_text() == before  # the record is untouched
    assert len((tmp_path / "runs.jsonl").read_text().splitlines()) == 14
    same = _record(tmp_path, seeds, resume=True, seed=5)  # --runs 14: all judged, counted once
    assert same.totals.runs == 14 and sorted(same.previous) == seeds
    same.close()
    meta = json.loads((tmp_path / "campaign.json").read_text())
    assert (meta["runs"], meta["totals"]["runs"]) == (14, 14)


def test_a_recorded_seed_beyond_a_gap_sets_the_runs_needed(tmp_path: Path) -> None:
    # Ray reports runs as they finish: a record may hold seed 109 and not 103
    first = _record(tmp_path, list(range(100, 120)), resume=False)
    for seed in (100, 101, 102, 109):
        first.add(_doc(seed))
    first.close()
    with pytest.raises(RecordError, match=r"--runs 10 or more"):
        _record(tmp_path, list(range(100, 105)), resume=True)  # --runs 5 > 4 judged
    again = _record(tmp_path, list(range(100, 110)), resume=True)
    assert again.totals.runs == 4
    again.close()


def test_each_line_names_the_code_that_ran_it(tmp_path: Path) -> None:
    record = _record(tmp_path, [100], resume=False)
    record.add(_doc(100))
    record.close()
    line = json.loads((tmp_path / "runs.jsonl").read_text())
    assert line["code"] == record.code
    # a git commit (40 hex digits, maybe "+dirty") from a checkout, else the package version
    head = record.code.removesuffix("+dirty")
    assert (len(head) == 40 and int(head, 16) >= 0) or record.code.startswith("mmtrio ")
