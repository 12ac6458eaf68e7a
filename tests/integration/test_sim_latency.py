"""The sim's network latency (SimConfig.latency_ms) over real loopback sockets.

Only lower bounds are checked — a sleep never ends early, so these cannot flake on a slow
machine: an order reaches the matching engine no sooner than ``latency`` after it was sent,
its answer no sooner than ``latency`` after that, and every websocket message leaves no
sooner than ``latency`` after the venue produced it, in the order it was produced.
"""

from __future__ import annotations

import json

import httpx
import pytest
import trio
from trio_websocket import open_websocket_url

from mmtrio.errors import ConfigError
from mmtrio.sim.hub import StreamConn
from mmtrio.sim.venue import SimConfig
from tests.integration.sim_helpers import ORDER, running_sim, signed

pytestmark = pytest.mark.integration
LATENCY_MS = 250


def test_latency_outside_its_range_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match=r"latency_ms must be 0\.\.5000 ms, got 6000"):
        SimConfig(latency_ms=6000)


async def test_an_order_reaches_the_venue_and_its_answer_the_client_one_latency_apart() -> None:
    latency = LATENCY_MS / 1000
    config = SimConfig(speed=5.0, latency_ms=LATENCY_MS)
    async with running_sim(config) as (venue, urls), httpx.AsyncClient() as http:
        answered: list[float] = []

        async def place() -> None:
            r = await signed(http, "POST", f"{urls.rest}/fapi/v1/order", ORDER)
            assert r.status_code == 200, r.text
            answered.append(trio.current_time())

        sent = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(place)
            with trio.fail_after(10):
                while not venue.engine.open_orders():  # noqa: ASYNC110 (the venue's state)
                    await trio.sleep(0.005)
            arrived = trio.current_time()
        assert arrived - sent >= latency  # on its way in
        assert answered[0] - sent >= 2 * latency  # and the answer on its way out


async def test_websocket_messages_leave_one_latency_after_the_venue_made_them_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    latency = LATENCY_MS / 1000
    offered: dict[str, float] = {}
    original = StreamConn.offer

    def offer(self: StreamConn, text: str) -> None:
        offered.setdefault(text, trio.current_time())
        original(self, text)

    monkeypatch.setattr(StreamConn, "offer", offer)
    config = SimConfig(speed=5.0, latency_ms=LATENCY_MS)
    # Raw stream: the text the hub offers is exactly the frame the client receives.
    async with (
        running_sim(config) as (_, urls),
        open_websocket_url(f"{urls.ws}/ws/btcusdt@depth@0ms") as ws,
    ):
        received: list[tuple[str, float]] = []
        with trio.fail_after(30):
            while len(received) < 40:
                text = await ws.get_message()
                assert isinstance(text, str)
                received.append((text, trio.current_time()))
    assert all(text in offered for text, _ in received)
    assert all(at - offered[text] >= latency for text, at in received)
    ids = [json.loads(text)["u"] for text, _ in received]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)  # order kept, nothing repeated
