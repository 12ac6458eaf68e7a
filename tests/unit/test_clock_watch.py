"""Clock sync while trading: measured periodically, and the latency guard uses it."""

from __future__ import annotations

from dataclasses import replace

import trio
from loguru import logger

from mmtrio.core.clock_offset import ClockReading, ClockSample, estimate
from mmtrio.core.events import BookDelta
from mmtrio.core.risk import TradingState
from mmtrio.errors import ConnectionFailed
from mmtrio.runtime.clock_watch import RETRY_S, ClockResync, watch_clock
from tests.unit.test_strategy import SYM, Session, make_config


class Clocks:
    """A session whose clock syncs answer offsets in turn (an exception is raised; a
    reading as it is), each measured over a 20 ms round trip."""

    def __init__(self, answers: list[int | ClockReading | Exception]) -> None:
        self.answers = answers
        self.calls = 0

    async def sync_clock(self) -> ClockReading:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, ClockReading):
            return answer
        return estimate([ClockSample(0, answer + 10, 20)], previous_ms=0)


def warnings() -> tuple[list[str], int]:
    lines: list[str] = []
    sink = logger.add(
        lambda m: lines.append(str(m).rstrip("\n")), level="WARNING", format="{message}"
    )
    return lines, sink


async def test_the_offset_is_measured_every_interval_and_a_failure_retried(
    autojump_clock: trio.testing.MockClock,
) -> None:
    session = Clocks([12, ConnectionFailed("down"), -30, 7])
    seen: list[int] = []
    # Three intervals and one retry fit in 200 s; a fourth interval does not.
    with trio.move_on_after(3 * 60 + RETRY_S + 10):
        await watch_clock(session, seen.append, interval_s=60)  # type: ignore[arg-type]
    assert seen == [12, -30, 7]  # the failed sync was tried again, its offset not invented
    assert session.calls == 4 and session.answers == []


async def test_a_refused_timestamp_measures_the_offset_at_once_not_at_the_interval(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Execution asks (a request refused for its timestamp, Binance -1021): the watch measures
    within RETRY_S instead of waiting out its 60 s; a burst of refusals is one measurement."""
    session = Clocks([2_000, 2_010])
    seen: list[tuple[float, int]] = []
    resync = ClockResync()

    async def refusals() -> None:
        await trio.sleep(10)
        for _ in range(5):  # a burst: five requests refused together
            resync.request()

    with trio.move_on_after(59):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(refusals)
            await watch_clock(
                session,  # type: ignore[arg-type]
                lambda off: seen.append((trio.current_time(), off)),
                interval_s=60,
                resync=resync,
            )
    assert [off for _, off in seen] == [2_000]  # one measurement for the burst
    assert 10 <= seen[0][0] <= 10 + RETRY_S  # at once, not after the 60 s interval
    assert resync.requests == 5 and session.calls == 1


async def test_a_sync_of_slow_answers_keeps_the_offset_and_blames_the_venue(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Every time request answered in 3 s (the sim's ``delay`` fault): the offset measured
    before is kept (not -1500 ms), and the warning says the venue was slow, not the clock."""
    slow = estimate([ClockSample(0, 0, 3_000), ClockSample(3_200, 3_200, 6_200)], previous_ms=12)
    session = Clocks([12, slow, 15])
    seen: list[int] = []
    lines, sink = warnings()
    try:
        with trio.move_on_after(3 * 60 + 1):
            await watch_clock(session, seen.append, interval_s=60)  # type: ignore[arg-type]
    finally:
        logger.remove(sink)
    assert seen == [12, 15]  # the slow sync handed on no offset
    assert len(lines) == 1, lines
    assert "clock offset kept at 12 ms" in lines[0] and "not a clock problem" in lines[0]
    assert "NTP" not in lines[0]


async def test_a_large_offset_warns_only_beyond_its_uncertainty(
    autojump_clock: trio.testing.MockClock,
) -> None:
    unsure = estimate([ClockSample(0, 450 + 900, 900)], previous_ms=0)  # 900 ± 450 ms
    sure = estimate([ClockSample(0, 10 + 900, 20)], previous_ms=0)  # 900 ± 10 ms
    session = Clocks([unsure, sure])
    seen: list[int] = []
    lines, sink = warnings()
    try:
        with trio.move_on_after(2 * 60 + 1):
            await watch_clock(session, seen.append, interval_s=60)  # type: ignore[arg-type]
    finally:
        logger.remove(sink)
    assert seen == [900, 900]
    assert lines == [
        "the venue's clock is 900 ms ±10 ms from ours: check the host's time sync (NTP)"
    ]


def test_the_feed_latency_guard_compares_with_the_corrected_local_time() -> None:
    limits = replace(make_config().limits, max_feed_latency_ms=1_000)
    s = Session(limits=limits)
    s.snapshot()

    def delta_stamped(ts: int) -> None:
        prev, s.u = s.u, s.u + 1
        s.step(BookDelta(SYM, (), (), ts, seq=s.u, prev_seq=prev))

    # The venue's clock runs 5 s behind ours: a message stamped 5 s "ago" arrived at once.
    delta_stamped(s.now - 5_000)
    assert s.mm.status(s.now).trading_state is TradingState.REDUCING_ONLY  # uncorrected
    s.mm.venue_offset_ms = -5_000  # what the clock sync measured
    delta_stamped(s.now - 5_000 + 10)
    assert s.mm.status(s.now).trading_state is TradingState.ACTIVE
