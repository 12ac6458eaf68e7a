"""The simulated venues' websocket order entry judges a held 429 by whether it can still be
read: Binance's ws-fapi and Hyperliquid's ``post``.

DST seed 204799 (60 s, Binance): an order socket's amend, sent into a half-open link, reached
the venue when the link reset and drew an injected 429 (Retry-After 1 s) that a latency fault
held 1 s. The connection was dead by then, so the answer never arrived, but the front end told
the limiter it had been read (``RateLimiter.answer_sent``); the bot, told of no 429 at all,
sent its next read 0.45 s later and was banned 120 s (418), and every reconciliation after that
was refused: the fill its order had taken during the silence was never booked. Hyperliquid's
``post`` answered its held 429s the same way.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest
import trio

from mmtrio.sim import frontends
from mmtrio.sim.binance.frontend import BinanceFrontEnd
from mmtrio.sim.clock import TrioClock
from mmtrio.sim.hub import StreamConn
from mmtrio.sim.hyperliquid.frontend import HyperliquidFrontEnd
from mmtrio.sim.paper import synthetic_instrument
from mmtrio.sim.synthetic import SyntheticDriver, SyntheticParams
from mmtrio.sim.venue import SimConfig, SimVenue

SYM = "BTCUSDT"
# (a new order connection, send one request on it) for a front end, its nursery given
Entry = tuple[Callable[[], StreamConn], Callable[[StreamConn, int], Awaitable[None]]]


def _binance(venue: SimVenue, nursery: trio.Nursery) -> Entry:
    front = frontends.factory("binance").create(venue)
    assert isinstance(front, BinanceFrontEnd)
    entry = front.ws.orders
    assert entry is not None
    entry.nursery = nursery

    def connect() -> StreamConn:
        conn = StreamConn.create(user=False, envelope=None)
        entry.opened(conn)
        return conn

    async def send(conn: StreamConn, rid: int) -> None:
        # The limiter and the injected 429 come before the signature is checked.
        entry.receive(conn, json.dumps({"id": f"m{rid}", "method": "order.place", "params": {}}))
        await trio.lowlevel.checkpoint()

    return connect, send


def _hyperliquid(venue: SimVenue, nursery: trio.Nursery) -> Entry:
    front = frontends.factory("hyperliquid").create(venue)
    assert isinstance(front, HyperliquidFrontEnd)
    ws = front.ws
    ws.nursery = nursery

    async def send(conn: StreamConn, rid: int) -> None:
        post = {
            "method": "post",
            "id": rid,
            "request": {"type": "info", "payload": {"type": "meta"}},
        }
        assert await ws.on_message(conn, json.dumps(post)) == []  # answered later

    return lambda: ws.open("/ws"), send


def _limited(conn: StreamConn) -> str:
    """The answer's refusal: "429" (back off) or "418" (banned)."""
    _, text = conn.receive.receive_nowait()
    if "banned" in text:
        return "418"
    assert "Too many requests" in text or '"status":429' in text, text
    return "429"


@pytest.mark.parametrize("front", [_binance, _hyperliquid], ids=["binance", "hyperliquid"])
@pytest.mark.parametrize(("reset", "next_answer"), [(True, "429"), (False, "418")])
async def test_a_held_429_on_a_connection_that_died_meanwhile_tells_the_client_nothing(
    autojump_clock: trio.abc.Clock,
    front: Callable[[SimVenue, trio.Nursery], Entry],
    reset: bool,
    next_answer: str,
) -> None:
    venue = SimVenue(
        SyntheticDriver(synthetic_instrument(SYM), 1, SyntheticParams()),
        SimConfig(clock=TrioClock(1_700_000_000_000), seed=1),
    )
    async with trio.open_nursery() as nursery:
        connect, send = front(venue, nursery)
        first = connect()
        venue.inject("http_429", {"count": 1, "retry_after": 2})  # back off until 2.0 s
        venue.inject("delay", {"count": 1, "ms": 1000})  # its answer leaves at 1.0 s
        await send(first, 1)
        await trio.sleep(0.2)
        if reset:
            first.close("connection reset")  # the link dies with the answer still held
        await trio.sleep(1.3)  # 1.5 s: past the 429's grace, inside its Retry-After
        if not reset:
            assert _limited(first) == "429"  # read at 1.0 s: the client knew
        second = connect()
        await send(second, 2)
        await trio.sleep(0.01)
        # Never read: the next request is one the client could not hold back (429, no ban).
        # Read: the client sent inside the back-off it was told of, and is banned.
        assert _limited(second) == next_answer
        assert venue.limiter.count_418 == (0 if reset else 1)
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("front", [_binance, _hyperliquid], ids=["binance", "hyperliquid"])
@pytest.mark.parametrize(("muted", "next_answer"), [(True, "429"), (False, "418")])
async def test_a_429_the_ws_mute_fault_drops_tells_the_client_nothing(
    autojump_clock: trio.abc.Clock,
    front: Callable[[SimVenue, trio.Nursery], Entry],
    muted: bool,
    next_answer: str,
) -> None:
    # Not held, yet never read: the ws_mute fault drops what the connection is offered, and
    # the connection stays open. The limiter took such a 429 as read at once.
    venue = SimVenue(
        SyntheticDriver(synthetic_instrument(SYM), 1, SyntheticParams()),
        SimConfig(clock=TrioClock(1_700_000_000_000), seed=1),
    )
    async with trio.open_nursery() as nursery:
        connect, send = front(venue, nursery)
        first = connect()
        if muted:
            first.mute_until = trio.current_time() + 1.0
        venue.inject("http_429", {"count": 1, "retry_after": 2})  # back off until 2.0 s
        await send(first, 1)
        await trio.sleep(0.5)  # inside its Retry-After, well past any in-flight grace
        if muted:
            assert first.muted == 1 and first.receive.statistics().current_buffer_used == 0
        else:
            assert _limited(first) == "429"  # read: the client knew
        second = connect()
        await send(second, 2)
        await trio.sleep(0.01)
        assert _limited(second) == next_answer
        assert venue.limiter.count_418 == (0 if muted else 1)
        nursery.cancel_scope.cancel()
