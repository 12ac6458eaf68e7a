"""The simulated Binance venue's order answers a QA pass found wrong or missing: the ACK of
an order that filled on arrival (the order at acceptance, not after its fills), and the
batch endpoints (``POST``/``DELETE /fapi/v1/batchOrders``), with real HTTP and websocket
clients against the sim on loopback."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from trio_websocket import open_websocket_url

from mmtrio.sim.binance.auth import sign
from tests.integration.sim_helpers import KEY, ORDER, SECRET, running_sim, signed

pytestmark = pytest.mark.integration
SYM = "BTCUSDT"
ACK_AT_ACCEPT = {"status": "NEW", "executedQty": "0", "cumQty": "0", "cumQuote": "0",
                 "avgPrice": "0.00"}  # fmt: skip


async def best(http: httpx.AsyncClient, rest: str) -> tuple[float, float]:
    book = (await http.get(f"{rest}/fapi/v1/depth", params={"symbol": SYM, "limit": 5})).json()
    return float(book["bids"][0][0]), float(book["asks"][0][0])


def taker(ask: float, **extra: str) -> dict[str, str]:
    """A limit buy through the best ask: it fills on arrival."""
    return {"symbol": SYM, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
            "quantity": "0.002", "price": f"{ask + 20:.1f}", **extra}  # fmt: skip


def ws_signed(params: dict[str, Any]) -> dict[str, Any]:
    full = {**params, "apiKey": KEY, "timestamp": int(time.time() * 1000)}
    query = urlencode(sorted(full.items()))
    return {**full, "signature": sign(SECRET, query)}


async def test_ack_of_an_order_that_filled_on_arrival_is_the_order_at_acceptance() -> None:
    async with running_sim() as (venue, urls), httpx.AsyncClient() as http:
        _, ask = await best(http, urls.rest)
        for extra in ({}, {"newOrderRespType": "ACK"}):
            r = await signed(http, "POST", f"{urls.rest}/fapi/v1/order", taker(ask, **extra))
            assert r.status_code == 200, r.text
            ack = r.json()
            assert {k: ack[k] for k in ACK_AT_ACCEPT} == ACK_AT_ACCEPT
            assert ack["origQty"] == "0.002"
            # it did fill: the venue says so when asked, and ACK hid nothing it did
            q = await signed(http, "GET", f"{urls.rest}/fapi/v1/order",
                             {"symbol": SYM, "orderId": ack["orderId"]})  # fmt: skip
            now = q.json()
            assert now["status"] == "FILLED" and now["executedQty"] == "0.002"
            assert float(now["avgPrice"]) > 0 and float(now["cumQuote"]) > 0
            assert ack["updateTime"] <= now["updateTime"]
        # RESULT keeps the state after the match
        r = await signed(http, "POST", f"{urls.rest}/fapi/v1/order",
                         taker(ask, newOrderRespType="RESULT"))  # fmt: skip
        result = r.json()
        assert result["status"] == "FILLED" and result["executedQty"] == "0.002"
        assert result["cumQty"] == "0.002" and float(result["avgPrice"]) > 0
        # the same over ws-fapi order.place
        async with open_websocket_url(f"{urls.ws}/ws-fapi/v1") as ws:
            for i, extra in enumerate(({}, {"newOrderRespType": "RESULT"})):
                params = ws_signed(taker(ask, **extra))
                await ws.send_message(json.dumps({"id": i, "method": "order.place",
                                                  "params": params}))  # fmt: skip
                answer = json.loads(await ws.get_message())
                assert answer["status"] == 200, answer
                got = answer["result"]
                if extra:
                    assert got["status"] == "FILLED" and got["executedQty"] == "0.002"
                else:
                    assert {k: got[k] for k in ACK_AT_ACCEPT} == ACK_AT_ACCEPT
        assert venue.account.position == 10  # five fills of 0.002 (lots of 0.001)


async def test_batch_orders_answer_each_order_in_place_and_count_as_binance() -> None:
    async with running_sim() as (venue, urls), httpx.AsyncClient() as http:
        bid, _ = await best(http, urls.rest)
        rest = {**ORDER, "price": f"{bid - 300:.1f}"}
        orders = [
            {**rest, "newClientOrderId": "batch-a"},
            {**rest, "price": f"{bid - 300:.1f}5"},  # off the tick grid
            {**rest, "newClientOrderId": "batch-a"},  # a duplicate client id
            {**rest, "newClientOrderId": "batch-b", "quantity": 0.02, "reduceOnly": False},
            {**rest, "timestamp": "1"},  # a parameter an order does not read
        ]
        url = f"{urls.rest}/fapi/v1/batchOrders"
        before = venue.limiter.weight.used
        r = await signed(http, "POST", url, {"batchOrders": json.dumps(orders)}, in_body=True)
        assert r.status_code == 200, r.text
        a, off_tick, dup, b, extra = r.json()
        assert a["clientOrderId"] == "batch-a" and a["status"] == "NEW"
        assert off_tick["code"] == -4014
        assert dup["code"] < 0 and "msg" in dup
        assert b["clientOrderId"] == "batch-b" and b["origQty"] == "0.020"
        assert extra["code"] == -1104
        assert {o.client_id for o in venue.engine.open_orders()} >= {"batch-a", "batch-b"}
        # Binance: weight 5, 5 on the 10 s order count, 1 on the minute's
        assert int(r.headers["x-mbx-used-weight-1m"]) - before == 5
        assert r.headers["x-mbx-order-count-10s"] == "5"
        assert r.headers["x-mbx-order-count-1m"] == "1"
        for bad, code in ((orders * 2, -4082), ([], -4082), ("[{", -1130), ('{"a": 1}', -1130)):
            text = bad if isinstance(bad, str) else json.dumps(bad)
            r = await signed(http, "POST", url, {"batchOrders": text}, in_body=True)
            assert r.status_code == 400 and r.json()["code"] == code, (bad, r.text)
        # DELETE: each id in place, an unknown one -2011
        ids = json.dumps([a["orderId"], 987654321])
        r = await signed(http, "DELETE", url, {"symbol": SYM, "orderIdList": ids})
        assert r.status_code == 200, r.text
        cancelled, unknown = r.json()
        assert cancelled["status"] == "CANCELED" and cancelled["clientOrderId"] == "batch-a"
        assert unknown == {"code": -2011, "msg": "Unknown order sent."}
        cids = json.dumps(["batch-b"])
        r = await signed(http, "DELETE", url, {"symbol": SYM, "origClientOrderIdList": cids})
        assert [o["status"] for o in r.json()] == ["CANCELED"]
        r = await signed(http, "DELETE", url, {"symbol": SYM})
        assert r.status_code == 400 and r.json()["code"] == -1102
        r = await signed(
            http, "DELETE", url, {"symbol": SYM, "orderIdList": "[1,2,3,4,5,6,7,8,9,10,11]"}
        )
        assert r.status_code == 400 and r.json()["code"] == -1130
        assert not any(o.client_id.startswith("batch-") for o in venue.engine.open_orders())
