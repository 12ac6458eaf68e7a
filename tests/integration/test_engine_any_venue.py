"""The same engine tests against venues of opposite shapes (the venue seam is real).

``binance``: the Binance connector (REST + websockets + U/u/pu sequencing) against the
simulated Binance venue on loopback. ``okx``: the OKX connector (order entry over the
logged-in WebSocket, REST reads, books by seqId/prevSeqId, sizes in contracts, the passphrase)
against the simulated OKX venue on loopback. ``extended``: the Extended connector (Stark-signed
orders, each signature verified by the sim; ``seq`` book stream; the ``X-Api-Key`` account
stream; the dead-man switch armed) against the simulated Extended venue on loopback.
``hyperliquid``: the Hyperliquid connector
(agent-wallet signed actions over the websocket ``post`` method, whole-book ``l2Book``
snapshots, modify as cancel-replace, 128-bit cloids, 5 significant figures) against the
simulated Hyperliquid venue. ``unlike``: the in-test venue of
:mod:`tests.integration.unlike_venue` — whole-book snapshots without sequence numbers, no
amend, 128-bit hex client ids, a price grid of 5 significant figures, no dead-man switch.

Each test: paper trading (two-sided quotes rest, fills are booked once and our position
equals the venue's), and a restart on the same journal and venue (reconciliation adopts the
venue's position, the new run's client ids are new, quoting resumes), and every stop leaves
zero open orders at the venue.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import pytest
import trio

from mmtrio.cli.paper import build_venue, paper_credentials, paper_settings
from mmtrio.config import load_config
from mmtrio.runtime.engine import Engine
from mmtrio.sim.server import serve_sim
from mmtrio.venues import registry
from mmtrio.venues.protocol import VenueCredentials, VenueSettings
from tests.integration.test_run_engine import wait_for, write_config
from tests.integration.unlike_venue import INSTRUMENT, UnlikeExchange, UnlikeFactory

pytestmark = pytest.mark.integration


class Venue(Protocol):
    """What a test needs of a venue: engines for it, and its ground truth."""

    def engine(self, cfg_path: Path) -> Engine: ...
    def open_orders(self) -> list[Any]: ...
    def position(self) -> int: ...
    def fills(self) -> int: ...
    def client_ids(self) -> set[str]: ...


class SimulatedVenue:
    """The built-in simulated venue of ``[venue] name``'s protocol, served on loopback."""

    def __init__(self, sim: Any, urls: Any) -> None:
        self.sim, self.urls = sim, urls

    def engine(self, cfg_path: Path) -> Engine:
        config = load_config(cfg_path)
        return Engine(
            config,
            config_path=cfg_path,
            venue=registry.venue(config.venue.name),
            settings=paper_settings(config, self.sim, self.urls),
            credentials=paper_credentials(self.sim),
        )

    def open_orders(self) -> list[Any]:
        return list(self.sim.engine.open_orders())

    def position(self) -> int:
        return int(self.sim.account.position)

    def fills(self) -> int:
        return len(self.sim.account.fills)

    def client_ids(self) -> set[str]:
        return set(self.sim.account.orders)


class UnlikeVenue:
    def __init__(self) -> None:
        self.exchange = UnlikeExchange()

    def engine(self, cfg_path: Path) -> Engine:
        return Engine(
            load_config(cfg_path),
            config_path=cfg_path,
            venue=UnlikeFactory(self.exchange),
            settings=VenueSettings("unlike", "paper", INSTRUMENT.symbol, {}),
            credentials=VenueCredentials(source="none needed"),
        )

    def open_orders(self) -> list[Any]:
        return list(self.exchange.engine.open_orders())

    def position(self) -> int:
        return self.exchange.position

    def fills(self) -> int:
        return len(self.exchange.fills)

    def client_ids(self) -> set[str]:
        return set(self.exchange.placed)


@asynccontextmanager
async def venue_for(name: str, cfg_path: Path) -> AsyncIterator[Venue]:
    if name == "unlike":
        yield UnlikeVenue()
        return
    sim = build_venue(load_config(cfg_path))
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(serve_sim, sim)
        yield SimulatedVenue(sim, urls)
        nursery.cancel_scope.cancel()


def config_for(name: str, tmp: Path) -> Path:
    # The unlike venue trades 0.001 BTC lots at a $10 minimum, OKX 0.1 contracts of 0.01 BTC:
    # the shipped sizes fit all of them.
    if name == "okx":
        return write_config(tmp, speed=5.0, overrides={'name = "binance" ': 'name = "okx" '})
    if name in ("extended", "hyperliquid"):
        return write_config(tmp, speed=5.0, overrides={'name = "binance"': f'name = "{name}"'})
    return write_config(tmp, speed=5.0)


def sig_fig_price(name: str, venue: Venue, ticks: int) -> bool:
    if name == "unlike":
        return INSTRUMENT.is_valid_price(ticks)
    grid = venue.sim.front.grid  # type: ignore[attr-defined]
    return bool(grid.rule.is_valid_price(ticks))


async def run(engine: Engine, codes: list[int]) -> None:
    codes.append(await engine.run())


def our_fills(engine: Engine) -> int:
    mm = engine.mm
    return 0 if mm is None else mm.status(engine.clock_ms()).ledger.fills


@pytest.mark.parametrize("name", ["binance", "okx", "extended", "unlike", "hyperliquid"])
async def test_paper_trading_restart_and_shutdown_on_any_venue(tmp_path: Path, name: str) -> None:
    cfg_path = config_for(name, tmp_path)
    async with venue_for(name, cfg_path) as venue:
        # --- run 1: quotes rest on both sides, fills are booked once --------------------------
        first = venue.engine(cfg_path)
        codes: list[int] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run, first, codes)
            await wait_for(
                lambda: {o.side.value for o in venue.open_orders()} == {"BUY", "SELL"},
                60,
                "quotes resting on both sides",
            )
            if name in ("unlike", "hyperliquid"):
                # every quote sits on the 5-significant-figure grid, 128-bit hex client ids
                for o in venue.open_orders():
                    assert sig_fig_price(name, venue, o.price), o.price
                    assert o.client_id.startswith("0x") and len(o.client_id) == 34
            if isinstance(venue, SimulatedVenue):
                # the dead-man switch is armed at the venue while the bot runs
                await wait_for(lambda: venue.sim.countdown_ms > 0, 10, "the dead-man armed")
                if name in ("binance", "okx"):  # a relative countdown, as configured
                    assert venue.sim.countdown_ms == first.config.runtime.deadman_countdown_ms
            if name == "okx":
                # OKX client ids: alphanumeric, at most 32 characters; orders over the socket
                for o in venue.open_orders():
                    assert o.client_id.isalnum() and len(o.client_id) <= 32, o.client_id
                session = first.session
                assert session is not None
                # once the private socket has logged in, orders go over it (the first ones
                # may go over REST while it logs in on a loaded machine)
                await wait_for(lambda: session.gateway.sent_ws > 0, 30,  # type: ignore[attr-defined]
                               "an order sent over the WebSocket")  # fmt: skip
            if name == "extended":
                # every order the sim accepted carried a Stark signature it verified, and the
                # bot armed Extended's dead-man switch
                sim = venue.sim  # type: ignore[attr-defined]
                assert sim.front.orders.signatures_checked >= len(venue.client_ids()) > 0
                assert sim.countdown_ms > 0
            await wait_for(lambda: our_fills(first) > 0, 120, "a fill")
            mm = first.mm
            assert mm is not None
            await wait_for(
                lambda: mm.status(first.clock_ms()).position_lots == venue.position(),
                20,
                "our position to equal the venue's",
            )
            first.request_stop("test stop")
        assert codes == [0]
        assert venue.open_orders() == []
        if isinstance(venue, SimulatedVenue):
            assert venue.sim.countdown_ms == 0  # a clean stop disarms it
        ids_1 = venue.client_ids()
        venue_fills = venue.fills()
        assert mm.status(first.clock_ms()).ledger.fills == venue_fills

        # --- run 2 on the same journal: recovered, reconciled, quoting again -------------------
        second = venue.engine(cfg_path)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run, second, codes)
            # every order open after the restart is run 2's (run 1 stopped with none open);
            # its ids are collected as they are seen: a requote on a venue without amend
            # may leave the book empty for a moment later on
            ids_2: set[str] = set()

            def quoting_again() -> bool:
                ids_2.update(o.client_id for o in venue.open_orders())
                return second.mm is not None and bool(ids_2)

            await wait_for(quoting_again, 60, "quotes after the restart")
            mm2 = second.mm
            assert mm2 is not None
            # the books were rebuilt from the journal: the position is the venue's (waited
            # for: run 2's own quotes may fill, and the venue books a fill before our user
            # feed delivers it)
            await wait_for(
                lambda: mm2.status(second.clock_ms()).position_lots == venue.position(),
                20,
                "the recovered position to equal the venue's",
            )
            st = mm2.status(second.clock_ms())
            assert st.ledger.fills >= venue_fills  # every earlier fill, booked once
            ids_2.update(o.client_id for o in venue.open_orders())
            assert ids_2 and not (ids_2 & ids_1)  # a new epoch: no client id collides
            second.request_stop("test stop")
        assert codes == [0, 0]
        assert venue.open_orders() == []
        assert venue.position() == mm2.status(second.clock_ms()).position_lots
