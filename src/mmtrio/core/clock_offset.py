"""The venue-minus-local clock offset from a few timed answers, NTP-style.

One answer's offset is the venue's time minus the midpoint of its round trip; its error is
at most half that round trip (the venue stamped it somewhere between sending and receiving).
A single slow answer (3 s spent on the way back) therefore puts the offset 1.5 s out, and the
operator would be told to check NTP for what was network delay. So a sync takes a few samples
and keeps the offset of the one with the smallest round trip; a sample whose round trip is
over ``MAX_RTT_MS`` is discarded, and when none is left the previous offset is kept (the
venue was slow, not the clock). The offset's uncertainty is half the best round trip (plus
half the resolution of the venue's time, 1 s for an HTTP ``Date`` header); the host's clock
is suspect only when the offset exceeds that uncertainty by a margin.

Pure: the samples are taken by the venue packages (``mmtrio.venues.clock_sync``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MAX_RTT_MS = 1_000
"""A sample with a longer round trip is discarded: its offset could be ±500 ms out."""


@dataclass(frozen=True, slots=True)
class ClockSample:
    """One timed answer: local ms when sent and received, the venue's time in it."""

    sent_ms: int
    venue_ms: int
    received_ms: int
    resolution_ms: int = 0  # the venue's time is truncated to this (1000 for a Date header)

    @property
    def rtt_ms(self) -> int:
        return max(0, self.received_ms - self.sent_ms)

    @property
    def offset_ms(self) -> int:
        return self.venue_ms - (self.sent_ms + self.received_ms) // 2

    @property
    def uncertainty_ms(self) -> int:
        return (self.rtt_ms + 1) // 2 + (self.resolution_ms + 1) // 2


@dataclass(frozen=True, slots=True)
class ClockReading:
    """A sync's result: the offset to use, and how sure it is.

    ``uncertainty_ms`` is None when no sample qualified and ``offset_ms`` is the previous
    one, kept; ``samples`` counts the answers with a time, ``discarded`` the too slow ones.
    """

    offset_ms: int
    uncertainty_ms: int | None
    samples: int
    discarded: int
    best_rtt_ms: int | None

    @property
    def measured(self) -> bool:
        return self.uncertainty_ms is not None

    def host_clock_suspect(self, margin_ms: int) -> bool:
        """The offset exceeds its uncertainty by more than ``margin_ms``: the host's clock
        (or the venue's) is off, not the network slow."""
        if self.uncertainty_ms is None:
            return False
        return abs(self.offset_ms) - self.uncertainty_ms > margin_ms

    def why_kept(self) -> str:
        """Why the offset was not measured (for a reading that is not ``measured``)."""
        if self.samples == 0:
            return "the venue's answers carried no time"
        return (
            f"the venue answered slowly ({self.samples} time request(s), the fastest in "
            f"{self.best_rtt_ms} ms, over the {MAX_RTT_MS} ms that makes an offset "
            "trustworthy): a slow venue or network, not a clock problem"
        )


def estimate(
    samples: Sequence[ClockSample], previous_ms: int, max_rtt_ms: int = MAX_RTT_MS
) -> ClockReading:
    """The offset of the sample with the smallest round trip under ``max_rtt_ms``; the
    previous offset (``uncertainty_ms`` None) when none qualifies."""
    if max_rtt_ms < 0:
        raise ValueError(f"max_rtt_ms must be >= 0, got {max_rtt_ms}")
    best_rtt = min((s.rtt_ms for s in samples), default=None)
    kept = [s for s in samples if s.rtt_ms <= max_rtt_ms]
    discarded = len(samples) - len(kept)
    if not kept:
        return ClockReading(previous_ms, None, len(samples), discarded, best_rtt)
    best = min(kept, key=lambda s: (s.uncertainty_ms, s.rtt_ms))
    return ClockReading(best.offset_ms, best.uncertainty_ms, len(samples), discarded, best_rtt)


__all__ = ["MAX_RTT_MS", "ClockReading", "ClockSample", "estimate"]
