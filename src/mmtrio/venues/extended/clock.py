"""The venue's clock from HTTP ``Date`` headers, whole seconds, narrowed over several reads.

Extended publishes no server-time endpoint; its answers' ``Date`` header is the only clock
it shows, and it says whole seconds. One read bounds the offset (venue − local) to a
second-wide window, ``(D − t1, D + 1000 − t0)`` for a header ``D`` read between local times
``t0`` and ``t1``: its middle is off by up to half a second, which the feed-latency guard
(1 s by default) would count on every message (QA: −478 ms on a host with no offset).
Reads at other phases of the second bound it from other sides, so the offset is the middle
of the intersection of the last ``KEEP`` reads' windows (ten minutes of the clock watch's
reads, short enough for a host clock's drift). A read that contradicts them (the host clock
stepped) starts over from that read alone.

Reads a minute apart land at nearly the same phase of the second and narrow little (QA: the
paper bot settled at −300 ms), so each sync bisects: :meth:`DateClock.wait_to_narrow` says
when the venue's next second should turn by the current estimate; a read then falls on one
side of it and halves the window (1 s, 500, 250, 125 ms: ``NARROW_READS``), until it is
``NARROW_MS`` wide or a read narrows nothing.
"""

from __future__ import annotations

from collections import deque
from typing import Final

KEEP: Final = 10
NARROW_READS: Final = 4  # extra reads per sync, each at the estimated turn of a second
NARROW_MS: Final = 100  # a window this narrow is narrow enough


class DateClock:
    """The offset (ms, venue − local) from ``Date`` headers; pure, no I/O, no clock."""

    __slots__ = ("_narrowed", "_window", "_windows")

    def __init__(self) -> None:
        self._windows: deque[tuple[int, int]] = deque(maxlen=KEEP)
        self._window = (0, 0)  # the intersection after the last read
        self._narrowed = False  # whether the last read narrowed it

    def read(self, date_ms: int, t0: int, t1: int) -> int:
        """A header saying ``date_ms`` (whole seconds) read between local ``t0`` and ``t1``;
        the offset estimate after it."""
        window = (date_ms - t1, date_ms + 1_000 - t0)
        before = self._window[1] - self._window[0] if self._windows else None
        lo, hi = self._intersection(window)
        if lo > hi:  # the host clock stepped: the earlier reads describe another clock
            self._windows.clear()
            lo, hi = window
        self._windows.append(window)
        self._window = (lo, hi)
        self._narrowed = before is None or hi - lo < before
        return (lo + hi) // 2

    @property
    def uncertainty_ms(self) -> int:
        """Half the width of the window the reads leave (the estimate is its middle)."""
        lo, hi = self._window
        return (hi - lo + 1) // 2

    def wait_to_narrow(self, now: int) -> int | None:
        """Ms from local ``now`` until the venue's next second turns by the current estimate
        (a read then halves the window); None when the window is narrow enough, or the last
        read narrowed nothing."""
        lo, hi = self._window
        if not self._windows or hi - lo <= NARROW_MS or not self._narrowed:
            return None
        return -(now + (lo + hi) // 2) % 1_000

    def _intersection(self, window: tuple[int, int]) -> tuple[int, int]:
        lo, hi = window
        for a, b in self._windows:
            lo, hi = max(lo, a), min(hi, b)
        return lo, hi
