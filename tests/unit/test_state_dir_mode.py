"""The state directory mmtrio creates is 0700, the journal and the log 0600, whatever the
umask; an existing directory open to others is left as it is, with a WARNING naming the chmod."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from mmtrio.runtime import logging as mmtrio_logging
from mmtrio.runtime.journal import Journal
from mmtrio.runtime.logging import add_file_sink
from mmtrio.runtime.surface import LOG_FILE_NAME


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def shell_umask() -> Iterator[None]:
    old = os.umask(0o022)  # an operator's shell, not systemd's UMask=0077
    yield
    os.umask(old)


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    seen: list[str] = []
    handler = logger.add(lambda m: seen.append(str(m)), level="WARNING", format="{message}")
    yield seen
    logger.remove(handler)


def test_a_new_state_dir_is_0700_and_the_journal_0600(tmp_path: Path, warnings: list[str]) -> None:
    state = tmp_path / "root" / "binance-paper"
    journal = Journal.open(state)
    try:
        journal.next_epoch()  # a write: the WAL exists now
        assert mode(state) == 0o700
        for name in ("journal.sqlite3", "journal.sqlite3-wal", "lock"):
            assert mode(state / name) == 0o600, name
    finally:
        journal.close()
    assert warnings == []


def test_an_existing_open_state_dir_is_left_as_it_is_with_a_warning(
    tmp_path: Path, warnings: list[str]
) -> None:
    state = tmp_path / "made-by-the-operator"
    state.mkdir(mode=0o755)
    Journal.open(state).close()
    assert mode(state) == 0o755  # not changed silently
    assert mode(state / "journal.sqlite3") == 0o600
    assert len(warnings) == 1
    assert str(state) in warnings[0] and f"chmod 700 {state}" in warnings[0]


def test_the_log_file_is_0600(tmp_path: Path) -> None:
    path = tmp_path / LOG_FILE_NAME
    handler = add_file_sink("INFO", path)
    try:
        logger.info("a fill")
    finally:
        logger.remove(handler)
        mmtrio_logging._HANDLERS.pop(handler, None)  # not re-added by a later set_level
    assert mode(path) == 0o600


@pytest.fixture
def infos() -> Iterator[list[str]]:
    seen: list[str] = []
    handler = logger.add(lambda m: seen.append(str(m)), level="INFO", format="{message}")
    yield seen
    logger.remove(handler)


def test_files_left_open_by_an_older_version_are_made_0600_at_start_in_one_line(
    tmp_path: Path, infos: list[str]
) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    for name, old in (("sim_final.json", 0o644), ("mmtrio.log", 0o640), ("KILL", 0o604)):
        (state / name).write_text("x")
        (state / name).chmod(old)
    (state / "rate_usage.json").write_text("x")
    (state / "rate_usage.json").chmod(0o600)  # already private: not named
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("x")
    outside.chmod(0o644)
    (state / "link").symlink_to(outside)  # a link's target is not the bot's to change
    Journal.open(state).close()
    for name in ("sim_final.json", "mmtrio.log", "KILL", "rate_usage.json", "journal.sqlite3"):
        assert mode(state / name) == 0o600, name
    assert mode(outside) == 0o644
    said = [line.rstrip("\n") for line in infos if "now mode 0600" in line]
    assert said == [
        f"state directory {state}: group/others could read 3 file(s), now mode 0600: "
        "KILL (was 0604), mmtrio.log (was 0640), sim_final.json (was 0644)"
    ]
    infos.clear()
    Journal.open(state).close()  # nothing left to say
    assert not [line for line in infos if "now mode 0600" in line]


async def test_the_paper_sims_dump_is_0600_also_over_an_older_open_one(tmp_path: Path) -> None:
    from mmtrio.sim.admin import dump_state

    class Venue:
        def ground_truth(self, book_levels: int) -> dict[str, object]:
            return {"orders": [], "book_levels": book_levels}

    target = tmp_path / "sim_final.json"
    await dump_state(Venue(), str(target))  # type: ignore[arg-type]
    assert mode(target) == 0o600
    target.chmod(0o644)  # an older version's
    await dump_state(Venue(), str(target))  # type: ignore[arg-type]
    assert mode(target) == 0o600 and '"book_levels": 1000' in target.read_text()


async def test_the_nonce_files_are_0600(tmp_path: Path) -> None:
    from mmtrio.venues.extended.nonces import NonceAllocator
    from mmtrio.venues.hyperliquid.nonces import FILE_NAME, NonceSource

    hl = NonceSource(lambda: 1_700_000_000_000, tmp_path)
    await hl.take()
    ext = NonceAllocator(tmp_path)
    await ext.next()
    assert mode(tmp_path / FILE_NAME) == 0o600
    assert mode(ext.path) == 0o600


def test_the_kill_file_mmtrio_kill_writes_is_0600(tmp_path: Path) -> None:
    from mmtrio.cli import kill

    path = tmp_path / "KILL"
    kill._write_private(path, "operator\n")
    assert mode(path) == 0o600 and path.read_text() == "operator\n"
