"""A stop's zero open orders is final only once no request in doubt can still land.

A place or amend whose outcome is unknown (its answer lost, its link held) can still reach
the venue until ``query_delay_ms`` after it was sent (the request timeout, then the venue's
recvWindow: a later copy is refused). A stop that confirmed zero open orders before then
could be overtaken by it: DST seed 203627 (a 4 s half-open link held the order socket's
place of ``mmt1-42``; the journal filled; the stop's cancel-all and its openOrders went on
fresh REST connections and saw nothing; the held place landed 0.2 s after the confirmation,
and the dead-man, disarmed on that confirmation, could no longer cancel it).

So the stop keeps looking: while such a request may still land and the stop's budget lasts,
it reads the open orders every :data:`POLL_S` and cancels all again when one appears. If the
window outlasts the budget, the dead-man countdown is not disarmed: the venue cancels what
lands (:func:`mmtrio.runtime.shutdown.cleanup`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sized

import trio
from loguru import logger

from mmtrio.core.order_states import OrderState
from mmtrio.core.strategy import MarketMaker
from mmtrio.errors import MmtrioError, VenueError

POLL_S = 0.25


def in_doubt_until(mm: MarketMaker | None) -> tuple[int, list[str]] | None:
    """(bot ms until which a request in doubt can still land, their client ids), or None."""
    if mm is None:
        return None
    delay = mm.config.query_delay_ms
    doubtful = [
        o
        for o in mm.orders.live_orders()
        if o.state is OrderState.UNKNOWN and o.unknown_op in ("place", "amend")
    ]
    if not doubtful:
        return None
    return max(o.unknown_since for o in doubtful) + delay, [o.client_id for o in doubtful]


async def watch_late_landings(  # noqa: PLR0917 - the stop's pieces, each once
    until_ms: int,
    ids: list[str],
    clock_ms: Callable[[], int],
    ends: float,
    cancel_all: Callable[[], Awaitable[None]],
    open_orders: Callable[[], Awaitable[Sized]],
) -> bool:
    """Poll the open orders until ``until_ms`` (cancelling all when one appears) or the stop's
    budget ``ends`` (Trio time); True when the window passed with zero open orders seen.

    Every look and cancel runs inside the budget: a call that waits (a 429's back-off, a
    slow answer) is abandoned at ``ends``, and the window counts as not settled. DST seed
    203907: three looks answered 429, each next one waited out the back-off, and the last
    look ended 2.7 s past the budget; the stop took 7.4 s of its 5."""
    wait_s = max(0.0, (until_ms - clock_ms()) / 1000)
    if wait_s == 0:
        return True
    logger.warning(
        "stop: {} (a place or amend) had an unknown outcome and could still reach the venue "
        "for {:.1f} s: watching the open orders until then",
        ", ".join(ids[:5]),
        wait_s,
    )
    settled = False
    with trio.move_on_at(ends) as scope:
        settled = await _watch(until_ms, clock_ms, ends, cancel_all, open_orders)
    if scope.cancelled_caught:
        logger.warning("stop: the stop's time ran out while watching for late orders")
    return settled


async def _watch(
    until_ms: int,
    clock_ms: Callable[[], int],
    ends: float,
    cancel_all: Callable[[], Awaitable[None]],
    open_orders: Callable[[], Awaitable[Sized]],
) -> bool:
    while clock_ms() < until_ms:
        if trio.current_time() + POLL_S > ends:
            return False
        await trio.sleep(POLL_S)
        try:
            if len(await open_orders()):
                logger.warning("stop: an order landed after the confirmation: cancelling all again")
                await cancel_all()
        except (VenueError, MmtrioError) as exc:
            logger.warning("stop: watching for late orders failed: {}", exc)
    try:
        return len(await open_orders()) == 0
    except (VenueError, MmtrioError) as exc:
        logger.warning("stop: the last look for late orders failed: {}", exc)
        return False
