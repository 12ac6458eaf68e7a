"""One resume, one log line: the strategy's alert and its journal notice used to be logged
both (``resumed: qa accepted`` twice, ~15 ms apart, on the screen and in mmtrio.log)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
from loguru import logger

from mmtrio.config import load_config
from mmtrio.config.strategy import build_strategy_config
from mmtrio.core.client_ids import ClientIdGenerator
from mmtrio.core.commands import Command
from mmtrio.core.events import Event, KillSwitch, Resume
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.notices import Notice
from mmtrio.core.risk import ResumeOutcome
from mmtrio.core.strategy import MarketMaker
from mmtrio.runtime.trading import TradingLoop, make_clock_ms
from mmtrio.venues.binance.client_ids import client_id_format

ROOT = Path(__file__).resolve().parents[2]


class Rec:
    """The journal side of the loop: the notices it was handed."""

    def __init__(self) -> None:
        self.notices: list[Notice] = []

    def event(self, event: Event, now: int) -> bool:
        return False

    async def commit(self) -> None:
        return None

    def command(self, command: Command, now: int) -> None:
        return None

    def notice(self, notice: Notice, now: int) -> None:
        self.notices.append(notice)

    def note(self, kind: str, payload: dict[str, Any], now: int) -> None:
        return None


async def _resume_lines(
    autojump_clock: trio.abc.Clock, refuse: bool, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[str], list[Notice]]:
    config = load_config(ROOT / "config.toml")
    mm = MarketMaker(
        build_strategy_config(config, BTCUSDT), ClientIdGenerator(client_id_format("t"), 1)
    )
    if refuse:
        refused = ResumeOutcome(False, "resume refused: drawdown 0.15 exceeds the limit 0.05")
        monkeypatch.setattr(mm.risk, "resume", lambda reason, override=False: refused)
    out_send, _ = trio.open_memory_channel[Command](100)
    rec = Rec()
    loop = TradingLoop(mm, out_send, make_clock_ms(), rec)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="DEBUG")
    try:
        await loop.handle(KillSwitch("operator kill (mmtrio kill)", False, 0))
        await loop.handle(Resume("qa accepted", 0, override=True))
    finally:
        logger.remove(sink)
    return lines, [n for n in rec.notices if n.kind == "resume"]


async def test_one_resume_is_one_log_line_and_one_journal_record(
    autojump_clock: trio.abc.Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines, journaled = await _resume_lines(autojump_clock, False, monkeypatch)
    assert [line for line in lines if "resumed: qa accepted" in line and "->" not in line] == [
        "resumed: qa accepted"
    ]
    assert len(journaled) == 1 and journaled[0].data["operator_reason"] == "qa accepted"


async def test_one_refused_resume_is_one_log_line_and_one_journal_record(
    autojump_clock: trio.abc.Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines, journaled = await _resume_lines(autojump_clock, True, monkeypatch)
    assert [line for line in lines if "resume refused" in line] == [
        "resume refused: drawdown 0.15 exceeds the limit 0.05"
    ]
    assert len(journaled) == 1 and journaled[0].data["accepted"] is False
