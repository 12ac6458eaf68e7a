"""The final SIGKILL's fill cutoff counts only fills some bot was in a state to learn
(chaos seed 1683 on OKX: the restarted bot was still importing when the run ended)."""

from __future__ import annotations

from mmtrio.chaos.harness import learnt_until_ms


def test_a_bot_that_reached_its_start_up_reconciliation_learns_until_now() -> None:
    assert learnt_until_ms([(0, 10_000), (11_000, None)], True, 20_000) == 20_000


def test_a_restart_still_starting_has_learnt_nothing_since_its_predecessor_ended() -> None:
    # seed 1683: bot 0 killed at 10 s (a fill 0.3 s before), bot 1 respawned at 11 s and
    # still importing at the final SIGKILL (20 s): fills are judged as of 10 s
    assert learnt_until_ms([(0, 10_000), (11_000, None)], False, 20_000) == 10_000
    # several restarts: the last one that ended
    bots = [(0, 5_000), (6_000, 9_000), (9_500, None)]
    assert learnt_until_ms(bots, False, 20_000) == 9_000


def test_a_first_bot_still_starting_has_learnt_nothing() -> None:
    assert learnt_until_ms([(3_000, None)], False, 20_000) == 3_000
