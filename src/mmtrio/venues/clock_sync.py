"""Taking a clock sync's samples, the same way on every venue (``mmtrio.core.clock_offset``).

Up to ``MAX_SAMPLES`` timed answers, ``SPACING_S`` apart; it stops early at an answer whose
round trip is at most ``GOOD_RTT_MS`` (another sample could not improve the offset by more
than a few tens of ms), so a host near the venue pays one request per sync, as before, and
only a slow answer costs the extra one or two (Binance ``/fapi/v1/time`` weighs 1, OKX's
public time 1 of 10 per 2 s, Hyperliquid's ``clearinghouseState`` 2 of 1200 a minute).

A failed request ends the sync with what was measured before it; the first one failing
raises (the callers try again later, keeping the last offset).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio

from mmtrio.core.clock_offset import ClockReading, ClockSample, estimate
from mmtrio.errors import MmtrioError

MAX_SAMPLES = 3
SPACING_S = 0.2
GOOD_RTT_MS = 100


async def sample_clock(
    take: Callable[[], Awaitable[ClockSample | None]], previous_ms: int
) -> ClockReading:
    """Take samples with ``take`` (None: an answer without the venue's time) and estimate
    the offset from them; ``previous_ms`` is kept when none qualifies."""
    samples: list[ClockSample] = []
    for i in range(MAX_SAMPLES):
        if i:
            await trio.sleep(SPACING_S)
        try:
            sample = await take()
        except MmtrioError:
            if i == 0:
                raise
            break
        if sample is None:
            continue
        samples.append(sample)
        if sample.rtt_ms <= GOOD_RTT_MS:
            break
    return estimate(samples, previous_ms)


__all__ = ["GOOD_RTT_MS", "MAX_SAMPLES", "SPACING_S", "sample_clock"]
