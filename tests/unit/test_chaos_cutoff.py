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


def test_binance_seed_100054_a_restart_that_never_logged_judges_no_fill() -> None:
    # Binance campaign (load 15-24), on code without this rule: bot 0 was killed by early_kill
    # at ~700_382 and its two quotes filled while it was down; bot 1 (spawned 701_497) logged
    # nothing before the final SIGKILL. Fills are judged as of bot 0's end; with the judge's
    # settle window (reconcile 2 s + 1.5 s) no snapshot after 696_882 counts, and the fills
    # (made after the kill) are all later: "fill lost: venue trade 1" is not the bot's.
    # bot 0's spawn (~17:24:46, right after the proxy's) does not matter to the result
    bots = [(1_796_318_686_300, 1_796_318_700_382), (1_796_318_701_497, None)]
    assert learnt_until_ms(bots, False, 1_796_318_708_900) == 1_796_318_700_382
