"""The OKX connector against the simulated OKX venue on loopback, under the sim's faults.

Paper trading on OKX (``[venue] name = "okx"``), assembled as `mmtrio run` assembles it: a
books gap (the sim drops a push, so ``prevSeqId`` no longer names the last ``seqId``) is
resynced by re-subscribing, both sockets dropped come back, user events duplicated and an
order answer lost over the WebSocket leave every fill booked once and our position the
venue's, and the stop leaves zero open orders. Then the dead-man: OKX's cancel-all-after,
armed by the connector and not refreshed, cancels the resting order at the venue and the
private stream says so.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import trio

from mmtrio.core.commands import PlaceOrder
from mmtrio.core.events import FeedStatus, OrderStatus, OrderUpdate, Side
from mmtrio.sim.okx.frontend import FRONT_END
from mmtrio.sim.paper import replay_driver
from mmtrio.sim.server import serve_sim
from mmtrio.sim.venue import SimConfig, SimVenue
from mmtrio.venues.okx import venue as okx_venue
from mmtrio.venues.protocol import SessionHooks, VenueCredentials, VenueSettings
from tests.integration.paper import paper_engine
from tests.integration.sim_helpers import DATA, data_instrument
from tests.integration.test_run_engine import (
    _fills,
    quotes_resting,
    run_engine,
    venue_open,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.integration


def okx_config(tmp: Path, **overrides: str) -> Path:
    # speed 3, as test_run_engine: a loaded machine keeps up (at 5 the feed ran 7 s late)
    return write_config(
        tmp, speed=3.0, overrides={'name = "binance" ': 'name = "okx" ', **overrides}
    )


async def test_okx_gap_reconnect_duplicates_and_a_lost_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feeds: list[Any] = []
    original = okx_venue.OkxSession.market_feed

    def recorded(self: okx_venue.OkxSession, instrument: Any) -> Any:
        feeds.append(original(self, instrument))
        return feeds[-1]

    monkeypatch.setattr(okx_venue.OkxSession, "market_feed", recorded)
    engine = paper_engine(okx_config(tmp_path))
    codes: list[int] = []

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, engine, codes)
        await quotes_resting(engine, 60, "quotes resting")
        venue = engine.sim_venue
        assert venue.front.name == "okx" and engine.symbol == "BTC-USDT-SWAP"
        (market_feed,) = feeds
        assert market_feed.resyncs == 0

        venue.inject("depth_skip", {"count": 1})  # a books push lost: the chain breaks
        await wait_for(lambda: market_feed.resyncs >= 1, 20, "the books gap resynced")
        await wait_for(lambda: len(venue_open(engine)) >= 2, 30, "quotes after the resync")

        market, user = engine.sources.market, engine.sources.user
        assert market is not None and user is not None
        venue.inject("ws_close", {"target": "all"})
        await wait_for(lambda: market.reconnects >= 1 and user.reconnects >= 1, 30,
                       "both sockets back")  # fmt: skip
        await wait_for(lambda: market.connected and user.connected, 30, "both connected")

        fills_before = _fills(engine)
        venue.inject("user_duplicate", {"count": 20})
        venue.inject("order_drop", {"count": 1})  # an order op done, its answer never sent
        # consumed by the next order op, over the socket or (while it is down) over REST
        await wait_for(lambda: venue.faults.order_drop == 0, 60, "an order answer dropped")
        await wait_for(lambda: _fills(engine) >= fills_before + 2, 90, "fills after the faults")
        mm = engine.mm
        assert mm is not None
        await wait_for(
            lambda: mm.status(engine.clock_ms()).position_lots == venue.account.position,
            20,
            "our position to equal the venue's",
        )
        engine.request_stop("test stop")
    assert codes == [0]
    assert venue_open(engine) == []
    st = mm.status(engine.clock_ms())
    # every venue fill booked exactly once (duplicates, reconnects and the lost answer included)
    assert st.ledger.fills == len(venue.account.fills)
    assert st.position_lots == venue.account.position


def _journaled_trade_ids(tmp: Path) -> set[int]:
    """The trade ids of the ``fills`` table of the one journal under ``tmp`` (after the run)."""
    import sqlite3

    (journal,) = tmp.rglob("journal.sqlite3")
    conn = sqlite3.connect(journal)
    try:
        return {int(r[0]) for r in conn.execute("SELECT trade_id FROM fills")}
    finally:
        conn.close()


async def test_okx_a_foreign_order_s_fill_is_booked_and_journaled(tmp_path: Path) -> None:
    """Another client's order on the account (the chaos harness's foreign order, placed as
    its admin order: clOrdId not ours) fills while the bot runs: the bot books and journals
    that fill as it books its own, since the position it changed is ours too. Written while
    triaging chaos seed 1714 on OKX (a foreign fill judged lost): the OKX connector drops no
    fill for its clOrdId."""
    from mmtrio.chaos.venues import chaos_venue

    engine = paper_engine(okx_config(tmp_path))
    codes: list[int] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_engine, engine, codes)
        await quotes_resting(engine, 60, "quotes resting")
        venue = engine.sim_venue
        bid = venue.book.best()[0][0]
        price = float(venue.instrument.tick_size * bid) * 0.98  # rests, as the harness's
        order = chaos_venue("okx").foreign_order(engine.symbol, "BUY", price, 2, "chaosforeign1")
        venue.front.admin_order(order)
        venue.inject("fill", {"client_id": "chaosforeign1"})  # sweeps our bid and it
        (foreign,) = [f for f in venue.account.fills if f.client_id == "chaosforeign1"]
        mm = engine.mm
        assert mm is not None
        await wait_for(
            lambda: (
                _fills(engine) >= len(venue.account.fills)
                and mm.status(engine.clock_ms()).position_lots == venue.account.position
            ),
            60,
            "every fill booked, the foreign one included",
        )
        engine.request_stop("test stop")
    assert codes == [0]
    st = mm.status(engine.clock_ms())
    assert st.ledger.fills == len(venue.account.fills)
    assert st.position_lots == venue.account.position
    journaled = _journaled_trade_ids(tmp_path)
    # the ids the venue's clients book them under (the ground truth's, as the judge reads it)
    assert venue.front.client_trade_id(foreign) in journaled
    assert {venue.front.client_trade_id(f) for f in venue.account.fills} == journaled


@pytest.mark.slow
async def test_okx_dead_man_cancels_when_not_refreshed() -> None:
    """The connector arms cancel-all-after (10 s, OKX's shortest) and stops refreshing it, as
    a hung bot would: the venue cancels the resting order and the private stream reports it."""
    inst = data_instrument(DATA)
    sim = SimVenue(replay_driver([DATA], inst), SimConfig(speed=1.0))
    front = FRONT_END.create(sim)
    updates: list[OrderUpdate] = []
    connected = trio.Event()

    async def collect(event: Any) -> None:
        if isinstance(event, FeedStatus) and event.connected:
            connected.set()
        if isinstance(event, OrderUpdate):
            updates.append(event)

    async with trio.open_nursery() as nursery:
        urls = await nursery.start(serve_sim, sim)
        creds = front.client_credentials()
        session = okx_venue.VENUE.open(
            VenueSettings("okx", "paper", front.symbol, front.client_urls(urls.rest, urls.ws)),
            VenueCredentials(creds["api_key"], creds["api_secret"], creds["passphrase"]),
            SessionHooks(clock_ms=lambda: int(trio.current_time() * 1000)),
        )
        await session.sync_clock()  # the local clock is Trio's: the venue's offset from it
        instrument = await session.load_instrument()
        nursery.start_soon(session.user_feed(instrument).run, collect)
        await connected.wait()
        order_session = session.gateway.session  # set once, when the gateway is made
        assert order_session is not None
        await wait_for(lambda: order_session.ready, 10, "the order session logged in")

        best_bid = sim.book.best()[0]
        assert best_bid is not None
        bid = best_bid[0]
        cid = session.client_ids.make(1, 0)
        await session.gateway.place(PlaceOrder(cid, front.symbol, Side.BUY, bid - 500, 1))
        assert session.gateway.sent_ws == 1  # over the logged-in socket
        await wait_for(lambda: [r.client_id for r in sim.engine.open_orders()] == [cid], 10,
                       "the order resting at the venue")  # fmt: skip

        await session.gateway.arm_deadman(front.symbol, 10_000)
        assert sim.countdown_ms == 10_000
        await wait_for(lambda: bool(sim.countdown_fired), 20, "the countdown to fire")
        assert sim.countdown_fired[0]["cancelled"] == 1
        assert list(sim.engine.open_orders()) == []
        await wait_for(
            lambda: any(u.client_id == cid and u.status is OrderStatus.CANCELED for u in updates),
            10,
            "the private stream to report the cancel",
        )
        await session.aclose()
        nursery.cancel_scope.cancel()
    assert Decimal(0) == Decimal(sim.account.position)  # nothing traded
