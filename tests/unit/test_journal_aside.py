"""The kill reason a paper restart carries into its new journal stays the same restart after
restart (QA: it grew by a journal path and a "latched before the restart" each time)."""

from __future__ import annotations

from dataclasses import replace

from mmtrio.core.loss_limits import LATCHED_SUFFIX, LimitsState
from mmtrio.runtime.journal_aside import carried_latch, fresh_latched

KILL = "operator: news at 14:30"
FIRST = "/state/journal-paper-20261207T062700Z.sqlite3"
EXPECTED = f"{KILL} (latched in an earlier paper session, journal kept as {FIRST})"


def restarted(state: LimitsState, aside: str) -> LimitsState:
    """One paper restart: the latch carried into the new journal, restored at start-up (which
    says it came from before the restart) and written back by the session's checkpoint."""
    carried = carried_latch(state, aside)
    assert carried is not None
    restored = carried if carried.endswith(LATCHED_SUFFIX) else carried + LATCHED_SUFFIX
    return fresh_latched(restored, state.ts + 1, 0)


def test_a_carried_kill_reason_is_the_same_at_every_restart() -> None:
    state = fresh_latched(KILL, 0, 0)
    reasons = []
    for n in range(5):
        aside = FIRST if n == 0 else f"/state/journal-paper-2026120{n}T000000Z.sqlite3"
        reasons.append(carried_latch(state, aside))
        state = restarted(state, aside)
    assert reasons == [EXPECTED] * 5


def test_a_reason_grown_by_an_earlier_version_is_brought_back_to_its_first_journal() -> None:
    grown = (
        f"{KILL} (latched in the previous paper session, journal kept as {FIRST}) "
        "(latched in the previous paper session, journal kept as /state/b.sqlite3)"
        f"{LATCHED_SUFFIX}"
    )
    assert carried_latch(fresh_latched(grown, 0, 0), "/state/c.sqlite3") == EXPECTED


def test_a_breach_is_carried_by_its_reason_and_nothing_latched_carries_nothing() -> None:
    assert carried_latch(None, FIRST) is None
    unlatched = replace(fresh_latched(KILL, 0, 0), kill_reason=None)
    assert carried_latch(unlatched, FIRST) is None
    breach = f"drawdown 0.15 exceeds the limit 0.05{LATCHED_SUFFIX}"
    breached = replace(unlatched, breaches=(("drawdown", breach),))
    assert carried_latch(breached, FIRST) == (
        "drawdown 0.15 exceeds the limit 0.05 (latched in an earlier paper session, "
        f"journal kept as {FIRST})"
    )
    # An operator's reason that ends in a parenthesis of its own is kept whole.
    own = fresh_latched("halt (see chat)", 0, 0)
    assert carried_latch(own, FIRST) == (
        f"halt (see chat) (latched in an earlier paper session, journal kept as {FIRST})"
    )
