"""The trading loop's inbox (runtime/inbox.py) and the reconnect backoff (venues/wsconn.py).

The inbox has one market lane that never blocks the feed (overflow: drop, count, resync) and
one lossless lane with backpressure; a batch takes everything pending in both.
"""

from __future__ import annotations

import random

import pytest
import trio
import trio.testing

from mmtrio.core.events import BookInvalid, BookTicker, FeedStatus, KillSwitch
from mmtrio.errors import ConfigError
from mmtrio.runtime.inbox import Inbox
from mmtrio.venues.wsconn import Backoff


def ticker(i: int) -> BookTicker:
    return BookTicker("BTCUSDT", 1, 1, 2, 1, i, seq=i)


def test_market_overflow_drops_stale_events_counts_them_and_asks_for_a_resync() -> None:
    inbox = Inbox(market_capacity=8, clock_ms=lambda: 0)
    asked: list[str] = []

    def resync(reason: str) -> None:
        asked.append(reason)
        inbox.market(BookInvalid("BTCUSDT", reason, 0))  # what the feed does

    inbox.on_overflow = resync
    inbox.status(FeedStatus("market", True, "connected", 0))
    for i in range(8):
        inbox.market(ticker(i))
    inbox.market(ticker(99))  # the ninth: overflow
    batch = inbox.take()
    assert [type(e).__name__ for e in batch.market] == ["BookInvalid", "BookTicker"]
    assert batch.market[1] == ticker(99)
    assert batch.lossless == [FeedStatus("market", True, "connected", 0)]  # status kept
    assert inbox.overflows == 1 and inbox.dropped == 8 and len(asked) == 1
    assert inbox.market_stats.connected and inbox.market_stats.received == 10


def test_a_batch_takes_everything_and_counts_conflation() -> None:
    inbox = Inbox(clock_ms=lambda: 0)
    for i in range(5):
        inbox.market(ticker(i))
    inbox.send_nowait(KillSwitch("k", False, 1))
    batch = inbox.take()
    assert len(batch.market) == 5 and len(batch.lossless) == 1
    assert inbox.conflated == 4  # five market events, one decision
    assert not inbox.take()  # nothing pending


async def test_the_lossless_lane_waits_when_full_and_never_drops() -> None:
    inbox = Inbox(lossless_capacity=8, clock_ms=lambda: 0)
    for i in range(8):
        inbox.send_nowait(KillSwitch(str(i), False, i))
    with pytest.raises(trio.WouldBlock):
        inbox.send_nowait(KillSwitch("9", False, 9))
    sent: list[int] = []

    async def producer() -> None:
        await inbox.send(KillSwitch("late", False, 10))
        sent.append(1)

    async with trio.open_nursery() as n:
        n.start_soon(producer)
        await trio.testing.wait_all_tasks_blocked()
        assert not sent  # backpressure: the producer waits
        first = inbox.take()
        await trio.testing.wait_all_tasks_blocked()
    assert len(first.lossless) == 8 and sent == [1]
    assert [k.reason for k in inbox.take().lossless] == ["late"]


async def test_wait_returns_when_either_lane_gets_something() -> None:
    inbox = Inbox(clock_ms=lambda: 0)
    woke: list[int] = []

    async def consume() -> None:
        await inbox.wait()
        woke.append(inbox.pending())

    async with trio.open_nursery() as n:
        n.start_soon(consume)
        await trio.testing.wait_all_tasks_blocked()
        assert not woke
        inbox.market(ticker(1))
    assert woke == [1]


async def test_user_events_are_counted_per_lane() -> None:
    inbox = Inbox(clock_ms=lambda: 0)
    await inbox.send_user(FeedStatus("user", True, "connected", 5))
    await inbox.send_user(KillSwitch("not really a user event", False, 7))
    assert inbox.user_stats.connected and inbox.user_stats.received == 1
    assert inbox.user_stats.last_event_ms == 7


def test_capacities_are_checked() -> None:
    with pytest.raises(ConfigError):
        Inbox(market_capacity=1, clock_ms=lambda: 0)


def test_backoff_full_jitter_capped() -> None:
    b = Backoff(0.5, 8.0, random.Random(7))
    delays = [b.next_delay() for _ in range(12)]
    ceilings = [min(8.0, 0.5 * 2**i) for i in range(12)]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays[6:]) > 0.5 * 2**2  # it grows...
    b.reset()
    assert b.next_delay() <= 0.5  # ...and starts over after a healthy connection
    with pytest.raises(ConfigError):
        Backoff(0, 1)
