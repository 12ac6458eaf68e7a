"""The tier of the rate budget a connector's own requests are paced in, by who sends them.

The execution layer names the tier of the requests it sends (``RequestCost``: quotes,
reads, protective cancels, ``for_stop``). A connector that paces its own requests
(:class:`~mmtrio.venues.protocol.PacedRequests`: Hyperliquid's reads and its dead-man's
``scheduleCancel``) names its costs without knowing on whose behalf it sends them, so the
runtime says it through the task's context, and the pacers (``Execution.pace``,
``StartupBudget.pace``) reserve each cost in the tier :func:`tiered` gives it:

- :func:`stopping` (the stop's cleanup): the stop's tier, as the execution's own stop
  requests. The instrument read, cancel-all and check of a stop that came while start-up
  waited for the budget (Hyperliquid DST seed 4: a SIGTERM during a 13 s wait for the first
  read after a kill found no way to look at the venue and exited 1), the final
  reconciliation, the disarm.
- :func:`protecting` (the dead-man's arm and refresh, ``runtime/deadman.py``): the
  protective tier, for every request the arm needs, the clock resync after a refused time
  included (Hyperliquid DST seed 63: a refresh refused by the venue resynced the clock with
  reads, the reads' tier was full, and the countdown fired on the live bot).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar

from mmtrio.core.ratelimit import RequestCost

STOP_PRIORITY: ContextVar[bool] = ContextVar("mmtrio_stop_priority", default=False)
PROTECTING: ContextVar[bool] = ContextVar("mmtrio_protecting", default=False)


@contextmanager
def _set(var: ContextVar[bool]) -> Iterator[None]:
    token = var.set(True)
    try:
        yield
    finally:
        var.reset(token)


def stopping() -> AbstractContextManager[None]:
    """Pace what the current task (and the tasks it starts) sends as the stop's."""
    return _set(STOP_PRIORITY)


def protecting() -> AbstractContextManager[None]:
    """Pace what the current task sends as protecting resting orders (the dead-man)."""
    return _set(PROTECTING)


def tiered(cost: RequestCost) -> RequestCost:
    """``cost`` in the tier it is paced in: the stop's while stopping, the protective one
    while protecting, else its own."""
    if STOP_PRIORITY.get():
        return cost.for_stop()
    return cost.protective() if PROTECTING.get() and not cost.protect else cost
