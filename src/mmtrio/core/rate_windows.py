"""The two ways a venue counts a rate window, for :class:`mmtrio.core.ratelimit.RateBudget`.

- :class:`FixedWindow`, clock-aligned: ``[k·interval, (k+1)·interval)`` in epoch ms, the count
  starting from zero at each boundary (Binance documents this: a request at 00:01:23.456 counts
  towards the 00:01:00 minute).
- :class:`SlidingWindow`: at most ``limit`` units in *any* span of ``interval`` ms. It is the
  safe reading of a venue that states "N per minute" and not how it aligns the minute
  (Hyperliquid): whatever fixed or rolling window the venue keeps, a client that never puts
  more than N in any span of a minute never exceeds it. A fixed-window client can put 2·N
  into one venue minute that straddles its own boundary (the Hyperliquid sim counts minutes
  from its own start, so a bot's clock minute and the venue's disagreed by up to a minute).

Both keep what was spent as ``(time, units)`` entries so that an earlier process's usage can
be added to a new process's budget (:mod:`mmtrio.runtime.rate_usage`).
"""

from __future__ import annotations

import bisect

Entries = list[tuple[int, int]]


class FixedWindow:
    """One fixed, clock-aligned window: ``[start, start + interval)``."""

    __slots__ = ("count", "interval", "limit", "start")

    def __init__(self, interval: int, limit: int) -> None:
        self.interval = interval
        self.limit = limit
        self.start = -1
        self.count = 0

    def roll(self, now: int) -> None:
        start = now - now % self.interval
        if start > self.start:  # never reopen an older window on a clock step back
            self.start = start
            self.count = 0

    def end(self, now: int) -> int:
        """When all of the current count is gone."""
        del now
        return self.start + self.interval

    def cleared_by(self, now: int) -> int:
        """When the venue's count of this window is surely back to zero: its end."""
        return self.end(now)

    def wait(self, n: int, ceiling: int, now: int) -> int:
        """Ms until ``n`` more units fit under ``ceiling`` (0 = now); rolled first."""
        return self.end(now) - now if self.count + n > ceiling else 0

    def add(self, n: int, when: int) -> None:
        if when >= self.start:
            self.count += n

    def raise_to(self, value: int, now: int) -> None:
        del now
        self.count = max(self.count, value)

    def entries(self) -> Entries:
        return [(self.start, self.count)] if self.count else []

    def restore(self, entries: Entries, now: int) -> int:
        del now
        added = sum(n for t, n in entries if t == self.start and n > 0)
        self.count += added
        return added


class SlidingWindow:
    """At most ``limit`` units in any ``interval`` ms: entries expire one by one."""

    __slots__ = ("count", "interval", "limit", "times", "units")

    def __init__(self, interval: int, limit: int) -> None:
        self.interval = interval
        self.limit = limit
        self.times: list[int] = []  # sorted
        self.units: list[int] = []
        self.count = 0

    def roll(self, now: int) -> None:
        cut = bisect.bisect_right(self.times, now - self.interval)
        if cut:
            self.count -= sum(self.units[:cut])
            del self.times[:cut], self.units[:cut]

    def end(self, now: int) -> int:
        """When all of the current count is gone (``now`` when nothing is counted)."""
        return self.times[-1] + self.interval if self.times else now

    def cleared_by(self, now: int) -> int:
        """When the venue's count is surely back to zero: a whole interval from now (whatever
        it counted, a request made now included, has left any span of the interval)."""
        return now + self.interval

    def wait(self, n: int, ceiling: int, now: int) -> int:
        over = self.count + n - ceiling
        if over <= 0:
            return 0
        freed = 0
        for t, units in zip(self.times, self.units, strict=True):
            freed += units
            if freed >= over:
                return t + self.interval - now  # > 0: a counted entry is still inside
        return self.end(now) - now  # only reached when n alone exceeds the ceiling

    def add(self, n: int, when: int) -> None:
        if self.times and when == self.times[-1]:
            self.units[-1] += n
        elif not self.times or when > self.times[-1]:
            self.times.append(when)
            self.units.append(n)
        else:  # booked late (a read sent before this budget existed)
            i = bisect.bisect_right(self.times, when)
            self.times.insert(i, when)
            self.units.insert(i, n)
        self.count += n

    def raise_to(self, value: int, now: int) -> None:
        if value > self.count:
            self.add(value - self.count, now)

    def entries(self) -> Entries:
        """Per-second buckets, each stamped at the end of its second (expires no earlier)."""
        out: dict[int, int] = {}
        for t, n in zip(self.times, self.units, strict=True):
            key = -(-t // 1000) * 1000
            out[key] = out.get(key, 0) + n
        return sorted(out.items())

    def restore(self, entries: Entries, now: int) -> int:
        added = 0
        for t, n in entries:
            if t > now - self.interval and n > 0:
                self.add(n, t)
                added += n
        return added
