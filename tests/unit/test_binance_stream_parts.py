"""Pure parts of the streams: depth sequencer, market buffer overflow policy, backoff."""

from __future__ import annotations

import random

import pytest
import trio
import trio.testing

from mmtrio.core.events import BookSnapshot, BookTicker, DepthDiff, FeedStatus
from mmtrio.errors import ConfigError
from mmtrio.venues.binance.streams import Backoff, DepthSequencer, MarketBuffer


def diff(first: int, last: int, prev: int) -> DepthDiff:
    return DepthDiff("BTCUSDT", first, last, prev, ((1, 1),), (), last)


def snap(last_id: int) -> BookSnapshot:
    return BookSnapshot("BTCUSDT", last_id, ((1, 1),), ((2, 1),), 0)


def test_sequencer_binance_rule() -> None:
    seq = DepthSequencer()
    for d in (diff(1, 5, 0), diff(6, 10, 5), diff(11, 15, 10)):
        assert seq.on_diff(d) == ([], False)  # buffered until a snapshot
    fwd, gap = seq.on_snapshot(snap(8))  # drops u<8, bridges with U<=8<=u
    assert not gap and [d.last_id for d in fwd] == [10, 15] and seq.synced
    assert seq.on_diff(diff(16, 20, 15)) == ([diff(16, 20, 15)], False)
    assert seq.on_diff(diff(25, 30, 24)) == ([], True)  # pu != previous u
    assert not seq.synced


def test_sequencer_waits_for_bridge_and_rejects_stale_snapshot() -> None:
    seq = DepthSequencer()
    assert seq.on_snapshot(snap(100)) == ([], False)  # snapshot ahead of the stream
    assert seq.on_diff(diff(90, 99, 89)) == ([], False)  # already in the snapshot
    assert seq.on_diff(diff(100, 105, 99))[0] == [diff(100, 105, 99)]
    seq.reset()
    seq.on_diff(diff(200, 210, 199))
    assert seq.on_snapshot(snap(150)) == ([], True)  # too old to bridge: refetch


def test_sequencer_bridges_a_snapshot_taken_on_a_diff_boundary() -> None:
    # The snapshot reflects diff [96, 100] but that diff's message is not in the buffer (the
    # REST answer overtook it); the next diff chains to it by pu: a continuation, not a gap.
    seq = DepthSequencer()
    assert seq.on_snapshot(snap(100)) == ([], False)
    assert seq.on_diff(diff(101, 105, 100)) == ([diff(101, 105, 100)], False)
    assert seq.synced
    seq.reset()
    assert seq.on_snapshot(snap(100)) == ([], False)
    assert seq.on_diff(diff(102, 105, 101)) == ([], True)  # a real gap is still a gap


async def test_buffer_overflow_drops_stale_keeps_status() -> None:
    buf = MarketBuffer(capacity=8)
    buf.put(FeedStatus("market", True, "connected", 0))
    for i in range(7):
        assert buf.put(BookTicker("BTCUSDT", i, 1, 1, 2, 1, i))
    assert not buf.put(BookTicker("BTCUSDT", 99, 1, 1, 2, 1, 99))  # overflow
    got = [await buf.receive() for _ in range(len(buf))]
    assert [type(e).__name__ for e in got] == ["FeedStatus", "BookTicker"]
    assert got[1].update_id == 99  # type: ignore[union-attr]
    assert buf.dropped["BookTicker"] == 7 and buf.overflows == 1


async def test_buffer_receive_waits_for_put() -> None:
    buf = MarketBuffer(capacity=8)
    out: list[object] = []

    async def consume() -> None:
        out.append(await buf.receive())

    async with trio.open_nursery() as n:
        n.start_soon(consume)
        await trio.testing.wait_all_tasks_blocked()
        assert not out
        buf.put(FeedStatus("market", False, "x", 1))
    assert out == [FeedStatus("market", False, "x", 1)]


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
