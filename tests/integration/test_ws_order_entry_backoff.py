"""The order socket (ws-fapi) under held answers and 429s, on virtual time: the real Binance
session against the real simulated venue, connected in memory (:mod:`mmtrio.chaos.memlinks`,
as in the deterministic simulation).

Regression for chaos seed 26 (issue 15): the bot sent an amend and a place together; the amend
drew an injected 429 whose answer a latency fault held 319 ms, and the bot sent one more place
before that answer arrived. The sim acted on a socket's requests one at a time, each after the
previous one's answer had left, so that last place was judged 645 ms after it was sent, 324 ms
after the 429 left, and banned (418) although the bot sent nothing after reading a 429. The
venue acts on a request when it arrives; a held answer holds itself only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from mmtrio.chaos.memlinks import Link
from mmtrio.core.commands import PlaceOrder
from mmtrio.core.events import Side, TimeInForce
from mmtrio.errors import RateLimited, VenueError
from mmtrio.sim import frontends
from mmtrio.sim.clock import TrioClock
from mmtrio.sim.paper import synthetic_instrument
from mmtrio.sim.server import run_venue
from mmtrio.sim.synthetic import SyntheticDriver, SyntheticParams
from mmtrio.sim.venue import SimConfig, SimVenue
from mmtrio.venues.binance.venue import VENUE, BinanceSession
from mmtrio.venues.binance.wsapi import _Pending
from mmtrio.venues.protocol import SessionHooks, SupervisedTasks, VenueCredentials, VenueSettings

pytestmark = pytest.mark.integration
SYM = "BTCUSDT"
EPOCH_MS = 1_700_000_000_000


def clock_ms() -> int:
    return EPOCH_MS + int(trio.current_time() * 1000)


@asynccontextmanager
async def in_memory(
    venue_keys: dict[str, str] | None = None,
    client_keys: dict[str, str] | None = None,
    connected: bool = True,
) -> AsyncIterator[tuple[SimVenue, BinanceSession]]:
    """The sim (its front end running, with ``venue_keys``) and a Binance session (with
    ``client_keys``, the venue's by default), in memory; its order socket up if
    ``connected``."""
    venue = SimVenue(
        SyntheticDriver(synthetic_instrument(SYM), 26, SyntheticParams()),
        SimConfig(clock=TrioClock(EPOCH_MS), seed=26),
    )
    front = frontends.factory("binance").create(venue, venue_keys)
    creds = client_keys or front.client_credentials()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_venue, venue)
        link = Link(front.rest_app, front.serve_ws, nursery)
        urls = front.client_urls("http://sim", "ws://sim")
        sess = VENUE.open(
            VenueSettings("binance", "paper", SYM, urls),
            VenueCredentials(creds["api_key"], creds["api_secret"]),
            SessionHooks(clock_ms=clock_ms, http_transport=link.rest, ws_connect=link.connect),
        )
        assert isinstance(sess, BinanceSession) and sess.orders is not None
        await sess.sync_clock()
        await sess.load_instrument()
        assert isinstance(sess, SupervisedTasks)
        for _, task in sess.supervised_tasks():
            nursery.start_soon(task)
        if connected:
            with trio.fail_after(10):
                while not sess.orders.connected:  # noqa: ASYNC110 - the reconnect loop's state
                    await trio.sleep(0.01)
        yield venue, sess
        nursery.cancel_scope.cancel()
    await sess.aclose()


def place(sess: BinanceSession, cid: str) -> PlaceOrder:
    """A passive post-only buy far below the market."""
    inst = sess.instrument
    low = inst.price_to_ticks("50000")
    return PlaceOrder(cid, SYM, Side.BUY, low, inst.qty_to_lots("0.010"), TimeInForce.POST_ONLY)


async def test_a_held_answer_does_not_hold_the_requests_sent_after_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The cause of seed 26's ban: the venue acts on a request when it arrives, not when the
    answer of the request before it on the socket has left."""
    async with in_memory() as (venue, sess):
        assert sess.orders is not None
        venue.inject("delay", {"count": 1, "ms": 1000})  # the first answer is held 1 s
        answered: list[str] = []
        seen_at_venue: list[str] = []

        async def send(cid: str) -> None:
            await sess.gateway.place(place(sess, cid))
            answered.append(cid)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(send, "held")
            await trio.sleep(0.1)
            nursery.start_soon(send, "next")
            await trio.sleep(0.1)
            assert "held" not in answered  # its answer is still held ...
            seen_at_venue = [r.client_id for r in venue.account.open_records()]
        assert sorted(seen_at_venue) == ["held", "next"]  # ... "next" was acted on anyway
        assert answered == ["next", "held"]  # answers in another order, matched by id


async def test_orders_sent_before_the_first_429_arrived_are_not_banned(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Seed 26's sequence end to end. Not the regression test (the one above is): on virtual
    time the old sim acted on the queued request at the very instant the held 429 left, and
    ``RateLimiter.answer_held`` (which knows the 429 that set the back-off by its time) took
    that request's in-flight 429 for it and restarted the grace, so this passed there too; on
    real time the 2 ms between the two made the next request a ban."""
    async with in_memory() as (venue, sess):
        assert sess.orders is not None
        venue.inject("http_429", {"count": 1, "retry_after": 2})
        venue.inject("delay", {"count": 3, "ms": 319})  # each answer held 319 ms
        outcomes: dict[str, BaseException | None] = {}
        sent_before_any_answer: list[str] = []

        async def send(cid: str, after_s: float) -> None:
            await trio.sleep(after_s)
            if not outcomes:  # no answer read yet: the bot cannot know of a 429
                sent_before_any_answer.append(cid)
            try:
                await sess.gateway.place(place(sess, cid))
                outcomes[cid] = None
            except VenueError as exc:
                outcomes[cid] = exc

        async with trio.open_nursery() as nursery:
            nursery.start_soon(send, "first", 0.0)  # draws the injected 429, answer held
            nursery.start_soon(send, "second", 0.0)
            nursery.start_soon(send, "third", 0.28)  # sent while the 429 is still held
        assert sorted(sent_before_any_answer) == ["first", "second", "third"]
        assert sess.orders.requests == 3  # all three went over the socket
        # Every one sent before the client could know: a 429 each, none a ban.
        for cid in ("first", "second", "third"):
            err = outcomes[cid]
            assert isinstance(err, RateLimited) and not err.banned, (cid, err)
        assert venue.limiter.count_418 == 0
        assert [e.status for e in venue.limiter.events] == [429, 429, 429]
        # The back-off is honoured: nothing reaches the venue until it ends, then orders go.
        n = venue.limiter.requests
        with pytest.raises(RateLimited):
            await sess.gateway.place(place(sess, "refused"))
        assert venue.limiter.requests == n
        await trio.sleep(2.5)
        ack = await sess.gateway.place(place(sess, "after"))
        assert ack.client_id == "after" and venue.limiter.count_418 == 0


async def test_a_429_read_by_the_socket_blocks_every_sender_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The reader starts the back-off when it reads the 429, before the requesting task wakes:
    a task scheduled in between must not pass the back-off check and send."""
    async with in_memory() as (_, sess):
        orders = sess.orders
        assert orders is not None
        orders._pending["m-429"] = slot = _Pending()
        until = clock_ms() + 2_000
        orders._on_frame(
            '{"id":"m-429","status":429,"error":{"code":-1003,"msg":"Too many requests.",'
            f'"data":{{"serverTime":{clock_ms()},"retryAfter":{until}}}}}}}'
        )
        assert slot.done.is_set()  # the requester has not run yet ...
        with pytest.raises(RateLimited):
            sess.rest.check_blocked()  # ... and the back-off is already in force


async def test_a_429_back_off_is_measured_on_the_venues_clock(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """``retryAfter`` is an epoch on the venue's clock; the answer's ``serverTime`` says what
    that clock read, so our own estimate of it (stale after a clock skew) is not used. DST seed
    200 at 60 s: our clock 1 s ahead ended a 2 s back-off after 1 s, and the dead-man's next
    refresh drew a 418 ban."""
    async with in_memory() as (_, sess):
        orders = sess.orders
        assert orders is not None
        orders._pending["m-429"] = _Pending()
        server = clock_ms() - 1_500  # the venue's clock is 1.5 s behind ours
        orders._on_frame(
            '{"id":"m-429","status":429,"error":{"code":-1003,"msg":"Too many requests.",'
            f'"data":{{"serverTime":{server},"retryAfter":{server + 2_000}}}}}}}'
        )
        await trio.sleep(1.2)
        with pytest.raises(RateLimited):
            sess.rest.check_blocked()  # still 0.8 s of the venue's 2 s
        await trio.sleep(1.0)
        sess.rest.check_blocked()  # over: nothing raised


async def test_a_429_to_a_request_its_caller_gave_up_on_still_blocks_the_next_send(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The race of Hyperliquid chaos seed 20201, on Binance's order socket: the dead-man's
    bounded attempt gives up on a request whose 429 a latency fault holds; the 429 arrives
    afterwards, for a request nobody waits for. Its back-off binds all the same: the next send
    is refused here, and the venue bans nobody."""
    async with in_memory() as (venue, sess):
        orders = sess.orders
        assert orders is not None
        venue.inject("http_429", {"count": 1, "retry_after": 2})
        venue.inject("delay", {"count": 1, "ms": 700})  # the 429 is held 0.7 s
        with trio.move_on_after(0.5):  # the caller's bound, shorter than the socket's
            await sess.gateway.place(place(sess, "given-up"))
        assert orders._pending == {}  # no slot left behind to swallow the answer
        await trio.sleep(0.5)  # the held 429 has arrived now, for nobody
        assert orders.unknown_ids == 1
        with pytest.raises(RateLimited):
            await sess.gateway.place(place(sess, "inside-the-back-off"))
        assert venue.limiter.count_418 == 0
        await trio.sleep(2.0)
        ack = await sess.gateway.place(place(sess, "after"))
        assert ack.client_id == "after" and venue.limiter.count_418 == 0
