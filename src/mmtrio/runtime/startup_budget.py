"""The rate budget of start-up: the reads a bot sends before its execution layer exists.

A bot's start-up reads (clock, instrument, account; on Hyperliquid ~100 weight) used to be
booked into the rate budget only once the execution layer was assembled, and the budget was
saved to ``rate_usage.json`` only once start-up had finished. A process killed during
start-up (systemd restarting a crash loop, a chaos run) therefore left no trace of its reads,
and the next one planned a minute the venue had partly counted already (Hyperliquid chaos
seed 2041: six processes in 24 s, four SIGKILLed, the restored budget 1,086 of what the venue
counted higher; the last stop's cancel-all drew a 429).

So the budget exists from the moment the session opens: the earlier process's counts are
added to it at once, every start-up read of a session that paces its own requests
(:class:`~mmtrio.venues.protocol.PacedRequests`) waits for room in it and is written to
``rate_usage.json`` *before* it is sent, and :meth:`hand_over` moves all of it into the
execution's budget (built with the limits the venue reported at start-up) when that exists.
A start-up read that must wait for room says so through ``on_wait`` (start-up extends its
deadline by the wait: the venue's window is not start-up's slowness).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack

import trio

from mmtrio.core.ratelimit import RateBudget, RateLimits, RequestCost
from mmtrio.runtime.backoffs import Backoffs
from mmtrio.runtime.pace_tier import tiered
from mmtrio.runtime.rate_usage import RateUsageFile


class StartupBudget:
    """The budget from session open to assembly; ``budget`` is what ``rate_usage`` keeps."""

    def __init__(
        self,
        limits: RateLimits,
        *,
        margin: float,
        usage: RateUsageFile,
        clock_ms: Callable[[], int],
    ) -> None:
        self.budget = RateBudget(limits, margin=margin)
        self._usage = usage
        self._clock_ms = clock_ms
        self.on_wait: Callable[[float], None] | None = None
        self.backoffs: Backoffs | None = None  # a read's wait counts there (metrics)
        usage.restore_into(self.budget, clock_ms())

    async def pace(self, cost: RequestCost) -> None:
        """Wait until ``cost`` fits, reserve it and record it before the request leaves
        (in the tier its sender gives it: :mod:`.pace_tier`)."""
        cost = tiered(cost)
        with ExitStack() as held:
            waiting = False
            while True:
                now = self._clock_ms()
                wait = self.budget.wait_ms(cost, now)
                if wait == 0 and self.budget.try_acquire(cost, now):
                    self._usage.save(self.budget, now)
                    return
                if self.on_wait is not None:
                    self.on_wait(wait / 1000)
                if self.backoffs is not None and not waiting:
                    held.enter_context(self.backoffs.budget_wait())  # once per request
                    waiting = True
                await trio.sleep(max(wait, 1) / 1000)

    def charge(self, cost: RequestCost, at_ms: int) -> None:
        """Book a request already sent at ``at_ms`` (sent before pacing was attached)."""
        now = self._clock_ms()
        self.budget.charge(cost, now, at_ms)
        self._usage.save(self.budget, now)

    def hand_over(self, target: RateBudget) -> int:
        """Add everything counted here (the earlier process's share and start-up's reads) to
        the execution's budget; returns the units moved."""
        now = self._clock_ms()
        moved = target.restore(self.budget.snapshot(now), now)
        self._usage.save(target, now)
        return moved


async def room_to_refresh(
    budget: RateBudget,
    refresh: RequestCost,
    every_ms: int,
    clock_ms: Callable[[], int],
    on_wait: Callable[[float], None],
) -> None:
    """Return once ``budget`` has room for a window of dead-man refreshes (``refresh`` every
    ``every_ms``, :meth:`~mmtrio.core.ratelimit.RateBudget.pace_wait_ms`); ``on_wait`` is told
    each wait. Start-up arms the venue's countdown only then: armed into a budget another
    process's requests had filled, the first refreshes were refused locally and the countdown
    fired on the live bot (Hyperliquid DST seed 2, fourth bot: 1,257 units counted at its
    start). Once the window has rolled over, the budget's tiers keep the refresh its share."""
    while (wait := budget.pace_wait_ms(refresh, every_ms, clock_ms())) > 0:
        on_wait(wait / 1000)
        await trio.sleep(wait / 1000)
