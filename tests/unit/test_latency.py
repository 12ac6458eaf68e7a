"""DelayQueue ordering and the seeded latency model."""

from __future__ import annotations

import pytest

from mmtrio.errors import ParameterError
from mmtrio.exchange.latency import DelayQueue, LatencyModel


def test_delay_queue_releases_due_items_in_time_then_fifo_order() -> None:
    q: DelayQueue[str] = DelayQueue()
    q.schedule(20, "c")
    q.schedule(10, "a")
    q.schedule(10, "b")
    assert q.next_due() == 10
    assert q.pop_due(9) == []
    assert q.pop_due(10) == ["a", "b"]
    assert q.next_due() == 20 and len(q) == 1
    assert q.pop_due(100) == ["c"]
    assert q.next_due() is None


def test_fixed_latency_without_jitter() -> None:
    m = LatencyModel(order_latency_ms=5, feed_latency_ms=2)
    assert m.order_arrival(100) == 105
    assert m.feed_arrival(100) == 102


def test_jitter_is_seeded_positive_and_keeps_fifo() -> None:
    a = LatencyModel(5, 2, jitter_ms=3.0, seed=42)
    b = LatencyModel(5, 2, jitter_ms=3.0, seed=42)
    xs = [a.order_arrival(t) for t in range(0, 1000, 1)]
    assert xs == [b.order_arrival(t) for t in range(0, 1000, 1)]
    assert all(x >= t + 5 for t, x in zip(range(0, 1000), xs, strict=True))
    assert xs == sorted(xs)  # never overtakes an earlier request
    assert len({x - t for t, x in enumerate(xs)}) > 1  # it really varies


def test_bad_parameters_raise() -> None:
    with pytest.raises(ParameterError):
        LatencyModel(-1, 0)
    with pytest.raises(ParameterError):
        LatencyModel(1, 0, jitter_ms=float("nan"))
