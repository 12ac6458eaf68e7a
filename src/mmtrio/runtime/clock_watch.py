"""Clock sync while trading: the venue-minus-local offset, measured again periodically.

The offset is measured at start (``VenueSession.sync_clock()``) and then every
``INTERVAL_S`` (a failed sync keeps the last offset and is tried again after ``RETRY_S``,
with a warning). A sync takes a few samples and keeps the fastest round trip's offset
(``core/clock_offset.py``); when every answer was too slow to trust, the last offset is kept
and the warning says the venue was slow, not the clock. Each measurement goes to the strategy
(``MarketMaker.venue_offset_ms``: the feed-latency guard compares venue timestamps with the
corrected local time, not the raw one) and to the ``mmtrio_clock_offset_ms`` gauge, which
the ``MmtrioClockOffsetLarge`` alert reads.
Signed requests use the venue package's own corrected time (``venue_time_ms()``), which the
same sync updates.

A request the venue refused for its timestamp (Binance -1021, OKX 50102, a Hyperliquid nonce
outside its window: reject kind ``clock_skew``) means the offset is wrong *now*: execution
calls :meth:`ClockResync.request` and the watch measures again at once instead of at the end
of its interval (no more often than every ``RETRY_S``), with a WARNING saying why and what it
found. The refusals are counted (``mmtrio_clock_rejects_total``, alert
``MmtrioClockRejects``).
"""

from __future__ import annotations

from collections.abc import Callable

import trio
from loguru import logger

from mmtrio.errors import MmtrioError
from mmtrio.venues.protocol import VenueSession

INTERVAL_S = 60.0
RETRY_S = 5.0
LARGE_OFFSET_MS = 500
"""An offset beyond its uncertainty (half the best round trip) by more than this is logged as
a warning (and alerted on, from the gauge): the host clock needs NTP."""


class ClockResync:
    """A request to measure the clock offset now (set from sync code, read by the watch)."""

    __slots__ = ("_event", "requests")

    def __init__(self) -> None:
        self._event = trio.Event()
        self.requests = 0  # refusals that asked for a measurement (each one counts)

    def request(self) -> None:
        """The venue refused a request for its timestamp: measure again soon."""
        self.requests += 1
        self._event.set()

    async def wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for a request; True (and cleared) when one came."""
        with trio.move_on_after(timeout_s):
            await self._event.wait()
        if not self._event.is_set():
            return False
        self._event = trio.Event()
        return True


async def watch_clock(
    session: VenueSession,
    on_offset: Callable[[int], None],
    interval_s: float = INTERVAL_S,
    resync: ClockResync | None = None,
) -> None:
    """Measure the offset every ``interval_s`` (at once when ``resync`` is requested, but at
    most every ``RETRY_S``) and hand it to ``on_offset``, forever."""
    last: int | None = None
    measured_at = trio.current_time()  # start-up measured it just before
    while True:
        asked = False
        if resync is None:
            await trio.sleep(interval_s)
        else:
            asked = await resync.wait(interval_s)
            if asked:  # a burst of refusals: one measurement per RETRY_S for them all
                await trio.sleep_until(measured_at + RETRY_S)
        while True:
            try:
                reading = await session.sync_clock()
            except MmtrioError as exc:
                logger.warning("clock sync failed, trying again in {:g} s: {}", RETRY_S, exc)
                await trio.sleep(RETRY_S)
                continue
            break
        measured_at = trio.current_time()
        if not reading.measured:
            logger.warning("clock offset kept at {} ms: {}", reading.offset_ms, reading.why_kept())
            continue
        offset = reading.offset_ms
        if asked:
            was = "" if last is None else f" (was {last} ms)"
            logger.warning(
                "the venue refused a request for its timestamp (our clock is off from the "
                "venue's): clock offset measured again, {} ms ±{} ms{}; check the host's "
                "time sync (NTP) if this repeats",
                offset,
                reading.uncertainty_ms,
                was,
            )
        elif reading.host_clock_suspect(LARGE_OFFSET_MS):
            logger.warning(
                "the venue's clock is {} ms ±{} ms from ours: check the host's time sync (NTP)",
                offset,
                reading.uncertainty_ms,
            )
        last = offset
        on_offset(offset)


__all__ = ["INTERVAL_S", "LARGE_OFFSET_MS", "ClockResync", "watch_clock"]
