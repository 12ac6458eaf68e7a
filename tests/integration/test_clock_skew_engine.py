"""The whole bot on the paper venue when the venue's clock jumps away from ours: its requests
are refused for their timestamp (Binance -1021), and the bot's reaction is the one the reject
policy names: definite refusals (no unknown outcome, nothing to resolve), counted, the clock
offset measured again at once (the strategy's own copy too, not only the signing client's),
and quoting goes on; the stop is clean."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from mmtrio.core.events import AmendRejected, Event, OutcomeUnknown, PlaceRejected
from mmtrio.core.rejects import RejectKind
from tests.integration.paper import paper_engine
from tests.integration.test_run_engine import quotes_resting, run_engine, wait_for, write_config

pytestmark = pytest.mark.integration
SKEW_MS = 20_000  # far outside Binance's default 5 s recvWindow


async def test_a_venue_clock_jump_is_refused_measured_again_and_trading_goes_on(
    tmp_path: Path,
) -> None:
    engine = paper_engine(write_config(tmp_path))
    codes: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, engine, codes)
        await quotes_resting(engine, 30, "two quotes resting at the venue")
        mm, run = engine.mm, engine.running
        assert mm is not None and run is not None
        before = mm.venue_offset_ms
        outcomes: list[Event] = []  # every outcome execution hands the strategy from now on
        inner = run.execution.events_out

        class Recording:
            async def send(self, event: Event) -> None:
                outcomes.append(event)
                await inner.send(event)

        run.execution.events_out = Recording()
        engine.sim_venue.inject("clock_skew", {"ms": SKEW_MS})
        # The next order requests are refused for their timestamp...
        await wait_for(lambda: run.execution.clock_rejects > 0, 30, "a request refused (-1021)")
        # ...and the watch measures the offset again well before its 60 s interval.
        await wait_for(
            lambda: abs(mm.venue_offset_ms - before - SKEW_MS) < 2_000, 20, "the offset measured"
        )
        assert engine.clock_resync.requests >= run.execution.clock_rejects > 0
        refusals = [e for e in outcomes if isinstance(e, PlaceRejected | AmendRejected)]
        kinds = {e.kind for e in refusals}
        assert RejectKind.CLOCK_SKEW in kinds and RejectKind.UNKNOWN not in kinds, refusals
        assert not [e for e in outcomes if isinstance(e, OutcomeUnknown)]  # all definite
        # Trading goes on with the corrected clock: new quotes are accepted and rest.
        placed = engine.sim_venue.account.orders.copy()
        await wait_for(
            lambda: any(
                cid not in placed and rec.status == "NEW"
                for cid, rec in engine.sim_venue.account.orders.items()
            ),
            30,
            "a new quote accepted after the jump",
        )
        engine.request_stop("test stop")
    assert codes == [0]
