"""Shared helpers for the sim integration tests: in-process venue, signed requests."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import trio

from mmtrio.core.instruments import BTCUSDT
from mmtrio.sim.auth import sign
from mmtrio.sim.replay import ReplayDriver
from mmtrio.sim.server import SimUrls, serve_sim
from mmtrio.sim.venue import DEFAULT_CREDENTIALS, SimConfig, SimVenue

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


@asynccontextmanager
async def running_sim(config: SimConfig | None = None) -> AsyncIterator[tuple[SimVenue, SimUrls]]:
    venue = SimVenue(ReplayDriver([DATA], BTCUSDT), config or SimConfig(speed=5.0))
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
