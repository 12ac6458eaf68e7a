"""Shared helpers for the sim integration tests: in-process venue, signed requests."""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import trio

from mmtrio.core.instruments import Instrument
from mmtrio.sim.binance.auth import DEFAULT_CREDENTIALS, sign
from mmtrio.sim.binance.frontend import FRONT_END
from mmtrio.sim.paper import replay_driver
from mmtrio.sim.server import SimUrls, serve_sim
from mmtrio.sim.venue import SimConfig, SimVenue
from mmtrio.venues.binance.recording import scan_recording

DATA = Path(__file__).resolve().parents[2] / "data" / "binance-usdm" / "btcusdt_20240808.gz"
KEY = DEFAULT_CREDENTIALS.api_key
SECRET = DEFAULT_CREDENTIALS.api_secret
# a passive post-only buy far below the market: rests without filling
ORDER = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTX",
    "quantity": "0.010",
    "price": "50000.00",
}


@functools.cache
def data_instrument(*paths: Path) -> Instrument:
    """The instrument a recording states (what `mmtrio sim` and paper trading serve)."""
    return scan_recording(list(paths)).instrument


@asynccontextmanager
async def running_sim(
    config: SimConfig | None = None, data: Sequence[Path] = (DATA,)
) -> AsyncIterator[tuple[SimVenue, SimUrls]]:
    """The sim on loopback, in process, replaying ``data`` (default: BTCUSDT 2024-08-08)."""
    driver = replay_driver(list(data), data_instrument(*data))
    venue = SimVenue(driver, config or SimConfig(speed=5.0))
    FRONT_END.create(venue)  # the Binance front end
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(serve_sim, venue)
        yield venue, urls
        nursery.cancel_scope.cancel()


def signed_query(params: dict[str, Any], secret: str = SECRET, ts: int | None = None) -> str:
    full = {**params, "timestamp": ts if ts is not None else int(time.time() * 1000)}
    query = urlencode(full)
    return f"{query}&signature={sign(secret, query)}"


async def signed(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    params: dict[str, Any],
    *,
    in_body: bool = False,
) -> httpx.Response:
    """A signed request: params in the query string, or in a form body (both are valid)."""
    q = signed_query(params)
    headers = {"X-MBX-APIKEY": KEY}
    if in_body:
        headers["content-type"] = "application/x-www-form-urlencoded"
        return await client.request(method, url, content=q.encode(), headers=headers)
    return await client.request(method, f"{url}?{q}", headers=headers)
