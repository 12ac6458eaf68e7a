"""The stop's priority for the requests a connector paces itself.

The execution layer reserves its own stop-time requests in the stop's tier of the rate budget
(``RequestCost.for_stop``: the last ``STOP_RESERVE`` of each window). A connector that paces
its own requests (:class:`~mmtrio.venues.protocol.PacedRequests`: Hyperliquid's reads and its
dead-man's ``scheduleCancel``) names its costs without knowing whether a stop sends them.
The stop's cleanup runs with :data:`STOP_PRIORITY` set (:func:`stopping`), and the pacers
(``Execution.pace``, ``StartupBudget.pace``) reserve in the stop's tier what they pace in it:
the instrument read, the cancel-all and its check of a stop that came while start-up waited
for the budget (Hyperliquid DST seed 4: a SIGTERM during a 13 s wait for the first read after
a kill found no way to look at the venue and exited 1), the final reconciliation, the disarm.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from mmtrio.core.ratelimit import RequestCost

STOP_PRIORITY: ContextVar[bool] = ContextVar("mmtrio_stop_priority", default=False)


@contextmanager
def stopping() -> Iterator[None]:
    """Pace every request the current task (and the tasks it starts) sends as the stop's."""
    token = STOP_PRIORITY.set(True)
    try:
        yield
    finally:
        STOP_PRIORITY.reset(token)


def tiered(cost: RequestCost) -> RequestCost:
    """``cost`` in the tier it is paced in: the stop's while stopping, else its own."""
    return cost.for_stop() if STOP_PRIORITY.get() else cost
