"""A clock sync through the sim's ``delay`` fault: one slow answer does not move the offset.

Operator QA: with ``delay`` holding one REST answer 3 s, a sync took that answer's round-trip
midpoint, measured -1503 ms and told the operator to check NTP. Served on a virtual clock
through the Binance front end in-process; our clock and the venue's are the same clock here,
so the true offset is 0.
"""

from __future__ import annotations

import httpx
import pytest
import trio
from loguru import logger

from mmtrio.core.instruments import BTCUSDT
from mmtrio.runtime.clock_watch import watch_clock
from mmtrio.sim.binance.frontend import FRONT_END
from mmtrio.sim.clock import TrioClock
from mmtrio.sim.synthetic import SyntheticDriver, SyntheticParams
from mmtrio.sim.venue import SimConfig, SimVenue
from mmtrio.venues.binance.rest import BinanceRest

pytestmark = pytest.mark.integration

EPOCH_MS = 1_700_000_000_000


def sim_rest() -> tuple[SimVenue, BinanceRest]:
    clock = TrioClock(EPOCH_MS)
    venue = SimVenue(SyntheticDriver(BTCUSDT, 5, SyntheticParams()), SimConfig(clock=clock, seed=5))
    transport = httpx.ASGITransport(app=FRONT_END.create(venue).rest_app)
    return venue, BinanceRest("http://sim", clock_ms=clock.now_ms, transport=transport)


async def test_one_delayed_answer_leaves_the_offset_alone(autojump_clock: object) -> None:
    venue, rest = sim_rest()
    venue.inject("delay", {"count": 1, "ms": 3_000})
    reading = await rest.sync_time()
    assert venue.faults.held, "the delay fault held no answer"
    assert reading.measured and abs(reading.offset_ms) <= 5, reading
    assert reading.discarded == 1 and not reading.host_clock_suspect(500)
    assert rest.time_offset_ms == reading.offset_ms
    await rest.aclose()


class Session:
    def __init__(self, rest: BinanceRest) -> None:
        self.rest = rest

    async def sync_clock(self) -> object:
        return await self.rest.sync_time()


async def test_every_answer_delayed_keeps_the_offset_and_says_the_venue_is_slow(
    autojump_clock: object,
) -> None:
    venue, rest = sim_rest()
    rest.time_offset_ms = 7  # measured before
    venue.inject("delay", {"count": 3, "ms": 3_000})
    seen: list[int] = []
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING", format="{message}")
    try:
        with trio.move_on_after(60 + 30):  # one sync, answered in about 10 s
            await watch_clock(Session(rest), seen.append, interval_s=60)  # type: ignore[arg-type]
    finally:
        logger.remove(sink)
    assert len(venue.faults.held) == 3
    assert seen == [] and rest.time_offset_ms == 7
    assert len(lines) == 1 and "kept at 7 ms" in lines[0] and "not a clock problem" in lines[0]
    await rest.aclose()
