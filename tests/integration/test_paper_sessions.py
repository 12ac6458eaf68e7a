"""A second paper session in the same directory continues correctly (issue 13).

`mmtrio run` in paper mode builds a new simulated venue each time. It used to start under the
previous session's journal: every new fill was discarded as a duplicate (trade ids start over
on a new venue), and the bot halted on "position mismatch: venue -16 lots, ours 0". The new
paper venue is now recognised (its instance id is in the journal's start record): the old
journal is set aside beside the new one and the session starts flat. (A restart on the same
venue continues its journal: ``test_limits_restart.py``.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from loguru import logger

from tests.integration.paper import PaperEngine, paper_engine
from tests.integration.test_run_engine import quotes_resting, run_engine, wait_for, write_config

pytestmark = pytest.mark.integration


def booked(engine: PaperEngine) -> int:
    mm = engine.mm
    return 0 if mm is None else mm.status(engine.clock_ms()).ledger.fills


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
