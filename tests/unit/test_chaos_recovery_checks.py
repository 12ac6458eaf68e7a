"""The judge of the position_gap fault: the next bot must name the gap it adopts."""

from __future__ import annotations

from mmtrio.chaos.recovery_checks import check_gap_alerts
from tests.unit.test_chaos_invariants import proc

STARTED = "INFO reconcile (start): adopted 0, cancelled 1, foreign 0, missed fills 0\n"
ALERT = (
    "ERROR position at start: gap of +2 lots adopted; the venue's trades since the journal's "
    "last known state do not explain it\n"
)


def test_a_gap_named_by_the_next_bot_passes() -> None:
    bots = [proc(index=0, start_ms=0, end_ms=900, signal_sent="KILL", exit_code=-9),
            proc(index=1, start_ms=1_500, log_text=STARTED + ALERT)]  # fmt: skip
    assert check_gap_alerts([1_000], bots) == []


def test_a_gap_adopted_silently_is_a_violation() -> None:
    bots = [proc(index=0, start_ms=0, end_ms=900, signal_sent="KILL", exit_code=-9),
            proc(index=1, start_ms=1_500, log_text=STARTED)]  # fmt: skip
    (v,) = check_gap_alerts([1_000], bots)
    assert v.invariant == 2 and "without an alert" in v.message


def test_a_bot_that_never_finished_its_start_up_is_not_judged() -> None:
    bots = [proc(index=1, start_ms=1_500, log_text="INFO importing\n", exit_code=-9,
                 signal_sent="KILL")]  # fmt: skip
    assert check_gap_alerts([1_000], bots) == []
    assert check_gap_alerts([5_000], bots) == []  # no bot started after it: nothing to judge


def test_the_adoption_alert_states_the_position_after_the_fill_lines() -> None:
    # Chaos seed 3031: the start-up's fill line (logged after the reconcile summary) states the
    # position at the fill; the gap alert right after it states the adopted one.
    from mmtrio.chaos.logs import log_positions

    lines = [
        (1, "reconcile (start): adopted 0, missed fills 1, position venue -9 / ours -9"),
        (2, "SELL 2 lots @ 599963 ticks (); position -6 lots"),
        (3, "position gap of -3 lots adopted from the venue (-6 -> -9 lots): the venue's trades"),
    ]
    assert log_positions(lines) == [(1, -9), (2, -6), (3, -9)]
