"""Rate-limit back-offs since start, by reason, and the time they held the bot back (metrics:
``mmtrio_venue_backoffs_total`` and ``mmtrio_venue_backoff_seconds_total``).

Three reasons:

- ``venue``: the venue answered a request with a rate limit (an HTTP 429 or the venue's
  equivalent, over REST or a WebSocket; an order, a read or the dead-man's refresh). Every
  venue package reports each one with the end of its wait (``SessionHooks.on_blocked``), and
  nothing is sent to the venue until then. A back-off an earlier process left
  (``venue_block.json``), waited out at start, counts once too.
- ``venue_ban``: the venue banned this host for sending into a back-off (Binance's HTTP 418,
  2 minutes to 3 days); reported and honoured as ``venue`` is, counted apart because it is
  the one an operator must be woken for.
- ``rate_budget``: our own rate budget held a request back: a cancel, cancel-all, query or
  paced read waited for room in the budget, a start-up read waited, or a place/amend was
  refused (never queued: it would be stale) because the budget had no room.

Seconds count wall time, not requests: for ``venue`` and ``venue_ban`` from each answer to
the end of its wait, overlapping waits once (ten concurrent requests answered 429 for the same
second are one second); for ``rate_budget`` the time during which at least one request waited
(a refused place/amend waits for nothing: it counts, without seconds). Read at scrape time, so
a wait under way counts as far as it has gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

VENUE = "venue"
VENUE_BAN = "venue_ban"
RATE_BUDGET = "rate_budget"
REASONS = (VENUE, VENUE_BAN, RATE_BUDGET)


@dataclass(frozen=True, slots=True)
class BackoffTally:
    """One reason's back-offs since start and the seconds they held the bot back."""

    reason: str
    count: int
    seconds: float


class _Covered:
    """Milliseconds covered by a union of time spans, read at any time."""

    def __init__(self) -> None:
        self._closed_ms = 0
        self._start: int | None = None
        self._end = 0

    def cover(self, start: int, end: int) -> None:
        """Add the span ``[start, end)`` (``start`` is now: spans arrive in time order)."""
        if end <= start:
            return
        if self._start is not None and start <= self._end:
            self._end = max(self._end, end)  # overlaps the current span: extend it
            return
        if self._start is not None:
            self._closed_ms += self._end - self._start
        self._start, self._end = start, end

    def total_ms(self, now: int) -> int:
        if self._start is None:
            return self._closed_ms
        return self._closed_ms + max(0, min(now, self._end) - self._start)


class Backoffs:
    """The bot's rate-limit back-offs (module docstring); ``clock_ms`` is the clock the venue
    packages state a back-off's end in (the engine's, virtual under the DST)."""

    def __init__(self, clock_ms: Callable[[], int]) -> None:
        self._clock_ms = clock_ms
        self._counts = dict.fromkeys(REASONS, 0)
        self._venue = _Covered()
        self._ban = _Covered()
        self._waiting = 0  # requests waiting for the budget now
        self._waiting_since = 0
        self._budget_closed_ms = 0

    def venue(self, until_ms: int, banned: bool = False) -> None:
        """The venue asked for a back-off until ``until_ms``, or banned this host until then
        (``SessionHooks.on_blocked``)."""
        self._counts[VENUE_BAN if banned else VENUE] += 1
        (self._ban if banned else self._venue).cover(self._clock_ms(), until_ms)

    def budget_refused(self) -> None:
        """A place or amend was refused because the rate budget had no room."""
        self._counts[RATE_BUDGET] += 1

    @contextmanager
    def budget_wait(self) -> Iterator[None]:
        """Around a request's wait for room in the rate budget."""
        self._counts[RATE_BUDGET] += 1
        if self._waiting == 0:
            self._waiting_since = self._clock_ms()
        self._waiting += 1
        try:
            yield
        finally:
            self._waiting -= 1
            if self._waiting == 0:
                self._budget_closed_ms += self._clock_ms() - self._waiting_since

    def tallies(self) -> tuple[BackoffTally, ...]:
        """Each reason's count and seconds, as of now."""
        now = self._clock_ms()
        budget_ms = self._budget_closed_ms
        if self._waiting:
            budget_ms += now - self._waiting_since
        return (
            BackoffTally(VENUE, self._counts[VENUE], self._venue.total_ms(now) / 1000),
            BackoffTally(VENUE_BAN, self._counts[VENUE_BAN], self._ban.total_ms(now) / 1000),
            BackoffTally(RATE_BUDGET, self._counts[RATE_BUDGET], budget_ms / 1000),
        )


__all__ = ["RATE_BUDGET", "REASONS", "VENUE", "VENUE_BAN", "BackoffTally", "Backoffs"]
