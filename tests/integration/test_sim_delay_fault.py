"""The ``delay`` fault: every injection holds its own responses by its own ``ms``.

DST seed 103824: a bot starting up met two ``delay`` injections (5 x 264 ms, then 6 x
1,251 ms) and later ones (6 x 206 ms, 2 x 1,223 ms, ...). The sim kept one ``ms`` for all of
them, the newest, so the earlier injections' responses were held as long as the latest one
said: 19 of the 21 answers the start-up read came after the bot's 1 s request timeout, and
its start-up gave up after 30 s (exit 1). Served on a virtual clock through the Binance front
end in-process.
"""

from __future__ import annotations

import httpx
import pytest
import trio

from mmtrio.core.instruments import BTCUSDT
from mmtrio.sim.binance.frontend import FRONT_END
from mmtrio.sim.clock import TrioClock
from mmtrio.sim.synthetic import SyntheticDriver, SyntheticParams
from mmtrio.sim.venue import SimConfig, SimVenue

pytestmark = pytest.mark.integration


async def held_for(http: httpx.AsyncClient) -> float:
    """Virtual seconds one ``GET /fapi/v1/time`` took to be answered."""
    t0 = trio.current_time()
    assert (await http.get("/fapi/v1/time")).status_code == 200
    return round(trio.current_time() - t0, 3)


async def test_each_delay_injection_keeps_its_own_hold(autojump_clock: object) -> None:
    venue = SimVenue(
        SyntheticDriver(BTCUSDT, 5, SyntheticParams()),
        SimConfig(clock=TrioClock(1_700_000_000_000), seed=5),
    )
    front = FRONT_END.create(venue)
    transport = httpx.ASGITransport(app=front.rest_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        base = await held_for(http)  # the venue's own latency, without a fault
        venue.inject("delay", {"count": 2, "ms": 250})
        venue.inject("delay", {"count": 1, "ms": 1_500})
        assert venue.faults.delay_count == 3
        holds = [await held_for(http) - base for _ in range(4)]
        # in the order injected, each with its own ms; then none
        assert holds == pytest.approx([0.25, 0.25, 1.5, 0.0], abs=0.002)
        assert [end - start for start, end in venue.faults.held] == [250, 250, 1_500]

        venue.inject("delay", {"count": 3, "ms": 400})
        venue.inject("disarm")
        assert venue.faults.delay_count == 0
        assert await held_for(http) - base == pytest.approx(0.0, abs=0.002)
