"""Extended order nonces: unique across restarts and crashes, within 1..2^31, no wall clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmtrio.errors import ConfigError, JournalError
from mmtrio.venues.extended import nonces
from mmtrio.venues.extended.nonces import NONCE_FILE, NonceAllocator


async def test_unique_across_restarts_and_crashes(tmp_path: Path) -> None:
    seen: list[int] = []
    for _ in range(3):  # three processes on one state directory, each "killed" mid-block
        alloc = NonceAllocator(tmp_path, block=10)
        for _ in range(15):
            seen.append(await alloc.next())
    assert len(set(seen)) == len(seen)
    assert seen == sorted(seen)
    # the file always holds a mark above every nonce handed out
    assert int((tmp_path / NONCE_FILE).read_text()) > max(seen)


async def test_a_fresh_directory_starts_at_the_seconds_floor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the wall clock as mmtrio.determinism reads it (the machine's, or the DST's virtual one)
    wall_ms = (nonces.FLOOR_EPOCH_S + 12345) * 1000 + 600
    monkeypatch.setattr("mmtrio.venues.extended.nonces.determinism.wall_ms", lambda: wall_ms)
    assert await NonceAllocator(tmp_path).next() == 12345


async def test_range_exhaustion_and_bad_files(tmp_path: Path) -> None:
    (tmp_path / NONCE_FILE).write_text(f"{2**31 - 1}\n")
    alloc = NonceAllocator(tmp_path, block=10)
    assert [await alloc.next(), await alloc.next()] == [2**31 - 1, 2**31]
    with pytest.raises(JournalError, match="used up"):
        await alloc.next()
    (tmp_path / NONCE_FILE).write_text("banana\n")
    with pytest.raises(JournalError, match="not a number"):
        await NonceAllocator(tmp_path).next()
    with pytest.raises(ConfigError):
        NonceAllocator(tmp_path, block=0)
