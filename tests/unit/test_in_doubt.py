"""A stop keeps looking for a place or amend in doubt that lands after its confirmation
(DST seed 203627: a held place landed 0.2 s after the stop's zero-open confirmation, and the
dead-man had been disarmed on it). Virtual time."""

from __future__ import annotations

import trio

from mmtrio.runtime.in_doubt import POLL_S, watch_late_landings


class Venue:
    """Open orders at the venue; one lands at ``lands_at`` (Trio time)."""

    def __init__(self, lands_at: float | None) -> None:
        self.lands_at = lands_at
        self.open: list[str] = []
        self.cancel_alls = 0

    async def look(self) -> list[str]:
        if self.lands_at is not None and trio.current_time() >= self.lands_at:
            self.open, self.lands_at = ["mmt1-42"], None
        return list(self.open)

    async def cancel_all(self) -> None:
        self.cancel_alls += 1
        self.open = []


def clock_ms() -> int:
    return int(trio.current_time() * 1000)


async def test_an_order_landing_late_is_cancelled_and_the_window_settles(
    autojump_clock: trio.testing.MockClock,
) -> None:
    venue = Venue(lands_at=1.0)
    settled = await watch_late_landings(
        3_000, ["mmt1-42"], clock_ms, 10.0, venue.cancel_all, venue.look
    )
    assert settled and venue.cancel_alls == 1 and venue.open == []
    assert trio.current_time() >= 3.0  # it looked until the window closed


async def test_a_window_longer_than_the_budget_is_not_settled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    venue = Venue(lands_at=None)
    settled = await watch_late_landings(
        9_000, ["mmt1-42"], clock_ms, 2.0, venue.cancel_all, venue.look
    )
    assert not settled  # the caller keeps the dead-man armed
    assert trio.current_time() <= 2.0 + POLL_S


async def test_a_window_already_past_is_settled_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    await trio.sleep(5)
    venue = Venue(lands_at=None)
    assert await watch_late_landings(
        4_000, ["mmt1-42"], clock_ms, 10.0, venue.cancel_all, venue.look
    )
    assert trio.current_time() == 5.0 and venue.cancel_alls == 0


async def test_a_look_that_waits_past_the_budget_is_abandoned_at_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """DST seed 203907: each look answered 429 and the next waited out the back-off; the last
    ended 2.7 s past the stop's budget. Every look is now bounded by the budget."""
    looks: list[float] = []

    async def slow_look() -> list[str]:
        looks.append(trio.current_time())
        await trio.sleep(2.0)  # a 429's back-off waited out before the request
        return []

    venue = Venue(lands_at=None)
    settled = await watch_late_landings(
        4_200, ["mmt3-1a"], clock_ms, 3.0, venue.cancel_all, slow_look
    )
    assert not settled  # the window was not seen out: the dead-man stays armed
    assert trio.current_time() == 3.0  # at the budget, not at the end of the last look
    assert len(looks) == 2
