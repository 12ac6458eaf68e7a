"""Start-up's reads are counted and recorded before they leave (Hyperliquid chaos seed 2041:
processes killed during start-up left no trace of their reads, and the next one's restored
budget undercounted what the venue had seen)."""

from __future__ import annotations

import json
from pathlib import Path

import trio

from mmtrio.core.ratelimit import RateBudget, RequestCost
from mmtrio.runtime.rate_usage import FILE_NAME, RateUsageFile
from mmtrio.runtime.startup_budget import StartupBudget
from mmtrio.venues.hyperliquid.costs import COSTS, DEFAULT_LIMITS, WEIGHT, info_weight, limits_for

T0 = 1_796_357_820_000


def saved_weight(state: Path) -> int:
    windows = json.loads((state / FILE_NAME).read_text().rstrip("\0 \n"))["windows"]
    return sum(n for _t, n in windows.get(WEIGHT, []))


def read_cost(kind: str) -> RequestCost:
    return RequestCost(((WEIGHT, info_weight(kind)),), essential=True)


async def test_a_start_up_read_is_on_disk_before_it_is_sent(tmp_path: Path) -> None:
    now = [T0]
    early = StartupBudget(
        DEFAULT_LIMITS, margin=0.8, usage=RateUsageFile(tmp_path), clock_ms=lambda: now[0]
    )
    cost = read_cost("clearinghouseState")
    await early.pace(cost)
    # pace() returned: the request may leave now, and a kill -9 from here on cannot lose it
    assert saved_weight(tmp_path) == info_weight("clearinghouseState") > 0
    early.charge(cost, T0 - 500)
    assert saved_weight(tmp_path) == 2 * info_weight("clearinghouseState")


async def test_the_earlier_process_and_start_up_reads_are_handed_to_the_execution(
    tmp_path: Path,
) -> None:
    now = [T0 + 5_000]
    before = RateBudget(DEFAULT_LIMITS, margin=0.8)
    for _ in range(300):
        assert before.try_acquire(COSTS.place, T0)
    RateUsageFile(tmp_path).save(before, T0)  # an earlier process: 300 weight at T0

    early = StartupBudget(
        DEFAULT_LIMITS, margin=0.8, usage=RateUsageFile(tmp_path), clock_ms=lambda: now[0]
    )
    cost = read_cost("meta")
    await early.pace(cost)
    execution = RateBudget(limits_for(5_000), margin=0.8)  # the limits read at start-up
    moved = early.hand_over(execution)
    weight = execution.usage(now[0])[WEIGHT]
    assert isinstance(weight, dict)
    assert weight["used"] == 300 + info_weight("meta")
    assert moved >= 300 + info_weight("meta")
    assert saved_weight(tmp_path) == 300 + info_weight("meta")


async def test_a_read_waits_for_room_and_says_how_long(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    t_start = trio.current_time()

    def clock() -> int:
        return T0 + round((trio.current_time() - t_start) * 1000)

    full = RateBudget(DEFAULT_LIMITS, margin=0.8)
    full.charge(read_cost("clearinghouseState"), T0)
    for _ in range(1_200 - info_weight("clearinghouseState")):
        full.charge(COSTS.place, T0)  # the whole minute, essential reads' ceiling included
    RateUsageFile(tmp_path).save(full, T0)

    early = StartupBudget(DEFAULT_LIMITS, margin=0.8, usage=RateUsageFile(tmp_path), clock_ms=clock)
    waits: list[float] = []
    early.on_wait = waits.append
    await early.pace(read_cost("meta"))
    assert waits and 59.0 <= waits[0] <= 60.0  # the sliding minute frees the T0 entries
    assert 60_000 <= clock() - T0 <= 60_100
