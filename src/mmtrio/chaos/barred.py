"""Time the venue barred the bot (429/418 Retry-After waits, responses a delay fault held,
a silent link) and the settle windows that leave it out (pure; used by invariants 2, 4, 5, 6
and 11).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def barred_windows(truth: Mapping[str, Any]) -> list[tuple[int, int]]:
    """(from_ms, to_ms) wall-time windows in which the venue kept the bot from learning: each
    429 or 418 answer and the Retry-After wait it told the client, and each response a delay
    fault held back (chaos seed 2026: a foreign order placed just after the restarted bot's
    start-up ``openOrders`` was named 4.4 s later, its start-up requests each held 1.2 s).

    A client counts Retry-After from when it reads the answer (RFC 9110: "after the response
    is received"; it cannot know when the venue decided), so the wait of an answer that left
    late (``sent_ms``: a delay fault held it) ends Retry-After after it left. DST seed 104568:
    a 429 decided at 8.399 s and held until 9.358 s kept the bot, and its dead-man refresh,
    from the venue until 11.358 s; ended at 10.399 s, the window left 950 ms of "usable" link
    the bot was told not to use, and invariant 11 blamed it for the countdown that fired."""
    told: list[tuple[int, int]] = []
    for e in truth.get("rate_limits", {}).get("events", ()):
        decided = int(e["wall_ms"])
        left = max(decided, int(e.get("sent_ms") or decided))  # never sent: as decided
        told.append((decided, left + 1_000 * int(e["retry_after_s"])))
    return told + [(int(lo), int(hi)) for lo, hi in truth.get("held_responses", ())]


def settle_start(end_ms: int, settle_ms: int, barred: Sequence[tuple[int, int]]) -> int:
    """The start of the window before ``end_ms`` that holds ``settle_ms`` of time the venue
    did not bar (overlapping ``barred`` windows count once)."""
    since, need = end_ms, settle_ms
    clipped = [(lo, min(hi, end_ms)) for lo, hi in barred if lo < end_ms]
    for lo, hi in reversed(_merged(clipped)):
        if hi <= since - need:
            break
        need -= since - hi  # the free time between this window and ``since``
        since = lo
    return since - need


def settle_end(start_ms: int, settle_ms: int, barred: Sequence[tuple[int, int]]) -> int:
    """The end of the window after ``start_ms`` that holds ``settle_ms`` of time the venue
    did not bar (the forward twin of :func:`settle_start`)."""
    until, need = start_ms, settle_ms
    for lo, hi in _merged([(max(lo, start_ms), hi) for lo, hi in barred if hi > start_ms]):
        if lo >= until + need:
            break
        need -= lo - until  # the free time between ``until`` and this window
        until = hi
    return until + need


def barred_ms_within(barred: Sequence[tuple[int, int]], lo: int, hi: int) -> int:
    """How many ms of [lo, hi] the venue barred (overlapping windows count once)."""
    clipped = [(max(a, lo), min(b, hi)) for a, b in barred if a < hi and b > lo]
    return sum(b - a for a, b in _merged(clipped))


def _merged(windows: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(windows):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out
