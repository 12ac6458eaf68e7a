"""The bot on the simulated Hyperliquid venue (paper mode, as `mmtrio run` assembles it):
stale snapshots halt quoting, and quoting resumes on the next fresh snapshot.

The market websocket is stalled for longer than the snapshot age limit (5 s): the snapshots
held back arrive late, the connector judges them stale by their own ``time`` and delivers
BookInvalid, the bot halts (cancelling its quotes), and the first fresh snapshot after the
stall makes the book valid again (the halt and the return are journaled).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import trio

from mmtrio.core.notices import Notice
from tests.integration.paper import paper_engine
from tests.integration.test_run_engine import quotes_resting, run_engine, wait_for, write_config

pytestmark = pytest.mark.integration


def state_changes(state: Path) -> list[dict[str, str]]:
    conn = sqlite3.connect(state / "journal.sqlite3")
    try:
        rows = conn.execute("SELECT payload FROM records WHERE kind = 'state_change' ORDER BY seq")
        return [json.loads(t) for (t,) in rows]
    finally:
        conn.close()


async def test_stale_snapshots_halt_quoting_until_a_fresh_one(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, speed=1.0, overrides={'name = "binance"': 'name = "hyperliquid"'})
    engine = paper_engine(cfg)
    codes: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, engine, codes)
        await quotes_resting(engine, 60, "quotes on the simulated Hyperliquid venue")
        # Every notice the strategy gives, as it gives it: the halt's reason on the status
        # can be a stale snapshot for only a few ms before the feed-latency guard's replaces
        # it, too short for a poll to see; the "book invalid" alert is there for good.
        loop = engine.loop
        assert loop is not None
        alerts: list[str] = []
        before = loop.on_notice

        def keep(notice: Notice) -> None:
            if notice.kind == "alert":
                alerts.append(notice.message)
            if before is not None:
                before(notice)

        loop.on_notice = keep
        engine.sim_venue.inject("ws_stall", {"target": "market", "seconds": 6.0})
        mm = engine.mm
        assert mm is not None
        await wait_for(
            lambda: any("book invalid: stale snapshot" in a for a in alerts), 30,
            "a stale-snapshot halt",
        )  # fmt: skip
        # (the halt and its end are checked in the journal below: by now a fresh snapshot
        # may already have made the book valid again)
        await quotes_resting(engine, 30, "quotes again after a fresh snapshot")
        engine.request_stop("test stop")
    assert codes and codes[0] in (0, 3)
    changes = state_changes(engine.config.runtime.state_dir)
    # The halt is journaled (the stale-book guard may be first to say it, 2 s into the
    # stall; the stale snapshots then keep it halted, which is no state change) and so is
    # the return to quoting after it.
    states = [c["state"] for c in changes]
    assert "HALTED" in states[1:] and states[-1] in ("ACTIVE", "REDUCING_ONLY")
    assert engine.sim_venue.engine.open_orders() == []
