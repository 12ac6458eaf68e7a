"""Start-up's patience with a venue that answers slower than the request timeout
(``mmtrio.venues.patience``): each read that timed out doubles the next one's read timeout,
up to 5 s, while start-up has set ``on_read_retry``; its end restores the configured one.
DST seed 119426: a restarted bot's reads timed out against answers held 1.06-1.21 s until
start-up's 30 s deadline stopped it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import trio

from mmtrio.errors import OutcomeUnknownError, VenueError
from mmtrio.venues.binance.rest import BinanceRest
from mmtrio.venues.extended.rest import ExtendedRest
from mmtrio.venues.patience import MAX_READ_S, ReadPatience

DATE = "Thu, 03 Dec 2026 17:00:00 GMT"


def slow_venue(answer_s: float, body: dict[str, Any]) -> tuple[httpx.MockTransport, list[float]]:
    """A venue whose every answer takes ``answer_s``: a request whose read timeout is
    shorter times out (as httpx would raise it), and the read timeouts are recorded."""
    reads: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        read = request.extensions["timeout"]["read"]
        reads.append(read)
        if read < answer_s:
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(200, headers={"date": DATE}, json=body)

    return httpx.MockTransport(handler), reads


def one_second() -> httpx.Timeout:
    return httpx.Timeout(connect=1.0, read=1.0, write=1.0, pool=1.0)


async def test_binance_start_up_reads_wait_longer_until_the_venue_is_heard(
    autojump_clock: trio.testing.MockClock,
) -> None:
    transport, reads = slow_venue(3.0, {"serverTime": 1_700_000_000_000})
    rest = BinanceRest("http://venue", transport=transport, timeout=one_second())
    waits: list[VenueError] = []
    rest.on_read_retry = lambda s, exc: waits.append(exc)
    with trio.fail_after(30):  # start-up's deadline (virtual): never heard without patience
        assert await rest.server_time() == 1_700_000_000_000
    # each call sends a read twice (a transport error is tried once more), then patience
    assert reads == [1.0, 1.0, 2.0, 2.0, 4.0]
    assert [type(e) for e in waits] == [OutcomeUnknownError, OutcomeUnknownError]
    rest.on_read_retry = None  # start-up is over: the configured timeout again
    with pytest.raises(OutcomeUnknownError, match="ReadTimeout after the request was sent"):
        await rest.server_time()
    assert reads[-2:] == [1.0, 1.0]
    await rest.aclose()


async def test_without_start_up_s_patience_a_timeout_is_an_unknown_outcome_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    transport, reads = slow_venue(1.5, {"serverTime": 1})
    rest = BinanceRest("http://venue", transport=transport, timeout=one_second())
    with pytest.raises(OutcomeUnknownError):
        await rest.server_time()
    assert reads == [1.0, 1.0]
    await rest.aclose()


async def test_extended_start_up_reads_wait_longer_too(
    autojump_clock: trio.testing.MockClock,
) -> None:
    transport, reads = slow_venue(1.2, {"status": "OK", "data": []})
    rest = ExtendedRest(
        "http://venue", "key", clock_ms=lambda: 0, transport=transport, timeout=one_second()
    )
    rest.on_read_retry = lambda s, exc: None
    with trio.fail_after(30):
        await rest.sync_time("BTC-USD")
    # then one read to narrow the Date header's second (extended/clock.py), still patient
    assert reads == [1.0, 1.0, 2.0, 2.0]
    rest.on_read_retry = None
    with pytest.raises(OutcomeUnknownError):
        await rest.sync_time("BTC-USD")
    await rest.aclose()


async def test_patience_grows_to_its_cap_and_only_for_timeouts() -> None:
    client = httpx.AsyncClient(timeout=one_second())
    patience = ReadPatience(client, fallback_retry_after_s=10.0)
    request = httpx.Request("GET", "http://venue/x")
    lost = OutcomeUnknownError("lost")
    lost.__cause__ = httpx.ReadError("reset", request=request)
    patience.after_failure(lost)  # not a timeout: the venue did not answer late, it broke
    assert client.timeout.read == 1.0
    late = OutcomeUnknownError("late")
    late.__cause__ = httpx.ReadTimeout("timed out", request=request)
    for _ in range(6):
        patience.after_failure(late)
    assert client.timeout.read == MAX_READ_S == 5.0
    patience.end()
    assert client.timeout == one_second()
    await client.aclose()
