"""`mmtrio kill --state-dir`: a directory that does not exist is refused, never created."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmtrio.cli import main


def test_kill_refuses_a_state_dir_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    typo = tmp_path / "var/lib/mmtrio/binance-btcusdtt"
    assert main(["kill", "--state-dir", str(typo)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(typo) in err[0], err
    assert not typo.exists() and not typo.parent.exists()


def test_kill_writes_the_kill_file_into_an_existing_state_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "binance-btcusdt"  # a bot that has run once (or is stopped)
    state.mkdir()
    (state / "lock").write_text("")  # the journal's lock: a bot ran here
    assert main(["kill", "--state-dir", str(state), "--reason", "test"]) == 0
    assert (state / "KILL").read_text() == "test\n"
    assert "wrote the kill file" in capsys.readouterr().out
