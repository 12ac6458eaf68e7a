"""The sim's account modes as Binance has them: position mode, and margin on new orders."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from mmtrio.sim.venue import SimConfig
from tests.integration.sim_helpers import ORDER, running_sim, signed

pytestmark = pytest.mark.integration
DUAL = "/fapi/v1/positionSide/dual"


async def test_position_mode_is_read_changed_and_enforced_on_orders() -> None:
    async with running_sim() as (venue, urls), httpx.AsyncClient(base_url=urls.rest) as http:
        r = await signed(http, "GET", DUAL, {})
        assert r.json() == {"dualSidePosition": False}
        r = await signed(http, "POST", DUAL, {"dualSidePosition": "false"})
        assert r.json()["code"] == -4059  # already one-way
        r = await signed(http, "POST", DUAL, {"dualSidePosition": "true"})
        assert r.status_code == 200, r.text
        assert venue.front.dual_side  # type: ignore[attr-defined]
        assert (await signed(http, "GET", DUAL, {})).json() == {"dualSidePosition": True}
        # Hedge mode: an order without LONG/SHORT is refused -4061 (what mmtrio sends).
        r = await signed(http, "POST", "/fapi/v1/order", ORDER)
        assert r.json()["code"] == -4061
        r = await signed(http, "POST", "/fapi/v1/order", {**ORDER, "positionSide": "LONG"})
        assert r.status_code == 200, r.text
        # With an open order the mode cannot change.
        r = await signed(http, "POST", DUAL, {"dualSidePosition": "false"})
        assert r.json()["code"] == -4068


async def test_an_order_beyond_the_available_margin_is_refused_2019() -> None:
    config = SimConfig(speed=5.0, initial_balance=Decimal(600))
    async with running_sim(config) as (venue, urls), httpx.AsyncClient(base_url=urls.rest) as h:
        venue.front.leverage = 1  # type: ignore[attr-defined]
        # 0.010 BTC at 50,000 = 500 USDT of margin at 1×: fits in 600 once, not twice.
        r = await signed(h, "POST", "/fapi/v1/order", {**ORDER, "newClientOrderId": "m1"})
        assert r.status_code == 200, r.text
        r = await signed(h, "POST", "/fapi/v1/order", {**ORDER, "newClientOrderId": "m2"})
        assert (r.status_code, r.json()["code"]) == (400, -2019), r.text
        # A reduce-only order needs no margin (it is refused for another reason: no position).
        body = {**ORDER, "side": "SELL", "price": "99000.00", "reduceOnly": "true"}
        r = await signed(h, "POST", "/fapi/v1/order", {**body, "newClientOrderId": "m3"})
        assert r.json()["code"] != -2019, r.text
        venue.front.leverage = 20  # type: ignore[attr-defined]  # 25 USDT each at 20x: room again
        r = await signed(h, "POST", "/fapi/v1/order", {**ORDER, "newClientOrderId": "m4"})
        assert r.status_code == 200, r.text
