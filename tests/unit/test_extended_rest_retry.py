"""Extended's clock sync is a read like any other: while start-up sets ``on_read_retry``, a
lost connection is waited out and tried again instead of crashing the bot (chaos seed 1804)."""

from __future__ import annotations

import httpx
import pytest
import trio

from mmtrio.errors import OutcomeUnknownError, VenueError
from mmtrio.venues.extended.rest import ExtendedRest

DATE = "Thu, 03 Dec 2026 17:00:00 GMT"


def _flaky(failures: int) -> tuple[httpx.MockTransport, list[int]]:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) <= failures:
            raise httpx.ReadError("connection reset by peer", request=request)
        return httpx.Response(200, headers={"date": DATE}, json={"status": "OK", "data": []})

    return httpx.MockTransport(handler), calls


def _rest(transport: httpx.MockTransport) -> ExtendedRest:
    return ExtendedRest("http://127.0.0.1:1", "key", clock_ms=lambda: 0, transport=transport)


async def test_sync_time_waits_out_lost_connections_at_start_up(
    autojump_clock: trio.testing.MockClock,
) -> None:
    transport, calls = _flaky(failures=4)  # two reads of two attempts each
    rest = _rest(transport)
    waits: list[tuple[float, VenueError]] = []
    rest.on_read_retry = lambda s, exc: waits.append((s, exc))
    offset = (await rest.sync_time("BTC-USD")).offset_ms
    # two reads of two attempts each, then the answer; then one more read at the estimated
    # turn of the venue's second (extended/clock.py), which on this frozen clock narrows
    # nothing, so the sync ends there
    assert len(calls) == 6
    assert [type(exc) for _, exc in waits] == [OutcomeUnknownError, OutcomeUnknownError]
    assert offset == 1796317200000 + 500  # the Date header, half a second in, minus local 0


async def test_sync_time_raises_when_nobody_waits(autojump_clock: trio.testing.MockClock) -> None:
    transport, calls = _flaky(failures=2)
    with pytest.raises(OutcomeUnknownError, match="after the request was sent"):
        await _rest(transport).sync_time("BTC-USD")
    assert len(calls) == 2
