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
