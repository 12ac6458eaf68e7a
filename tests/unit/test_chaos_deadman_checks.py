"""Invariant 11: the venue's dead-man countdown never fires on a live bot."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mmtrio.chaos.barred import barred_windows
from mmtrio.chaos.deadman_checks import check_deadman, live_until, usable_pieces, usable_stretches
from mmtrio.chaos.evidence import ProcessRecord, Violation
from mmtrio.chaos.invariants import StopCheck
from mmtrio.chaos.logs import first_arm_ms
from mmtrio.runtime.deadman import ARMED
from tests.unit.test_chaos_invariants import proc as plain_proc

COUNTDOWN, REFRESH = 5_000, 1_000


def armed_line(ms: int) -> str:
    """The bot's first-arm log entry (runtime/deadman.py), as a headless run writes it."""
    text = f"{ARMED}BTCUSDT: the venue cancels every order if not refreshed for 5000 ms"
    return json.dumps({"text": text, "record": {"time": {"timestamp": ms / 1000}}}) + "\n"


def proc(**kw: Any) -> ProcessRecord:
    """A process that armed its dead-man 100 ms after it started."""
    kw.setdefault("log_text", armed_line(kw.get("start_ms", 0) + 100))
    return plain_proc(**kw)


def judge(
    fired_ms: list[int],
    procs: list[ProcessRecord],
    stops: list[StopCheck] | None = None,
    barred: Sequence[tuple[int, int]] = (),
    refused: Sequence[int] = (),
) -> list[Violation]:
    fired = [{"wall_ms": t, "cancelled": 2} for t in fired_ms]
    return check_deadman(
        fired,
        procs,
        stops or [],
        countdown_ms=COUNTDOWN,
        refresh_ms=REFRESH,
        barred=barred,
        refused=refused,
    )


def test_usable_stretches_merge_overlapping_barred_windows() -> None:
    assert usable_stretches(0, 5_000, []) == [5_000]
    bars = [(1_000, 2_000), (1_500, 3_000), (4_500, 9_000)]
    assert usable_stretches(0, 5_000, bars) == [1_000, 1_500, 0]
    assert usable_stretches(1_000, 2_000, [(0, 500), (3_000, 4_000)]) == [1_000]
    assert usable_stretches(0, 5_000, [(0, 4_000)]) == [1_000]


def test_a_firing_on_a_live_bot_with_a_usable_link_is_a_violation() -> None:
    bot = proc(start_ms=0, end_ms=None, signal_sent=None)
    (v,) = judge([12_000], [bot])
    assert v.invariant == 11 and v.at_ms == 12_000
    assert "live bot process #0" in v.message and "cancelled 2" in v.message


def test_a_killed_bots_countdown_firing_is_the_dead_man_doing_its_job() -> None:
    killed = proc(index=0, start_ms=0, end_ms=3_000, signal_sent="KILL", exit_code=-9)
    restarted = proc(index=1, start_ms=4_000, end_ms=None, signal_sent=None)
    # fired 5 s after the killed bot's last refresh, while the next one was starting
    assert judge([8_000], [killed, restarted]) == []
    # a countdown armed after the restart is the restarted bot's own
    assert judge([9_500], [killed, restarted])[0].message.count("#1") == 1


def test_a_firing_after_a_stop_was_asked_is_not_judged() -> None:
    bot = proc(start_ms=0, end_ms=20_000, signal_sent="TERM")
    stop = StopCheck("sigterm", 10_000, 5_000, 16_000, ())
    assert judge([12_000], [bot], [stop]) == []  # stopping: its cancel-all failed, say
    assert judge([9_000], [bot], [stop]) != []  # before the stop: live
    assert live_until(bot, [stop]) == 10_000


def test_a_link_barred_for_most_of_the_countdown_excuses_the_firing() -> None:
    bot = proc(start_ms=0, end_ms=None, signal_sent=None)
    silent = [(7_800, 11_500)]  # 0.8 s usable before it, 0.5 s after
    assert judge([12_000], [bot], barred=silent) == []
    # 0.8 s after it: a working refresher retries within 0.25 s of the link's return
    assert judge([12_000], [bot], barred=[(7_800, 11_200)]) != []
    # 1.6 s before it: a working refresher arms once a second
    assert judge([12_000], [bot], barred=[(8_600, 11_800)]) != []


def test_a_held_429s_wait_runs_from_when_the_bot_read_it() -> None:
    # DST seed 104568: refreshed at 6.314 s, then a 429 read at 6.399 s (Retry-After 2 s).
    # At 8.399 s the refresh and the reconciler's read both drew 429s (2 s), their answers
    # held 959 ms; the refresh timed out and never read its own, the reconciler read its at
    # 9.358 s, and the bot sent nothing until 11.358 s. The countdown fired at 11.35 s.
    def event(decided: int, sent: int | None) -> dict[str, Any]:
        return {"wall_ms": decided, "status": 429, "reason": "x", "retry_after_s": 2,
                "sent_ms": sent}  # fmt: skip

    read = [event(6_399, 6_399), event(8_399, None), event(8_399, 9_358), event(8_400, 8_400)]
    truth = {"rate_limits": {"events": read}, "held_responses": [[8_399, 9_358]] * 2}
    bot = proc(start_ms=2_418, end_ms=None, signal_sent=None)
    assert judge([11_350], [bot], barred=barred_windows(truth)) == []
    # Had the bot never read that 429 (its request gave up too), the venue's own back-off
    # ended at 10.399 s, and 0.95 s of link was left unused before the firing.
    read[2]["sent_ms"] = None
    (v,) = judge([11_350], [bot], barred=barred_windows(truth))
    assert "the last 950 ms without a break" in v.message


def test_refused_refreshes_end_stretches() -> None:
    assert usable_pieces(0, 5_000, [], [1_000, 1_250]) == [
        (1_000, False), (250, True), (3_750, True)
    ]  # fmt: skip
    # one inside a barred window changes nothing; one as it ends marks what follows
    assert usable_pieces(0, 5_000, [(2_000, 3_000)], [2_500]) == [(2_000, False), (2_000, False)]
    assert usable_pieces(0, 5_000, [(2_000, 3_000)], [3_000]) == [(2_000, False), (2_000, True)]
    assert usable_stretches(0, 5_000, [(4_000, 6_000)], [5_000]) == [4_000, 0]


def test_a_refresh_the_venue_refused_is_the_bots_attempt() -> None:
    # DST seed 110819: refreshed at 42.372 s; the refreshes at 43.372, 43.622 and 43.872 s
    # were answered 500 (an unknown_error fault), the one at 44.122 s drew a 429 (2 s) and
    # the one at 46.122 s another; the countdown fired at 47.383 s.
    truth = {
        "rate_limits": {
            "events": [
                {"wall_ms": t, "status": 429, "reason": "x", "retry_after_s": 2, "sent_ms": t}
                for t in (44_122, 46_122)
            ]
        }
    }
    bot = proc(start_ms=1_439, end_ms=None, signal_sent=None)
    refused = [43_372, 43_622, 43_872]
    assert judge([47_383], [bot], barred=barred_windows(truth), refused=refused) == []
    # Judged as if nobody had tried: 1.74 s of usable link without a refresh.
    (v,) = judge([47_383], [bot], barred=barred_windows(truth))
    assert "usable for 1739 ms of it, the last 0 ms without a break" in v.message
    # A refresher slow to retry after a refusal is still blamed: here its retry is the
    # refresh that drew the 429 at 44.122 s, 0.5 s after a 500 at 43.622 s (a retry plus
    # REFUSED_SLACK_MS); one 0.499 s after it would be in time.
    (v,) = judge([47_383], [bot], barred=barred_windows(truth), refused=[43_372, 43_622])
    assert "2 refresh(es) refused with a server error in it, the longest wait after one 500" in (
        v.message
    )
    assert judge([47_383], [bot], barred=barred_windows(truth), refused=[43_372, 43_623]) == []


def test_a_refresher_that_oversleeps_a_refusal_is_blamed() -> None:
    # tests/chaos/test_dst_deadman.py, seed 602 at 20 s with the pre-fix refresher (a whole
    # period after a failed attempt): refused at 8.211 s, no retry while the link lasted
    # (to 8.939 s), and the countdown fired at 12.229 s. A working refresher retries at
    # 8.461 s. Not counting the refusal, the old rule blamed it for 1.71 s of usable link.
    bot = proc(start_ms=0, end_ms=20_109, signal_sent="KILL")
    silent = [(8_939, 14_309), (11_651, 14_281)]
    (v,) = judge([12_229], [bot], barred=silent, refused=[8_211])
    assert "the longest wait after one 728 ms" in v.message
    assert judge([12_229], [bot], barred=silent) != []


def test_first_arm_is_read_from_the_log_in_either_format() -> None:
    assert first_arm_ms("INFO fine\n") is None
    assert first_arm_ms("INFO fine\n" + armed_line(4_321) + armed_line(9_000)) == 4_321


def test_a_firing_before_the_process_armed_is_its_predecessors_countdown() -> None:
    # Binance chaos seed 16021: the killed process's refresh, held by a silent link, reached
    # the venue after the successor had started; its countdown fired before the successor's
    # first arm (whose start-up reads met a 429 and two 500s).
    killed = proc(index=0, start_ms=0, end_ms=3_000, signal_sent="KILL", exit_code=-9)
    late = proc(index=1, start_ms=3_500, end_ms=None, signal_sent=None, log_text="INFO up\n")
    assert judge([9_500], [killed, late]) == []  # never armed
    armed_after = plain_proc(
        index=1, start_ms=3_500, end_ms=None, signal_sent=None, log_text=armed_line(9_800)
    )
    assert judge([9_500], [killed, armed_after]) == []  # armed only after the firing
    armed_before = plain_proc(
        index=1, start_ms=3_500, end_ms=None, signal_sent=None, log_text=armed_line(4_000)
    )
    (v,) = judge([9_500], [killed, armed_before])  # its own countdown, not refreshed
    assert "live bot process #1" in v.message
