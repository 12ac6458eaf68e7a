"""Order entry over the WebSocket API (ws-fapi) against the REAL simulated venue, on sockets:
place, amend, cancel and query over the socket; a lost answer and a socket that closes with
an order in flight are unknown outcomes resolved by query; REST carries orders while the
socket is down; bad frames are counted, never fatal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from urllib.parse import urlsplit

import pytest
import trio
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mmtrio.chaos.proxy import FaultProxy
from mmtrio.core.commands import AmendOrder, CancelOrder, PlaceOrder
from mmtrio.core.events import OrderStatus, Side, TimeInForce
from mmtrio.errors import AuthError, OutcomeUnknownError, RateLimited, VenueError
from mmtrio.runtime.metrics import Metrics
from mmtrio.runtime.screen_view import SnapshotBuilder
from mmtrio.runtime.status import StatusSources
from mmtrio.sim.venue import SimVenue
from mmtrio.venues.binance.venue import VENUE, BinanceSession
from mmtrio.venues.protocol import (
    OrderSocket,
    SessionHooks,
    SupervisedTasks,
    VenueCredentials,
    VenueSettings,
)
from tests.integration.sim_helpers import KEY, SECRET, running_sim

pytestmark = pytest.mark.integration
SYM = "BTCUSDT"


def clock() -> int:
    return int(trio.current_time() * 1000)


@asynccontextmanager
async def session(
    secret: str = SECRET, timeout_s: float = 5.0, proxies: list[FaultProxy] | None = None
) -> AsyncIterator[tuple[SimVenue, BinanceSession]]:
    """A Binance session on the sim; with ``proxies``, its order socket goes through a fault
    proxy (appended there) while market data and the user stream do not."""
    async with running_sim() as (venue, urls), trio.open_nursery() as front_ends:
        order_ws = urls.ws
        if proxies is not None:
            up = urlsplit(urls.ws)
            assert up.hostname is not None and up.port is not None
            proxy = FaultProxy({"ws": (up.hostname, up.port)})
            proxies.append(proxy)
            listeners = await front_ends.start(
                partial(trio.serve_tcp, partial(proxy.serve, "ws"), 0, host="127.0.0.1")
            )
            order_ws = f"ws://127.0.0.1:{listeners[0].socket.getsockname()[1]}"
        settings = VenueSettings(
            "binance",
            "paper",
            SYM,
            {
                "rest": urls.rest,
                "market_ws": urls.ws,
                "private_ws": urls.ws,
                "order_ws": f"{order_ws}/ws-fapi/v1",
            },
        )
        sess = VENUE.open(settings, VenueCredentials(KEY, secret), SessionHooks(clock_ms=clock))
        assert sess.orders is not None and sess.capabilities.ws_order_entry
        sess.orders.timeout_s = timeout_s
        sess.orders.backoff.base_s = sess.orders.backoff.cap_s = 0.2
        await sess.sync_clock()
        await sess.load_instrument()
        assert isinstance(sess, SupervisedTasks)
        async with trio.open_nursery() as nursery:
            for _, task in sess.supervised_tasks():
                nursery.start_soon(task)
            await until_connected(sess)
            yield venue, sess
            nursery.cancel_scope.cancel()
        await sess.aclose()
        front_ends.cancel_scope.cancel()


async def until_connected(sess: BinanceSession, up: bool = True) -> None:
    assert sess.orders is not None
    with trio.fail_after(10):
        while sess.orders.connected != up:  # noqa: ASYNC110 - the reconnect loop's state
            await trio.sleep(0.01)


def place(sess: BinanceSession, cid: str) -> PlaceOrder:
    """A passive post-only buy far below the market: rests without filling."""
    inst = sess.instrument
    return PlaceOrder(cid, SYM, Side.BUY, inst.price_to_ticks("50000"), inst.qty_to_lots("0.010"),
                      TimeInForce.POST_ONLY)  # fmt: skip


def ws_methods(venue: SimVenue) -> list[str]:
    return [r.path for r in venue.request_log if r.method == "WS"]


def rest_orders(venue: SimVenue) -> list[str]:
    return [r.method for r in venue.request_log if r.path == "/fapi/v1/order"]


async def test_place_amend_query_cancel_go_over_the_socket() -> None:
    async with session() as (venue, sess):
        gw, inst = sess.gateway, sess.instrument
        ack = await gw.place(place(sess, "ws-a"))
        assert ack.client_id == "ws-a" and ack.status is OrderStatus.NEW
        amended = await gw.amend(
            AmendOrder(
                "ws-a", SYM, Side.BUY, inst.price_to_ticks("50010"), inst.qty_to_lots("0.020")
            )
        )
        assert amended.order_id == ack.order_id
        state = await gw.query(SYM, "ws-a")
        assert state is not None and state.price == inst.price_to_ticks("50010")
        assert state.qty == inst.qty_to_lots("0.020")
        await gw.cancel(CancelOrder("ws-a", SYM))
        state = await gw.query(SYM, "ws-a")
        assert state is not None and state.status is OrderStatus.CANCELED
        assert await gw.query(SYM, "never-placed") is None  # -2013 over the socket: None
        assert ws_methods(venue) == ["order.place", "order.modify", "order.status",
                                     "order.cancel", "order.status", "order.status"]  # fmt: skip
        assert rest_orders(venue) == []  # nothing went over REST
        assert gw.ws_requests == 5  # the -2013 answer is an error, not a parsed answer


async def test_a_refused_order_is_the_venues_error_and_the_rate_limits_reach_the_budget() -> None:
    async with session() as (venue, sess):
        usage: list[dict[str, int | None]] = []
        sess.rest.on_usage = usage.append
        await sess.gateway.place(place(sess, "ws-b"))
        assert usage and usage[-1]["orders_10s"] == 1 and usage[-1]["weight_1m"] is not None
        with pytest.raises(VenueError) as info:
            await sess.gateway.place(place(sess, "ws-b"))  # the same client id again
        assert info.value.definite and info.value.code is not None
        venue.inject("http_429", {"count": 1, "retry_after": 3})
        with pytest.raises(RateLimited):
            await sess.gateway.place(place(sess, "ws-c"))
        # One back-off for both transports: REST refuses without sending, too.
        n = len(venue.request_log)
        with pytest.raises(RateLimited):
            await sess.rest.open_orders(SYM)
        assert len(venue.request_log) == n


async def test_a_wrong_secret_is_refused_over_the_socket() -> None:
    async with session(secret="not-the-secret") as (venue, sess):
        with pytest.raises((AuthError, VenueError)) as info:
            await sess.gateway.place(place(sess, "ws-d"))
        assert info.value.code == "-1022"
        assert venue.account.open_records() == [] and ws_methods(venue) == ["order.place"]


async def test_a_lost_answer_is_an_unknown_outcome_resolved_by_query() -> None:
    async with session(timeout_s=0.5) as (venue, sess):
        venue.inject("order_drop", {"count": 1})
        with pytest.raises(OutcomeUnknownError):
            await sess.gateway.place(place(sess, "ws-e"))
        state = await sess.gateway.query(SYM, "ws-e")  # it did execute
        assert state is not None and state.status is OrderStatus.NEW
        assert sess.orders is not None and sess.orders.timeouts == 1
        # The missing answer brought a ping forward; the link answered it, so it stays.
        assert sess.orders.doubts == 1
        await trio.sleep(1.0)  # twice the probe's pong deadline
        assert sess.orders.connected and sess.orders.connects == 1


async def test_a_silent_order_socket_is_replaced_after_one_request_without_an_answer() -> None:
    # Chaos seed 10067 (Binance): the link under the order socket went silent (a half-open
    # path) for the run's last 7 s. Every request on it timed out, reads too, so the
    # reconciliation never learnt a fill made during a halt; the socket's own ping was 30 s
    # away. Now the first unanswered request pings at once, and the missing pong ends the
    # connection: REST carries orders and reads until the socket is back.
    proxies: list[FaultProxy] = []
    async with session(timeout_s=0.5, proxies=proxies) as (_venue, sess):
        proxy, orders = proxies[0], sess.orders
        assert orders is not None and orders.connects == 1
        async with trio.open_nursery() as windows:
            proxy.half_open("ws", 600, "resume", windows)  # silent both ways, still "up"
            with pytest.raises(OutcomeUnknownError, match="no answer on the order socket"):
                await orders.request(
                    "order.status", [("symbol", SYM), ("origClientOrderId", "x")], mutates=False
                )
            assert orders.doubts == 1
            with trio.fail_after(2.0):  # the probe's pong deadline is the request's 0.5 s
                await until_connected(sess, up=False)
            # meanwhile the gateway reads over REST (nothing waits on the silent socket)
            assert await sess.gateway.query(SYM, "never-placed") is None
            proxy.half_open("ws", 0.01, "resume", windows)  # the path heals
            await until_connected(sess)
            assert orders.connects == 2
            windows.cancel_scope.cancel()


async def test_a_socket_closed_with_an_order_in_flight_then_rest_then_the_socket_again() -> None:
    async with session() as (venue, sess):
        orders = sess.orders
        assert orders is not None
        venue.inject("order_drop", {"count": 1})
        outcome: list[BaseException] = []

        async def in_flight() -> None:
            try:
                await sess.gateway.place(place(sess, "ws-f"))
            except OutcomeUnknownError as exc:
                outcome.append(exc)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(in_flight)
            with trio.fail_after(5):
                while "order.place" not in ws_methods(venue):  # noqa: ASYNC110 - the sim's log
                    await trio.sleep(0.01)
            orders.backoff.base_s = orders.backoff.cap_s = 3.0  # stay down a while
            venue.inject("ws_close", {"target": "orders"})
        assert len(outcome) == 1 and "closed" in str(outcome[0])
        assert orders.lost_in_flight == 1
        await until_connected(sess, up=False)
        # While the socket is down, REST carries orders; the unknown one is queried.
        state = await sess.gateway.query(SYM, "ws-f")
        assert state is not None and state.status is OrderStatus.NEW
        ack = await sess.gateway.place(place(sess, "ws-g"))
        assert ack.client_id == "ws-g"
        assert rest_orders(venue) == ["GET", "POST"]
        await until_connected(sess)
        await sess.gateway.cancel(CancelOrder("ws-g", SYM))
        assert ws_methods(venue)[-1] == "order.cancel"


async def test_bad_frames_and_answers_nobody_waits_for_are_counted_not_fatal() -> None:
    async with session() as (_, sess):
        orders = sess.orders
        assert orders is not None
        orders._on_frame("not json")
        orders._on_frame('{"no": "id"}')
        orders._on_frame('{"id": "m999", "status": 200, "result": {}}')
        assert (orders.bad_frames, orders.unknown_ids) == (2, 1)
        # An answer with no result and no error code: an unknown outcome, counted.
        for answer in (
            {"id": "m1", "status": 400, "error": {"msg": "no code"}},
            {"id": "m1", "status": 400, "error": "garbage"},
            {"id": "m1", "status": 200},
        ):
            with pytest.raises(OutcomeUnknownError):
                await orders._result("order.place", answer)
        assert orders.codeless_errors == 3
        ack = await sess.gateway.place(place(sess, "ws-h"))  # the session carries on
        assert ack.client_id == "ws-h" and orders.connected


async def test_the_order_socket_shows_as_ws_orders_in_the_metrics() -> None:
    async with session() as (venue, sess):
        orders = sess.orders
        assert orders is not None
        src = StatusSources(symbol=SYM, clock_ms=clock, instrument=sess.instrument)
        src.orders = sess.order_socket if isinstance(sess, OrderSocket) else None
        metrics = Metrics(SnapshotBuilder(src).build)
        await sess.gateway.place(place(sess, "ws-m"))
        got = exported(metrics)
        assert got[("mmtrio_ws_up", "orders")] == 1.0
        assert got[("mmtrio_ws_messages_total", "orders")] == 1
        assert got[("mmtrio_ws_reconnects_total", "orders")] == 0
        orders.backoff.base_s = orders.backoff.cap_s = 1.0  # stay down a moment
        venue.inject("ws_close", {"target": "orders"})
        await until_connected(sess, up=False)
        assert exported(metrics)[("mmtrio_ws_up", "orders")] == 0.0
        await until_connected(sess)
        await sess.gateway.cancel(CancelOrder("ws-m", SYM))
        got = exported(metrics)
        assert got[("mmtrio_ws_up", "orders")] == 1.0
        assert got[("mmtrio_ws_reconnects_total", "orders")] == 1
        assert got[("mmtrio_ws_messages_total", "orders")] == 2


def exported(metrics: Metrics) -> dict[tuple[str, str], float]:
    """{(name, ws label): value} of the websocket series."""
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, s.labels["ws"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if "ws" in s.labels
    }
