"""The rate budget's counts survive the process (chaos seed 2041, Hyperliquid: six processes in
33 s each planned an empty minute; together they drew a 429 on the last one's stop)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
import trio
from loguru import logger

from mmtrio.core.ratelimit import MINUTE_MS, RateBudget, RateLimits, RateWindow, RequestCost
from mmtrio.runtime.rate_usage import FILE_NAME, RECORD_BYTES, RateUsageFile
from mmtrio.venues.hyperliquid.costs import ACTIONS, COSTS, DEFAULT_LIMITS, WEIGHT

T0 = 1_796_357_820_000  # 04:17:00 UTC: a minute boundary


def budget() -> RateBudget:
    return RateBudget(DEFAULT_LIMITS, margin=0.8)


def spend_places(b: RateBudget, n: int, now: int) -> None:
    for _ in range(n):
        assert b.try_acquire(COSTS.place, now)


def test_a_restart_in_the_same_minute_adds_the_earlier_process_share() -> None:
    first = budget()
    spend_places(first, 900, T0 + 10_000)  # 900 weight of the 960 soft ceiling
    snap = first.snapshot(T0 + 12_000)
    assert snap[WEIGHT] == [(T0 + 10_000, 900)]

    second = budget()  # the restarted process, 5 s later
    assert second.restore(snap, T0 + 17_000) == 900 + 900  # weight and actions
    assert second.usage(T0 + 17_000)[WEIGHT] == {
        "used": 900, "limit": 1200, "soft_limit": 960, "resets_in_ms": 53_000,
    }  # fmt: skip
    spend_places(second, 60, T0 + 17_000)
    assert not second.try_acquire(COSTS.place, T0 + 17_000)  # the minute is full for quotes
    assert second.wait_ms(COSTS.place, T0 + 17_000) == 53_000  # the first 900 leave then
    assert second.try_acquire(COSTS.cancel, T0 + 17_000)  # cancels keep the last 20 %
    # Without the restore the same second process would have planned the whole minute again.
    fresh = budget()
    spend_places(fresh, 960, T0 + 17_000)


def test_a_sliding_minute_carries_what_a_clock_minute_would_have_dropped() -> None:
    # Hyperliquid's minute is sliding: 500 spent at 59 s still count at 60.1 s (a clock
    # window would have started from zero, and the venue would have seen 500 + 960).
    first = budget()
    spend_places(first, 500, T0 + 59_000)
    snap = first.snapshot(T0 + 59_500)
    assert budget().restore(snap, T0 + MINUTE_MS + 100) == 1_000
    assert budget().restore(snap, T0 + 59_000 + MINUTE_MS) == 0  # a whole minute later


def test_a_clock_aligned_window_carries_only_its_own_minute() -> None:
    limits = RateLimits((RateWindow("weight_1m", MINUTE_MS, 2_400),), orders_per_minute=1_200)
    cost = RequestCost((("weight_1m", 10),))
    first = RateBudget(limits)
    for _ in range(50):
        assert first.try_acquire(cost, T0 + 59_000)
    snap = first.snapshot(T0 + 59_500)
    assert snap == {"weight_1m": [(T0, 500)]}
    assert RateBudget(limits).restore(snap, T0 + 59_900) == 500
    assert RateBudget(limits).restore(snap, T0 + MINUTE_MS + 100) == 0  # the venue's new minute


def test_names_the_budget_does_not_declare_are_dropped() -> None:
    assert budget().restore({"orders_10s": [(T0, 50)]}, T0 + 1) == 0


def test_the_file_round_trip_and_only_changes_are_written(tmp_path: Path) -> None:
    kept = RateUsageFile(tmp_path)
    assert (tmp_path / FILE_NAME).stat().st_size == RECORD_BYTES  # allocated at start
    first = budget()
    spend_places(first, 40, T0 + 1_000)
    kept.save(first, T0 + 1_000)
    stamp = (tmp_path / FILE_NAME).stat().st_mtime_ns
    os.utime(tmp_path / FILE_NAME, ns=(0, 0))
    kept.save(first, T0 + 1_500)  # nothing changed: not rewritten
    assert (tmp_path / FILE_NAME).stat().st_mtime_ns == 0 != stamp
    data = json.loads((tmp_path / FILE_NAME).read_text())
    assert data == {"windows": {WEIGHT: [[T0 + 1_000, 40]], ACTIONS: [[T0 + 1_000, 40]]}}

    second = budget()
    RateUsageFile(tmp_path).restore_into(second, T0 + 2_000)
    assert second.snapshot(T0 + 2_000) == {WEIGHT: [(T0 + 1_000, 40)], ACTIONS: [(T0 + 1_000, 40)]}


@pytest.mark.parametrize("text", ["{not json", '{"windows": {"weight_1m": [[1, -5]]}}', "[]"])
def test_a_damaged_file_is_read_as_the_minute_used_up_and_named(tmp_path: Path, text: str) -> None:
    (tmp_path / FILE_NAME).write_text(text)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    b = budget()
    try:
        RateUsageFile(tmp_path).restore_into(b, T0 + 5_000)
    finally:
        logger.remove(sink)
    assert len(lines) == 1 and FILE_NAME in lines[0] and "unreadable" in lines[0]
    assert b.wait_ms(COSTS.place, T0 + 5_000) == MINUTE_MS  # quotes wait a whole minute
    assert b.try_acquire(COSTS.cancel, T0 + 5_000)  # a cancel still goes


def test_a_full_disk_keeps_counting_in_memory_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = RateUsageFile(tmp_path)

    def no_space(*args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", no_space)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="ERROR")
    b = budget()
    spend_places(b, 3, T0)
    try:
        kept.save(b, T0)
    finally:
        logger.remove(sink)
    assert len(lines) == 1 and "cannot record the rate budget" in lines[0]
    assert b.snapshot(T0)[WEIGHT] == [(T0, 3)]


async def test_keep_saves_within_a_tenth_of_a_second_while_the_bot_runs(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    # Saved once a second, four kill -9s in 24 s lost enough weight for the venue to count
    # past 1,200 where the restored budget counted ~1,130 (Hyperliquid chaos seed 2041).
    kept = RateUsageFile(tmp_path)
    b = budget()
    now = [T0]
    async with trio.open_nursery() as nursery:
        nursery.start_soon(kept.keep, lambda: b, lambda: now[0])
        await trio.sleep(0.55)
        spend_places(b, 7, T0)
        await trio.sleep(0.1)  # the next save
        assert json.loads((tmp_path / FILE_NAME).read_text())["windows"][WEIGHT] == [[T0, 7]]
        nursery.cancel_scope.cancel()
