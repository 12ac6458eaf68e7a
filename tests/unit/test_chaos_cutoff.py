"""The final SIGKILL's fill cutoff counts only fills some bot was in a state to learn
(chaos seed 1683 on OKX: the restarted bot was still importing when the run ended)."""

from __future__ import annotations

from mmtrio.chaos.botconfig import RECONCILE_S
from mmtrio.chaos.harness import fill_cutoff, learnt_until_ms, orders_left_at_self_stop
from mmtrio.chaos.invariants import Snapshot, check_fills


def test_a_bot_that_reached_its_start_up_reconciliation_learns_until_now() -> None:
    assert learnt_until_ms([(0, 10_000, True), (11_000, None, True)], 20_000) == 20_000


def test_a_restart_still_starting_has_learnt_nothing_since_its_predecessor_ended() -> None:
    # seed 1683: bot 0 killed at 10 s (a fill 0.3 s before), bot 1 respawned at 11 s and
    # still importing at the final SIGKILL (20 s): fills are judged as of 10 s
    assert learnt_until_ms([(0, 10_000, True), (11_000, None, False)], 20_000) == 10_000
    # several restarts: the last one that ended
    bots = [(0, 5_000, True), (6_000, 9_000, True), (9_500, None, False)]
    assert learnt_until_ms(bots, 20_000) == 9_000
    # seed 1722 (OKX): two restarts in a row never got through their start
    bots = [(0, 5_000, True), (6_000, 9_000, False), (9_500, None, False)]
    assert learnt_until_ms(bots, 20_000) == 5_000
    # a bot that got through its start and then ended by itself learnt until its end
    assert learnt_until_ms([(0, 7_000, True)], 20_000) == 7_000


def test_a_first_bot_still_starting_has_learnt_nothing() -> None:
    assert learnt_until_ms([(3_000, None, False)], 20_000) == 3_000


def test_seed_1856_a_fill_the_full_disk_kept_from_the_journal_waits_for_the_next_start() -> None:
    """Chaos seed 1856 on Extended (load ~20), wall ms from its logs: bot 0 (spawned at
    273.1 s, first log line at 287.6 s) learnt trade 3 at 290.69 s, its journal_full fault
    refused the write (290.78 s) and it stopped (291.1 s); bot 1, respawned 1.84 s later,
    had logged nothing when the run's final SIGKILL came (303.1 s). The trade is not lost:
    the journal's watermark is trade 2, so the next start books trade 3. Judged as of the
    kill, it was reported lost; judged as of bot 0's end, no fill made in its last reconcile
    interval is checked. Had bot 1 reached its start-up reconciliation, it would be."""
    made = {289_140: 1, 290_500: 2, 290_680: 3}  # the venue's trades (ms before the bot's line)

    def n_fills(t: int) -> int:
        return max([n for at, n in made.items() if at <= t], default=0)

    snaps = [Snapshot(t, (), 0, n_fills(t), True) for t in range(273_100, 303_100, 300)]
    bots = [(273_090, 291_100, True), (292_950, None, False)]
    settle = int(RECONCILE_S * 1000) + 1_500
    venue = [{"trade_id": t, "client_id": "mmt1-x"} for t in (1, 2, 3)]
    cutoff = fill_cutoff(snaps, learnt_until_ms(bots, 303_100), settle)
    assert check_fills(venue, [1, 2], [1, 2], cutoff) == []
    both = [bots[0], (292_950, None, True)]
    started = fill_cutoff(snaps, learnt_until_ms(both, 303_100), settle)
    (v,) = check_fills(venue, [1, 2], [1, 2], started)
    assert "trade 3" in v.message


def test_binance_seed_100054_a_restart_that_never_logged_judges_no_fill() -> None:
    # Binance campaign (load 15-24), on code without this rule: bot 0 was killed by early_kill
    # at ~700_382 and its two quotes filled while it was down; bot 1 (spawned 701_497) logged
    # nothing before the final SIGKILL. Fills are judged as of bot 0's end; with the judge's
    # settle window (reconcile 2 s + 1.5 s) no snapshot after 696_882 counts, and the fills
    # (made after the kill) are all later: "fill lost: venue trade 1" is not the bot's.
    # bot 0's spawn (~17:24:46, right after the proxy's) does not matter to the result
    bots = [(1_796_318_686_300, 1_796_318_700_382, True), (1_796_318_701_497, None, False)]
    assert learnt_until_ms(bots, 1_796_318_708_900) == 1_796_318_700_382


def test_a_foreign_order_placed_after_a_self_stop_began_is_not_the_bot_s() -> None:
    # chaos smoke seed 26: journal failed at 48.6 s, the stop's cancel-all went into a silent
    # REST link at 48.6-49.6 s; the harness placed its foreign order at 51.07 s
    placed = {"chaos-foreign-1": 51_074}
    left = orders_left_at_self_stop(
        ["chaos-foreign-1", "mmt1-9"], placed, 48_600, before_venue=False
    )
    assert left == ("mmt1-9",)  # the bot's own order still counts
    # one placed before the stop began is the stop's to cancel
    assert orders_left_at_self_stop(["chaos-foreign-1"], {"chaos-foreign-1": 48_000}, 48_600,
                                    before_venue=False) == ("chaos-foreign-1",)  # fmt: skip
    # a bot that failed before sending anything owned no order
    assert orders_left_at_self_stop(["mmt1-9"], {}, 48_600, before_venue=True) == ()
