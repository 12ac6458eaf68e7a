"""A journal whose venue no longer exists is set aside, and the session starts a new one.

A paper venue lives as long as its process: each ``mmtrio run`` in paper mode builds a new,
flat one with its own trade ids. A journal written against another instance
(``VenueSettings.instance``, kept in the journal's start record) describes an account that is
gone; continuing it made the bot halt on a position mismatch (or discard new fills as
duplicates). It is moved to ``journal-paper-<UTC time>.sqlite3`` beside the new journal, under
the state-directory lock, and the session starts flat with fresh loss limits. A real venue
has no instance (empty): its journal always continues.

What does carry over is a latch (decision): a kill switch, or a loss limit breached, in the
journal set aside stays latched in the new one until ``mmtrio resume``. A kill is the
operator's word, not the venue's state: ``mmtrio kill``, stop, ``mmtrio run`` must not trade
(issue 13). The money a breach counted belonged to the venue that is gone, so in the new
journal the latch is a kill switch naming the old reason, which a plain ``resume`` clears; the
new session's equity, peak and day start from zero as any first start's do. It is written as
the new journal's first ``risk_state`` record, so start-up restores it as it restores any
latch (``limits continued from the journal ... kill switch still latched``).

The reason carried is the operator's (or the breach's) words and the journal the kill was
latched in, the same at every later restart: a latch carried again (a killed paper bot
restarted several times) keeps that first journal and is not wrapped again. It used to be:
each restart appended the journal it set aside to the reason the last one had carried, so
the reason grew by a path and a "latched before the restart" at every start (QA).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from loguru import logger

from mmtrio.core.loss_limits import LATCHED_SUFFIX, LimitsState, trading_day
from mmtrio.runtime import journal_schema as js
from mmtrio.runtime.journal import Journal
from mmtrio.runtime.journal_read import RecoveryState
from mmtrio.runtime.journal_view import read_limits


def venue_replaced(instance: str, last_start: dict[str, Any] | None) -> bool:
    """The journal's last session ran against another life of this replaceable venue."""
    return bool(instance) and last_start is not None and last_start.get("instance") != instance


_CARRIED = " (latched in an earlier paper session, journal kept as "
# What carried_latch added before: a reason some restarts already grew is brought back.
_CARRIED_BEFORE = " (latched in the previous paper session, journal kept as "


def _carried_from(reason: str) -> tuple[str, str] | None:
    """``(reason, journal)`` when ``reason`` ends with a carried latch's words, else None."""
    if not reason.endswith(")"):
        return None
    for words in (_CARRIED, _CARRIED_BEFORE):
        at = reason.rfind(words)
        if at >= 0 and "(latched" not in reason[at + len(words) :]:
            return reason[:at], reason[at + len(words) : -1]
    return None


def carried_latch(state: LimitsState | None, aside: str) -> str | None:
    """The kill-switch reason the new journal keeps from the last state of the one set aside
    (None: nothing was latched): the reason as first latched, and the journal it was latched
    in; ``aside`` (the journal just set aside) unless the latch was carried already (module
    docstring)."""
    if state is None:
        return None
    reason = state.kill_reason
    if reason is None and state.breaches:
        reason = state.breaches[0][1]
    if reason is None:
        return None
    first = aside
    while True:  # the innermost carried journal is the one the kill was latched in
        if reason.endswith(LATCHED_SUFFIX):
            reason = reason.removesuffix(LATCHED_SUFFIX)
        elif carried := _carried_from(reason):
            reason, first = carried
        else:
            return f"{reason}{_CARRIED}{first})"


def fresh_latched(reason: str, now_ms: int, day_start_hour_utc: int) -> LimitsState:
    """A first start's limits (equity, peak, day and bases at zero) with the kill latched."""
    zero = Decimal(0)
    return LimitsState(
        ts=now_ms,
        total=zero,
        position_lots=0,
        valued_at=None,
        peak=None,
        day=trading_day(now_ms, day_start_hour_utc),
        day_start=zero,
        cumulative_base=zero,
        kill_reason=reason,
        kill_flatten=False,  # a fresh venue is flat
    )


def set_aside(
    journal: Journal, now_ms: int, day_start_hour_utc: int
) -> tuple[RecoveryState, LimitsState | None]:
    """Set the journal aside (blocking: run in a worker thread): the new one's recovery state,
    and the latched limits to write into it once its session has begun (module docstring)."""
    last = read_limits(journal.path)
    tag = f"paper-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    aside = journal.set_aside(tag)
    logger.warning(
        "a new paper venue: the previous paper session's journal (its position, fills and loss "
        "limits, for a venue that no longer exists) is kept as {}; this session starts flat "
        "with a new journal",
        aside,
    )
    reason = carried_latch(last, str(aside))
    if reason is None:
        return journal.load_recovery_state(), None
    logger.warning("the kill switch stays latched in the new journal: {}", reason)
    return journal.load_recovery_state(), fresh_latched(reason, now_ms, day_start_hour_utc)


def keep_latch(journal: Journal, state: LimitsState) -> None:
    """Write the carried latch as the new journal's first ``risk_state`` (blocking)."""
    journal.write_batch([js.Record(js.Kind.RISK_STATE, state.ts, state.to_json())])


__all__ = ["carried_latch", "fresh_latched", "keep_latch", "set_aside", "venue_replaced"]
