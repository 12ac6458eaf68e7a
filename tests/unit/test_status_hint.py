"""`mmtrio status` that finds no bot names the bots that do run under the state root.

QA (Hyperliquid paper bot): `mmtrio run --set venue.name=hyperliquid` runs as
``hyperliquid-paper``; a plain `mmtrio status` beside it (the packaged config: ``binance-paper``)
said only "no control socket at …/binance-paper/control.sock", and nothing in the docs named
the bot to ask for."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmtrio.cli import main
from tests.unit.test_cli_name import FakeBot


def test_status_of_a_bot_not_running_names_the_ones_that_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "s"
    (root / "hyperliquid-paper").mkdir(parents=True)
    (root / "okx-paper").mkdir()  # ran once, not running: no control socket
    (root / "okx-paper" / "lock").touch()
    monkeypatch.setenv("MMTRIO_STATE_ROOT", str(root))
    monkeypatch.chdir(tmp_path)  # no ./config.toml: the packaged default, binance-paper
    bot = FakeBot(root / "hyperliquid-paper" / "control.sock")
    try:
        assert main(["status", "--text"]) == 1
    finally:
        bot.close()
    err = capsys.readouterr().err
    assert f"no control socket at {root / 'binance-paper' / 'control.sock'}" in err
    assert (
        f"mmtrio status: running under {root}: hyperliquid-paper; pass --name hyperliquid-paper"
        in err
    )
    assert "okx-paper" not in err


def test_no_hint_when_nothing_else_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MMTRIO_STATE_ROOT", str(tmp_path / "s"))
    monkeypatch.chdir(tmp_path)
    assert main(["status"]) == 1
    assert "running under" not in capsys.readouterr().err
