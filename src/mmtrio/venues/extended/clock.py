"""The venue's clock from HTTP ``Date`` headers, whole seconds, narrowed over several reads.

Extended publishes no server-time endpoint; its answers' ``Date`` header is the only clock
it shows, and it says whole seconds. One read bounds the offset (venue − local) to a
second-wide window, ``(D − t1, D + 1000 − t0)`` for a header ``D`` read between local times
``t0`` and ``t1``: its middle is off by up to half a second, which the feed-latency guard
(1 s by default) would count on every message (QA: −478 ms on a host with no offset).
Reads at other phases of the second bound it from other sides, so the offset is the middle
of the intersection of the last ``KEEP`` reads' windows (the clock watch reads once a minute:
ten minutes, short enough for a host clock's drift). A read that contradicts them (the host
clock stepped) starts over from that read alone.
"""

from __future__ import annotations

from collections import deque
from typing import Final

KEEP: Final = 10


class DateClock:
    """The offset (ms, venue − local) from ``Date`` headers; pure, no I/O, no clock."""

    __slots__ = ("_windows",)

    def __init__(self) -> None:
        self._windows: deque[tuple[int, int]] = deque(maxlen=KEEP)

    def read(self, date_ms: int, t0: int, t1: int) -> int:
        """A header saying ``date_ms`` (whole seconds) read between local ``t0`` and ``t1``;
        the offset estimate after it."""
        window = (date_ms - t1, date_ms + 1_000 - t0)
        lo, hi = self._intersection(window)
        if lo > hi:  # the host clock stepped: the earlier reads describe another clock
            self._windows.clear()
            lo, hi = window
        self._windows.append(window)
        return (lo + hi) // 2

    def _intersection(self, window: tuple[int, int]) -> tuple[int, int]:
        lo, hi = window
        for a, b in self._windows:
            lo, hi = max(lo, a), min(hi, b)
        return lo, hi
