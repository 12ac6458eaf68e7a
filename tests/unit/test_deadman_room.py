"""Start-up arms the dead-man only once the rate budget can keep it refreshed
(``startup_budget.room_to_refresh``), and the stop paces a connector's own requests in the
stop's tier of the budget (``runtime/pace_tier.py``)."""

from __future__ import annotations

import trio
import trio.testing

from mmtrio.core.ratelimit import MINUTE_MS, RateBudget
from mmtrio.runtime.pace_tier import STOP_PRIORITY, protecting, stopping, tiered
from mmtrio.runtime.startup_budget import room_to_refresh
from tests.unit.test_ratelimit_tiers import READ, REFRESH, T0, fill_with_reads, limits


def test_room_to_refresh_waits_until_the_window_has_room() -> None:
    budget = RateBudget(limits(0.10), margin=0.8)
    fill_with_reads(budget, T0)
    for i in range(100):
        budget.charge(REFRESH, T0 + i)
    waits: list[float] = []

    async def main() -> int:
        start = trio.current_time()

        def clock_ms() -> int:
            return T0 + round((trio.current_time() - start) * 1000)

        await room_to_refresh(budget, REFRESH, 1_000, clock_ms, waits.append)
        return clock_ms()

    ready = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert waits and ready >= T0 + MINUTE_MS  # the reads at T0 had to leave first
    assert budget.pace_wait_ms(REFRESH, 1_000, ready) == 0


def test_the_stop_paces_in_its_own_tier() -> None:
    assert tiered(READ) is READ
    with stopping():
        assert STOP_PRIORITY.get()
        assert tiered(READ).stop and tiered(READ).units == READ.units
    assert not STOP_PRIORITY.get()


def test_the_dead_man_paces_its_requests_in_the_protective_tier() -> None:
    budget = RateBudget(limits(0.10), margin=0.8)
    fill_with_reads(budget, T0)
    assert budget.wait_ms(READ, T0) > 0  # a read of its own would wait
    with protecting():
        resync = tiered(READ)  # the clock resync a refused arm sends
        assert resync.protect and resync.units == READ.units
        assert tiered(REFRESH) is REFRESH
        assert budget.try_acquire(resync, T0)
        with stopping():
            assert tiered(READ).stop  # the stop outranks it
    assert tiered(READ) is READ
