"""The simulated venue without sockets, on a virtual clock: what a one-``trio.run`` simulation
(bot and venue together, issue 21) needs of it.

REST through an httpx ASGI transport calling the front end's app, a websocket over an
in-memory stream pair, time from ``TrioClock`` (Trio's clock under ``autojump_clock``),
session keys from the seeded RNG: the same seed gives the same run.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
import trio
import trio.testing
from trio_websocket import wrap_client_stream

from mmtrio.core.instruments import BTCUSDT
from mmtrio.sim.binance.auth import DEFAULT_CREDENTIALS
from mmtrio.sim.binance.frontend import FRONT_END
from mmtrio.sim.clock import TrioClock
from mmtrio.sim.server import run_venue
from mmtrio.sim.synthetic import SyntheticDriver, SyntheticParams
from mmtrio.sim.venue import SimConfig, SimVenue

EPOCH_MS = 1_700_000_000_000


async def one_run(seed: int) -> dict[str, Any]:
    venue = SimVenue(
        SyntheticDriver(BTCUSDT, 3, SyntheticParams()),
        SimConfig(clock=TrioClock(EPOCH_MS), seed=seed),
    )
    front = FRONT_END.create(venue)
    headers = {"X-MBX-APIKEY": DEFAULT_CREDENTIALS.api_key}
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_venue, venue)
        await venue.started.wait()
        await trio.sleep(5)  # five virtual seconds of market
        transport = httpx.ASGITransport(app=front.rest_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
            server_time = (await http.get("/fapi/v1/time")).json()["serverTime"]
            now_ms = int(trio.current_time() * 1000)
            key = (await http.post("/fapi/v1/listenKey", headers=headers)).json()["listenKey"]
        client_side, server_side = trio.testing.memory_stream_pair()
        nursery.start_soon(front.serve_ws, server_side)
        # an in-memory stream: trio-websocket's annotation says socket, any Stream works
        ws = await wrap_client_stream(nursery, client_side, "sim", "/ws/btcusdt@depth")  # type: ignore[arg-type]
        diffs = [json.loads(await ws.get_message()) for _ in range(3)]
        await ws.aclose()
        nursery.cancel_scope.cancel()
    return {"server_time": server_time, "now_ms": now_ms, "key": key, "diffs": diffs}


async def test_rest_and_websocket_served_in_memory_on_virtual_time(autojump_clock: object) -> None:
    run = await one_run(seed=11)
    assert run["server_time"] == EPOCH_MS + run["now_ms"]  # the wall clock is Trio's clock
    diffs = run["diffs"]
    assert isinstance(diffs, list) and [d["e"] for d in diffs] == ["depthUpdate"] * 3
    for before, after in itertools.pairwise(diffs):
        assert after["pu"] == before["u"]  # an unbroken chain, over a memory stream


def run_alone(seed: int) -> dict[str, object]:
    """One run in its own ``trio.run`` on a fresh virtual clock, as a simulation runs."""
    result: dict[str, object] = trio.run(
        one_run, seed, clock=trio.testing.MockClock(autojump_threshold=0)
    )
    return result


def test_the_same_seed_gives_the_same_run() -> None:
    first, again, other = run_alone(11), run_alone(11), run_alone(12)
    assert first == again  # times, ids, payloads and the session key, byte for byte
    assert other["key"] != first["key"]
