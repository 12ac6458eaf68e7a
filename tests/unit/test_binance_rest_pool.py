"""BinanceRest over a real loopback socket: a request that waited in the connection pool while
a 429 arrived is not sent (the back-off is checked again when its bytes are about to leave).

httpx.MockTransport has no pool and no wire, so this test serves raw HTTP/1.1 on loopback with
trio and gives the client a single connection.
"""

from __future__ import annotations

from functools import partial

import httpx
import pytest
import trio
import trio.testing

from mmtrio.core.instruments import BTCUSDT
from mmtrio.errors import RateLimited
from mmtrio.venues.binance.codec import BinanceDecoder
from mmtrio.venues.binance.rest import BinanceRest

TOO_MANY = (
    b"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 30\r\n"
    b'Content-Length: 41\r\n\r\n{"code":-1003,"msg":"Too many requests."}'
)


class HoldingVenue:
    """Counts request heads; answers each with a 429 once ``release`` is set."""

    def __init__(self) -> None:
        self.heads: list[bytes] = []
        self.first_seen = trio.Event()
        self.release = trio.Event()

    async def serve(self, stream: trio.SocketStream) -> None:
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                data = await stream.receive_some(65536)
                if not data:
                    return
                buf += data
            head, buf = buf.split(b"\r\n\r\n", 1)
            self.heads.append(head.split(b"\r\n", 1)[0])
            self.first_seen.set()
            await self.release.wait()
            await stream.send_all(TOO_MANY)


async def test_a_request_queued_in_the_pool_is_not_sent_into_a_back_off() -> None:
    venue = HoldingVenue()
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, venue.serve, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        rest = BinanceRest(
            f"http://127.0.0.1:{port}",
            BinanceDecoder([BTCUSDT]),
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
        outcomes: dict[str, BaseException] = {}

        async def call(name: str) -> None:
            try:
                await rest.depth_snapshot("BTCUSDT", limit=5)
            except RateLimited as exc:
                outcomes[name] = exc

        try:
            async with trio.open_nursery() as calls:
                calls.start_soon(call, "first")
                await venue.first_seen.wait()
                calls.start_soon(call, "queued")  # before any back-off: passes the first check
                await trio.testing.wait_all_tasks_blocked()  # ... and waits for the connection
                venue.release.set()
        finally:
            await rest.aclose()  # (not ``async with``: entering it syncs the time first)
        nursery.cancel_scope.cancel()

    assert len(venue.heads) == 1, venue.heads  # the queued request never reached the wire
    assert "Too many requests" in str(outcomes["first"])
    queued = outcomes["queued"]
    assert isinstance(queued, RateLimited) and "not sent" in str(queued)
    assert queued.retry_after_s is not None and 29 < queued.retry_after_s <= 30


def test_the_pool_test_would_see_a_second_request_without_the_send_time_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The control: with the send-time check disabled the queued request does reach the wire,
    # so the test above can fail.
    async def no_check(self: BinanceRest, event: str, info: dict[str, object]) -> None:
        return None

    monkeypatch.setattr(BinanceRest, "_on_transport_event", no_check)
    with pytest.raises(AssertionError, match="assert 2 == 1"):
        trio.run(test_a_request_queued_in_the_pool_is_not_sent_into_a_back_off)
