"""The small state files rewritten in place (venue back-off, Hyperliquid weight)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from mmtrio.runtime.fixed_record import rewrite


def test_a_new_record_appears_whole_and_is_then_rewritten_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "venue_block.json"
    seen_at_rename: list[bytes] = []
    real_replace = os.replace

    def checking_replace(src: Any, dst: Any) -> None:
        assert not Path(dst).exists()  # nobody could read the file before this
        seen_at_rename.append(Path(src).read_bytes())
        real_replace(src, dst)

    monkeypatch.setattr("mmtrio.runtime.fixed_record.os.replace", checking_replace)
    rewrite(path, b'{"until_ms": 0}', 64)
    assert seen_at_rename == [b'{"until_ms": 0}'.ljust(64)]
    assert path.stat().st_mode & 0o777 == 0o600
    inode = path.stat().st_ino

    rewrite(path, b'{"until_ms": 1700000000000}', 64)  # in place: no new file on a full disk
    assert len(seen_at_rename) == 1
    assert path.stat().st_ino == inode
    assert path.read_bytes() == b'{"until_ms": 1700000000000}'.ljust(64)
    rewrite(path, b"x" * 80, 80)
    rewrite(path, b"y", 64)  # a longer older record's tail is cut
    assert path.read_bytes() == b"y".ljust(64)
    assert os.listdir(tmp_path) == ["venue_block.json"]


def test_a_record_that_cannot_be_created_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refusing_replace(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("mmtrio.runtime.fixed_record.os.replace", refusing_replace)
    with pytest.raises(OSError, match="No space left"):
        rewrite(tmp_path / "rate_usage.json", b"{}", 64)
    assert os.listdir(tmp_path) == []
