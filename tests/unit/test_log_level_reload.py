"""`logging.level` is reloadable: every handler set up by mmtrio changes level at once, unless
the run's `--log-level` chose it (then the reload says it kept the command line's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from loguru import logger

from mmtrio.errors import ConfigError
from mmtrio.runtime.logging import add_file_sink, pin_level, set_level, setup_logging


@pytest.fixture
def lines() -> Iterator[list[str]]:
    seen: list[str] = []
    setup_logging("INFO", sink=lambda m: seen.append(m.record["message"]))
    yield seen
    logger.remove()
    logger.add(lambda m: None)  # leave a quiet handler, as other tests expect one


def test_a_reloaded_level_reaches_every_handler(lines: list[str], tmp_path: Path) -> None:
    log_file = tmp_path / "bot.log"
    add_file_sink("INFO", log_file)
    logger.debug("before")
    assert set_level("DEBUG") == "logging.level DEBUG applied"
    logger.debug("after")
    assert lines == ["after"]
    assert "after" in log_file.read_text() and "before" not in log_file.read_text()
    set_level("WARNING")
    logger.info("quiet")
    logger.warning("loud")
    assert lines == ["after", "loud"]


def test_the_command_line_level_holds_for_the_run(lines: list[str]) -> None:
    pin_level("INFO")
    assert set_level("DEBUG") == (
        "logging.level DEBUG not applied: --log-level INFO holds for this run"
    )
    logger.debug("hidden")
    assert lines == []


def test_an_unknown_level_is_named() -> None:
    with pytest.raises(ConfigError, match="'LOUD' is not one of TRACE"):
        set_level("LOUD")
