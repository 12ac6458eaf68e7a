"""The venue's back-off survives the process: a restarted bot waits out Retry-After."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import trio
from loguru import logger

from mmtrio.runtime.venue_block import FILE_NAME, VenueBlock


def _clock() -> int:
    return int(trio.current_time() * 1000)


async def test_a_new_process_waits_out_the_back_off(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    VenueBlock(tmp_path, _clock).record(_clock() + 30_000)
    later = VenueBlock(tmp_path, _clock)  # the restarted process reads the file
    assert later.remaining_ms() == 30_000
    start = trio.current_time()
    await later.wait()
    assert trio.current_time() - start >= 30.0
    assert later.remaining_ms() == 0


async def test_no_file_means_no_wait(tmp_path: Path, autojump_clock: trio.abc.Clock) -> None:
    start = trio.current_time()
    await VenueBlock(tmp_path, _clock).wait()
    assert trio.current_time() == start


def test_an_earlier_end_never_shortens_the_wait(tmp_path: Path) -> None:
    block = VenueBlock(tmp_path, lambda: 1_000)
    block.record(50_000)
    block.record(20_000)
    assert VenueBlock(tmp_path, lambda: 1_000).until_ms == 50_000


def test_a_damaged_file_is_read_as_wait_a_minute(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_text("{not json")
    assert VenueBlock(tmp_path, lambda: 5_000).remaining_ms() == 60_000


def test_a_full_disk_keeps_the_back_off_in_memory_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(self: Path, *args: object, **kwargs: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="ERROR")
    block = VenueBlock(tmp_path, lambda: 1_000)
    monkeypatch.setattr(Path, "write_text", no_space)
    try:
        block.record(50_000)  # a 429 on a full disk: no exception into the request
    finally:
        logger.remove(sink)
    assert block.remaining_ms() == 49_000
    assert len(lines) == 1 and "cannot record the venue's back-off" in lines[0]
    assert "No space left on device" in lines[0]
