"""The dead-man is armed before the bot's first order (runtime/engine_startup.py).

A restarted bot's predecessor may have left the venue's countdown running, and a refresh
of the killed process held by a silent link can re-arm it after the successor started
(Binance chaos seed 16021). Start-up now arms the countdown itself before the trading loop
runs, so no order of ours goes out unprotected or under a predecessor's countdown; the
supervisor's heartbeat then starts refreshing from that arm instead of arming again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio

from mmtrio.errors import ConnectionFailed
from mmtrio.venues.binance import gateway as binance_gateway
from tests.integration.paper import paper_engine
from tests.integration.test_run_engine import quotes_resting, run_engine, write_config

UNREACHABLE_S = 3.0  # the countdown endpoint refuses connections this long after the start


async def test_no_order_goes_out_before_the_first_arm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = paper_engine(write_config(tmp_path))
    arms: list[tuple[float, int]] = []  # (trio time, countdown ms) the venue applied
    places: list[float] = []
    start = trio.current_time()
    real_arm = binance_gateway.RestGateway.arm_deadman

    async def slow_arm(self: Any, symbol: str, countdown_ms: int) -> None:
        if trio.current_time() < start + UNREACHABLE_S:
            raise ConnectionFailed("test: the countdown endpoint is unreachable")
        await real_arm(self, symbol, countdown_ms)

    monkeypatch.setattr(binance_gateway.RestGateway, "arm_deadman", slow_arm)
    venue = engine.sim_venue
    real_set, real_place = venue.set_countdown, venue.engine.place

    def set_countdown(ms: int) -> None:
        arms.append((trio.current_time(), ms))
        real_set(ms)

    def place(order: Any, ts: int) -> Any:
        places.append(trio.current_time())
        return real_place(order, ts)

    monkeypatch.setattr(venue, "set_countdown", set_countdown)
    monkeypatch.setattr(venue.engine, "place", place)
    codes: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, engine, codes)
        await quotes_resting(engine, 30, "quotes resting")
        await trio.sleep(0.5)
        engine.request_stop("SIGTERM")
    assert codes == [0]
    assert arms and places, (arms, places)
    first_arm, countdown = arms[0]
    assert countdown > 0
    assert first_arm >= start + UNREACHABLE_S  # the slow arm was waited for ...
    assert places[0] > first_arm, (places[0] - start, first_arm - start)  # ... by every order
    # The heartbeat did not arm again at once: its next arm is a refresh period later.
    refresh_s = engine.config.runtime.deadman_refresh_ms / 1000
    later = [t for t, ms in arms[1:] if ms > 0]
    assert all(t - first_arm >= refresh_s * 0.9 for t in later), (later, first_arm)
