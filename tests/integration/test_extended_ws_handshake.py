"""A snapshot-first stream misses nothing published while the server answers the handshake.

The simulated Extended venue's book stream starts with a SNAPSHOT, then DELTAs numbered
``seq`` + 1. The server registers a connection only after its handshake answer is sent, so a
snapshot taken when the connection was opened (before that send) fell behind any delta
published during it: the client saw ``seq`` 51, then 54 and resynced
(``test_extended_sdk.py`` after ``test_sim_clients.py`` under load). Here the answer's send is
held (a lockstep stream: ``send_all`` returns only once the client reads) while a delta is
published; the stream must then start at a snapshot that holds it, with no gap after.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
import trio.testing
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage

from mmtrio.core.events import BookDelta
from mmtrio.sim.extended.frontend import ExtendedFrontEnd
from mmtrio.sim.paper import PaperSpec, build_paper_venue
from mmtrio.sim.wsserve import serve_ws_connection

pytestmark = pytest.mark.integration

BOOK_PATH = "/stream.extended.exchange/v1/orderbooks/BTC-USD"


async def read_messages(
    stream: trio.abc.Stream, ws: WSConnection, count: int
) -> tuple[bool, list[dict[str, Any]]]:
    """(handshake accepted, the first ``count`` text messages) from the server."""
    accepted = False
    out: list[dict[str, Any]] = []
    while len(out) < count:
        data = await stream.receive_some(65536)
        assert data, "the server closed the connection"
        ws.receive_data(bytes(data))
        for event in ws.events():
            if isinstance(event, AcceptConnection):
                accepted = True
            elif isinstance(event, TextMessage):
                out.append(json.loads(event.data))
    return accepted, out


async def test_a_delta_published_during_the_handshake_answer_is_in_the_first_snapshot() -> None:
    sim = build_paper_venue("extended", PaperSpec(synthetic=True, seed=3), "BTC-USD")
    front = sim.front
    assert isinstance(front, ExtendedFrontEnd)
    best_bid = max(front.market._bids)
    far_bid = best_bid - 100  # a level no one else touches: 100 ticks below the best bid
    assert far_bid not in front.market._bids
    client_stream, server_stream = trio.testing.lockstep_stream_pair()
    client = WSConnection(ConnectionType.CLIENT)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_ws_connection, sim, front.market, server_stream)
        await client_stream.send_all(client.send(Request(host="127.0.0.1", target=BOOK_PATH)))
        # the server now waits in send_all with its handshake answer, unread
        await trio.testing.wait_all_tasks_blocked()
        front.market.on_book(BookDelta("BTCUSDT", ((far_bid, 7),), (), sim.market_ts))
        during = front.market.seq
        # the connection registers once the answer is read; the next delta must follow
        async with trio.open_nursery() as reader:
            got: list[Any] = []

            async def read() -> None:
                got.append(await read_messages(client_stream, client, 2))

            reader.start_soon(read)
            await trio.testing.wait_all_tasks_blocked()
            front.market.on_book(BookDelta("BTCUSDT", ((far_bid, 9),), (), sim.market_ts))
        nursery.cancel_scope.cancel()
    accepted, (first, second) = got[0]
    assert accepted
    assert (first["type"], first["seq"]) == ("SNAPSHOT", during)
    bids = {row["p"]: row["q"] for row in first["data"]["b"]}
    inst = sim.instrument
    assert bids[inst.price_str(far_bid)] == str(inst.lots_to_qty(7))
    # the next delta follows the snapshot's seq, as a change of +2 lots on that level
    assert (second["type"], second["seq"]) == ("DELTA", during + 1)
    assert second["data"]["b"] == [{"p": inst.price_str(far_bid), "q": str(inst.lots_to_qty(2))}]


async def test_best_bid_ask_stream_pushes_only_a_moved_top() -> None:
    """``?depth=1``: the current top first; a change below the top publishes nothing, a change
    of the best bid's size publishes the new top as the next snapshot (seq + 1)."""
    sim = build_paper_venue("extended", PaperSpec(synthetic=True, seed=3), "BTC-USD")
    assert isinstance(sim.front, ExtendedFrontEnd)
    market, inst = sim.front.market, sim.instrument
    best_bid, best_ask = max(market._bids), min(market._asks)
    deep = best_bid - 100
    size = market._bids[best_bid] + 3  # the best bid's new size: a change of the top
    client_stream, server_stream = trio.testing.memory_stream_pair()
    client = WSConnection(ConnectionType.CLIENT)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_ws_connection, sim, market, server_stream)
        hello = Request(host="127.0.0.1", target=BOOK_PATH + "?depth=1")
        await client_stream.send_all(client.send(hello))
        got: list[Any] = []

        async def read() -> None:
            got.append(await read_messages(client_stream, client, 2))

        nursery.start_soon(read)
        await trio.testing.wait_all_tasks_blocked()
        market.on_book(BookDelta("BTCUSDT", ((deep, 7),), (), sim.market_ts))  # below the top
        market.on_book(BookDelta("BTCUSDT", ((best_bid, size),), (), sim.market_ts))
        with trio.fail_after(5):
            while not got:  # noqa: ASYNC110
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    accepted, (first, second) = got[0]
    assert accepted and first["type"] == second["type"] == "SNAPSHOT"
    ask_row = [{"p": inst.price_str(best_ask), "q": str(inst.lots_to_qty(market._asks[best_ask]))}]
    assert len(first["data"]["b"]) == 1 and first["data"]["a"] == ask_row
    assert first["data"]["b"][0]["p"] == inst.price_str(best_bid)
    assert second["seq"] == first["seq"] + 1
    bid_row = [{"p": inst.price_str(best_bid), "q": str(inst.lots_to_qty(size))}]
    assert second["data"]["b"] == bid_row
    assert second["data"]["a"] == ask_row
