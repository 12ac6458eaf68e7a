"""Liquidation on the simulated venue (issue 13): the liquidation price every front end reports,
and the liquidation itself when the mark reaches it (open orders cancelled, the position
closed by the venue's own ``autoclose-…`` order, the wallet debited the loss and the clearance
fee). The venue runs no market (the book stays the seed's snapshot); the ``mark_price`` fault
moves the mark. The Binance user stream is served over an in-memory stream, on a virtual clock.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
import trio

from mmtrio.core.instruments import BTCUSDT
from mmtrio.sim import liquidation
from mmtrio.sim.account import SimAccount
from mmtrio.sim.binance.auth import DEFAULT_CREDENTIALS
from mmtrio.sim.errors import SimBadRequest
from mmtrio.sim.paper import replay_driver
from mmtrio.sim.venue import SimConfig, SimVenue
from tests.integration.sim_helpers import DATA, data_instrument, signed_query
from tests.integration.test_sim_injected_events import events, new_venue, rest_buy, user_stream

MMR = Decimal("0.025")


@pytest.mark.parametrize(("lots", "balance"), [(1000, "3000"), (-1000, "3000"), (-7, "20")])
def test_at_the_liquidation_price_the_margin_balance_is_the_maintenance_margin(
    lots: int, balance: str
) -> None:
    acct = SimAccount(BTCUSDT, balance=Decimal(balance))
    acct.adjust_position(lots, 600_000, 0)  # at 60,000.0 (tick 0.1)
    liq = acct.liquidation_price(MMR)
    assert liq is not None
    # Binance's condition: wallet + unrealised == maintenance margin at the liquidation price
    margin_balance = acct.balance + acct.unrealized(liq)
    assert abs(margin_balance - acct.maintenance(liq, MMR)) < Decimal("1e-20")
    assert (liq < 60_000) if lots > 0 else (liq > 60_000)


def test_no_liquidation_price_when_flat_or_when_the_wallet_covers_a_long_to_zero() -> None:
    acct = SimAccount(BTCUSDT, balance=Decimal(100_000))
    assert acct.liquidation_price(MMR) is None
    acct.adjust_position(1000, 600_000, 0)  # 1 BTC long at 60,000 on a 100,000 wallet
    assert acct.liquidation_price(MMR) is None


async def _position_risk(venue: SimVenue) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=venue.front.rest_app)
    headers = {"X-MBX-APIKEY": DEFAULT_CREDENTIALS.api_key}
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        query = signed_query({"symbol": venue.symbol}, ts=venue.wall_ms())
        resp = await http.get(f"/fapi/v2/positionRisk?{query}", headers=headers)
    assert resp.status_code == 200, resp.text
    (row,) = resp.json()
    assert isinstance(row, dict)
    return row


async def test_binance_reports_the_price_and_liquidates_when_the_mark_reaches_it(
    autojump_clock: object,
) -> None:
    venue, front = new_venue()
    venue.account.balance = Decimal(3000)
    async with trio.open_nursery() as nursery:
        try:
            ws = await user_stream(nursery, front)
            rest_buy(venue, front, "bid-1", 50)  # resting: the liquidation cancels it
            await events(ws, 1)
            venue.inject("position_adjust", {"lots": 1000})  # 1 BTC long, 20x on 3,000
            await events(ws, 1)
            liq = liquidation.liquidation_price(venue)
            assert liq is not None
            row = await _position_risk(venue)
            assert Decimal(row["liquidationPrice"]) == liq.quantize(Decimal("0.1"), "ROUND_FLOOR")
            assert row["liquidationPrice"] != "0"

            venue.inject("mark_price", {"price": str(liq + Decimal(5))})  # near, not at it
            assert venue.account.position == 1000 and venue.liquidations == []

            entry, balance = venue.account.entry_price, venue.account.balance
            venue.inject("mark_price", {"price": str(liq)})
            cancel, trade, account = await events(ws, 3)
            assert cancel["o"]["c"] == "bid-1" and cancel["o"]["X"] == "CANCELED"
            o = trade["o"]
            assert trade["e"] == "ORDER_TRADE_UPDATE" and o["o"] == "LIQUIDATION", trade
            assert o["x"] == "CALCULATED" and o["X"] == "FILLED" and o["S"] == "SELL"
            assert o["c"].startswith("autoclose-") and o["z"] == "1.000" and o["t"] > 0
            assert account["e"] == "ACCOUNT_UPDATE" and account["a"]["P"][0]["pa"] == "0.000"
        finally:
            nursery.cancel_scope.cancel()

    price = Decimal(o["L"])
    assert price <= liq  # a tick against the account
    fee = price * Decimal(1) * Decimal("0.0125")
    assert Decimal(o["n"]) == fee
    assert venue.account.position == 0 and venue.engine.position == 0
    assert venue.engine.open_orders() == []
    assert venue.account.balance == balance + (price - entry) - fee
    assert venue.account.balance > 0  # liquidated at the price: the wallet keeps the rest
    (rec,) = venue.ground_truth()["liquidations"]
    assert rec["client_id"] == o["c"] and rec["cancelled_orders"] == 1 and rec["lots"] == 1000
    assert venue.ground_truth()["liquidation_price"] is None  # flat now


async def test_a_short_is_liquidated_when_the_mark_rises_through_it(
    autojump_clock: object,
) -> None:
    venue, _ = new_venue()
    venue.account.balance = Decimal(3000)
    venue.inject("position_adjust", {"lots": -1000})
    liq = liquidation.liquidation_price(venue)
    assert liq is not None and liq > venue.mark_price()
    venue.inject("mark_price", {"price": str(liq + 100)})  # gapped through it
    assert venue.account.position == 0
    (fill,) = list(venue.account.fills)
    assert fill.side.value == "BUY" and fill.client_id.startswith("autoclose-")
    assert venue.account.balance >= 0  # the fee never takes the wallet below zero
    venue.inject("mark_price", {"price": None})  # cleared: the market's mark again
    assert venue.mark_override is None


async def test_the_mark_price_fault_refuses_a_price_that_is_not_one() -> None:
    venue, _ = new_venue()
    for bad in ("abc", -5, True, "NaN"):
        with pytest.raises(SimBadRequest, match="positive decimal"):
            venue.inject("mark_price", {"price": bad})


def _venue_for(name: str) -> tuple[SimVenue, Any]:
    venue = SimVenue(
        replay_driver([DATA], data_instrument(DATA)), SimConfig(initial_balance=Decimal(3000))
    )
    if name == "okx":
        from mmtrio.sim.okx.frontend import FRONT_END as OKX

        return venue, OKX.create(venue)
    if name == "hyperliquid":
        from mmtrio.sim.hyperliquid.frontend import FRONT_END as HL

        return venue, HL.create(venue)
    from mmtrio.sim.extended.frontend import FRONT_END as EXT

    return venue, EXT.create(venue)


def _reported(name: str, front: Any, venue: SimVenue) -> str | None:
    if name == "okx":
        (row,) = front.streams.position_rows()
        return str(row["liqPx"])
    if name == "hyperliquid":
        from mmtrio.sim.hyperliquid import info

        body = info.clearinghouse(front, {"user": front.accounts.account})
        return body["assetPositions"][0]["position"]["liquidationPx"]  # type: ignore[no-any-return]
    from mmtrio.sim.extended import render

    rows = render.positions_json(venue, front.leverage)
    return rows[0]["liquidationPrice"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", ["okx", "hyperliquid", "extended"])
async def test_every_front_end_reports_the_price_and_survives_a_liquidation(name: str) -> None:
    venue, front = _venue_for(name)
    lots = 1000 * 10 ** (venue.instrument.qty_decimals - 3)  # 1 BTC
    venue.inject("position_adjust", {"lots": lots})
    liq = liquidation.liquidation_price(venue)
    assert liq is not None
    said = _reported(name, front, venue)
    assert said is not None and abs(Decimal(said) - liq) < Decimal("0.00001"), said
    venue.inject("mark_price", {"price": str(liq)})
    assert venue.account.position == 0 and len(venue.liquidations) == 1
