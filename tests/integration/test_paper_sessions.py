"""A second paper session in the same directory continues correctly (issue 13).

`mmtrio run` in paper mode builds a new simulated venue each time. It used to start under the
previous session's journal: every new fill was discarded as a duplicate (trade ids start over
on a new venue), and the bot halted on "position mismatch: venue -16 lots, ours 0". The new
paper venue is now recognised (its instance id is in the journal's start record): the old
journal is set aside beside the new one and the session starts flat. (A restart on the same
venue continues its journal: ``test_limits_restart.py``.)
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import trio
from loguru import logger

from mmtrio.core.guards import TradingState
from mmtrio.runtime.control import control_request
from tests.integration.paper import PaperEngine, paper_engine
from tests.integration.test_run_engine import (
    quotes_resting,
    run_engine,
    venue_open,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.integration


def booked(engine: PaperEngine) -> int:
    mm = engine.mm
    return 0 if mm is None else mm.status(engine.clock_ms()).ledger.fills


def stepping(engine: PaperEngine) -> bool:
    """The engine's strategy exists and its loop has run a few steps."""
    return engine.mm is not None and engine.loop is not None and engine.loop.steps > 20


async def one_session(
    engine: PaperEngine, fills: int, *, open_position: bool = False
) -> tuple[list[int], int, int]:
    """Run until ``fills`` fills are booked and our position equals the venue's (and, with
    ``open_position``, is not flat); stop. Returns the exit codes, our fills booked and the
    venue's fills."""
    codes: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, engine, codes)
        await quotes_resting(engine, 30, "quotes resting")
        await wait_for(lambda: booked(engine) >= fills, 90, f"{fills} fills booked")
        await wait_for(
            lambda: (
                engine.mm is not None
                and engine.mm.status(engine.clock_ms()).position_lots
                == engine.sim_venue.account.position
                and (engine.sim_venue.account.position != 0 or not open_position)
            ),
            90,
            "our position to equal the venue's" + (" and not be flat" if open_position else ""),
        )
        mm = engine.mm
        assert mm is not None
        st = mm.status(engine.clock_ms())
        # (Not asserted ACTIVE: on a loaded machine a stale-book halt may come and go.)
        ours, theirs = st.ledger.fills, len(engine.sim_venue.account.fills)
        engine.request_stop("test stop")
    return codes, ours, theirs


async def test_a_second_paper_session_in_the_same_directory_continues_correctly(
    tmp_path: Path,
) -> None:
    cfg_path = write_config(tmp_path, speed=5.0)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="INFO")
    try:
        first = paper_engine(cfg_path)
        codes, ours, theirs = await one_session(first, 2, open_position=True)
        assert codes == [0] and ours == theirs >= 2
        assert first.sim_venue.account.position != 0  # left open, as a Ctrl-C leaves it
        second = paper_engine(cfg_path)  # a new paper venue, as a second `mmtrio run` builds
        assert second.sim_venue.instance != first.sim_venue.instance
        codes, ours, theirs = await one_session(second, 2)
    finally:
        logger.remove(sink)
    text = "".join(lines)
    assert codes == [0], text[-3000:]
    # Every fill of the new venue booked (none discarded as a duplicate of the old one's).
    assert ours == theirs >= 2
    assert "position mismatch" not in text and "position gap" not in text
    mm = second.mm
    assert mm is not None
    assert mm.status(second.clock_ms()).position_lots == second.sim_venue.account.position
    (said,) = [line for line in lines if "a new paper venue" in line]
    aside = list((tmp_path / "state").glob("journal-paper-*.sqlite3"))
    assert len(aside) == 1 and str(aside[0]) in said
    assert (tmp_path / "state" / "journal.sqlite3").exists()


async def test_a_kill_stays_latched_when_the_next_paper_session_starts_a_new_journal(
    tmp_path: Path,
) -> None:
    """`mmtrio kill`, stop, `mmtrio run` in paper mode: the new paper venue sets the old
    journal aside, but the operator's kill is not the venue's state: the new session starts
    HALTED with the reason, quotes nothing, and a plain resume lets it trade."""
    cfg_path = write_config(tmp_path, speed=5.0)
    first = paper_engine(cfg_path)
    codes: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, first, codes)
        await quotes_resting(first, 30, "quotes resting")
        answer = await trio.to_thread.run_sync(
            control_request, first.config.runtime.control_socket,
            {"cmd": "kill", "reason": "operator: news at 14:30"},
        )  # fmt: skip
        assert answer["ok"] is True, answer
        await wait_for(lambda: venue_open(first) == [], 10, "the kill to cancel every order")
        first.request_stop("test stop")
    assert codes == [3]  # stopped with the kill switch latched

    second = paper_engine(cfg_path)  # a new paper venue: a new journal
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, second, codes)
        await wait_for(lambda: second.loop is not None and second.loop.steps > 20, 60,
                       "the second session to run")  # fmt: skip
        await trio.sleep(2.0)  # past the warm-up at ×5: an unlatched bot would quote by now
        mm = second.mm
        assert mm is not None
        st = mm.status(second.clock_ms())
        assert st.trading_state is TradingState.HALTED, st.reason
        assert "news at 14:30" in st.reason and "earlier paper session" in st.reason
        assert second.sim_venue.account.orders == {}  # not one order placed
        answer = await trio.to_thread.run_sync(
            control_request, second.config.runtime.control_socket,
            {"cmd": "resume", "reason": "operator: news is out"},
        )  # fmt: skip
        assert answer["ok"] is True, answer
        await quotes_resting(second, 30, "quotes after the resume")
        second.request_stop("test stop")
    assert codes == [3, 0]
    assert len(list((tmp_path / "state").glob("journal-paper-*.sqlite3"))) == 1


async def test_a_latched_kill_reason_does_not_grow_with_each_paper_restart(
    tmp_path: Path,
) -> None:
    """QA: the reason of a kill latched in a paper bot's state directory got longer with
    every restart, each one wrapping the last ("… (latched in the previous paper session,
    journal kept as A) (latched before the restart) (latched in the previous paper session,
    journal kept as B) …"). The reason a restart shows, and writes for the next one, is the
    same every time: the operator's words once, the journal where the kill was latched."""
    from mmtrio.runtime.journal import JOURNAL_NAME
    from mmtrio.runtime.journal_view import read_limits

    cfg_path = write_config(tmp_path, speed=5.0)
    state = tmp_path / "state"
    first = paper_engine(cfg_path)
    codes: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, first, codes)
        await quotes_resting(first, 30, "quotes resting")
        answer = await trio.to_thread.run_sync(
            control_request, first.config.runtime.control_socket,
            {"cmd": "kill", "reason": "operator: news at 14:30"},
        )  # fmt: skip
        assert answer["ok"] is True, answer
        await wait_for(lambda: venue_open(first) == [], 10, "the kill to cancel every order")
        first.request_stop("test stop")
    assert codes == [3]

    shown: list[str] = []  # the kill switch's reason in each restarted session
    written: list[str | None] = []  # the latch each session leaves in its journal
    for _ in range(4):  # quick restarts: set-aside journals named in one second all kept
        engine = paper_engine(cfg_path)  # a new paper venue, as each `mmtrio run` builds
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_engine, engine, codes)
            await wait_for(partial(stepping, engine), 60, "the restarted session to run")
            mm = engine.mm
            assert mm is not None
            st = mm.status(engine.clock_ms())
            assert st.trading_state is TradingState.HALTED, st.reason
            shown.append(mm.risk.kill_switch.reason or "")
            engine.request_stop("test stop")
        last = read_limits(state / JOURNAL_NAME)
        written.append(None if last is None else last.kill_reason)
        if len(written) == 1:
            (first_aside,) = state.glob("journal-paper-*.sqlite3")  # where the kill latched
    assert codes == [3, 3, 3, 3, 3]
    assert len(set(shown)) == 1 and len(set(written)) == 1, (shown, written)
    reason = shown[0]
    assert reason.count("operator: news at 14:30") == 1, reason
    assert reason.count("(latched") == 2, reason  # in a paper session, before the restart
    assert str(first_aside) in reason
    assert len(list(state.glob("journal-paper-*.sqlite3"))) == 4
