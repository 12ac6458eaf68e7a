"""A market stream the venue mutes is reconnected and its book resynced, on every venue.

The simulated venue in memory, on Trio's virtual clock (``autojump_clock``): the venue's
front end serves its websocket protocol over memory streams (:class:`mmtrio.chaos.memlinks.Link`)
and the ``ws_mute`` fault (what it would have sent is dropped) or the ``ws_stall`` fault (held,
sent late) stops it sending on the market sockets open now, while it goes on answering their
pings: protocol pings (Binance, Extended) and the application-level ``ping`` text / JSON (OKX,
Hyperliquid) alike. The client pings every 2 s with a 1 s pong deadline, so
a ping that went unanswered would have ended the connection long before the silence limit:
the reason the connection ends with says which one did.

Before the watchdog, the stream stayed "connected" for the whole stall (10 minutes here) and
no book came back until it ended.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import trio

from mmtrio.chaos.memlinks import Link
from mmtrio.core.events import BookDelta, BookInvalid, BookSnapshot, FeedStatus
from mmtrio.sim import frontends
from mmtrio.sim.clock import TrioClock
from mmtrio.sim.paper import synthetic_instrument
from mmtrio.sim.server import run_venue
from mmtrio.sim.synthetic import SyntheticDriver, SyntheticParams
from mmtrio.sim.venue import SimConfig, SimVenue
from mmtrio.venues.protocol import SessionHooks, VenueCredentials, VenueSettings

EPOCH_MS = 1_700_000_000_000
PINGS = {"ping_interval_s": 2.0, "pong_timeout_s": 1.0}
STALL_S = 600.0  # far past the limit and the test: only a reconnect brings the book back


class Sink:
    """A MarketSink that keeps what it is given."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.statuses: list[FeedStatus] = []

    def market(self, event: Any) -> None:
        self.events.append(event)

    def status(self, event: FeedStatus) -> None:
        self.statuses.append(event)


def _sim(name: str) -> tuple[SimVenue, Any]:
    venue = SimVenue(
        SyntheticDriver(synthetic_instrument("BTCUSDT"), 7, SyntheticParams()),
        SimConfig(clock=TrioClock(EPOCH_MS), seed=7),
    )
    return venue, frontends.factory(name).create(venue)


def _clock_ms() -> int:
    return EPOCH_MS + int(trio.current_time() * 1000)


async def _binance(front: Any, link: Link, limit: float | None) -> Any:
    from mmtrio.venues.binance.streams import MarketStream, market_stream_url
    from mmtrio.venues.registry import venue

    creds = front.client_credentials()
    urls = front.client_urls("http://sim", "ws://sim")
    session = venue("binance").open(
        VenueSettings("binance", "testnet", front.symbol, urls),
        VenueCredentials(api_key=creds["api_key"], api_secret=creds["api_secret"]),
        SessionHooks(clock_ms=_clock_ms, http_transport=link.rest, ws_connect=link.connect),
    )
    inst = await session.load_instrument()
    return MarketStream(
        market_stream_url(urls["market_ws"], inst.symbol),
        session.rest.decoder,  # type: ignore[attr-defined]
        inst.symbol,
        session.rest.depth_snapshot,  # type: ignore[attr-defined]
        clock_ms=_clock_ms,
        connect=link.connect,
        market_silence_s=limit,
        **PINGS,
    )


async def _okx(front: Any, link: Link, limit: float | None) -> Any:
    from mmtrio.venues.okx.codec import OkxDecoder
    from mmtrio.venues.okx.streams import MarketStream

    url = front.client_urls("http://sim", "ws://sim")["market_ws"]
    return MarketStream(
        url,
        OkxDecoder(front.inst),
        clock_ms=_clock_ms,
        connect=link.connect,
        market_silence_s=limit,
        **PINGS,
    )


async def _hyperliquid(front: Any, link: Link, limit: float | None) -> Any:
    from mmtrio.venues.hyperliquid.streams import MarketStream

    url = front.client_urls("http://sim", "ws://sim")["market_ws"]
    return MarketStream(
        url,
        replace(front.venue.instrument, symbol=front.coin),
        clock_ms=_clock_ms,
        connect=link.connect,
        market_silence_s=limit,
        **PINGS,
    )


async def _extended(front: Any, link: Link, limit: float | None) -> Any:
    from mmtrio.venues.extended.rest import ExtendedRest
    from mmtrio.venues.extended.streams import MarketStream

    creds = front.client_credentials()
    rest = ExtendedRest("http://sim", creds["api_key"], clock_ms=_clock_ms, transport=link.rest)
    market = await rest.market(front.symbol)
    await rest.aclose()
    stream = MarketStream("ws://sim", market, clock_ms=_clock_ms, connect=link.connect,
                          market_silence_s=limit)  # fmt: skip
    # Extended's server pings every 15 s; the book channel's client pings as the others'.
    stream.book.ping_interval_s, stream.book.pong_timeout_s = 2.0, 1.0
    return stream


def _watch(stream: Any) -> Any:
    return stream.book.silence if hasattr(stream, "book") else stream.silence


OPEN = {"binance": _binance, "extended": _extended, "okx": _okx, "hyperliquid": _hyperliquid}


def _books(sink: Sink, since: int = 0) -> int:
    return sum(isinstance(e, BookSnapshot) for e in sink.events[since:])


async def _until(check: Any, what: str, seconds: float = 60.0) -> None:
    """Poll ``check`` (what the sink holds has no event to wait on) for ``what``."""
    with trio.fail_after(seconds):  # virtual seconds
        while not check():  # noqa: ASYNC110
            await trio.sleep(0.05)


@pytest.mark.parametrize("fault", ["ws_mute", "ws_stall"])
@pytest.mark.parametrize("name", sorted(OPEN))
async def test_a_muted_market_stream_is_reconnected_and_resynced(
    autojump_clock: Any, name: str, fault: str
) -> None:
    venue, front = _sim(name)
    sink = Sink()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_venue, venue)
        await venue.started.wait()
        link = Link(front.rest_app, front.serve_ws, nursery)
        stream = await OPEN[name](front, link, 10.0)
        nursery.start_soon(stream.run, sink)
        await _until(lambda: _books(sink) > 0, "a first book")
        await trio.sleep(3.0)
        venue.inject(fault, {"target": "market", "seconds": STALL_S})
        stalled_at, mark = trio.current_time(), len(sink.events)
        await _until(lambda: len(sink.statuses) >= 3, "down and up again", 30.0)
        down, up = sink.statuses[1], sink.statuses[2]
        assert not down.connected and down.reason.startswith("no market message for 10")
        assert up.connected
        # The book was invalidated when the stream went down, and a new one came after.
        assert any(isinstance(e, BookInvalid) for e in sink.events[mark:])
        await _until(lambda: _books(sink, mark) > 0, "a resynced book", 10.0)
        assert trio.current_time() - stalled_at < 20.0  # long before the stall's end
        if name == "hyperliquid":
            assert stream.pongs >= 4  # its JSON pings were answered through the stall
        before = len(sink.events)
        await trio.sleep(5.0)
        market = [e for e in sink.events[before:] if isinstance(e, BookSnapshot | BookDelta)]
        assert market, "the new connection delivers"
        assert _watch(stream).silences == 1
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("name", sorted(OPEN))
async def test_a_healthy_market_stream_is_not_reconnected(autojump_clock: Any, name: str) -> None:
    venue, front = _sim(name)
    sink = Sink()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_venue, venue)
        await venue.started.wait()
        link = Link(front.rest_app, front.serve_ws, nursery)
        stream = await OPEN[name](front, link, 10.0)
        nursery.start_soon(stream.run, sink)
        await trio.sleep(60.0)
        nursery.cancel_scope.cancel()
    assert [s.connected for s in sink.statuses] == [True]
    assert _watch(stream).silences == 0 and _books(sink) > 0


async def test_ws_mute_drops_what_the_connection_would_send_and_answers_pings(
    autojump_clock: Any,
) -> None:
    """The fault itself: the muted connection stays open and answers pings but receives
    nothing; a new connection is served; after the mute the old one receives again (with a
    gap: what was dropped is lost)."""
    venue, front = _sim("binance")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_venue, venue)
        await venue.started.wait()
        link = Link(front.rest_app, front.serve_ws, nursery)
        async with link.connect("ws://sim/ws/btcusdt@depth", connect_timeout=5.0) as old:
            await old.get_message()
            venue.inject("ws_mute", {"target": "market", "seconds": 20.0})
            while True:  # what the writer had taken before the mute still arrives
                with trio.move_on_after(0.5) as idle:
                    await old.get_message()
                if idle.cancelled_caught:
                    break
            with trio.move_on_after(15.0) as quiet:
                await old.get_message()
            assert quiet.cancelled_caught  # nothing for 15 s
            with trio.fail_after(1.0):
                await old.ping(b"alive")  # answered while muted
            async with link.connect("ws://sim/ws/btcusdt@depth", connect_timeout=5.0) as new:
                with trio.fail_after(5.0):
                    await new.get_message()  # a connection opened since is not muted
            with trio.fail_after(10.0):
                await old.get_message()  # the mute is over
        conns = venue.ground_truth()["faults"]
        assert [f["kind"] for f in conns] == ["ws_mute"]
        nursery.cancel_scope.cancel()
