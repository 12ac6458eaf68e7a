"""OKX streams and the WebSocket order session against a scripted trio-websocket server on
127.0.0.1:0 (virtual time): subscriptions, the books chain and its resync by
re-subscription, the text keep-alive, login (and a refused one), answers matched by id."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import orjson
import pytest
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, serve_websocket

from mmtrio.core.events import Event, FeedStatus, OrderUpdate
from mmtrio.core.instruments import Instrument
from mmtrio.errors import AuthError, ConnectionFailed, OutcomeUnknownError
from mmtrio.venues.okx.codec import OkxDecoder
from mmtrio.venues.okx.order_session import OrderSession
from mmtrio.venues.okx.signing import Signer
from mmtrio.venues.okx.streams import MarketStream, UserStream
from mmtrio.venues.protocol import MarketEvent, SocketHealth
from tests.integration.test_account_awareness import captured

pytestmark = pytest.mark.integration

SWAP = Instrument(
    symbol="BTC-USDT-SWAP",
    tick_size=Decimal("0.1"),
    lot_size=Decimal("0.01"),
    min_qty=1,
    max_qty=10**10,
    min_notional=Decimal(0),
    base_asset="BTC",
    contract_size=Decimal("0.01"),
)
SIGNER = Signer("k", "s", "p")


def clock() -> int:
    return int(trio.current_time() * 1000)


def books(action: str, seq: int, prev: int, px: str = "100000.0") -> bytes:
    data = {"asks": [], "bids": [[px, "1", "0", "1"]], "ts": str(seq), "checksum": 0,
            "prevSeqId": prev, "seqId": seq}  # fmt: skip
    return orjson.dumps(
        {"arg": {"channel": "books", "instId": "BTC-USDT-SWAP"}, "action": action, "data": [data]}
    )


async def start_server(nursery: trio.Nursery, handler: Any) -> int:
    server = await nursery.start(serve_websocket, handler, "127.0.0.1", 0, None)
    return int(server.port)


class Sink:
    def __init__(self) -> None:
        self.send, self.recv = trio.open_memory_channel[MarketEvent | FeedStatus](1000)

    def market(self, event: MarketEvent) -> None:
        self.send.send_nowait(event)

    def status(self, event: FeedStatus) -> None:
        self.send.send_nowait(event)


async def read_json(ws: WebSocketConnection) -> Any:
    while True:
        msg = await ws.get_message()
        if msg == "ping":
            await ws.send_message("pong")
            continue
        return orjson.loads(msg)


async def test_market_subscribes_resyncs_a_gap_by_resubscribing_and_pongs(
    autojump_clock: object,
) -> None:
    seen: list[Any] = []
    pings = 0

    async def handler(request: WebSocketRequest) -> None:
        nonlocal pings
        ws = await request.accept()
        sub = await read_json(ws)
        seen.append(sub)
        await ws.send_message(books("snapshot", 100, -1))
        await ws.send_message(books("update", 117, 100))
        await ws.send_message(books("update", 140, 130))  # gap: 130 is not 117
        unsub = await read_json(ws)
        resub = await read_json(ws)
        seen.extend([unsub, resub])
        await ws.send_message(books("update", 150, 140))  # before the new snapshot: dropped
        await ws.send_message(books("snapshot", 200, -1))
        await ws.send_message(books("update", 230, 200))
        while True:  # answer the client's text keep-alive for a while
            msg = await ws.get_message()
            if msg == "ping":
                pings += 1
                await ws.send_message("pong")

    async with trio.open_nursery() as n:
        port = await start_server(n, handler)
        stream = MarketStream(
            f"ws://127.0.0.1:{port}/ws/v5/public", OkxDecoder(SWAP), clock_ms=clock,
            rng=random.Random(1),
        )  # fmt: skip
        sink = Sink()
        n.start_soon(stream.run, sink)
        got = [await sink.recv.receive() for _ in range(6)]
        kinds = [type(e).__name__ for e in got]
        assert kinds == ["FeedStatus", "BookSnapshot", "BookDelta", "BookInvalid",
                         "BookSnapshot", "BookDelta"]  # fmt: skip
        assert got[1].seq == 100 and got[4].seq == 200  # type: ignore[union-attr]
        assert "prevSeqId 130" in got[3].reason  # type: ignore[union-attr]
        channels = [a["channel"] for a in seen[0]["args"]]
        assert channels == ["books", "trades", "mark-price", "funding-rate"]
        assert seen[1] == {
            "op": "unsubscribe",
            "args": [{"channel": "books", "instId": "BTC-USDT-SWAP"}],
        }
        assert seen[2]["op"] == "subscribe"
        await trio.sleep(65)
        assert pings >= 3 and stream.connects == 1  # kept alive by ping/pong
        n.cancel_scope.cancel()


async def test_market_reconnects_without_pong(autojump_clock: object) -> None:
    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        await read_json(ws)
        await ws.send_message(books("snapshot", 1, -1))
        with pytest.raises(ConnectionClosed):
            while True:
                await ws.get_message()  # never answers "ping"

    async with trio.open_nursery() as n:
        port = await start_server(n, handler)
        stream = MarketStream(f"ws://127.0.0.1:{port}/", OkxDecoder(SWAP), clock_ms=clock)
        sink = Sink()
        n.start_soon(stream.run, sink)
        await trio.sleep(45)
        assert stream.connects >= 2
        n.cancel_scope.cancel()


def order_push(state: str) -> bytes:
    data = {"instId": "BTC-USDT-SWAP", "ordId": "5", "clOrdId": "mmt1x0", "side": "buy",
            "ordType": "post_only", "px": "100000.0", "sz": "0.05", "accFillSz": "0",
            "state": state, "reduceOnly": "false", "uTime": "10", "fillSz": "0",
            "tradeId": ""}  # fmt: skip
    return orjson.dumps({"arg": {"channel": "orders", "instType": "SWAP"}, "data": [data]})


async def test_user_logs_in_subscribes_and_delivers_then_a_refused_login_is_fatal(
    autojump_clock: object,
) -> None:
    logins: list[Any] = []

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        login = await read_json(ws)
        logins.append(login)
        if len(logins) == 1:
            await ws.send_message(orjson.dumps({"event": "login", "code": "0", "msg": ""}))
            sub = await read_json(ws)
            assert [a["channel"] for a in sub["args"]] == ["orders", "positions", "account"]
            await ws.send_message(order_push("live"))
            await ws.aclose()
        else:
            await ws.send_message(
                orjson.dumps({"event": "error", "code": "60024", "msg": "Wrong passphrase"})
            )
            await trio.sleep_forever()

    got: list[Event] = []

    async def send(event: Event) -> None:
        got.append(event)

    async with trio.open_nursery() as n:
        port = await start_server(n, handler)
        stream = UserStream(
            f"ws://127.0.0.1:{port}/ws/v5/private", OkxDecoder(SWAP), settle_ccy="USDT",
            clock_ms=clock, signer=SIGNER, rng=random.Random(2),
        )  # fmt: skip
        with pytest.raises(AuthError, match="passphrase"):
            await stream.run(send)
        n.cancel_scope.cancel()
    assert logins[0]["op"] == "login" and logins[0]["args"][0]["apiKey"] == "k"
    kinds = [type(e).__name__ for e in got]
    assert kinds == ["FeedStatus", "OrderUpdate", "FeedStatus"]
    assert isinstance(got[0], FeedStatus) and got[0].connected
    assert isinstance(got[1], OrderUpdate) and got[1].client_id == "mmt1x0"


async def test_order_session_matches_answers_by_id_and_loses_none_silently(
    autojump_clock: object,
) -> None:
    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        await read_json(ws)
        await ws.send_message(orjson.dumps({"event": "login", "code": "0", "msg": ""}))
        first = await read_json(ws)
        second = await read_json(ws)
        # Answer out of order: the second request first.
        for req in (second, first):
            answer = {"id": req["id"], "op": req["op"], "code": "0", "msg": "",
                      "data": [{"clOrdId": req["args"][0]["clOrdId"], "ordId": "9", "ts": "1",
                                "sCode": "0", "sMsg": ""}]}  # fmt: skip
            await ws.send_message(orjson.dumps(answer))
        await read_json(ws)  # a third request: never answered, then the socket drops
        await trio.sleep(1)
        await ws.aclose()

    async with trio.open_nursery() as n:
        port = await start_server(n, handler)
        session = OrderSession(
            f"ws://127.0.0.1:{port}/ws/v5/private", OkxDecoder(SWAP), clock_ms=clock,
            signer=SIGNER, rng=random.Random(3), backoff_base_s=5.0,
        )  # fmt: skip
        with pytest.raises(ConnectionFailed, match="not logged in"):
            await session.request("order", [{"clOrdId": "a"}])
        assert session.health() == SocketHealth(False, 0, 0)  # what ws="orders" shows
        n.start_soon(session.run)
        with captured() as lines, trio.fail_after(5):
            await session.wait_ready()
        # Where orders go is logged, as for Binance's order socket (it was silent on OKX).
        assert any("order socket connected: orders go over OKX's private" in ln for ln in lines)
        assert session.health() == SocketHealth(True, 1, 0)
        results: dict[str, Any] = {}

        async def ask(cid: str) -> None:
            results[cid] = await session.request("order", [{"clOrdId": cid}])

        async with trio.open_nursery() as reqs:
            reqs.start_soon(ask, "a")
            await trio.sleep(0.01)
            reqs.start_soon(ask, "b")
        assert results["a"].data[0]["clOrdId"] == "a"
        assert results["b"].data[0]["clOrdId"] == "b"
        with captured() as lines:
            with pytest.raises(OutcomeUnknownError, match="closed before the answer"):
                await session.request("cancel-order", [{"clOrdId": "c"}])
            await trio.sleep(0.1)  # the loop reports the end
        assert any("order socket down (" in ln and "orders go over REST until it is back" in ln
                   for ln in lines), lines  # fmt: skip
        assert not session.ready
        assert session.health() == SocketHealth(False, 1, 3)  # three ops sent, then down
        n.cancel_scope.cancel()
