"""Rate-limit back-offs for the metrics (runtime/backoffs.py): counts and the time they held
the bot back, overlapping ones once; execution's rate-budget waits and refusals, in virtual
time."""

from __future__ import annotations

import pytest
import trio

from mmtrio.core.commands import CancelOrder, Command
from mmtrio.core.events import CancelAccepted, Event, PlaceRejected
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.ratelimit import RateBudget
from mmtrio.core.rejects import RejectKind
from mmtrio.errors import RateLimited
from mmtrio.runtime.backoffs import Backoffs, BackoffTally
from mmtrio.runtime.breaker import CircuitBreaker
from mmtrio.runtime.execution import Execution
from mmtrio.venues.binance.costs import COSTS, DEFAULT_LIMITS
from tests.unit.test_execution import SYM, FakeGateway, clock, place


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


def by_reason(backoffs: Backoffs) -> dict[str, tuple[int, float]]:
    return {t.reason: (t.count, t.seconds) for t in backoffs.tallies()}


def test_nothing_yet_is_three_zero_reasons() -> None:
    assert Backoffs(Clock()).tallies() == (
        BackoffTally("venue", 0, 0.0),
        BackoffTally("venue_ban", 0, 0.0),
        BackoffTally("rate_budget", 0, 0.0),
    )


def test_a_ban_is_counted_apart_from_the_rate_limits() -> None:
    """A 418 is the back-off an operator must be woken for: its own reason, its own time."""
    now = Clock()
    b = Backoffs(now)
    b.venue(now.now + 1_000)  # a 429
    b.venue(now.now + 120_000, banned=True)  # then a 418: two minutes
    now.now += 200_000
    assert by_reason(b) == {"venue": (1, 1.0), "venue_ban": (1, 120.0), "rate_budget": (0, 0.0)}


def test_venue_back_offs_count_each_answer_and_overlapping_waits_once() -> None:
    now = Clock()
    b = Backoffs(now)
    b.venue(now.now + 2_000)  # a 429: two seconds
    now.now += 500
    assert by_reason(b)["venue"] == (1, 0.5)  # as far as it has gone
    b.venue(now.now + 1_000)  # a second answer inside the first wait, ending before it
    b.venue(now.now + 3_000)  # a third: extends the wait to 3.5 s after the first
    now.now += 10_000
    assert by_reason(b)["venue"] == (3, 3.5)
    b.venue(now.now + 1_000)  # a later, separate one
    now.now += 1_000
    assert by_reason(b)["venue"] == (4, 4.5)
    b.venue(now.now - 5)  # already over when told: counted, no time
    assert by_reason(b)["venue"] == (5, 4.5)


def test_budget_waits_count_each_request_and_the_time_any_waited() -> None:
    now = Clock()
    b = Backoffs(now)
    with b.budget_wait():
        now.now += 1_000
        with b.budget_wait():  # a second request waits alongside: the same time
            now.now += 1_000
            assert by_reason(b)["rate_budget"] == (2, 2.0)
        now.now += 500
    now.now += 7_000  # nobody waits
    b.budget_refused()
    assert by_reason(b) == {"venue": (0, 0.0), "venue_ban": (0, 0.0), "rate_budget": (3, 2.5)}


def test_a_wait_cut_short_still_ends() -> None:
    now = Clock()
    b = Backoffs(now)
    with pytest.raises(RuntimeError), b.budget_wait():
        now.now += 250
        raise RuntimeError("cut short")
    now.now += 1_000
    assert by_reason(b)["rate_budget"] == (1, 0.25)


async def test_execution_counts_its_rate_budget_refusals_and_waits(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # A 429 with a 5 s Retry-After on the first place: the next place is refused at the
    # budget (never queued), and a cancel waits the back-off out.
    gw = FakeGateway()
    gw.script = {"place": [RateLimited("too many", code="-1003", status=429, retry_after_s=5.0)]}
    backoffs = Backoffs(clock)
    ev_send, ev_recv = trio.open_memory_channel[Event](100)
    cmd_send, cmd_recv = trio.open_memory_channel[Command](100)
    ex = Execution(
        gw, BTCUSDT, RateBudget(DEFAULT_LIMITS), CircuitBreaker(), ev_send, clock, costs=COSTS
    )
    ex.backoffs = backoffs
    async with trio.open_nursery() as n:
        n.start_soon(ex.run, cmd_recv)
        async with cmd_send:
            for cmd in (place("a"), place("b"), CancelOrder("c", SYM)):
                await cmd_send.send(cmd)
                await trio.sleep(0.1)
    ev_send.close()
    events = {getattr(e, "client_id", None): e async for e in ev_recv}
    assert isinstance(events["b"], PlaceRejected) and events["b"].kind is RejectKind.LOCAL
    assert isinstance(events["c"], CancelAccepted)
    count, seconds = by_reason(backoffs)["rate_budget"]
    assert count == 2  # the refused place and the waiting cancel
    # the cancel was handed over 0.2 s in and waited until the back-off's end (5.01 s in)
    assert 4.7 <= seconds <= 4.9
    assert by_reason(backoffs)["venue"] == (0, 0.0)  # the venue's own count is the hook's
