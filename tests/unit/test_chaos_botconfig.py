"""The chaos bot's base config is the packaged default, from any working directory.

QA: the base was ``<package>/../../config.toml`` (a checkout's), else ``./config.toml`` of the
working directory, which may be anything (a live config among them); installed, outside a
checkout and without one, `mmtrio chaos` could not run at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import mmtrio.packaged
from mmtrio.chaos.botconfig import ChaosHarnessError, bot_config

URLS = {"rest": "http://127.0.0.1:1", "ws": "ws://127.0.0.1:2"}
ROOT = Path(__file__).resolve().parents[2]


def _config(tmp: Path) -> str:
    return bot_config(URLS, tmp / "state", tmp / "c.sock", gamma=0.1, variant="valid")


def test_a_config_toml_in_the_working_directory_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _config(tmp_path)
    decoy = tmp_path / "cwd"
    decoy.mkdir()
    (decoy / "config.toml").write_text("this is [not toml\n[venue]\nmode = 'live'\n")
    monkeypatch.chdir(decoy)
    assert _config(tmp_path) == expected


def test_the_base_is_the_packaged_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = mmtrio.packaged.DEFAULT_CONFIG.read_text()
    marked = tmp_path / "config.toml"
    marked.write_text(text.replace("[quoting]", "[quoting]\norder_levels_marker = 7", 1))
    monkeypatch.setattr(mmtrio.packaged, "DEFAULT_CONFIG", marked)
    assert "order_levels_marker = 7" in _config(tmp_path)
    monkeypatch.setattr(mmtrio.packaged, "DEFAULT_CONFIG", tmp_path / "missing.toml")
    with pytest.raises(ChaosHarnessError, match="packaged default config"):
        _config(tmp_path)


def test_the_repository_config_gives_the_same_chaos_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The repository's config.toml differs from the packaged one only in comments and
    # [sim].data_files, which a chaos config drops: the regression seeds' hashes do not
    # depend on which of the two was the base.
    packaged = _config(tmp_path)
    monkeypatch.setattr(mmtrio.packaged, "DEFAULT_CONFIG", ROOT / "config.toml")
    assert _config(tmp_path) == packaged
