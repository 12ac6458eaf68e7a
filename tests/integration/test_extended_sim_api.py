"""``mmtrio sim --venue extended`` (a real process) through the official SDK where it has the
call: the best bid and ask stream (``?depth=1``), the every-market book stream
(``market_name=None``), a refused ``depth``, the body's shape checked first (1133), the
account's leverage (GET/PATCH, shown in positions and balance) and the orders history."""

from __future__ import annotations

import asyncio
import itertools
import json
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.integration.test_extended_sdk import _account, _config
from tests.integration.test_sim_ccxt import mmtrio_sim

pytestmark = pytest.mark.integration

x10 = pytest.importorskip("x10", reason="the test extra installs Extended's SDK")


async def _books(info: dict[str, Any], market: str | None, depth: int | None, n: int) -> list[Any]:
    from x10.clients.stream.stream_client import StreamClient

    client = StreamClient(api_url=_config(info).endpoints.stream_url)
    out: list[Any] = []
    async with client.subscribe_to_orderbooks(market, depth=depth) as stream:
        async for msg in stream:
            out.append(msg)
            if len(out) >= n:
                break
    return out


async def _refused_depth(info: dict[str, Any], query: str) -> tuple[int, dict[str, Any]]:
    """The handshake's refusal (status, JSON body), read with wsproto (the body is chunked)."""
    from urllib.parse import urlsplit

    from wsproto import ConnectionType, WSConnection
    from wsproto.events import RejectConnection, RejectData, Request

    where = urlsplit(info["ws"])
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    client = WSConnection(ConnectionType.CLIENT)
    target = "/stream.extended.exchange/v1/orderbooks/BTC-USD" + query
    writer.write(client.send(Request(host=where.netloc, target=target)))
    status, body, done = 0, b"", False
    while not done:
        data = await asyncio.wait_for(reader.read(65536), 10)
        assert data, "the server closed the connection before its answer ended"
        client.receive_data(data)
        for event in client.events():
            if isinstance(event, RejectConnection):
                status, done = event.status_code, not event.has_body
            elif isinstance(event, RejectData):
                body += event.data
                done = event.body_finished
    writer.close()
    return status, json.loads(body)


def test_best_bid_ask_every_market_and_a_refused_depth() -> None:
    with mmtrio_sim("--venue", "extended", "--speed", "5") as info:
        top = asyncio.run(asyncio.wait_for(_books(info, info["symbol"], 1, 12), 60))
        every = asyncio.run(asyncio.wait_for(_books(info, None, None, 6), 60))
        refused = [asyncio.run(_refused_depth(info, q)) for q in ("?depth=5", "?depth=x")]
    # depth=1: every message a snapshot of one level a side, numbered on, each a new top
    assert all(m.type == "SNAPSHOT" for m in top)
    assert all(len(m.data.bid) == 1 and len(m.data.ask) == 1 for m in top)
    assert all(m.data.bid[0].price < m.data.ask[0].price for m in top)
    assert [m.seq for m in top] == list(range(top[0].seq, top[0].seq + len(top)))
    tops = [(m.data.bid[0].price, m.data.bid[0].qty, m.data.ask[0].price, m.data.ask[0].qty)
            for m in top]  # fmt: skip
    assert all(a != b for a, b in itertools.pairwise(tops[1:]))
    # no market: every market's book (the sim's one), a snapshot then continuous deltas
    assert every[0].type == "SNAPSHOT" and all(m.type == "DELTA" for m in every[1:])
    assert {m.data.market for m in every} == {"BTC-USD"}
    assert [m.seq for m in every] == list(range(every[0].seq, every[0].seq + len(every)))
    assert len(every[0].data.bid) > 1
    for status, body in refused:
        assert status == 400 and body["status"] == "ERROR"
        assert "depth must be 1" in body["error"]["message"]


async def _leverage_and_history(info: dict[str, Any]) -> dict[str, Any]:
    from x10.clients.rest.rest_api_client import RestApiClient
    from x10.models.order import OrderSide

    cfg, symbol = _config(info), info["symbol"]
    seen: dict[str, Any] = {}
    headers = {"X-Api-Key": info["credentials"]["api_key"]}
    url = info["rest"] + "/api/v1"
    async with (
        RestApiClient(cfg, _account(info)) as client,
        httpx.AsyncClient(base_url=url, headers=headers) as raw,
    ):
        shape = await raw.post("/user/order", json={"id": "x"})
        seen["shape"] = (shape.status_code, shape.json())
        seen["lev0"] = [(x.market, x.leverage) for x in (await client.account.get_leverage()).data]
        await client.account.update_leverage(symbol, Decimal("10"))
        got = (await client.account.get_leverage(market_names=[symbol])).data
        seen["lev1"] = [(x.market, x.leverage) for x in got]
        seen["lev_bad"] = {}
        for lev in ("51", "0.5", "10.001", "abc"):
            answer = await raw.patch("/user/leverage", json={"market": symbol, "leverage": lev})
            seen["lev_bad"][lev] = (answer.status_code, answer.json()["error"]["code"])
        other = await raw.patch("/user/leverage", json={"market": "ETH-USD", "leverage": "5"})
        seen["lev_bad"]["ETH-USD"] = (other.status_code, other.json()["error"]["code"])
        book = (await client.info.get_orderbook_snapshot(market_name=symbol)).data
        assert book is not None
        bid, ask = book.bid[0].price, book.ask[0].price

        async def place(price: Decimal, ext: str, **kw: Any) -> Any:
            return (await client.place_order(
                market_name=symbol, amount_of_synthetic=Decimal("0.010"), price=price,
                side=OrderSide.BUY, taker_fee=Decimal("0.0005"), external_id=ext, **kw,
            )).data  # fmt: skip

        resting = await place(bid - 500, "h-rest", post_only=True)
        await client.orders.cancel_order(order_id=resting.id)
        await place(ask + 100, "h-cross", post_only=True)  # would take: rejected
        await place(ask + 100, "h-take")  # takes: a position of 0.010 long
        await asyncio.sleep(0.5)
        hist = (await client.account.get_orders_history(market_names=[symbol])).data or []
        seen["history"] = [(o.external_id, o.status, o.status_reason) for o in hist]
        seen["history_ids"] = [o.id for o in hist]
        sells = await client.account.get_orders_history(order_side=OrderSide.SELL)
        seen["sells"] = sells.data
        first = await client.account.get_orders_history(limit=1)
        assert first.pagination is not None and first.data
        after = await client.account.get_orders_history(limit=1, cursor=first.pagination.cursor)
        seen["pages"] = (first.data[0].id, first.pagination.cursor, [o.id for o in after.data])
        only = await raw.get("/user/orders/history", params={"externalId": "h-rest"})
        seen["only"] = [o["externalId"] for o in only.json()["data"]]
        bad = await raw.get("/user/orders/history", params={"side": "UP"})
        seen["history_bad"] = (bad.status_code, bad.json()["error"]["message"])
        seen["positions"] = (await client.account.get_positions()).data
        seen["margins"] = [p["margin"] for p in (await raw.get("/user/positions")).json()["data"]]
        seen["balance"] = (await raw.get("/user/balance")).json()["data"]
    return seen


def test_shape_first_leverage_and_orders_history() -> None:
    with mmtrio_sim("--venue", "extended", "--speed", "5") as info:
        seen = asyncio.run(asyncio.wait_for(_leverage_and_history(info), 60))
    status, body = seen["shape"]
    assert status == 400 and body["error"]["code"] == 1133
    assert "market is missing" in body["error"]["message"]
    assert seen["lev0"] == [("BTC-USD", Decimal(20))]
    assert seen["lev1"] == [("BTC-USD", Decimal(10))]
    assert seen["lev_bad"] == {
        "51": (400, 1050), "0.5": (400, 1049), "10.001": (400, 1053), "abc": (400, 400),
        "ETH-USD": (400, 1001),
    }  # fmt: skip
    # the leverage set is the one the account shows: margin = value / 10
    (pos,) = seen["positions"]
    assert pos.leverage == Decimal(10) and pos.size == Decimal("0.010")
    (margin,) = seen["margins"]  # the SDK's model has no margin: read from the raw answer
    assert Decimal(margin) == pos.value / 10
    balance = {k: seen["balance"][k] for k in ("leverage", "initialMargin", "exposure")}
    assert balance["leverage"] == "10" and Decimal(balance["exposure"]) > 0
    assert Decimal(balance["initialMargin"]) == Decimal(balance["exposure"]) / 10
    # closed orders only, by id, highest first: the post-only order the engine rejected
    # after acceptance carries an id of its own range (above the engine's), then the taker
    # filled, then the cancelled one
    assert seen["history"] == [
        ("h-cross", "REJECTED", "POST_ONLY_FAILED"),
        ("h-take", "FILLED", None),
        ("h-rest", "CANCELLED", None),
    ]
    ids = seen["history_ids"]
    assert ids == sorted(ids, reverse=True)
    assert seen["sells"] == []
    first_id, cursor, after = seen["pages"]
    assert cursor == first_id == ids[0] and after == [ids[1]]
    assert seen["only"] == ["h-rest"]
    assert (
        seen["history_bad"][0] == 400 and "side must be one of BUY, SELL" in seen["history_bad"][1]
    )
