"""Streams against a real trio-websocket server on 127.0.0.1:0 (virtual time)."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
import trio
from trio_websocket import WebSocketRequest, serve_websocket

from mmtrio.core.events import (
    BookDelta,
    BookInvalid,
    BookSnapshot,
    Event,
    FeedStatus,
    OrderUpdate,
    Trade,
)
from mmtrio.core.instruments import BTCUSDT
from mmtrio.errors import RateLimited
from mmtrio.venues.binance.codec import BinanceDecoder
from mmtrio.venues.binance.codec_market import DepthSnapshot
from mmtrio.venues.binance.streams import MarketStream, UserStream
from mmtrio.venues.protocol import MarketEvent

pytestmark = pytest.mark.integration


def depth(first: int, last: int, prev: int, px: str = "28145.10") -> bytes:
    data = {"e": "depthUpdate", "E": last, "T": last, "s": "BTCUSDT", "U": first, "u": last,
            "pu": prev, "b": [[px, "1.000"]], "a": []}  # fmt: skip
    return orjson.dumps({"stream": "btcusdt@depth@100ms", "data": data})


TRADE = orjson.dumps(
    {"stream": "btcusdt@trade", "data": {"e": "trade", "E": 1, "T": 1, "s": "BTCUSDT", "t": 9,
     "p": "28145.20", "q": "0.001", "X": "MARKET", "m": False}}
)  # fmt: skip


async def start_server(nursery: trio.Nursery, handler: Any) -> int:
    server = await nursery.start(serve_websocket, handler, "127.0.0.1", 0, None)
    return int(server.port)


class Sink:
    """A MarketSink that keeps everything, in order (the runtime's inbox conflates)."""

    def __init__(self) -> None:
        self.send, self.recv = trio.open_memory_channel[MarketEvent | FeedStatus](10_000)

    def market(self, event: MarketEvent) -> None:
        self.send.send_nowait(event)

    def status(self, event: FeedStatus) -> None:
        self.send.send_nowait(event)


async def collect(sink: Sink, n: int) -> list[MarketEvent | FeedStatus]:
    return [await sink.recv.receive() for _ in range(n)]


class UserSinkChannel:
    def __init__(self) -> None:
        self.send, self.recv = trio.open_memory_channel[Event](16)

    async def __call__(self, event: Event) -> None:
        await self.send.send(event)


async def test_market_sync_gap_resync_and_reconnect(autojump_clock: object) -> None:
    connections: list[str] = []

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        connections.append(request.path)
        if len(connections) == 1:
            await ws.send_message(depth(1, 5, 0))
            await ws.send_message(depth(6, 10, 5))
            await trio.sleep(1)  # the snapshot (id 8) is fetched meanwhile
            await ws.send_message(TRADE)
            await ws.send_message(depth(11, 12, 10))
            await ws.send_message(depth(20, 25, 19))  # gap: pu 19 != 12
            await trio.sleep(1)
            await ws.send_message(depth(26, 30, 25))  # bridges resync snapshot 27
            await trio.sleep(1)
            await ws.aclose()  # venue drops us
        else:
            await ws.send_message(depth(40, 50, 39))
            await trio.sleep_forever()

    snaps = iter([8, 27, 45])
    snapshot_calls: list[str] = []

    async def snapshot(symbol: str) -> DepthSnapshot:
        snapshot_calls.append(symbol)
        await trio.sleep(0.1)
        return DepthSnapshot(symbol, next(snaps), ((281451, 1),), ((281452, 1),), 0)

    async with trio.open_nursery() as n:
        port = await start_server(n, handler)
        stream = MarketStream(
            f"ws://127.0.0.1:{port}/stream?streams=btcusdt@depth@100ms",
            BinanceDecoder([BTCUSDT]),
            "BTCUSDT",
            snapshot,
            rng=random.Random(1),
            clock_ms=lambda: int(trio.current_time() * 1000),
        )
        sink = Sink()
        n.start_soon(stream.run, sink)
        got = await collect(sink, 10)
        kinds = [type(e).__name__ for e in got]
        assert kinds == [
            "FeedStatus", "BookSnapshot", "BookDelta", "Trade", "BookDelta", "BookInvalid",
            "BookSnapshot", "BookDelta", "FeedStatus", "BookInvalid",
        ]  # fmt: skip
        assert isinstance(got[0], FeedStatus) and got[0].connected
        assert isinstance(got[2], BookDelta) and got[2].seq == 10 and got[2].bids[0][0] == 281451
        assert isinstance(got[3], Trade)
        assert isinstance(got[5], BookInvalid) and "gap" in got[5].reason
        assert isinstance(got[6], BookSnapshot) and got[6].seq == 27
        assert isinstance(got[7], BookDelta) and got[7].seq == 30
        assert isinstance(got[8], FeedStatus) and not got[8].connected
        # reconnect after a backoff delay, then a fresh snapshot sync
        again = await collect(sink, 3)
        assert isinstance(again[0], FeedStatus) and again[0].connected
        assert isinstance(again[1], BookSnapshot) and again[1].seq == 45
        assert isinstance(again[2], BookDelta) and again[2].seq == 50
        assert len(connections) == 2 and stream.resyncs == 1 and len(snapshot_calls) == 3
        n.cancel_scope.cancel()


async def test_market_reconnect_backs_off_when_server_refuses(autojump_clock: object) -> None:
    """Nothing listens: each attempt fails and waits a jittered, growing, capped delay."""
    with trio.socket.socket() as sock:  # grab a free port and close it: connection refused
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def snapshot(symbol: str) -> DepthSnapshot:
        raise AssertionError("no snapshot without a connection")

    stream = MarketStream(
        f"ws://127.0.0.1:{port}/stream", BinanceDecoder([BTCUSDT]), "BTCUSDT", snapshot,
        rng=random.Random(3), backoff_base_s=1.0, backoff_cap_s=8.0,
    )  # fmt: skip
    sink = Sink()
    with trio.move_on_after(60):
        await stream.run(sink)
    statuses = []
    while True:
        try:
            ev = sink.recv.receive_nowait()
        except trio.WouldBlock:
            break
        if isinstance(ev, FeedStatus):
            statuses.append(ev)
    assert statuses and not any(s.connected for s in statuses)
    # with the cap of 8 s, 60 virtual seconds allow many attempts but not unbounded ones
    assert 5 <= stream.backoff.attempt <= 60
    assert stream.connects == 0


class FakeKeys:
    def __init__(self) -> None:
        self.created: list[str] = []
        self.keepalives = 0

    async def new_listen_key(self) -> str:
        self.created.append(f"key{len(self.created) + 1}")
        return self.created[-1]

    async def keepalive_listen_key(self) -> None:
        self.keepalives += 1


OTU = {"e": "ORDER_TRADE_UPDATE", "E": 2, "T": 2, "o": {
    "s": "BTCUSDT", "c": "mm-1", "S": "BUY", "o": "LIMIT", "f": "GTX", "q": "0.002",
    "p": "28145.10", "ap": "0", "x": "NEW", "X": "NEW", "i": 7, "l": "0", "z": "0", "L": "0",
    "T": 2, "t": 0, "m": False, "R": False, "rp": "0"}}  # fmt: skip


async def test_user_stream_keepalive_and_listen_key_renewal(autojump_clock: object) -> None:
    paths: list[str] = []

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        paths.append(request.path)
        if len(paths) == 1:
            await ws.send_message(orjson.dumps(OTU))
            await trio.sleep(3 * 1800 + 5)  # three keep-alive periods
            await ws.send_message(orjson.dumps({"e": "listenKeyExpired", "E": 9}))
        await trio.sleep_forever()

    keys = FakeKeys()
    out = UserSinkChannel()
    async with trio.open_nursery() as n:
        port = await start_server(n, handler)
        stream = UserStream(f"ws://127.0.0.1:{port}", BinanceDecoder([BTCUSDT]), keys)
        n.start_soon(stream.run, out)
        got = [await out.recv.receive() for _ in range(4)]
        n.cancel_scope.cancel()
    assert isinstance(got[0], FeedStatus) and got[0].connected and got[0].stream == "user"
    assert isinstance(got[1], OrderUpdate) and got[1].client_id == "mm-1"
    # listenKeyExpired is handled by the stream itself (counted, not delivered): a renewal
    assert isinstance(got[2], FeedStatus) and not got[2].connected and "expired" in got[2].reason
    assert isinstance(got[3], FeedStatus) and got[3].connected
    assert stream.skipped["ListenKeyExpired"] == 1
    assert keys.created == ["key1", "key2"] and paths == ["/ws/key1", "/ws/key2"]
    assert keys.keepalives == 3 and stream.renewals == 1


class RateLimitedKeys(FakeKeys):
    """The REST side is in a 429 back-off after the first key: every POST is refused."""

    async def new_listen_key(self) -> str:
        if self.created:
            raise RateLimited("back-off; not sent", code="-1003", retry_after_s=5.0)
        return await super().new_listen_key()


async def test_a_dropped_user_stream_reconnects_with_its_key_and_no_rest_request(
    autojump_clock: object,
) -> None:
    # Chaos seed 139: the user stream dropped during a 429 back-off waited for the back-off
    # to POST a listen key, and a fill went unseen. A live key is reused: no REST at all.
    paths: list[str] = []

    async def handler(request: WebSocketRequest) -> None:
        if request.path == "/ws/stale":
            await request.reject(400, body=b'{"code":-1125,"msg":"This listenKey does not exist."}')
            return
        ws = await request.accept()
        paths.append(request.path)
        if len(paths) <= 2:
            await ws.aclose()  # a plain drop, twice
            return
        await ws.send_message(orjson.dumps(OTU))
        await trio.sleep_forever()

    keys = RateLimitedKeys()
    out = UserSinkChannel()
    async with trio.open_nursery() as n:
        port = await start_server(n, handler)
        stream = UserStream(f"ws://127.0.0.1:{port}", BinanceDecoder([BTCUSDT]), keys)
        n.start_soon(stream.run, out)
        with trio.fail_after(60):
            while True:
                event = await out.recv.receive()
                if isinstance(event, OrderUpdate):
                    break
        n.cancel_scope.cancel()
    assert paths == ["/ws/key1"] * 3 and keys.created == ["key1"] and stream.key_reuses == 2

    # A reused key the venue refuses is not reused again: the next attempt fetches a new one.
    keys2 = FakeKeys()
    keys2.created = ["stale"]
    stream = UserStream(f"ws://127.0.0.1:{port}", BinanceDecoder([BTCUSDT]), keys2)
    stream.listen_key, stream._key_proven, stream._key_extended_at = "stale", True, 0.0
    paths.clear()
    out2 = UserSinkChannel()
    async with trio.open_nursery() as n:
        port = await start_server(n, handler)
        stream._ws_base = f"ws://127.0.0.1:{port}"
        n.start_soon(stream.run, out2)
        with trio.fail_after(60):
            while not paths:  # noqa: ASYNC110 (the server's record of connections)
                await trio.sleep(0.01)
        n.cancel_scope.cancel()
    assert stream.key_reuses == 1 and keys2.created == ["stale", "key2"] and paths == ["/ws/key2"]


async def test_a_storm_of_gaps_does_not_become_a_storm_of_snapshots(autojump_clock: object) -> None:
    # Chaos seed 1007: ~170 gaps in 20 s each fetched a depth snapshot (weight 20) until the
    # venue answered 429, which then blocked cancels and the dead-man refresh as well.
    calls: list[float] = []

    async def snapshot(symbol: str) -> DepthSnapshot:
        calls.append(trio.current_time())
        return DepthSnapshot(symbol, len(calls), ((281451, 1),), ((281452, 1),), 0)

    stream = MarketStream(
        "ws://127.0.0.1:9/stream", BinanceDecoder([BTCUSDT]), "BTCUSDT", snapshot,
        rng=random.Random(7), clock_ms=lambda: int(trio.current_time() * 1000),
    )  # fmt: skip
    stream._sink = Sink()
    async with trio.open_nursery() as n:
        n.start_soon(stream._snapshot_worker)
        for _ in range(600):  # a gap every 100 ms for 60 s
            stream._invalidate("depth gap (test)")
            await trio.sleep(0.1)
        n.cancel_scope.cancel()
    assert 2 <= len(calls) <= 30, len(calls)
    # and once the feed is quiet for RESYNC_QUIET_S, a new gap is served at once again
    async with trio.open_nursery() as n:
        n.start_soon(stream._snapshot_worker)
        await trio.sleep(1)  # serves the request the storm left pending
        calls.clear()
        await trio.sleep(31)
        stream._invalidate("depth gap (test)")
        await trio.sleep(0.01)
        n.cancel_scope.cancel()
    assert len(calls) == 1
