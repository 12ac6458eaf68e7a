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
  silent link), either some
  stretch of usable link lasted a refresh period plus ``slack_ms``, or the last one (up to
  the firing) lasted a retry plus ``slack_ms``. A working refresher arms once a period while
  the link works, and within a retry of a barrier's end (``runtime/deadman.py``: its
  ``retry_delay``, a quarter period, at most 1 s, after an attempt bounded to half a period,
  and a Retry-After waited out exactly); the pre-fix refresher slept a whole period after a
  failed or timed-out attempt, so it left up to a period of usable link unused after a
  barrier (DST seed 337 at 20 s: 1.1 s after a 429 wait, and the countdown fired). A link
  silent for most of the countdown fires it on any bot: that is the venue's doing, not a
  defect. Chaos timings: period 1 s, retry 0.25 s, :data:`SLACK_MS` 0.5 s, the venue's
  countdown timer ticking every 50 ms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mmtrio.chaos.logs import first_arm_ms
from mmtrio.runtime.deadman import retry_delay

if TYPE_CHECKING:
    from mmtrio.chaos.evidence import ProcessRecord, StopCheck, Violation

INVARIANT = 11
SLACK_MS = 500  # usable link beyond a period (or a retry) a working refresher never leaves


def usable_stretches(lo: int, hi: int, barred: Sequence[tuple[int, int]]) -> list[int]:
    """Lengths (ms) of the stretches of ``[lo, hi]`` outside every ``barred`` window, in
    time order; the last one ends at ``hi`` (0 when ``hi`` is barred)."""
    out: list[int] = []
    at = lo
    for a, b in sorted((max(a, lo), min(b, hi)) for a, b in barred if b > lo and a < hi):
        if a > at:
            out.append(a - at)
        at = max(at, b)
    out.append(hi - at)
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
    slack_ms: int = SLACK_MS,
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
            stretches = usable_stretches(since, at, barred)
            retry_ms = int(retry_delay(refresh_ms / 1000) * 1000)
            if max(stretches) < refresh_ms + slack_ms and stretches[-1] < retry_ms + slack_ms:
                continue
            return [
                Violation(
                    INVARIANT,
                    at,
                    f"the venue's dead-man countdown fired on live bot process #{p.index} "
                    f"(cancelled {f.get('cancelled', '?')} order(s)): no refresh reached it "
                    f"for {countdown_ms} ms, though the link was usable for {sum(stretches)} ms "
                    f"of it, the last {stretches[-1]} ms without a break (refresh every "
                    f"{refresh_ms} ms, retry after {retry_ms} ms)",
                )
            ]
    return []
