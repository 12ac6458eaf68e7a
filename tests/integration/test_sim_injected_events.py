"""The faults that act on the venue now, through the shared engine and the Binance front end.

Issue #20 added them on the old flat sim; after the split they live in the shared engine
(``sim/inject.py``), and what a client sees is the front end's: a ``fill`` on demand (TRADE_LITE
first, then the fill's ORDER_TRADE_UPDATE and ACCOUNT_UPDATE), ``user_replay`` sending again
only the events the front end marked as fills, ``position_adjust`` said as an ACCOUNT_UPDATE of
reason ADJUSTMENT, ``disarm`` and ``link_silent``. No market runs (the book stays the seed's
snapshot) and the user stream is served over an in-memory stream, on a virtual clock.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import trio
import trio.testing
from trio_websocket import WebSocketConnection, wrap_client_stream

from mmtrio.core.instruments import BTCUSDT
from mmtrio.sim.binance.auth import DEFAULT_CREDENTIALS
from mmtrio.sim.binance.frontend import FRONT_END, BinanceFrontEnd
from mmtrio.sim.clock import TrioClock
from mmtrio.sim.errors import SimBadRequest
from mmtrio.sim.synthetic import SyntheticDriver, SyntheticParams
from mmtrio.sim.venue import SimConfig, SimVenue

EPOCH_MS = 1_700_000_000_000


def new_venue() -> tuple[SimVenue, BinanceFrontEnd]:
    venue = SimVenue(
        SyntheticDriver(BTCUSDT, 5, SyntheticParams()),
        SimConfig(clock=TrioClock(EPOCH_MS), seed=5),
    )
    return venue, FRONT_END.create(venue)


def rest_buy(venue: SimVenue, front: BinanceFrontEnd, cid: str, ticks_below: int) -> None:
    """A resting post-only buy ``ticks_below`` the best bid, as another client places it."""
    best = venue.engine.best_bid()
    assert best is not None
    price = venue.instrument.price_str(best[0] - ticks_below)
    front.admin_order(
        {"symbol": venue.symbol, "side": "BUY", "type": "LIMIT", "timeInForce": "GTX",
         "quantity": "0.010", "price": price, "newClientOrderId": cid}
    )  # fmt: skip


async def user_stream(
    nursery: trio.Nursery, front: BinanceFrontEnd, path: str = "/ws/{key}"
) -> WebSocketConnection:
    transport = httpx.ASGITransport(app=front.rest_app)
    headers = {"X-MBX-APIKEY": DEFAULT_CREDENTIALS.api_key}
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        key = (await http.post("/fapi/v1/listenKey", headers=headers)).json()["listenKey"]
    client_side, server_side = trio.testing.memory_stream_pair()
    nursery.start_soon(front.serve_ws, server_side)
    # an in-memory stream: trio-websocket's annotation says socket, any Stream works
    return await wrap_client_stream(nursery, client_side, "sim", path.format(key=key))  # type: ignore[arg-type]


async def events(ws: WebSocketConnection, n: int) -> list[dict[str, Any]]:
    with trio.fail_after(5):
        return [json.loads(await ws.get_message()) for _ in range(n)]


async def test_fill_then_user_replay_sends_only_the_fill_events(autojump_clock: object) -> None:
    venue, front = new_venue()
    async with trio.open_nursery() as nursery:
        ws = await user_stream(nursery, front)
        rest_buy(venue, front, "bid-1", 5)
        rest_buy(venue, front, "bid-2", 10)
        (new1, new2) = await events(ws, 2)
        assert [new1["o"]["x"], new2["o"]["x"]] == ["NEW", "NEW"]

        venue.inject("fill", {"side": "BUY"})  # through our best bid only
        lite, trade, account = await events(ws, 3)
        assert lite["e"] == "TRADE_LITE" and lite["c"] == "bid-1"  # first, without the fee
        assert trade["e"] == "ORDER_TRADE_UPDATE" and trade["o"]["x"] == "TRADE"
        assert trade["o"]["c"] == "bid-1" and trade["o"]["m"] is True
        assert account["e"] == "ACCOUNT_UPDATE" and account["a"]["m"] == "ORDER"
        assert venue.account.position == 10  # 0.010 BTC in lots of 0.001

        venue.inject("user_replay", {"count": 5})  # more than there were: what there is
        (again,) = await events(ws, 1)
        assert again == trade  # the fill's ORDER_TRADE_UPDATE, byte for byte; no TRADE_LITE
        venue.inject("fill", {"client_id": "bid-2"})
        _, trade2, _ = await events(ws, 3)
        venue.inject("user_replay", {"count": 2})
        assert await events(ws, 2) == [trade, trade2]  # oldest first
        nursery.cancel_scope.cancel()


async def test_position_adjust_is_an_adjustment_not_a_trade(autojump_clock: object) -> None:
    venue, front = new_venue()
    async with trio.open_nursery() as nursery:
        ws = await user_stream(nursery, front)
        venue.inject("position_adjust", {"lots": -3})
        (update,) = await events(ws, 1)
        assert update["e"] == "ACCOUNT_UPDATE" and update["a"]["m"] == "ADJUSTMENT"
        assert update["a"]["P"][0]["pa"] == "-0.003"
        truth = venue.ground_truth()
        assert truth["position"]["lots"] == -3
        assert venue.account.position == -3 and venue.engine.position == -3
        assert [a["lots"] for a in truth["adjustments"]] == [-3]
        assert list(venue.account.fills) == []  # the trade history does not list it
        venue.inject("user_replay", {"count": 1})  # not a fill: nothing to replay
        with trio.move_on_after(1):
            extra = await ws.get_message()
            raise AssertionError(f"replayed a non-fill event: {extra!r}")
        nursery.cancel_scope.cancel()


async def test_subscribe_by_listen_key_on_a_bare_private_stream(autojump_clock: object) -> None:
    venue, front = new_venue()
    async with trio.open_nursery() as nursery:
        ws = await user_stream(nursery, front, "/private/stream")
        key = front.listen_keys.key
        await ws.send_message(json.dumps({"method": "SUBSCRIBE", "params": [key], "id": 1}))
        assert await events(ws, 1) == [{"result": None, "id": 1}]
        await ws.send_message(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
        assert await events(ws, 1) == [{"result": [key], "id": 2}]
        rest_buy(venue, front, "bid-1", 5)
        (new,) = await events(ws, 1)
        assert new["stream"] == key and new["data"]["o"]["c"] == "bid-1"  # combined envelope
        await ws.send_message(json.dumps({"method": "UNSUBSCRIBE", "params": [key], "id": 3}))
        assert await events(ws, 1) == [{"result": None, "id": 3}]
        assert venue.hub.users == set()
        nursery.cancel_scope.cancel()


def test_disarm_and_the_parameters_of_the_immediate_faults() -> None:
    async def main() -> None:
        venue, _ = new_venue()
        for kind in ("http_429", "order_5xx", "order_drop", "depth_skip", "user_reorder"):
            venue.inject(kind, {"count": 3})
        venue.inject("delay", {"count": 2, "ms": 100})
        venue.inject("error_code", {"count": 1})
        venue.inject("disarm")
        f = venue.faults
        armed = (f.http_429, f.order_5xx, f.order_drop, f.depth_skip, f.user_reorder,
                 f.delay_count, f.error_count)  # fmt: skip
        assert armed == (0,) * 7
        venue.inject("link_silent", {"seconds": 1.5, "then": "reset"})
        assert [(end - start, reset) for start, end, reset in venue.limiter.silent] == [(1.5, True)]
        venue.inject("client_slow", {"seconds": None})
        venue.inject("client_slow", {"seconds": 2.5})
        assert [end - start for start, end in venue.limiter.slow] == [float("inf"), 2.5]
        for kind, params, named in (
            ("client_slow", {"seconds": -1}, "seconds"),
            ("client_slow", {"seconds": "x"}, "seconds"),
            ("link_silent", {"seconds": 0}, "seconds"),
            ("link_silent", {}, "seconds"),
            ("position_adjust", {"lots": 0}, "lots"),
            ("position_adjust", {"lots": True}, "lots"),
            ("fill", {"side": "up"}, "side"),
            ("fill", {"client_id": "nobody"}, "nobody"),
            ("user_replay", {"count": -1}, "count"),
        ):
            with pytest.raises(SimBadRequest, match=named):
                venue.inject(kind, params)
        assert venue.inject("fill", {"side": "SELL"}).kind == "fill"  # nothing of ours: no-op
        assert venue.account.position == 0

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
