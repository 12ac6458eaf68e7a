"""Clock sync while trading: the venue-minus-local offset, measured again periodically.

The offset is measured at start (``VenueSession.sync_clock()``) and then every
``INTERVAL_S`` (a failed sync keeps the last offset and is tried again after ``RETRY_S``,
with a warning). Each measurement goes to the strategy (``MarketMaker.venue_offset_ms``: the
feed-latency guard compares venue timestamps with the corrected local time, not the raw one)
and to the ``mmtrio_clock_offset_ms`` gauge, which the ``MmtrioClockOffsetLarge`` alert reads.
Signed requests use the venue package's own corrected time (``venue_time_ms()``), which the
same sync updates.
"""

from __future__ import annotations

from collections.abc import Callable

import trio
from loguru import logger

from mmtrio.errors import MmtrioError
from mmtrio.venues.protocol import VenueSession

INTERVAL_S = 60.0
RETRY_S = 5.0
LARGE_OFFSET_MS = 500  # logged as a warning (and alerted on): the host clock needs NTP


async def watch_clock(
    session: VenueSession, on_offset: Callable[[int], None], interval_s: float = INTERVAL_S
) -> None:
    """Measure the offset every ``interval_s`` and hand it to ``on_offset``, forever."""
    while True:
        await trio.sleep(interval_s)
        while True:
            try:
                offset = await session.sync_clock()
            except MmtrioError as exc:
                logger.warning("clock sync failed, trying again in {:g} s: {}", RETRY_S, exc)
                await trio.sleep(RETRY_S)
                continue
            break
        if abs(offset) > LARGE_OFFSET_MS:
            logger.warning(
                "the venue's clock is {} ms from ours: check the host's time sync (NTP)", offset
            )
        on_offset(offset)


__all__ = ["INTERVAL_S", "LARGE_OFFSET_MS", "watch_clock"]
