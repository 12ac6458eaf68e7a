"""Invariant 11: the venue's dead-man countdown never fires on a live bot (pure, like
:mod:`mmtrio.chaos.invariants`).

The dead-man (``runtime/deadman.py``) exists for a bot that died: kill -9, a hung loop, a
power cut. Firing on a bot that is running and not stopping cancels its quotes behind its
back: issue #20 finding 2 (a stalled refresh used up the whole countdown) was that. The
venue records each firing (ground truth ``countdown_fired``, wall ms); one is a violation
when

- the countdown it ended was armed by a bot process that was alive for the whole of it: the
  countdown's window ``[fired − countdown, fired]`` lies inside one incarnation's life (a
  window starting before that incarnation started may be its killed predecessor's
  countdown, which is the dead-man doing its job), before any stop was asked of it (the final
  SIGTERM/SIGKILL) or forced on it (its journal failed, ``journal_full``), and after that
  incarnation had armed the countdown itself (its log's "dead-man armed for …", written
  once the venue confirmed the first arm and before any order). Before its first arm, the
  countdown running is a predecessor's, and a predecessor's arm can reach the venue after
  the successor started: a killed process's refresh held by a silent link is delivered
  when the link comes back (Binance chaos seed 16021: a refresh of the process killed at
  +13.6 s reached the venue 2.8 s after its successor had been started, the successor's
  start-up reads met a 429 and two 500s, and the countdown that refresh armed fired 0.3 s
  before the successor's first arm, cancelling nothing: a bot sends no order before its
  first arm), and
- the venue let that bot reach it: inside the window, outside the times the venue barred it
  (429/418 Retry-After waits from when the bot read them, responses a delay fault held, a
  silent link), either some stretch of usable link lasted a refresh period plus
  ``slack_ms``, or the last one (up to the firing) lasted a retry plus ``slack_ms``, or one
  that began as the venue refused a refresh (below) lasted a retry plus
  ``refused_slack_ms``. A working refresher arms once a period while the link works, and
  within a retry of a barrier's end (``runtime/deadman.py``: its ``retry_delay``, a quarter
  period, at most 1 s, after an attempt bounded to half a period, and a Retry-After waited
  out exactly); the pre-fix refresher slept a whole period after a failed or timed-out
  attempt, so it left up to a period of usable link unused after a barrier (DST seed 337 at
  20 s: 1.1 s after a 429 wait, and the countdown fired). A link silent for most of the
  countdown fires it on any bot: that is the venue's doing, not a defect. Chaos timings:
  period 1 s, retry 0.25 s, :data:`SLACK_MS` 0.5 s, the venue's countdown timer ticking
  every 50 ms.

A refresh the venue refused with a server error (ground truth ``countdown_refused``: when
its answer left, ``SimVenue.refresh_refused``) ends a stretch: the bot tried then, and the
venue, not the bot, kept the countdown running. The stretch that begins there is held to the
retry plus :data:`REFUSED_SLACK_MS`, not the period, so a bot slow to retry after a refusal
is still blamed: the pre-fix refresher of ``tests/chaos/test_dst_deadman.py`` (seed 602 at
20 s: refused at 8.211 s, the link usable until 8.939 s without a retry, and the countdown
fired at 12.229 s; a working refresher retries at 8.461 s), and by their CHANGELOG timings
OKX seeds 33211 and 33231 (a retry 0.75 s and 1 s after a 500). DST seed 110819: refreshed
at 42.372 s; the next refresh (43.372 s) and its retries at 43.622 and 43.872 s were
answered 500 (an ``unknown_error`` fault), the one at 44.122 s drew a 429 (Retry-After 2 s),
and the one at 46.122 s another; the countdown fired at 47.383 s. Before, 42.383-44.122 s
counted as 1.74 s of usable link without a refresh, and the bot was blamed for the venue's
refusals.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mmtrio.chaos.logs import first_arm_ms
from mmtrio.runtime.deadman import retry_delay

if TYPE_CHECKING:
    from mmtrio.chaos.evidence import ProcessRecord, StopCheck, Violation

INVARIANT = 11
SLACK_MS = 500  # usable link beyond a period (or a retry) a working refresher never leaves
# After a refusal the bot has its answer: its retry goes a retry later, give or take the
# answer's way back, the retry's way there and the bot's own steps. No attempt can be hung
# then, which SLACK_MS also allows for (an attempt sent into a barrier runs to its timeout).
REFUSED_SLACK_MS = 250


def usable_stretches(
    lo: int, hi: int, barred: Sequence[tuple[int, int]], refused: Sequence[int] = ()
) -> list[int]:
    """Lengths (ms) of the stretches of ``[lo, hi]`` outside every ``barred`` window, each
    also ended by a ``refused`` refresh, in time order; the last one ends at ``hi`` (0 when
    ``hi`` is barred)."""
    return [length for length, _ in usable_pieces(lo, hi, barred, refused)]


def usable_pieces(
    lo: int, hi: int, barred: Sequence[tuple[int, int]], refused: Sequence[int] = ()
) -> list[tuple[int, bool]]:
    """:func:`usable_stretches` as (length, whether it began as the venue refused a
    refresh). A refusal inside a barred window changes nothing (the window already excuses
    that time); one as a window ends marks the stretch that follows."""
    usable: list[tuple[int, int]] = []
    at = lo
    for a, b in sorted((max(a, lo), min(b, hi)) for a, b in barred if b > lo and a < hi):
        if a > at:
            usable.append((at, a))
        at = max(at, b)
    usable.append((at, hi))
    out: list[tuple[int, bool]] = []
    for start, end in usable:
        cuts = sorted({r for r in refused if start <= r < end})
        bounds = [start, *(r for r in cuts if r > start), end]
        first_refused = bool(cuts) and cuts[0] == start
        for i, (x, y) in enumerate(itertools.pairwise(bounds)):
            out.append((y - x, i > 0 or first_refused))
    return out


def live_until(p: ProcessRecord, stops: Sequence[StopCheck]) -> int | None:
    """When ``p`` stopped being a live, running bot: the first stop asked of it or forced on
    it (a stop check inside its life), else its end (None: it ran to the end)."""
    end = p.end_ms
    asked = [
        s.signal_ms
        for s in stops
        if s.signal_ms >= p.start_ms and (end is None or s.signal_ms <= end)
    ]
    return min(asked) if asked else end


def check_deadman(
    fired: Sequence[Mapping[str, Any]],
    processes: Sequence[ProcessRecord],
    stops: Sequence[StopCheck],
    *,
    countdown_ms: int,
    refresh_ms: int,
    barred: Sequence[tuple[int, int]],
    refused: Sequence[int] = (),
    slack_ms: int = SLACK_MS,
    refused_slack_ms: int = REFUSED_SLACK_MS,
) -> list[Violation]:
    """Invariant 11 (module docstring); the first offending firing."""
    from mmtrio.chaos.evidence import Violation

    for f in fired:
        at = int(f["wall_ms"])
        since = at - countdown_ms
        for p in processes:
            until = live_until(p, stops)
            if p.start_ms > since or (until is not None and until < at):
                continue
            armed = first_arm_ms(p.log_text)
            if armed is None or armed > at:
                continue  # not armed by this process yet: a predecessor's countdown
            pieces = usable_pieces(since, at, barred, refused)
            stretches = [length for length, _ in pieces]
            retry_ms = int(retry_delay(refresh_ms / 1000) * 1000)
            after = [length for length, follows in pieces if follows]
            if (
                max(stretches) < refresh_ms + slack_ms
                and stretches[-1] < retry_ms + slack_ms
                and max(after, default=0) < retry_ms + refused_slack_ms
            ):
                continue
            told = (
                f", {len(after)} refresh(es) refused with a server error in it, the longest "
                f"wait after one {max(after)} ms"
                if after
                else ""
            )
            return [
                Violation(
                    INVARIANT,
                    at,
                    f"the venue's dead-man countdown fired on live bot process #{p.index} "
                    f"(cancelled {f.get('cancelled', '?')} order(s)): no refresh reached it "
                    f"for {countdown_ms} ms, though the link was usable for {sum(stretches)} ms "
                    f"of it, the last {stretches[-1]} ms without a break{told} (refresh every "
                    f"{refresh_ms} ms, retry after {retry_ms} ms)",
                )
            ]
    return []
