"""Kills and loss limits survive a restart; the operator's commands need no valid config.

The venue is the simulated Binance venue served once on loopback; the bot is started twice on
the same journal and venue (as systemd's ``Restart=`` or an operator would), in process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from mmtrio.cli import EXIT_OK, main
from mmtrio.cli.paper import build_venue, paper_credentials, paper_settings
from mmtrio.config import load_config
from mmtrio.core.guards import TradingState
from mmtrio.runtime.control import control_request
from mmtrio.runtime.engine import Engine
from mmtrio.sim.server import serve_sim
from mmtrio.venues import registry
from tests.integration.test_run_engine import wait_for, write_config

pytestmark = pytest.mark.integration


class Bot:
    """Engines on one config, journal and venue; each ``start`` is a new process's worth."""

    def __init__(self, cfg_path: Path, sim: Any, urls: Any) -> None:
        self.cfg_path, self.sim, self.urls = cfg_path, sim, urls
        self.config = load_config(cfg_path)
        self.codes: list[int] = []

    def engine(self) -> Engine:
        return Engine(
            self.config,
            config_path=self.cfg_path,
            venue=registry.venue("binance"),
            settings=paper_settings(self.config, self.sim, self.urls),
            credentials=paper_credentials(self.sim),
        )

    async def run(self, engine: Engine) -> None:
        self.codes.append(await engine.run())

    def control(self, request: dict[str, Any]) -> dict[str, Any]:
        return control_request(self.config.runtime.control_socket, request)

    def open_orders(self) -> list[Any]:
        return list(self.sim.engine.open_orders())


@asynccontextmanager
async def bot_on_sim(tmp: Path, **overrides: str) -> AsyncIterator[Bot]:
    cfg_path = write_config(tmp, speed=5.0, overrides=overrides)
    sim = build_venue(load_config(cfg_path))
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(serve_sim, sim)
        yield Bot(cfg_path, sim, urls)
        nursery.cancel_scope.cancel()


def state_of(engine: Engine) -> tuple[TradingState | None, str]:
    mm = engine.mm
    if mm is None:
        return None, ""
    st = mm.status(engine.clock_ms())
    return st.trading_state, st.reason


async def test_a_kill_survives_a_restart_until_resume(tmp_path: Path) -> None:
    async with bot_on_sim(tmp_path) as bot:
        first = bot.engine()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(bot.run, first)
            await wait_for(lambda: len(bot.open_orders()) >= 2, 60, "quotes resting")
            answer = await trio.to_thread.run_sync(
                bot.control, {"cmd": "kill", "reason": "operator: news at 14:30"}
            )
            assert answer["ok"] is True
            await wait_for(lambda: bot.open_orders() == [], 10, "the kill to cancel every order")
            first.request_stop("test stop")
        assert bot.codes == [3]  # stopped with the kill switch latched

        # A restart (systemd, a reboot, the operator) comes back HALTED, saying why.
        second = bot.engine()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(bot.run, second)
            await wait_for(lambda: second.loop is not None and second.loop.steps > 20, 60,
                           "the restarted bot to run")  # fmt: skip
            await trio.sleep(2.0)  # well past warm-up: a resumed bot would quote by now
            state, reason = state_of(second)
            assert state is TradingState.HALTED, reason
            assert "news at 14:30" in reason and "latched before the restart" in reason
            assert bot.open_orders() == []
            answer = await trio.to_thread.run_sync(
                bot.control, {"cmd": "resume", "reason": "operator: news is out"}
            )
            assert answer["ok"] is True, answer
            await wait_for(lambda: len(bot.open_orders()) >= 1, 30, "quotes after the resume")
            second.request_stop("test stop")
        assert bot.codes == [3, 0]

        # ... and a third start after the resume quotes at once: the resume was journaled.
        third = bot.engine()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(bot.run, third)
            await wait_for(lambda: len(bot.open_orders()) >= 1, 60, "quotes on the third start")
            third.request_stop("test stop")
        assert bot.codes == [3, 0, 0]


async def test_a_daily_loss_limit_survives_a_restart_and_needs_the_override(
    tmp_path: Path,
) -> None:
    # Each fill pays ~0.024 USDT in fees (2 bps of 0.002 BTC): the first fill breaches a daily
    # limit of 0.01 USDT.
    limits = {
        'max_daily_loss = "100" ': 'max_daily_loss = "0.01" ',
        'max_cumulative_loss = "300" ': 'max_cumulative_loss = "1000" ',
    }
    async with bot_on_sim(tmp_path, **limits) as bot:
        first = bot.engine()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(bot.run, first)
            await wait_for(
                lambda: (
                    state_of(first)[0] is TradingState.HALTED and "daily loss" in state_of(first)[1]
                ),
                180,
                "the daily loss limit to latch",
            )
            await wait_for(lambda: bot.open_orders() == [], 10, "every order cancelled")
            first.request_stop("test stop")
        assert bot.codes == [3]
        assert first.mm is not None
        total_before = first.mm.risk.losses.total
        assert total_before is not None and total_before < 0

        second = bot.engine()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(bot.run, second)
            await wait_for(lambda: second.loop is not None and second.loop.steps > 20, 60,
                           "the restarted bot to run")  # fmt: skip
            state, reason = state_of(second)
            assert state is TradingState.HALTED and "daily loss" in reason, reason
            assert second.mm is not None
            losses = second.mm.risk.losses
            # the day's loss was not forgiven by the restart
            assert losses.daily_loss > 0 and losses.total is not None
            assert abs(losses.total - total_before) < 1  # continued, not restarted at zero
            refused = await trio.to_thread.run_sync(
                bot.control, {"cmd": "resume", "reason": "operator"}
            )
            assert refused["ok"] is False and "override" in refused["error"]
            answer = await trio.to_thread.run_sync(
                bot.control,
                {"cmd": "resume", "override": True, "reason": "operator accepts 0.03 USDT"},
            )
            assert answer["ok"] is True, answer
            second.request_stop("test stop")

    # Both resumes are journaled with the operator's reason.
    import json
    import sqlite3

    conn = sqlite3.connect(bot.config.runtime.state_dir / "journal.sqlite3")
    rows = [
        json.loads(p)
        for (p,) in conn.execute("SELECT payload FROM records WHERE kind = 'resume' ORDER BY seq")
    ]
    conn.close()
    assert [(r["accepted"], r["override"], r["operator_reason"]) for r in rows] == [
        (False, False, "operator"),
        (True, True, "operator accepts 0.03 USDT"),
    ]


async def test_kill_status_and_resume_work_with_a_broken_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with bot_on_sim(tmp_path) as bot:
        engine = bot.engine()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(bot.run, engine)
            await wait_for(lambda: len(bot.open_orders()) >= 2, 60, "quotes resting")
            # The operator breaks an unrelated key while the bot runs.
            text = bot.cfg_path.read_text().replace("gamma = 10.0 ", "gamma = -1 ")
            bot.cfg_path.write_text(text)
            cfg = str(bot.cfg_path)
            assert await trio.to_thread.run_sync(main, ["status", "--config", cfg]) == EXIT_OK
            assert await trio.to_thread.run_sync(main, ["kill", "--config", cfg]) == EXIT_OK
            out = capsys.readouterr()
            assert "quoting.gamma" in out.err and "control socket all the same" in out.err
            await wait_for(lambda: bot.open_orders() == [], 10, "the kill to cancel")
            # Not even TOML any more: the paths are still found.
            bot.cfg_path.write_text(text.replace("[quoting]", "[quoting"))
            code = await trio.to_thread.run_sync(main, ["resume", "--config", cfg])
            assert code == EXIT_OK
            assert "not valid TOML" in capsys.readouterr().err
            await wait_for(lambda: len(bot.open_orders()) >= 1, 30, "quotes after the resume")
            state_dir = str(bot.config.runtime.state_dir)
            code = await trio.to_thread.run_sync(main, ["status", "--state-dir", state_dir])
            assert code == EXIT_OK
            engine.request_stop("test stop")
        assert bot.codes == [0]
        # No bot now: kill writes the kill file, so the next start stays halted.
        code = await trio.to_thread.run_sync(main, ["kill", "--config", str(bot.cfg_path)])
        assert code == EXIT_OK
        assert bot.config.risk.kill_file.exists()
        assert "wrote the kill file" in capsys.readouterr().out
