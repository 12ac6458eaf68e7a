"""`[journal] sync`: the journal's commit durability, as configured, reaches SQLite.

"full" (the default) fsyncs every commit; "normal" survives a crash of the process but not a
power loss. The deterministic simulation's bot uses "normal" (it simulates kill -9, never a
power cut); the process harness's bot keeps the shipped "full".
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from mmtrio.chaos import dst
from mmtrio.chaos.botconfig import bot_config
from mmtrio.runtime.journal import Journal
from tests.unit.test_config import parse, problems, shipped_data, with_changes


def test_the_shipped_config_fsyncs_every_commit() -> None:
    assert shipped_data()["journal"]["sync"] == "full"
    assert parse(shipped_data()).journal.sync == "full"


def test_an_unknown_sync_mode_is_refused_naming_the_key() -> None:
    found = problems(with_changes(journal__sync="off"))
    assert "journal.sync" in found, found
    assert "full" in found["journal.sync"] and "normal" in found["journal.sync"]


@pytest.mark.parametrize(("mode", "pragma"), [("FULL", 2), ("NORMAL", 1)])
def test_the_journal_opens_with_the_mode_it_is_given(
    tmp_path: Path, mode: str, pragma: int
) -> None:
    journal = Journal.open(tmp_path, synchronous=mode)
    try:
        assert journal._conn.execute("PRAGMA synchronous").fetchone()[0] == pragma
    finally:
        journal.close()


def test_only_the_deterministic_bot_skips_the_fsync(tmp_path: Path) -> None:
    urls = {"rest": "http://127.0.0.1:1", "ws": "ws://127.0.0.1:1"}
    kw: dict[str, Any] = {"gamma": 0.1, "variant": "valid"}
    process = tomllib.loads(bot_config(urls, tmp_path, tmp_path / "s", **kw))
    simulated = tomllib.loads(bot_config(urls, tmp_path, tmp_path / "s", deterministic=True, **kw))
    assert process["journal"]["sync"] == "full"
    assert simulated["journal"]["sync"] == "normal"


def test_the_engine_opens_its_journal_in_the_configured_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    modes: list[str] = []
    real_open = Journal.open

    def recording_open(state_dir: Path, *, synchronous: str = "FULL") -> Journal:
        modes.append(synchronous)
        return real_open(state_dir, synchronous=synchronous)

    monkeypatch.setattr("mmtrio.runtime.engine.Journal.open", recording_open)
    result = dst.run_one(1, 11.0, tmp_path)
    assert result.trace  # the run happened
    assert modes and set(modes) == {"NORMAL"}, modes
