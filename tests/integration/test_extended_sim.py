"""The bot's Extended connector against the simulated Extended venue (loopback, in process).

The sim checks each order as Extended does (its Stark signature against the paper account's
public key, the nonce, the steps, the market) and the connector maps each refusal to a
neutral reject kind; the book stream stays continuous; the account stream reports orders.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from mmtrio.core.commands import CancelOrder, PlaceOrder
from mmtrio.core.events import (
    BookDelta,
    BookInvalid,
    BookSnapshot,
    Event,
    FeedStatus,
    OrderStatus,
    OrderUpdate,
    Side,
    TimeInForce,
)
from mmtrio.core.rejects import RejectKind
from mmtrio.errors import AuthError, VenueError
from mmtrio.runtime.trading import make_clock_ms
from mmtrio.sim.extended.frontend import FRONT_END
from mmtrio.sim.server import serve_sim
from mmtrio.sim.venue import SimConfig, SimVenue
from mmtrio.venues.extended.venue import VENUE, ExtendedSession
from mmtrio.venues.protocol import MarketEvent, SessionHooks, VenueCredentials, VenueSettings
from tests.integration.sim_helpers import DATA, data_instrument

pytestmark = pytest.mark.integration


@asynccontextmanager
async def extended_sim(tmp: Path) -> AsyncIterator[tuple[SimVenue, ExtendedSession]]:
    from mmtrio.sim.paper import replay_driver

    venue = SimVenue(replay_driver([DATA], data_instrument(DATA)), SimConfig(speed=5.0))
    front = FRONT_END.create(venue)
    creds = front.client_credentials()
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(serve_sim, venue)
        settings = VenueSettings(
            "extended", "paper", "BTC-USD",
            {"rest": urls.rest, "market_ws": urls.ws, "private_ws": urls.ws},
            options={"state_dir": str(tmp)},
        )  # fmt: skip
        credentials = VenueCredentials(
            api_key=creds["api_key"], private_key=creds["private_key"], account=creds["account"]
        )
        session = VENUE.open(settings, credentials, SessionHooks(make_clock_ms()))
        try:
            yield venue, session
        finally:
            await session.aclose()
            nursery.cancel_scope.cancel()


class Sink:
    def __init__(self) -> None:
        self.events: list[MarketEvent | FeedStatus] = []

    def market(self, event: MarketEvent) -> None:
        self.events.append(event)

    def status(self, event: FeedStatus) -> None:
        self.events.append(event)


async def test_trade_through_the_connector(tmp_path: Path) -> None:
    async with extended_sim(tmp_path) as (venue, session):
        inst = await session.load_instrument()
        assert inst.symbol == "BTC-USD" and str(inst.tick_size) == "0.10"
        assert (await session.account()).wallet_balance > 0
        sink = Sink()
        updates: list[Event] = []

        async def keep(event: Event) -> None:
            updates.append(event)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(session.market_feed(inst).run, sink)
            nursery.start_soon(session.user_feed(inst).run, keep)
            while sum(isinstance(e, BookDelta) for e in sink.events) < 20:  # noqa: ASYNC110
                await trio.sleep(0.05)
            books = [e for e in sink.events if isinstance(e, BookSnapshot | BookDelta)]
            assert isinstance(books[0], BookSnapshot)
            for a, b in itertools.pairwise(books):  # a continuous chain
                assert isinstance(b, BookDelta) and b.prev_seq == a.seq
            best_bid = max(p for p, _ in books[0].bids)
            gw = session.gateway
            cmd = PlaceOrder("mmt1-0", "BTC-USD", Side.BUY, best_bid - 500, 2)
            ack = await gw.place(cmd)
            assert ack.status is OrderStatus.NEW
            (listed,) = await gw.open_orders("BTC-USD")
            assert listed.client_id == "mmt1-0" and listed.price == best_bid - 500
            assert (await gw.query("BTC-USD", "mmt1-0")) is not None
            await gw.cancel(CancelOrder("mmt1-0", "BTC-USD"))
            assert await gw.open_orders("BTC-USD") == []
            # a post-only buy above the best ask is accepted, then rejected by the engine
            best_ask = venue.book.best()[1]
            assert best_ask is not None
            # 1,000 ticks ($100) through the ask: the replay runs at ×5, and on a loaded machine
            # 20 ticks were overtaken before the order arrived (it rested, never rejected).
            ack = await gw.place(PlaceOrder("mmt1-1", "BTC-USD", Side.BUY, best_ask[0] + 1_000, 2))
            await gw.arm_deadman("BTC-USD", 30_000)
            assert venue.countdown_ms == 30_000
            with trio.fail_after(5):
                while not any(  # noqa: ASYNC110
                    isinstance(u, OrderUpdate) and u.client_id == "mmt1-1"
                    and u.status is OrderStatus.REJECTED for u in updates
                ):  # fmt: skip
                    await trio.sleep(0.05)
            mine = [u for u in updates if isinstance(u, OrderUpdate) and u.client_id == "mmt1-0"]
            assert [u.status for u in mine] == [OrderStatus.NEW, OrderStatus.CANCELED]
            nursery.cancel_scope.cancel()


async def test_the_sim_refuses_as_extended_does(tmp_path: Path) -> None:
    async with extended_sim(tmp_path) as (venue, session):
        await session.load_instrument()
        gw, rest = session.gateway, session.rest
        cmd = PlaceOrder("mmt2-0", "BTC-USD", Side.BUY, 100_000, 2, TimeInForce.POST_ONLY)
        body: dict[str, Any] = await gw.signed_body(cmd)  # nested JSON, read by path below

        async def refused(change: dict[str, Any]) -> VenueError:
            sent = copy.deepcopy(body)
            for key, value in change.items():
                target = sent
                *path, last = key.split(".")
                for part in path:
                    target = target[part]
                target[last] = value
            with pytest.raises(VenueError) as caught:
                await rest.place_order(sent)
            return caught.value

        bad_sig = await refused(
            {"settlement.signature.r": hex(int(body["settlement"]["signature"]["r"], 16) + 1)}
        )
        assert isinstance(bad_sig, AuthError) and bad_sig.code == "1101"
        tampered = await refused({"price": "10000.1"})  # signed for another price
        assert isinstance(tampered, AuthError) and tampered.code == "1101"
        off_step = await refused({"qty": "0.0025"})
        assert off_step.kind is RejectKind.INVALID_SIZE and off_step.code == "1121"
        unknown = await refused({"market": "ETH-USD"})
        assert unknown.code == "1001"
        for nonce in (0, 2**32):  # the sim accepts 1..2^32-1 (the official SDK's draws)
            out_of_range = await refused({"nonce": str(nonce)})
            assert out_of_range.code == "1133" and "outside 1..2^32-1" in str(out_of_range)
        # above Extended's documented 2^31 the range check passes: the order is refused only
        # by its signature (signed for another nonce)
        beyond_doc = await refused({"nonce": str(2**31 + 1)})
        assert isinstance(beyond_doc, AuthError) and beyond_doc.code == "1101"
        # a body missing a field is refused for its shape before its market is looked at
        shape = await refused({"market": None, "settlement.starkKey": 7})
        assert shape.code == "1133" and "market is missing" in str(shape)
        await rest.place_order(body)  # the order as signed is fine
        again = await refused({"id": "mmt2-1"})  # the same nonce a second time
        assert again.code == "1134"
        # verified: the bad signature, the tampered price, the nonce above 2^31, the good
        # order (the rest fail first)
        assert venue.front.orders.signatures_checked == 4  # type: ignore[attr-defined]


async def test_a_gap_in_the_sims_book_stream_means_a_fresh_snapshot(tmp_path: Path) -> None:
    async with extended_sim(tmp_path) as (venue, session):
        inst = await session.load_instrument()
        sink = Sink()

        def books() -> list[Any]:
            return [e for e in sink.events if isinstance(e, BookSnapshot | BookDelta | BookInvalid)]

        async with trio.open_nursery() as nursery:
            nursery.start_soon(session.market_feed(inst).run, sink)
            with trio.fail_after(10):
                while sum(isinstance(e, BookDelta) for e in books()) < 5:  # noqa: ASYNC110
                    await trio.sleep(0.05)
            venue.inject("depth_skip", {"count": 3})  # the next three DELTAs are never sent
            with trio.fail_after(10):
                while sum(isinstance(e, BookSnapshot) for e in books()) < 2:  # noqa: ASYNC110
                    await trio.sleep(0.05)
            nursery.cancel_scope.cancel()
        seen = books()
        invalid = next(i for i, e in enumerate(seen) if isinstance(e, BookInvalid))
        # the gap was never quoted from: after the invalidation (the gap, then the reconnect)
        # the next book is a fresh snapshot
        after = [e for e in seen[invalid:] if not isinstance(e, BookInvalid)]
        assert "book gap" in seen[invalid].reason and isinstance(after[0], BookSnapshot)
        before = seen[:invalid]
        assert isinstance(before[0], BookSnapshot)
        for a, b in itertools.pairwise(before):  # continuous up to the gap
            assert isinstance(b, BookDelta) and b.prev_seq == a.seq
