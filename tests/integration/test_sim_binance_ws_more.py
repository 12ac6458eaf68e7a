"""The simulated Binance venue's websockets, as a QA pass found them lacking: the ws-fapi
account methods, partial book depth streams and the documented codes of a refused
market-stream control message. A real websocket client (trio-websocket) on loopback."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
import pytest
from trio_websocket import WebSocketConnection, open_websocket_url

from tests.integration.sim_helpers import ORDER, running_sim, signed
from tests.integration.test_sim_binance_orders_more import best, ws_signed

pytestmark = pytest.mark.integration
SYM = "BTCUSDT"
V2_POSITION = {"symbol", "positionAmt", "entryPrice", "breakEvenPrice", "markPrice",
               "unRealizedProfit", "liquidationPrice", "leverage", "maxNotionalValue",
               "marginType", "isolatedMargin", "isAutoAddMargin", "positionSide", "notional",
               "isolatedWallet", "updateTime"}  # fmt: skip
V3_POSITION = {"symbol", "positionSide", "positionAmt", "entryPrice", "breakEvenPrice",
               "markPrice", "unRealizedProfit", "liquidationPrice", "isolatedMargin",
               "notional", "marginAsset", "isolatedWallet", "initialMargin", "maintMargin",
               "positionInitialMargin", "openOrderInitialMargin", "adl", "bidNotional",
               "askNotional", "updateTime"}  # fmt: skip
BALANCE = {"accountAlias", "asset", "balance", "crossWalletBalance", "crossUnPnl",
           "availableBalance", "maxWithdrawAmount", "marginAvailable", "updateTime"}  # fmt: skip


async def call(ws: WebSocketConnection, rid: int, method: str, params: dict[str, Any]) -> Any:
    await ws.send_message(json.dumps({"id": rid, "method": method, "params": params}))
    answer = json.loads(await ws.get_message())
    assert answer["id"] == rid
    return answer


def weight(answer: dict[str, Any]) -> int:
    return int(next(r["count"] for r in answer["rateLimits"] if r["interval"] == "MINUTE"
                    and r["rateLimitType"] == "REQUEST_WEIGHT"))  # fmt: skip


async def test_ws_fapi_account_methods_answer_binances_shapes() -> None:
    async with (
        running_sim() as (venue, urls),
        httpx.AsyncClient() as http,
        open_websocket_url(f"{urls.ws}/ws-fapi/v1") as ws,
    ):
        flat = await call(ws, 1, "v2/account.position", ws_signed({"symbol": SYM}))
        assert flat["status"] == 200 and flat["result"] == []  # only with a position
        # a resting order and a position: v2 lists the symbol, with its order margin
        r = await signed(http, "POST", f"{urls.rest}/fapi/v1/order", ORDER)
        assert r.status_code == 200, r.text
        _, ask = await best(http, urls.rest)
        taker = {**ORDER, "timeInForce": "GTC", "quantity": "0.003",
                 "price": f"{ask + 20:.1f}"}  # fmt: skip
        assert (await signed(http, "POST", f"{urls.rest}/fapi/v1/order", taker)).is_success
        answers = {}
        for i, method in enumerate(("account.position", "v2/account.position",
                                    "account.balance", "v2/account.balance",
                                    "account.status", "v2/account.status"), 2):  # fmt: skip
            params = {"symbol": SYM} if method.endswith("position") else {}
            before = venue.limiter.weight.used
            answers[method] = got = await call(ws, i, method, ws_signed(params))
            assert got["status"] == 200, got
            assert weight(got) - before == 5  # Binance's weight for each
        (v2pos,) = answers["account.position"]["result"]
        assert set(v2pos) == V2_POSITION and v2pos["positionAmt"] == "0.003"
        (v3pos,) = answers["v2/account.position"]["result"]
        assert set(v3pos) == V3_POSITION and v3pos["positionAmt"] == "0.003"
        assert float(v3pos["openOrderInitialMargin"]) > 0  # the resting buy
        assert float(v3pos["bidNotional"]) > 0 and float(v3pos["askNotional"]) == 0
        for method in ("account.balance", "v2/account.balance"):
            (bal,) = answers[method]["result"]
            assert set(bal) == BALANCE and bal["balance"] == str(venue.account.balance)
        status = answers["account.status"]["result"]
        assert status["canTrade"] is True and status["positions"][0]["positionAmt"] == "0.003"
        status2 = answers["v2/account.status"]["result"]
        assert "feeTier" not in status2 and "canTrade" not in status2
        assert status2["positions"][0]["positionAmt"] == "0.003"
        assert status2["totalWalletBalance"] == str(venue.account.balance)
        # signed like every other request; unknown methods keep their error
        bad = {**ws_signed({}), "signature": "0" * 64}
        refused = await call(ws, 20, "v2/account.balance", bad)
        assert refused["status"] == 400 and refused["error"]["code"] == -1022
        extra = await call(ws, 21, "account.balance", ws_signed({"symbol": SYM}))
        assert extra["error"]["code"] == -1104
        unknown = await call(ws, 22, "account.nothing", ws_signed({}))
        assert unknown["error"]["code"] == -1000 and "Unknown method" in unknown["error"]["msg"]


async def test_partial_depth_streams_send_the_top_levels_at_their_pace() -> None:
    async with running_sim() as (_, urls):
        async with open_websocket_url(f"{urls.ws}/ws/btcusdt@depth5") as ws:
            events = [json.loads(await ws.get_message()) for _ in range(6)]
        for ev in events:
            assert ev["e"] == "depthUpdate" and ev["s"] == SYM
            assert set(ev) == {"e", "E", "T", "s", "U", "u", "pu", "b", "a"}
            bids = [float(p) for p, _ in ev["b"]]
            asks = [float(p) for p, _ in ev["a"]]
            assert len(bids) == len(asks) == 5
            assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
            assert bids[0] < asks[0] and ev["U"] <= ev["u"]
        for prev, ev in itertools.pairwise(events):
            assert ev["pu"] == prev["u"]  # nothing missed in between
            assert ev["E"] - prev["E"] >= 250  # the default pace, on the wire clock
        # combined, faster, deeper; and by SUBSCRIBE on a bare connection
        async with open_websocket_url(f"{urls.ws}/stream?streams=btcusdt@depth10@100ms") as ws:
            wrapped = json.loads(await ws.get_message())
        assert wrapped["stream"] == "btcusdt@depth10@100ms" and len(wrapped["data"]["b"]) == 10
        async with open_websocket_url(f"{urls.ws}/ws") as ws:
            sub = {"method": "SUBSCRIBE", "params": ["btcusdt@depth20@500ms"], "id": 7}
            await ws.send_message(json.dumps(sub))
            assert json.loads(await ws.get_message()) == {"result": None, "id": 7}
            ev = json.loads(await ws.get_message())
            assert len(ev["a"]) == 20 and len(ev["b"]) == 20


async def test_refused_control_messages_carry_binances_documented_codes() -> None:
    async with running_sim() as (_, urls), open_websocket_url(f"{urls.ws}/ws") as ws:

        async def answer(frame: str) -> Any:
            await ws.send_message(frame)
            return json.loads(await ws.get_message())

        cases = [
            ("{not json", 3, None),
            ('{"method": "SUBSCRIBE", "params": [], "id": -1}', 2, None),
            ('{"method": "SUBSCRIBE", "params": [], "id": 1.5}', 2, None),
            ('{"params": [], "id": 1}', 2, 1),
            ('{"method": "SUBSCRIBE", "params": [], "id": 2, "x": 1}', 2, 2),
            ('{"method": "SUBSCRIBEX", "params": [], "id": 3}', 2, 3),
            ('{"method": "SUBSCRIBE", "params": ["btcusdt@nothing"], "id": 4}', 2, 4),
            ('{"method": "SET_PROPERTY", "params": ["nothing", true], "id": 5}', 0, 5),
            ('{"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 6}', 1, 6),
            ('{"method": "GET_PROPERTY", "params": [7], "id": 7}', 2, 7),
        ]
        for frame, code, rid in cases:
            got = await answer(frame)
            assert got["error"]["code"] == code and got["id"] == rid, (frame, got)
        assert (await answer('{"method": "GET_PROPERTY", "params": ["combined"], "id": 8}')) == {
            "result": False, "id": 8}  # fmt: skip
        on = '{"method": "SET_PROPERTY", "params": ["combined", true], "id": "nine"}'
        assert await answer(on) == {"result": None, "id": "nine"}
        sub = '{"method": "SUBSCRIBE", "params": ["btcusdt@depth5@100ms"], "id": 10}'
        assert await answer(sub) == {"result": None, "id": 10}
        ev = json.loads(await ws.get_message())
        assert ev["stream"] == "btcusdt@depth5@100ms" and ev["data"]["e"] == "depthUpdate"
