"""A stream whose task is restarted while connected says the old connection is gone.

DST seed 137 (10.5 s): the supervised user-stream task crashed while connected; its restart's
new connection hung in the opening handshake (the link was reset under it; only the connect
timeout ends that). Nothing had told the bot the stream went down, so it kept quoting with
no fill reaching it until a reconciliation, and its position passed the limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio
from trio_websocket import WebSocketConnection

from mmtrio.venues.wsconn import WsConnection


class Stream(WsConnection):
    stream_name = "user"

    def __init__(self, connect: Any) -> None:
        super().__init__(
            rng=None,
            clock_ms=lambda: 0,
            backoff_base_s=0.5,
            backoff_cap_s=1.0,
            ping_interval_s=1e9,
            pong_timeout_s=10.0,
            max_connection_age_s=1e9,
            connect_timeout_s=10.0,
            connect=connect,
        )
        self.statuses: list[tuple[bool, str]] = []

    async def _emit_status(self, connected: bool, reason: str) -> None:
        self.statuses.append((connected, reason))

    async def _session(self, ws: WebSocketConnection) -> None:
        await trio.sleep_forever()  # a live connection that delivers nothing

    async def _url(self) -> str:
        return "ws://venue/ws"


class FakeWs:
    async def ping(self) -> None:
        await trio.sleep_forever()


async def test_a_restarted_stream_reports_the_abandoned_connection_down(
    autojump_clock: Any,
) -> None:
    handshake_hangs = False

    @asynccontextmanager
    async def connect(url: str, **_: Any) -> AsyncIterator[Any]:
        if handshake_hangs:
            await trio.sleep_forever()  # a handshake on a reset link: no answer, no error
        yield FakeWs()

    stream = Stream(connect)
    with trio.move_on_after(1.0):  # the supervisor cancels the crashed run while connected
        await stream._loop()
    assert stream.statuses == [(True, "connected")]

    handshake_hangs = True
    with trio.move_on_after(1.0):  # the restarted run: its connect does not return
        await stream._loop()
    assert stream.statuses[1:] == [(False, "connection abandoned (the stream's task restarted)")]
    assert not stream.reported_up


async def test_a_stream_told_down_is_not_told_again_on_its_next_attempt(
    autojump_clock: Any,
) -> None:
    attempts = 0

    @asynccontextmanager
    async def connect(url: str, **_: Any) -> AsyncIterator[Any]:
        nonlocal attempts
        attempts += 1
        raise OSError("connection refused")
        yield FakeWs()  # type: ignore[unreachable]  # pragma: no cover (makes it a generator)

    stream = Stream(connect)
    with trio.move_on_after(5.0):
        await stream._loop()
    assert attempts >= 2
    assert [s for s, _ in stream.statuses] == [False] * attempts
    assert all(r.startswith("OSError") for _, r in stream.statuses)
