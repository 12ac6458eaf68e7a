"""Extended's streams against a real trio-websocket server on 127.0.0.1:0 (virtual time):
a book gap and a malformed delta each resync (reconnect for a fresh snapshot), a requested
resync reconnects at once, and the account stream turns ORDER/TRADE pushes into updates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
import trio
from trio_websocket import WebSocketRequest, serve_websocket

from mmtrio.core.events import (
    AccountUpdate,
    BookDelta,
    BookInvalid,
    BookSnapshot,
    Event,
    ExecType,
    FeedStatus,
    MarkPrice,
    OrderStatus,
    OrderUpdate,
    Trade,
)
from mmtrio.venues.extended.codec import MarketInfo, parse_market
from mmtrio.venues.extended.gateway import KnownOrders
from mmtrio.venues.extended.rest import ExtendedRest
from mmtrio.venues.extended.streams import AccountStream, MarketStream
from mmtrio.venues.protocol import MarketEvent
from tests.unit.test_extended_signing import sdk_market_json

pytestmark = pytest.mark.integration
MARKET: MarketInfo = parse_market([sdk_market_json()], "BTC-USD")


def book(kind: str, seq: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> bytes:
    def rows(side: list[tuple[str, str]]) -> list[dict[str, str]]:
        return [{"p": p, "q": q} for p, q in side]

    return orjson.dumps({"type": kind, "seq": seq, "ts": seq,
                         "data": {"m": "BTC-USD", "b": rows(bids), "a": rows(asks)}})  # fmt: skip


class Sink:
    def __init__(self) -> None:
        self.send, self.recv = trio.open_memory_channel[MarketEvent | FeedStatus](10_000)

    def market(self, event: MarketEvent) -> None:
        self.send.send_nowait(event)

    def status(self, event: FeedStatus) -> None:
        self.send.send_nowait(event)

    async def next_of(self, *kinds: type) -> Any:
        while True:
            ev = await self.recv.receive()
            if isinstance(ev, kinds):
                return ev


async def serve(nursery: trio.Nursery, handler: Any) -> int:
    server = await nursery.start(serve_websocket, handler, "127.0.0.1", 0, None)
    return int(server.port)


async def test_book_gap_malformed_delta_and_requested_resync(autojump_clock: object) -> None:
    books: list[int] = []

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        if request.path.startswith("/v1/orderbooks/BTC-USD"):
            books.append(len(books))
            n = len(books)
            await ws.send_message(book("SNAPSHOT", 1, [("100.0", "1")], [("100.5", "2")]))
            await ws.send_message(book("DELTA", 2, [("100.0", "-0.4")], []))
            if n == 1:
                await ws.send_message(book("DELTA", 4, [("99.9", "1")], []))  # seq 3 lost
            elif n == 2:
                await ws.send_message(
                    b'{"type": "DELTA", "seq": 3, "ts": 3, "data": {"m": "BTC-USD"}}'
                )
            await trio.sleep_forever()
        elif request.path.startswith("/v1/prices/mark/BTC-USD"):
            await ws.send_message(
                orjson.dumps(
                    {
                        "type": "MP",
                        "data": {"m": "BTC-USD", "p": "100.25", "ts": 7},
                        "ts": 7,
                        "seq": 1,
                    }
                )
            )
            await trio.sleep_forever()
        elif request.path.startswith("/v1/publicTrades/BTC-USD"):
            await ws.send_message(
                orjson.dumps(
                    {
                        "ts": 5,
                        "seq": 1,
                        "data": [
                            {
                                "m": "BTC-USD",
                                "S": "SELL",
                                "tT": "TRADE",
                                "T": 5,
                                "p": "100.0",
                                "q": "0.001",
                                "i": 9,
                            }
                        ],
                    }
                )
            )
            await trio.sleep_forever()
        else:
            await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        port = await serve(nursery, handler)
        stream = MarketStream(f"ws://127.0.0.1:{port}/v1", MARKET, clock_ms=lambda: 0)
        sink = Sink()
        nursery.start_soon(stream.run, sink)
        snap = await sink.next_of(BookSnapshot)
        assert snap.bids == ((1000, 100000),) and snap.asks == ((1005, 200000),)
        delta = await sink.next_of(BookDelta)
        assert delta.bids == ((1000, 60000),) and delta.seq == 2  # 1 − 0.4 BTC, absolute
        gap = await sink.next_of(BookInvalid)
        assert "seq 4 does not follow seq 2" in gap.reason
        assert isinstance(await sink.next_of(BookSnapshot), BookSnapshot)  # reconnected
        await sink.next_of(BookDelta)
        bad = await sink.next_of(BookInvalid)
        assert "malformed" in bad.reason
        await sink.next_of(BookSnapshot)
        await sink.next_of(BookDelta)
        stream.request_resync("crossed book")
        asked = await sink.next_of(BookInvalid)
        assert "crossed book" in asked.reason
        await sink.next_of(BookSnapshot)
        assert len(books) == 4 and stream.resyncs == 3
        nursery.cancel_scope.cancel()


async def test_mark_and_trades_reach_the_sink(autojump_clock: object) -> None:
    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        if "/prices/mark/" in request.path:
            await ws.send_message(
                orjson.dumps(
                    {
                        "type": "MP",
                        "data": {"m": "BTC-USD", "p": "100.25", "ts": 7},
                        "ts": 7,
                        "seq": 1,
                    }
                )
            )
        elif "/publicTrades/" in request.path:
            await ws.send_message(
                orjson.dumps(
                    {
                        "ts": 5,
                        "seq": 1,
                        "data": [
                            {
                                "m": "BTC-USD",
                                "S": "SELL",
                                "tT": "TRADE",
                                "T": 5,
                                "p": "100.0",
                                "q": "0.001",
                                "i": 9,
                            }
                        ],
                    }
                )
            )
        elif "/funding/" in request.path:
            await ws.send_message(
                orjson.dumps(
                    {"ts": 1, "seq": 1, "data": {"m": "BTC-USD", "T": 3_600_000, "f": "0.0001"}}
                )
            )
            await trio.sleep(1)
            await ws.send_message(
                orjson.dumps(
                    {"type": "MP", "data": {"m": "BTC-USD", "p": "1", "ts": 1}, "ts": 1, "seq": 1}
                )
            )
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        port = await serve(nursery, handler)
        stream = MarketStream(f"ws://127.0.0.1:{port}/v1", MARKET, clock_ms=lambda: 0)
        sink = Sink()
        nursery.start_soon(stream.run, sink)
        got: dict[type, Any] = {}
        while len(got) < 2:  # the two streams race: take both, in any order
            ev = await sink.next_of(Trade, MarkPrice)
            got[type(ev)] = ev
        trade, mark = got[Trade], got[MarkPrice]
        assert trade.trade_id == 9 and trade.buyer_is_maker and trade.price == 1000
        assert mark.mark_price == Decimal("100.25")
        nursery.cancel_scope.cancel()


async def test_account_stream_orders_fills_and_balance(autojump_clock: object) -> None:
    keys: list[str] = []
    order = {"id": 77, "accountId": 1, "externalId": "mmt1-0", "market": "BTC-USD",
             "type": "LIMIT", "side": "BUY", "status": "NEW", "price": "100.0", "qty": "0.00200",
             "filledQty": "0", "reduceOnly": False, "postOnly": True, "createdTime": 1,
             "updatedTime": 1, "timeInForce": "GTT", "expireTime": 9}  # fmt: skip
    trade = {"id": 501, "accountId": 1, "market": "BTC-USD", "orderId": 77,
             "externalOrderId": "mmt1-0", "side": "BUY", "price": "100.0", "qty": "0.00200",
             "value": "0.2", "fee": "0.00004", "tradeType": "TRADE", "createdTime": 3,
             "isTaker": False}  # fmt: skip

    async def handler(request: WebSocketRequest) -> None:
        keys.append(dict(request.headers).get(b"x-api-key", b"").decode())
        ws = await request.accept()
        await ws.send_message(orjson.dumps({"type": "BALANCE", "ts": 1, "seq": 1, "data": {
            "balance": {"collateralName": "USD", "balance": "1000", "equity": "1001",
                        "availableForTrade": "900", "availableForWithdrawal": "900",
                        "unrealisedPnl": "1", "initialMargin": "0", "marginRatio": "0",
                        "updatedTime": 1}}}))  # fmt: skip
        await ws.send_message(
            orjson.dumps({"type": "ORDER", "ts": 2, "seq": 2, "data": {"orders": [order]}})
        )
        await ws.send_message(
            orjson.dumps({"type": "TRADE", "ts": 3, "seq": 3, "data": {"trades": [trade]}})
        )
        await ws.send_message(
            orjson.dumps({"type": "TRADE", "ts": 3, "seq": 4, "data": {"trades": [trade]}})
        )
        await trio.sleep_forever()

    rest = ExtendedRest("http://unused.test", "key" * 11, clock_ms=lambda: 0,
                        transport=httpx.MockTransport(lambda r: httpx.Response(500)))  # fmt: skip
    got: list[Event] = []
    done = trio.Event()

    async def send(event: Event) -> None:
        got.append(event)
        if sum(isinstance(e, OrderUpdate) for e in got) == 2:
            done.set()

    async with trio.open_nursery() as nursery:
        port = await serve(nursery, handler)
        stream = AccountStream(f"ws://127.0.0.1:{port}/v1", "key" * 11, MARKET.instrument,
                               KnownOrders(), rest, clock_ms=lambda: 0)  # fmt: skip
        nursery.start_soon(stream.run, send)
        await done.wait()
        await trio.sleep(1)  # the duplicated TRADE push must not add a third update
        nursery.cancel_scope.cancel()
    assert keys == ["key" * 11]
    assert isinstance(got[0], FeedStatus) and got[0].connected
    balance = next(e for e in got if isinstance(e, AccountUpdate))
    assert balance.balances[0].wallet_balance == Decimal(1000)
    new, filled = [e for e in got if isinstance(e, OrderUpdate)]
    assert new.exec_type is ExecType.NEW and new.client_id == "mmt1-0" and new.qty == 200
    assert filled.exec_type is ExecType.TRADE and filled.status is OrderStatus.FILLED
    assert filled.fill is not None and filled.fill.trade_id == 501 and filled.cum_qty == 200
    assert filled.fill.is_maker and filled.price == 1000
    assert stream.lookups == 0
