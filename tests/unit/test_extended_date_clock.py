"""Extended's clock offset from whole-second ``Date`` headers, narrowed over several reads.

QA on the Extended paper bot: the offset read from one header was off by up to half a
second (``mmtrio_clock_offset_ms`` −478 with the sim in the bot's own process), and the
feed-latency guard (1 s) counts it on every market message.
"""

from __future__ import annotations

from email.utils import formatdate

import httpx
import pytest
import trio
import trio.testing

from mmtrio.errors import ConfigError, RateLimited
from mmtrio.venues.extended.clock import KEEP, DateClock
from mmtrio.venues.extended.rest import ExtendedRest

TRUE_OFFSET = 237  # ms, venue − local
BASE = 1_796_317_200_000  # a whole second


def _date_ms(local: int, offset: int = TRUE_OFFSET) -> int:
    return (local + offset) // 1_000 * 1_000  # the venue's clock, whole seconds


async def test_reads_at_several_phases_of_the_second_find_the_offset() -> None:
    local = {"now": BASE}

    def answer(request: httpx.Request) -> httpx.Response:
        date = formatdate(_date_ms(local["now"]) / 1000, usegmt=True)
        return httpx.Response(200, headers={"date": date}, json={"status": "OK", "data": []})

    rest = ExtendedRest(
        "http://127.0.0.1:1", "key", clock_ms=lambda: local["now"],
        transport=httpx.MockTransport(answer),
    )  # fmt: skip
    # a minute apart, each at another phase of the venue's second; the last read alone
    # (venue at .950 of its second) would say 237 − 450
    for minute, phase in enumerate((100, 500, 300, 800, 650, 950)):
        local["now"] = BASE + minute * 60_000 + phase - TRUE_OFFSET
        offset = (await rest.sync_time("BTC-USD")).offset_ms
    assert abs(offset - TRUE_OFFSET) <= 50
    await rest.aclose()


async def test_one_sync_bisects_the_second(autojump_clock: trio.testing.MockClock) -> None:
    """Reads a minute apart fall at nearly the same phase of the second (the paper bot
    settled at -300 ms): each sync reads again at the estimated turn of the venue's second."""

    def local() -> int:
        return BASE + 876 + int(trio.current_time() * 1000)  # the venue at .113 of a second

    reads: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        reads.append(local())
        date = formatdate(_date_ms(local()) / 1000, usegmt=True)
        return httpx.Response(200, headers={"date": date}, json={"status": "OK", "data": []})

    rest = ExtendedRest(
        "http://127.0.0.1:1", "key", clock_ms=local, transport=httpx.MockTransport(answer)
    )
    offset = (await rest.sync_time("BTC-USD")).offset_ms
    assert abs(offset - TRUE_OFFSET) <= 100 and 2 <= len(reads) <= 5
    await rest.aclose()


def test_one_read_is_the_middle_of_its_second() -> None:
    assert DateClock().read(BASE, 0, 0) == BASE + 500


@pytest.mark.parametrize("rtt", [0, 40])
def test_a_stepped_host_clock_starts_over(rtt: int) -> None:
    clock = DateClock()
    for i, phase in enumerate((100, 600, 350, 850)):
        t = BASE + i * 60_000 + phase
        clock.read(_date_ms(t), t - rtt, t)
    stepped = 5_000  # the host clock jumped 5 s back: the venue now reads 5 s ahead
    t = BASE + 300_000 + 400
    got = clock.read(_date_ms(t, TRUE_OFFSET + stepped), t - rtt, t)
    assert abs(got - (TRUE_OFFSET + stepped)) <= 500 + rtt


def test_only_the_last_reads_count() -> None:
    clock = DateClock()
    for i in range(3 * KEEP):
        t = BASE + i * 60_000 + (i * 137) % 1_000
        clock.read(_date_ms(t), t, t)
    assert len(clock._windows) == KEEP


async def test_a_rate_limited_read_is_a_back_off_not_a_clock_reading(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Process chaos seed 51003 (Extended): a 429 carries a Date header too; the sync took its
    time and not its Retry-After, and start-up's next read, 0.5 s later, drew a 120 s ban."""

    def local() -> int:
        return BASE + 876 + int(trio.current_time() * 1000)

    sent: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(trio.current_time())
        date = formatdate(_date_ms(local()) / 1000, usegmt=True)
        if len(sent) == 2:  # the first narrowing read
            body = {"status": "ERROR", "error": {"code": 429, "message": "Too many requests"}}
            return httpx.Response(429, headers={"date": date, "retry-after": "1"}, json=body)
        return httpx.Response(200, headers={"date": date}, json={"status": "OK", "data": []})

    blocked: list[int] = []
    rest = ExtendedRest(
        "http://127.0.0.1:1", "key", clock_ms=local, transport=httpx.MockTransport(answer),
        on_blocked=lambda until, banned: blocked.append(until),
    )  # fmt: skip
    reading = await rest.sync_time("BTC-USD")
    assert len(sent) == 2 and reading.samples == 1  # the 429 is not a sample; the sync ends
    assert blocked  # the back-off is handed on (a restart honours it too)
    with pytest.raises(RateLimited):  # inside the Retry-After: not sent
        await rest.market("BTC-USD")
    assert len(sent) == 2
    await trio.sleep(1.0)
    with pytest.raises(ConfigError, match="lists no market"):  # sent: an empty market list
        await rest.market("BTC-USD")
    assert len(sent) == 3 and sent[2] - sent[1] >= 1.0
    await rest.aclose()


async def test_a_rate_limited_first_read_at_start_up_is_waited_out(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """The same seed, run again: start-up's first clock read drew the 429 and the bot
    crashed with it ("the bot crashed: RateLimited"), where any other start-up read waits."""

    def local() -> int:
        return BASE + 876 + int(trio.current_time() * 1000)

    sent: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(trio.current_time())
        date = formatdate(_date_ms(local()) / 1000, usegmt=True)
        if len(sent) == 1:
            body = {"status": "ERROR", "error": {"code": 429, "message": "Too many requests"}}
            return httpx.Response(429, headers={"date": date, "retry-after": "1"}, json=body)
        return httpx.Response(200, headers={"date": date}, json={"status": "OK", "data": []})

    rest = ExtendedRest(
        "http://127.0.0.1:1", "key", clock_ms=local, transport=httpx.MockTransport(answer)
    )
    waits: list[float] = []
    rest.on_read_retry = lambda s, exc: waits.append(s)
    reading = await rest.sync_time("BTC-USD")
    assert reading.measured and reading.samples >= 1
    assert waits and sent[1] - sent[0] >= 1.0  # waited out the Retry-After, then read
    await rest.aclose()
