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
from typing import Any, TypedDict

import pytest
import trio

from mmtrio.chaos.memlinks import Link
from mmtrio.core.events import BookDelta, BookInvalid, BookSnapshot, FeedStatus, MarkPrice
from mmtrio.sim import frontends
from mmtrio.sim.clock import TrioClock
from mmtrio.sim.paper import synthetic_instrument
from mmtrio.sim.server import run_venue
from mmtrio.sim.synthetic import SyntheticDriver, SyntheticParams
from mmtrio.sim.venue import SimConfig, SimVenue
from mmtrio.venues.protocol import SessionHooks, VenueCredentials, VenueSettings

EPOCH_MS = 1_700_000_000_000


class Pings(TypedDict):
    """The keepalive keywords every market stream takes (typed, so **PINGS is checked)."""

    ping_interval_s: float
    pong_timeout_s: float


PINGS: Pings = {"ping_interval_s": 2.0, "pong_timeout_s": 1.0}
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


async def _by_url(front: Any, link: Link, limit: float | None) -> Any:
    """OKX's or Hyperliquid's market stream: one connection, built from its URL and what its
    codec needs (OKX's decoder, Hyperliquid's instrument named by its coin)."""
    url = front.client_urls("http://sim", "ws://sim")["market_ws"]
    if front.name == "okx":
        from mmtrio.venues.okx.codec import OkxDecoder
        from mmtrio.venues.okx.streams import MarketStream as OkxMarket

        return OkxMarket(url, OkxDecoder(front.inst), clock_ms=_clock_ms, connect=link.connect,
                         market_silence_s=limit, **PINGS)  # fmt: skip
    from mmtrio.venues.hyperliquid.streams import MarketStream as HlMarket

    inst = replace(front.venue.instrument, symbol=front.coin)
    return HlMarket(url, inst, clock_ms=_clock_ms, connect=link.connect,
                    market_silence_s=limit, **PINGS)  # fmt: skip


async def _extended(front: Any, link: Link, limit: float | None) -> Any:
    from mmtrio.venues.extended.rest import ExtendedRest
    from mmtrio.venues.extended.streams import MarketStream

    creds = front.client_credentials()
    rest = ExtendedRest("http://sim", creds["api_key"], clock_ms=_clock_ms, transport=link.rest)
    market = await rest.market(front.symbol)
    await rest.aclose()
    stream = MarketStream("ws://sim", market, clock_ms=_clock_ms, connect=link.connect,
                          market_silence_s=limit)  # fmt: skip
    # Extended's server pings every 15 s; its channels' clients ping as the others'.
    for channel in stream.channels:
        channel.ping_interval_s, channel.pong_timeout_s = 2.0, 1.0
    return stream


def _watch(stream: Any) -> Any:
    """The silence watch of the stream's book connection (Extended's book channel)."""
    return stream.book.silence if hasattr(stream, "book") else stream.silence


OPEN = {"binance": _binance, "extended": _extended, "okx": _by_url, "hyperliquid": _by_url}


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
        # The venue's own protocol proves the connection healthy (subscriptions answered,
        # data flowing), so the backoff after it would start over (mmtrio.venues.wsconn).
        # Not Extended's funding stream: it pushes hourly, and counts healthy by its age.
        for conn in getattr(stream, "channels", [stream]):
            assert conn._proved or conn.stream_name == "funding", conn.stream_name
        nursery.cancel_scope.cancel()
    assert [s.connected for s in sink.statuses] == [True]
    assert _watch(stream).silences == 0 and _books(sink) > 0
    for channel in getattr(stream, "channels", []):  # Extended: each stream its connection
        assert channel.silence.silences == 0 and channel.connects == 1, channel.stream_name


def _count(sink: Sink, kind: type, since: int = 0) -> int:
    return sum(isinstance(e, kind) for e in sink.events[since:])


# Extended serves the mark price and the trades on connections of their own: the book's
# watchdog does not see them go mute. The sim pushes a mark every second; the trade stream is
# as quiet as the market, so it is not watched (a quiet tape is normal).


@pytest.mark.parametrize("fault", ["ws_mute", "ws_stall"])
async def test_extendeds_mark_stream_is_watched_too(autojump_clock: Any, fault: str) -> None:
    """The venue's fault (every market connection) silences the mark stream with the book: it
    is reconnected for its own silence and delivers again, long before the stall ends. Before,
    only the book was: the bot priced off the mark it had last. The trade stream is not
    watched: a tape quiet for the limit is normal, and a reconnect would lose its trades."""
    venue, front = _sim("extended")
    sink = Sink()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_venue, venue)
        await venue.started.wait()
        link = Link(front.rest_app, front.serve_ws, nursery)
        stream = await _extended(front, link, 10.0)
        nursery.start_soon(stream.run, sink)
        await _until(lambda: _count(sink, MarkPrice) > 0, "a first mark event")
        channel = stream.mark_channel
        assert channel.stream_name == "mark" and channel.silence.limit_s == 10.0
        assert stream.trade_channel.silence.limit_s is None  # trades: not watched
        venue.inject(fault, {"target": "market", "seconds": STALL_S})
        muted = [c for c in venue.hub.conns("market") if f"prices/mark:{front.symbol}" in c.names]
        assert len(muted) == 1  # the fault reaches this stream's connection too
        stalled_at = trio.current_time()
        await _until(lambda: channel.silence.silences == 1, "the mark stream reconnected", 30)
        mark = len(sink.events)
        await _until(lambda: _count(sink, MarkPrice, mark) > 0, "mark events again", 10.0)
        assert trio.current_time() - stalled_at < 25.0  # long before the stall's end
        assert channel.connects == 2
        assert stream.trade_channel.silence.silences == 0
        nursery.cancel_scope.cancel()


async def test_a_mute_mark_stream_alone_is_reconnected_while_the_book_flows(
    autojump_clock: Any,
) -> None:
    """A venue whose mark stream stalls on its connection while the book flows: the mark
    stream is replaced, the book's connection (and the market's status) left alone."""
    venue, front = _sim("extended")
    sink = Sink()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run_venue, venue)
        await venue.started.wait()
        link = Link(front.rest_app, front.serve_ws, nursery)
        stream = await _extended(front, link, 10.0)
        nursery.start_soon(stream.run, sink)
        await _until(lambda: _count(sink, MarkPrice) > 0, "a first mark")
        (conn,) = [c for c in venue.hub.conns("market") if f"prices/mark:{front.symbol}" in c.names]
        conn.mute_until = trio.current_time() + STALL_S  # ws_mute, on this connection only
        muted_at, mark = trio.current_time(), len(sink.events)
        await trio.sleep(9.0)
        assert _count(sink, MarkPrice, mark) == 0 and stream.mark_channel.connects == 1
        await _until(lambda: _count(sink, MarkPrice, mark) > 0, "a mark again", 10.0)
        assert trio.current_time() - muted_at < 15.0
        assert stream.mark_channel.silence.silences == 1 and stream.mark_channel.connects == 2
        assert stream.book.silence.silences == 0 and stream.book.connects == 1
        assert [s.connected for s in sink.statuses] == [True]  # the market never went down
        nursery.cancel_scope.cancel()


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
