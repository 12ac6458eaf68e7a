"""The in-memory network of the deterministic simulation and its link faults."""

from __future__ import annotations

from typing import Any, cast

import httpx
import pytest
import trio
import trio.testing
from trio_websocket import ConnectionClosed, wrap_server_stream
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request

from mmtrio.chaos.memlinks import Link


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A tiny ASGI app: /ok answers at once, /slow never."""
    if scope["path"] == "/slow":
        await trio.sleep_forever()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def echo(stream: trio.abc.Stream) -> None:
    async with trio.open_nursery() as nursery:
        request = await wrap_server_stream(nursery, stream)
        ws = await request.accept()
        while True:
            await ws.send_message(await ws.get_message())


async def test_rest_answers_times_out_and_breaks_as_a_socket_would(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        link = Link(app, echo, nursery)
        async with httpx.AsyncClient(transport=link.rest, base_url="http://v", timeout=2.0) as c:
            assert (await c.get("/ok")).text == "ok"
            t0 = trio.current_time()
            with pytest.raises(httpx.ReadTimeout):
                await c.get("/slow")  # accepted, never answered: the read timeout ends it
            assert trio.current_time() - t0 == pytest.approx(2.0)

            async def kill_soon() -> None:
                await trio.sleep(0.5)
                link.kill("rest")

            nursery.start_soon(kill_soon)
            with pytest.raises(httpx.ReadError):
                await c.get("/slow")  # in flight when the connection is reset

            end = link.half_open("rest")
            nursery.start_soon(lambda: _later(1.5, lambda: end(False)))
            t0 = trio.current_time()
            assert (await c.get("/ok")).text == "ok"  # waited out the silence
            assert trio.current_time() - t0 == pytest.approx(1.5)

            end = link.half_open("all")
            nursery.start_soon(lambda: _later(1.0, lambda: end(True)))
            with pytest.raises(httpx.ReadError):
                await c.get("/ok")  # the silence ended in a reset

            link.sever()  # kill -9 of the bot
            with pytest.raises(httpx.ConnectError):
                await c.get("/ok")
        nursery.cancel_scope.cancel()


async def test_a_request_into_a_long_silence_times_out_and_never_reaches_the_venue(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # As over the TCP proxy: the read timeout runs while the link is silent, and the proxy
    # drops the unsent bytes of a connection its client gave up on.
    seen: list[str] = []

    async def counting(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["path"])
        await app(scope, receive, send)

    async with trio.open_nursery() as nursery:
        link = Link(counting, echo, nursery)
        async with httpx.AsyncClient(transport=link.rest, base_url="http://v", timeout=1.0) as c:
            end = link.half_open("rest")
            nursery.start_soon(lambda: _later(5.0, lambda: end(False)))
            with pytest.raises(httpx.ReadTimeout):
                await c.get("/ok")
            await trio.sleep(6.0)  # the link came back: nothing was delivered late
            assert seen == []
            assert (await c.get("/ok")).text == "ok" and seen == ["/ok"]
        nursery.cancel_scope.cancel()


async def _later(seconds: float, fn: Any) -> None:
    await trio.sleep(seconds)
    fn()


async def test_websockets_run_over_memory_and_break_on_a_kill(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with trio.open_nursery() as nursery:
        link = Link(app, echo, nursery)
        async with link.connect("ws://v/ws/x?y=1", connect_timeout=5.0) as ws:
            await ws.send_message("hello")
            assert await ws.get_message() == "hello"
            end = link.half_open("ws")
            await ws.send_message("held")
            with trio.move_on_after(3.0) as held:
                await ws.get_message()
            assert held.cancelled_caught  # nothing crosses a silent link
            end(False)
            assert await ws.get_message() == "held"  # ... until it comes back
            link.kill("ws")
            with pytest.raises(ConnectionClosed):
                await ws.get_message()
        link.sever()
        with pytest.raises(OSError, match="killed"):
            async with link.connect("ws://v/ws/x", connect_timeout=5.0):
                pass
        nursery.cancel_scope.cancel()


async def test_a_cancelled_client_does_not_wait_for_the_venues_close_answer(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # As trio-websocket's own open_websocket: a cancelled task's close is not shielded, so a
    # stopping bot never waits for a venue that is slow to answer its close frame. (The stand-in
    # waited up to 1 s: DST seed 111607, a journal-full stop began 1 s late and overran.)
    async def deaf(stream: trio.abc.Stream) -> None:  # accepts, then never reads again
        ws = WSConnection(ConnectionType.SERVER)
        while True:
            ws.receive_data(cast("bytes", await stream.receive_some()))  # or a bytearray: fine
            for event in ws.events():
                if isinstance(event, Request):
                    await stream.send_all(ws.send(AcceptConnection()))
                    await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        link = Link(app, deaf, nursery)
        t0 = trio.current_time()
        with trio.CancelScope() as scope:
            async with link.connect("ws://sim/ws", connect_timeout=5.0) as ws:
                await ws.send_message("hello")
                scope.cancel()
                await trio.sleep_forever()
        assert trio.current_time() - t0 == 0
        # Not cancelled, a close still waits (at most 1 s) for the venue's answer.
        t0 = trio.current_time()
        async with link.connect("ws://sim/ws", connect_timeout=5.0):
            pass
        assert trio.current_time() - t0 == pytest.approx(1.0)
        nursery.cancel_scope.cancel()


async def test_answers_are_dated_with_the_virtual_wall_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """As an HTTP server dates its answers (Extended's connector reads its clock there)."""
    from email.utils import parsedate_to_datetime

    async with trio.open_nursery() as nursery:
        link = Link(app, echo, nursery, epoch_ms=1_750_000_000_000)
        async with httpx.AsyncClient(transport=link.rest, base_url="http://v") as c:
            await trio.sleep(61.7)
            date = (await c.get("/ok")).headers["date"]
            assert date == "Sun, 15 Jun 2025 15:07:41 GMT"
            assert parsedate_to_datetime(date).timestamp() == 1_750_000_061
        undated = Link(app, echo, nursery)  # no epoch given: no header made up
        async with httpx.AsyncClient(transport=undated.rest, base_url="http://v") as c:
            assert "date" not in (await c.get("/ok")).headers
        nursery.cancel_scope.cancel()
