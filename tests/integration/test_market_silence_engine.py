"""End to end: the paper venue mutes the bot's market stream, the bot reconnects and quotes
again (QA's silent-stream defect).

The paper venue's ``ws_mute`` fault stops it sending on the market socket for 10 minutes
(dropping what it would have sent) while it goes on answering the bot's pings. The
stale-book guard pulls the quotes; before the silence watchdog nothing else happened until
the mute ended, the stream shown connected.
Now, after ``[venue] market_silence_s`` (3 s here) without a market message, the stream is
reconnected (a reconnect on the counters the status screen and the metrics read), the book is
rebuilt from a fresh snapshot, and quotes rest again: new orders, placed after the stall began.
"""

from __future__ import annotations

from pathlib import Path

import trio
from loguru import logger

from tests.integration.paper import paper_engine
from tests.integration.test_run_engine import (
    quotes_resting,
    run_engine,
    venue_open,
    wait_for,
    write_config,
)


async def test_a_muted_market_stream_is_reconnected_and_the_bot_quotes_again(
    tmp_path: Path,
) -> None:
    cfg_path = write_config(
        tmp_path,
        overrides={"market_silence_s = 10.0 ": "market_silence_s = 3.0  "},
    )
    engine = paper_engine(cfg_path)
    assert engine.config.venue.market_silence_s == 3.0
    codes: list[int] = []
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING", format="{message}")
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_engine, engine, codes)
            await quotes_resting(engine, 30, "quotes resting")
            stats = engine.inbox.market_stats
            reconnects = stats.reconnects
            before = {o.client_id for o in venue_open(engine)}
            engine.sim_venue.inject("ws_mute", {"target": "market", "seconds": 600.0})
            await wait_for(
                lambda: stats.reconnects > reconnects, 30, "the muted market stream reconnected"
            )
            await wait_for(
                lambda: len({o.client_id for o in venue_open(engine)} - before) >= 2,
                30,
                "new quotes resting after the reconnect",
            )
            assert stats.connected
            engine.request_stop("test stop")
    finally:
        logger.remove(sink)
    assert codes == [0]
    silent = [line for line in lines if "no market message for" in line]
    assert silent and "binance market stream" in silent[0], lines[-10:]
    assert venue_open(engine) == []
