"""Latency: a time-ordered delay queue and a seeded latency model.

The backtester (and the simulated venue, for response delays) pushes each message into a
``DelayQueue`` at the time it will arrive and pops what is due as virtual time advances.
Pure: time is always an argument, randomness comes from a seeded generator.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from mmtrio.errors import ParameterError

T = TypeVar("T")


@dataclass(order=True, slots=True)
class _Entry(Generic[T]):
    at_ms: int
    seq: int
    item: T = field(compare=False)


class DelayQueue(Generic[T]):
    """Items released at their due time; items due at the same ms keep insertion order (FIFO)."""

    def __init__(self) -> None:
        self._heap: list[_Entry[T]] = []
        self._seq = 0

    def __len__(self) -> int:
        return len(self._heap)

    def schedule(self, at_ms: int, item: T) -> None:
        """Deliver ``item`` once ``pop_due`` is called with ``now_ms >= at_ms``."""
        heapq.heappush(self._heap, _Entry(at_ms, self._seq, item))
        self._seq += 1

    def pop_due(self, now_ms: int) -> list[T]:
        """Every item due at or before ``now_ms``, in (due time, insertion) order."""
        out: list[T] = []
        while self._heap and self._heap[0].at_ms <= now_ms:
            out.append(heapq.heappop(self._heap).item)
        return out

    def next_due(self) -> int | None:
        """Due time of the earliest item, or None when empty."""
        return self._heap[0].at_ms if self._heap else None


class LatencyModel:
    """One-way latencies in ms: a fixed base plus optional seeded random jitter.

    Jitter is log-normal (heavy right tail, never negative), the usual shape of network and
    matching-engine delays: ``jitter_ms`` is its median, ``jitter_sigma`` its log-space spread.
    Delays are whole milliseconds (rounded up, so a positive jitter never vanishes). Order
    latency also keeps FIFO per direction: a request is never delivered before one sent
    earlier, as on a single TCP/WebSocket connection.
    """

    def __init__(
        self,
        order_latency_ms: int,
        feed_latency_ms: int,
        *,
        jitter_ms: float = 0.0,
        jitter_sigma: float = 0.5,
        seed: int = 0,
    ) -> None:
        for name, val in (
            ("order_latency_ms", order_latency_ms),
            ("feed_latency_ms", feed_latency_ms),
        ):
            if val < 0:
                raise ParameterError(f"{name} must be >= 0 ms, got {val}")
        for name, fval in (("jitter_ms", jitter_ms), ("jitter_sigma", jitter_sigma)):
            if not math.isfinite(fval) or fval < 0:
                raise ParameterError(f"{name} must be a finite number >= 0, got {fval}")
        self.order_latency_ms = order_latency_ms
        self.feed_latency_ms = feed_latency_ms
        self.jitter_ms = jitter_ms
        self.jitter_sigma = jitter_sigma
        self._rng = random.Random(seed)
        self._last_order_arrival = -(2**62)
        self._last_feed_arrival = -(2**62)

    def _jitter(self) -> int:
        if self.jitter_ms <= 0:
            return 0
        return math.ceil(self.jitter_ms * math.exp(self.jitter_sigma * self._rng.gauss(0.0, 1.0)))

    def order_arrival(self, sent_ms: int) -> int:
        """When a request sent at ``sent_ms`` reaches the venue (or a response the client)."""
        at = max(sent_ms + self.order_latency_ms + self._jitter(), self._last_order_arrival)
        self._last_order_arrival = at
        return at

    def feed_arrival(self, venue_ms: int) -> int:
        """When a market/user message stamped ``venue_ms`` at the venue reaches the client."""
        at = max(venue_ms + self.feed_latency_ms + self._jitter(), self._last_feed_arrival)
        self._last_feed_arrival = at
        return at
