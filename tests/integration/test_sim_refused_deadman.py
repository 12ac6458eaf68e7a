"""Every simulated front end says in its ground truth when it refused a dead-man request
with a server error (``countdown_refused``), and only that: the chaos judge counts those as
the bot's attempts (invariant 11, DST seed 110819). The error fault comes before any
signature check, so the requests here need none. Served on a virtual clock in-process.
"""

from __future__ import annotations

import json

import httpx
import pytest

from mmtrio.core.instruments import BTCUSDT
from mmtrio.sim import frontends
from mmtrio.sim.clock import TrioClock
from mmtrio.sim.synthetic import SyntheticDriver, SyntheticParams
from mmtrio.sim.venue import SimConfig, SimVenue

pytestmark = pytest.mark.integration
HL_DEADMAN = json.dumps({"action": {"type": "scheduleCancel", "time": 1_700_000_060_000}})

# front end: (the dead-man request, another request), each as (method, path, body)
REQUESTS = {
    "binance": (
        ("POST", "/fapi/v1/countdownCancelAll?symbol=BTCUSDT&countdownTime=5000", ""),
        ("GET", "/fapi/v1/openOrders?symbol=BTCUSDT", ""),
    ),
    "okx": (
        ("POST", "/api/v5/trade/cancel-all-after", '{"timeOut": "10"}'),
        ("GET", "/api/v5/trade/orders-pending", ""),
    ),
    "extended": (
        ("POST", "/api/v1/user/deadmanswitch?countdownTime=10", ""),
        ("GET", "/api/v1/user/balance", ""),
    ),
    "hyperliquid": (("POST", "/exchange", HL_DEADMAN), ("POST", "/info", '{"type": "meta"}')),
}


@pytest.mark.parametrize("name", sorted(REQUESTS))
async def test_a_dead_man_request_refused_with_a_server_error_is_recorded(
    autojump_clock: object, name: str
) -> None:
    venue = SimVenue(
        SyntheticDriver(BTCUSDT, 5, SyntheticParams()),
        SimConfig(clock=TrioClock(1_700_000_000_000), seed=5),
    )
    front = frontends.factory(name).create(venue)
    transport = httpx.ASGITransport(app=front.rest_app)
    deadman, other = REQUESTS[name]
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:

        async def refused(method: str, path: str, body: str) -> None:
            venue.inject("error_code", {"count": 1, "status": 500})
            answer = await http.request(method, path, content=body)
            assert answer.status_code == 500

        await refused(*other)
        assert venue.ground_truth()["countdown_refused"] == []
        await refused(*deadman)
        assert venue.ground_truth()["countdown_refused"] == [venue.true_ms()]
