"""The exit code of a plain stop says how the bot stopped, not the mood of the moment
(issue #20, finding 4).

A SIGTERM that met the bot HALTED by a stale book (a market websocket reconnecting) ended in
exit 3 with no reason logged, although the README promises 0 for a stop on request: a stale
book halts quoting by itself and clears by itself, it is no guard stopping the bot. Exit 3 is
for a latched kill switch or a supervisor escalation, and the log then says which.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trio
from loguru import logger

from mmtrio.config import load_config
from mmtrio.core.guards import TradingState
from tests.integration.paper import PaperEngine, paper_engine
from tests.integration.test_run_engine import (
    quotes_resting,
    run_engine,
    venue_open,
    wait_for,
    write_config,
)


def _state(engine: PaperEngine) -> tuple[TradingState | None, str]:
    mm = engine.mm
    if mm is None:
        return None, ""
    st = mm.status(engine.clock_ms())
    return st.trading_state, st.reason


async def test_sigterm_while_halted_by_a_stale_book_exits_0(tmp_path: Path) -> None:
    cfg_path = write_config(tmp_path)
    engine = paper_engine(cfg_path)
    codes: list[int] = []
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="INFO")
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_engine, engine, codes)
            await quotes_resting(engine, 30, "quotes resting")
            # The market stream goes silent: the book turns stale, quoting halts by itself.
            engine.sim_venue.inject("ws_stall", {"target": "market", "seconds": 60.0})
            await wait_for(
                lambda: _state(engine)[0] is TradingState.HALTED, 20, "a stale-book halt"
            )
            assert "stale" in _state(engine)[1].lower(), _state(engine)
            engine.request_stop("SIGTERM")
    finally:
        logger.remove(sink)
    assert codes == [0], "".join(lines[-20:])
    assert venue_open(engine) == []
    assert any("exit code 0" in line for line in lines)
    # zero open orders confirmed, then the venue's countdown disarmed
    assert engine.sim_venue.countdown_ms == 0 and engine.sim_venue.countdown_deadline is None


async def test_exit_3_names_the_latched_kill_switch(tmp_path: Path) -> None:
    cfg_path = write_config(tmp_path)
    config = load_config(cfg_path)
    engine = paper_engine(cfg_path, config)
    codes: list[int] = []
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="INFO")
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_engine, engine, codes)
            await quotes_resting(engine, 30, "quotes resting")
            config.risk.kill_file.parent.mkdir(parents=True, exist_ok=True)
            config.risk.kill_file.write_text("stop")
            await wait_for(lambda: venue_open(engine) == [], 10, "the kill file's cancels")
            engine.request_stop("SIGTERM")
    finally:
        logger.remove(sink)
    assert codes == [3]
    (said,) = [line for line in lines if "exit code 3" in line]
    assert "kill switch" in said and "kill file" in said, said


async def test_a_stop_that_cannot_confirm_zero_open_orders_leaves_the_countdown_armed(
    tmp_path: Path,
) -> None:
    # The dead-man disarm used to run before the cancel-all: when that then failed, the orders
    # were left without their protection. It now comes only after zero open orders confirmed.
    quick_stop = {
        "shutdown_deadline_s = 15.0": "shutdown_deadline_s = 3.0",
        "request_timeout_ms = 5000": "request_timeout_ms = 1000",
    }
    cfg_path = write_config(tmp_path, overrides=quick_stop)
    engine = paper_engine(cfg_path)
    codes: list[int] = []
    matching = engine.sim_venue.engine
    cancelled: list[str] = []  # what the venue cancelled once the stop began
    real_cancel, real_cancel_all = matching.cancel, matching.cancel_all

    def cancel(client_id: str, ts: int) -> Any:
        cancelled.append(client_id)
        return real_cancel(client_id, ts)

    def cancel_all(ts: int) -> Any:
        cancelled.extend(o.client_id for o in matching.open_orders())
        return real_cancel_all(ts)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, engine, codes)
        await quotes_resting(engine, 30, "quotes resting")
        # from now on the venue answers every REST request with a 500
        engine.sim_venue.inject(
            "error_code", {"code": -1000, "msg": "down", "status": 500, "count": 10_000}
        )
        resting = {o.client_id for o in venue_open(engine)}
        matching.cancel, matching.cancel_all = cancel, cancel_all
        engine.request_stop("SIGTERM")
    assert codes == [1]
    # The cancel-all could not reach the venue: the stop cancelled none of the quotes resting
    # when it began (a quote at the touch may still fill in the 3 s the stop tries) ...
    assert resting and not resting & set(cancelled), (resting, cancelled)
    assert engine.sim_venue.countdown_deadline is not None  # ... so the countdown still runs
