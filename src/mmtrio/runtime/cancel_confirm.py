"""Cancel everything on a symbol and confirm none is open: the loop every stop runs.

:meth:`mmtrio.runtime.execution.Execution.cancel_all_and_confirm` runs it paced by the rate
budget and timed; a start-up that stopped before order entry existed runs it on the bare
gateway (:mod:`mmtrio.runtime.shutdown`). Either way: cancel-all, then a look at the open
orders, again every ``CONFIRM_POLL_S`` until none is open or the deadline; an auth refusal
ends it at once (every signed request would be refused the same way: the dead-man countdown
cancels what rests).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sized

import trio
from loguru import logger

from mmtrio.errors import AuthError, MmtrioError, VenueError

CONFIRM_POLL_S = 0.5  # pause between rounds


async def cancel_all_and_confirm(
    cancel_all: Callable[[], Awaitable[None]],
    open_orders: Callable[[], Awaitable[Sized]],
    symbol: str,
    deadline_s: float,
    before_send: Callable[[], None] | None = None,
) -> int:
    """The orders still open at the last successful look (0 = clean), or -1 when the venue
    never answered before the deadline. Shielded: a second Ctrl-C must not skip it.

    ``before_send`` runs before each cancel-all goes out (the stop journals it there, ahead
    of the send like every other order message, so ``mmtrio report`` counts it)."""
    left = -1
    with trio.move_on_after(deadline_s, shield=True):
        while True:
            if before_send is not None:
                before_send()
            try:
                await cancel_all()
            except AuthError as exc:
                logger.error("shutdown cancel-all {} refused: {}", symbol, exc)
                return left
            except (VenueError, MmtrioError) as exc:
                logger.warning("shutdown cancel-all {} failed: {}", symbol, exc)
            try:
                left = len(await open_orders())
            except (VenueError, MmtrioError) as exc:
                logger.warning("shutdown openOrders {} failed: {}", symbol, exc)
            if left == 0:
                return 0
            await trio.sleep(CONFIRM_POLL_S)
    return left
