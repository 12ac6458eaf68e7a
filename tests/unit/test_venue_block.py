"""The venue's back-off survives the process: a restarted bot waits out Retry-After."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from loguru import logger

from mmtrio import determinism
from mmtrio.runtime.trading import make_clock_ms
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


async def test_a_back_off_said_on_the_session_clock_is_waited_out_in_full(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    """DST seed 205229: a 2 s back-off, its end said on the session's ms clock as the venue
    packages say it, was recorded as a wall-clock end. That clock truncates its start and its
    progress, so it read 21847 ms at 21848.4 ms: the end recorded was 0.4 ms short, and the
    restarted bot's first read, 0.2 ms inside the back-off, was banned for 120 s (it never
    adopted the position the venue had changed while it was down)."""
    token = determinism.CURRENT.set(determinism.Determinism(seed=1, epoch_ms=1_700_000_000_000))
    try:
        await trio.sleep(0.0009)  # the bot starts 0.9 ms into a millisecond of the wall clock
        session_ms = make_clock_ms()
        await trio.sleep(21.8475)
        read_at = trio.current_time()  # a 429 is read now: Retry-After 2 s
        until_ms = session_ms() + 1 + 2_000  # as BinanceRest.note_backoff states its end
        assert session_ms() < determinism.wall_ms()  # the session's clock lags the wall's
        VenueBlock(tmp_path, determinism.wall_ms).record_on_clock(until_ms, session_ms)
        await trio.sleep_until(22.3001)  # killed; restarted 0.1 ms into a millisecond
        restarted = VenueBlock(tmp_path, determinism.wall_ms)  # the next process
        await restarted.wait()
        assert trio.current_time() >= read_at + 2.0
    finally:
        determinism.CURRENT.reset(token)


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
    def no_space(*args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="ERROR")
    block = VenueBlock(tmp_path, lambda: 1_000)
    monkeypatch.setattr(os, "pwrite", no_space)
    try:
        block.record(50_000)  # a 429 on a full disk: no exception into the request
    finally:
        logger.remove(sink)
    assert block.remaining_ms() == 49_000
    assert len(lines) == 1 and "cannot record the venue's back-off" in lines[0]
    assert "No space left on device" in lines[0]


_REWRITE_WHEN_FULL = """
import os, resource, signal, sys
from pathlib import Path
from mmtrio.runtime.venue_block import VenueBlock

VenueBlock(Path(sys.argv[1]), lambda: 1_000)  # created while there is room
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # no file may grow past 4 KiB
fd = os.open(Path(sys.argv[1]) / "big", os.O_WRONLY | os.O_CREAT)
assert os.write(fd, b"x" * 8192) == 4096  # cut at the limit
try:
    os.write(fd, b"x")
except OSError as exc:
    print("growth refused:", exc.errno)
VenueBlock(Path(sys.argv[1]), lambda: 1_000).record(1_795_000_000_000)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_the_back_off_is_rewritten_in_place_where_no_file_may_grow(tmp_path: Path) -> None:
    """A full disk refuses growth, not a rewrite (chaos seed 7): the record still lands."""
    done = subprocess.run(
        [sys.executable, "-c", _REWRITE_WHEN_FULL, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == f"growth refused: {errno.EFBIG}", done.stderr
    assert "cannot record" not in done.stderr
    assert VenueBlock(tmp_path, lambda: 1_000).until_ms == 1_795_000_000_000
    assert (tmp_path / FILE_NAME).stat().st_size == 64
