"""Execution, the dead-man heartbeat and reconciliation against the REAL simulated venue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import httpx
import pytest
import trio

from mmtrio.core.commands import CancelOrder, Command, PlaceOrder, QueryOrder
from mmtrio.core.events import (
    CancelAccepted,
    Event,
    OrderStatus,
    OrderUpdate,
    OutcomeUnknown,
    PlaceAccepted,
    PlaceRejected,
    Side,
    TimeInForce,
)
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.ratelimit import RateBudget
from mmtrio.core.rejects import RejectKind
from mmtrio.runtime.breaker import CircuitBreaker
from mmtrio.runtime.deadman import deadman_heartbeat
from mmtrio.runtime.execution import Execution
from mmtrio.sim.venue import SimVenue
from mmtrio.venues.binance.codec import BinanceDecoder
from mmtrio.venues.binance.costs import COSTS, DEFAULT_LIMITS
from mmtrio.venues.binance.gateway import RestGateway
from mmtrio.venues.binance.rest import BinanceRest
from mmtrio.venues.binance.signing import Signer
from tests.integration.sim_helpers import KEY, SECRET, running_sim

pytestmark = pytest.mark.integration
SYM = "BTCUSDT"


def clock() -> int:
    return int(trio.current_time() * 1000)


@asynccontextmanager
async def connected() -> AsyncIterator[
    tuple[
        SimVenue,
        str,
        RestGateway,
        Execution,
        trio.MemoryReceiveChannel[Event],
        trio.MemorySendChannel[Command],
    ]
]:
    async with running_sim() as (venue, urls):
        rest = BinanceRest(urls.rest, BinanceDecoder([BTCUSDT]), signer=Signer(KEY, SECRET))
        async with rest:
            gw = RestGateway(rest, BTCUSDT)
            ev_send, ev_recv = trio.open_memory_channel[Event](100)
            cmd_send, cmd_recv = trio.open_memory_channel[Command](100)
            ex = Execution(
                gw,
                BTCUSDT,
                RateBudget(DEFAULT_LIMITS),
                CircuitBreaker(),
                ev_send,
                clock,
                costs=COSTS,
            )
            rest.on_usage = ex.on_usage  # the engine wires this at construction
            async with trio.open_nursery() as n:
                n.start_soon(ex.run, cmd_recv)
                yield venue, urls.admin, gw, ex, ev_recv, cmd_send
                n.cancel_scope.cancel()


def passive_buy(venue: SimVenue, cid: str, ticks_below: int = 100) -> PlaceOrder:
    best_bid = venue.book.best()[0]
    assert best_bid is not None
    bid = best_bid[0]
    return PlaceOrder(
        cid, SYM, Side.BUY, bid - ticks_below, BTCUSDT.min_qty * 10, TimeInForce.POST_ONLY
    )


async def outcome(ev_recv: trio.MemoryReceiveChannel[Event]) -> Event:
    with trio.fail_after(10):
        return await ev_recv.receive()


async def test_place_query_cancel_post_only() -> None:
    async with connected() as (venue, _, _gw, ex, ev, cmds):
        await cmds.send(passive_buy(venue, "t1-1"))
        assert isinstance(await outcome(ev), PlaceAccepted)
        await cmds.send(QueryOrder("t1-1", SYM))
        upd = await outcome(ev)
        assert isinstance(upd, OrderUpdate) and upd.status is OrderStatus.NEW
        assert upd.time_in_force is TimeInForce.POST_ONLY
        await cmds.send(CancelOrder("t1-1", SYM))
        assert isinstance(await outcome(ev), CancelAccepted)
        assert venue.account.orders["t1-1"].status == "CANCELED"
        assert ex.stats()["requests"] == 3


async def test_5xx_after_accept_is_unknown_then_query_finds_it_no_duplicate() -> None:
    async with connected() as (venue, admin, _gw, _ex, ev, cmds), httpx.AsyncClient() as http:
        r = await http.post(f"{admin}/admin/fault", json={"kind": "order_5xx", "count": 1})
        assert r.status_code == 200
        await cmds.send(passive_buy(venue, "t2-1"))
        unknown = await outcome(ev)
        assert isinstance(unknown, OutcomeUnknown) and unknown.operation == "place"
        await cmds.send(QueryOrder("t2-1", SYM))
        found = await outcome(ev)
        assert isinstance(found, OrderUpdate) and found.status is OrderStatus.NEW
        truth = (await http.get(f"{admin}/admin/state")).json()
        assert [o["client_id"] for o in truth["orders"]] == ["t2-1"]  # exactly one, no resubmit


async def test_429_burst_backs_off_and_never_earns_a_418() -> None:
    async with connected() as (venue, admin, _gw, ex, ev, cmds), httpx.AsyncClient() as http:
        await http.post(
            f"{admin}/admin/fault", json={"kind": "http_429", "count": 1, "retry_after": 1}
        )
        t0 = trio.current_time()
        # Sequential: a request already on the wire when the 429 comes back cannot be
        # recalled (the sim bans it), so the burst follows the first answer.
        got = []
        for i in range(5):
            await cmds.send(passive_buy(venue, f"t3-{i}", 100 + i))
            got.append(await outcome(ev))
        assert all(isinstance(e, PlaceRejected) for e in got)
        assert got[0].kind is RejectKind.RATE_LIMITED  # type: ignore[union-attr]
        assert all(e.kind is RejectKind.LOCAL for e in got[1:])  # type: ignore[union-attr]
        # a cancel waits out Retry-After instead of hammering the venue
        await cmds.send(CancelOrder("t3-0", SYM))
        await outcome(ev)
        assert trio.current_time() - t0 >= 0.9
        truth = (await http.get(f"{admin}/admin/state")).json()
        assert truth["rate_limits"]["http_418"] == 0
        assert ex.stats()["rate_limited"] == 1


async def test_deadman_armed_then_disarmed_on_exit() -> None:
    async with running_sim() as (venue, urls):
        rest = BinanceRest(urls.rest, BinanceDecoder([BTCUSDT]), signer=Signer(KEY, SECRET))
        async with rest, trio.open_nursery() as n:
            gw = RestGateway(rest, BTCUSDT)
            await n.start(deadman_heartbeat, gw, SYM, 30_000, 200)
            assert venue.countdown_ms == 30_000 and venue.countdown_deadline is not None
            await trio.sleep(0.5)  # a refresh or two
            n.cancel_scope.cancel()
        assert venue.countdown_ms == 0 and venue.countdown_deadline is None


async def test_deadman_first_arm_waits_out_a_429_instead_of_crashing() -> None:
    # Chaos seed 11: the restarted dead-man child met a 429 on its first arm, crashed on each
    # restart, and the supervisor escalated (exit 3). It now waits Retry-After, then arms.
    async with running_sim() as (venue, urls):
        venue.inject("http_429", {"count": 1, "retry_after": 1})
        rest = BinanceRest(urls.rest, BinanceDecoder([BTCUSDT]), signer=Signer(KEY, SECRET))
        async with rest.closing(), trio.open_nursery() as n:
            gw = RestGateway(rest, BTCUSDT)
            await n.start(deadman_heartbeat, gw, SYM, 30_000, 5_000)
            assert venue.countdown_ms == 30_000 and venue.countdown_deadline is not None
            n.cancel_scope.cancel()
        assert venue.limiter.count_429 == 1 and venue.limiter.count_418 == 0


async def test_user_trades_round_trip_and_position() -> None:
    async with connected() as (venue, _, gw, _ex, ev, cmds):
        best_ask = venue.book.best()[1]
        assert best_ask is not None
        ask = best_ask[0]
        await cmds.send(
            PlaceOrder("t5-1", SYM, Side.BUY, ask + 50, BTCUSDT.min_qty * 10, TimeInForce.IOC)
        )
        assert isinstance(await outcome(ev), PlaceAccepted)
        fills = await gw.user_trades(SYM, None)
        assert fills and all(f.side is Side.BUY for f in fills)
        assert sum(f.qty for f in fills) == venue.account.position
        assert [f.trade_id for f in fills] == [f.trade_id for f in venue.account.fills]
        later = await gw.user_trades(SYM, fills[-1].trade_id + 1)
        assert later == []
        lots, entry = await gw.position(SYM)
        assert lots == venue.account.position and entry == venue.account.entry_price
        assert entry > Decimal(0)
