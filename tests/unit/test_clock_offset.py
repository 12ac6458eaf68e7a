"""The clock offset from a few samples: the fastest round trip's, a slow one never trusted."""

from __future__ import annotations

import pytest
import trio

from mmtrio.core.clock_offset import MAX_RTT_MS, ClockSample, estimate
from mmtrio.errors import ConnectionFailed
from mmtrio.venues.clock_sync import GOOD_RTT_MS, MAX_SAMPLES, sample_clock

SKEW_MS = 250  # the fake venue's clock runs this far ahead of ours


def answered(sent: int, rtt: int, stamped_after: int | None = None) -> ClockSample:
    """A venue 250 ms ahead that stamps its time ``stamped_after`` ms into the round trip
    (halfway unless told: the sim's ``delay`` fault stamps at once and holds the answer)."""
    at = sent + (rtt // 2 if stamped_after is None else stamped_after)
    return ClockSample(sent, at + SKEW_MS, sent + rtt)


def test_one_slow_answer_among_fast_ones_leaves_the_offset_alone() -> None:
    slow = answered(0, 3_000, stamped_after=0)  # stamped, then held 3 s on the way back
    assert slow.offset_ms == SKEW_MS - 1_500  # what a single-sample sync used to keep
    reading = estimate([answered(10_000, 40), slow, answered(20_000, 30)], previous_ms=0)
    assert reading.offset_ms == SKEW_MS and reading.uncertainty_ms == 15
    assert (reading.samples, reading.discarded, reading.best_rtt_ms) == (3, 1, 30)
    assert not reading.host_clock_suspect(500)


def test_all_slow_keeps_the_previous_offset_and_blames_the_venue() -> None:
    samples = [answered(0, 3_000, stamped_after=0), answered(5_000, MAX_RTT_MS + 1)]
    reading = estimate(samples, previous_ms=-42)
    assert reading.offset_ms == -42 and not reading.measured
    assert not reading.host_clock_suspect(0)  # nothing measured: nothing to blame NTP for
    why = reading.why_kept()
    assert "slowly" in why and "not a clock problem" in why and "1001 ms" in why
    assert "no time" in estimate([], previous_ms=7).why_kept()


def test_the_host_clock_is_suspect_only_beyond_the_uncertainty() -> None:
    # 900 ms off, measured over an 800 ms round trip (±400): 500 ms beyond, not more
    near = estimate([ClockSample(0, 400 + 900, 800)], previous_ms=0)
    assert near.offset_ms == 900 and near.uncertainty_ms == 400
    assert not near.host_clock_suspect(500)
    far = estimate([ClockSample(0, 20 + 1_500, 40)], previous_ms=0)
    assert far.host_clock_suspect(500)
    # a Date header is to the second: ±500 ms more
    dated = estimate([ClockSample(0, 20 + 900, 40, resolution_ms=1_000)], previous_ms=0)
    assert dated.uncertainty_ms == 520 and not dated.host_clock_suspect(500)


def test_a_negative_bound_is_refused() -> None:
    with pytest.raises(ValueError, match="max_rtt_ms must be >= 0"):
        estimate([], previous_ms=0, max_rtt_ms=-1)


class FakeVenue:
    """Answers time requests on Trio's clock, each held ``holds_ms`` in turn after stamping."""

    def __init__(self, holds_ms: list[int | Exception]) -> None:
        self.holds_ms = holds_ms
        self.requests = 0

    @staticmethod
    def local_ms() -> int:
        return round(trio.current_time() * 1000)

    async def take(self) -> ClockSample:
        self.requests += 1
        hold = self.holds_ms.pop(0)
        if isinstance(hold, Exception):
            raise hold
        sent = self.local_ms()
        await trio.sleep(0.005)
        stamped = self.local_ms() + SKEW_MS
        await trio.sleep(0.005 + hold / 1000)
        return ClockSample(sent, stamped, self.local_ms())


async def test_a_slow_answer_is_followed_by_another_sample(
    autojump_clock: trio.testing.MockClock,
) -> None:
    venue = FakeVenue([3_000, 0, 0])
    reading = await sample_clock(venue.take, previous_ms=0)
    assert reading.offset_ms == SKEW_MS
    assert venue.requests == 2  # the fast second answer is good enough: no third request


async def test_a_fast_first_answer_costs_one_request(
    autojump_clock: trio.testing.MockClock,
) -> None:
    venue = FakeVenue([0, 0, 0])
    reading = await sample_clock(venue.take, previous_ms=0)
    assert reading.offset_ms == SKEW_MS and venue.requests == 1
    assert reading.best_rtt_ms is not None and reading.best_rtt_ms <= GOOD_RTT_MS


async def test_every_answer_slow_keeps_the_previous_offset(
    autojump_clock: trio.testing.MockClock,
) -> None:
    venue = FakeVenue([3_000] * MAX_SAMPLES)
    reading = await sample_clock(venue.take, previous_ms=17)
    assert reading.offset_ms == 17 and not reading.measured
    assert venue.requests == MAX_SAMPLES and reading.discarded == MAX_SAMPLES


async def test_a_failure_after_a_sample_keeps_what_was_measured(
    autojump_clock: trio.testing.MockClock,
) -> None:
    venue = FakeVenue([400, ConnectionFailed("reset")])
    reading = await sample_clock(venue.take, previous_ms=0)
    assert reading.measured and abs(reading.offset_ms - SKEW_MS) <= 205
    with pytest.raises(ConnectionFailed):  # the first one failing: nothing measured
        await sample_clock(FakeVenue([ConnectionFailed("down")]).take, previous_ms=0)
