"""Seeds that failed at 60 virtual seconds (the issue's scenario length; the smoke runs 10.5 s),
kept as regressions of what was fixed.

- **Seed 3**: "position mismatch at quiescence: bot 0 lots, venue 2 lots". The simulation gave
  its bots the 5 s default request timeout while their config (and the process harness's
  bots) have 1 s: after a half-open link a reconciliation read waited 6.6 s and its order query
  4.3 s more. The simulated venue settings now carry ``execution.request_timeout_ms``.
- **Seed 122**: "1 order(s) still open 5399 ms after JOURNAL_FULL: chaos-foreign-2". The
  harness placed its foreign order 4.2 s into a stop whose cancel-all had gone into a silent
  REST link; the process harness does not hold such an order against the stopping bot (smoke
  seed 26) and the simulation's judge did. Both now use ``orders_left_at_self_stop``.
- **Seed 200**: "the venue answered 418: a request was sent before Retry-After expired". After a
  clock skew, the order socket's 429 back-off was measured on our stale estimate of the
  venue's clock and ended 1 s early; it is now ``retryAfter - serverTime`` from the answer.
- **Seed 117631**: "bot process #2: exited on its own with code 1". Queued ``delay`` faults
  held each of a restarted bot's dead-man arms past its 0.5 s attempt until start-up's 30 s
  deadline; start-up's arm now doubles its bound after each unanswered attempt.
- **Seed 118007**: "the venue answered 418". The sim took an older 429 (Retry-After 1 s),
  held and sent after a later injected 429 had extended the back-off, as telling the bot of
  the extension; the bot waited the 1 s it was told and was banned
  (``RateLimiter.answer_sent``: the sim's judgement, not the bot).
- **Seed 119426**: "bot process #1: exited on its own with code 1". Three latency spikes held
  22 answers 1.06-1.21 s each; the restarted bot's start-up reads timed out at 1 s nine times
  until its 30 s deadline. Start-up's reads now double their timeout after each one that
  timed out (``mmtrio.venues.patience``).
- **Seed 204799**: "fill lost: venue trade 34 (mmt1-2d) not in journal". An amend and a
  place the bot had sent into a half-open link reached the venue when the link reset (15.25 s)
  and drew injected 429s; a latency fault held the amend's 1 s, and when it left (16.252 s)
  its order socket had been dead for a second. The simulated ws-fapi told the limiter that
  429 had been read; the bot, which had read no 429 at all, sent a read at 16.7 s and was
  banned 120 s (418), so no reconciliation could book the fill its order had taken during
  the silence (12.5 s). The sim's judgement, not the bot: a held 429 whose connection died is
  never read (``OrderEntry._serve``; tests/unit/test_sim_order_entry_held_429.py).

A seed is a whole trace: later changes to the bot may move it off the path it exercised.
Each test checks the path is still taken before it checks the verdict.
"""

from __future__ import annotations

from pathlib import Path

from mmtrio.chaos.dst import run_one

DURATION_S = 60.0


def test_seed_3_a_read_after_a_half_open_link_times_out_as_configured(tmp_path: Path) -> None:
    run = run_one(3, DURATION_S, tmp_path)
    assert run.result.faults.get("half_open") == 1
    assert run.result.violations == [], run.result.violations


def test_seed_122_a_foreign_order_placed_during_a_self_stop_is_not_the_bots(
    tmp_path: Path,
) -> None:
    run = run_one(122, DURATION_S, tmp_path)
    assert run.result.faults.get("journal_full") == 1
    assert run.result.faults.get("foreign_order") == 2
    assert run.result.violations == [], run.result.violations


def test_seed_200_a_429_back_off_after_a_clock_skew_is_honoured(tmp_path: Path) -> None:
    run = run_one(200, DURATION_S, tmp_path)
    assert run.result.faults.get("clock_skew") and run.result.faults.get("http_429")
    assert run.result.violations == [], run.result.violations


def test_seed_117631_a_slow_venue_is_armed_at_start_up(tmp_path: Path) -> None:
    run = run_one(117631, DURATION_S, tmp_path)
    assert run.result.faults.get("latency_spike") and run.result.restarts >= 2
    assert run.result.violations == [], run.result.violations


def test_seed_118007_an_older_429_does_not_tell_of_a_later_back_off(tmp_path: Path) -> None:
    run = run_one(118007, DURATION_S, tmp_path)
    assert run.result.faults.get("http_429") and run.result.faults.get("latency_spike")
    assert run.result.violations == [], run.result.violations


def test_seed_119426_start_up_reads_wait_longer_for_a_slow_venue(tmp_path: Path) -> None:
    run = run_one(119426, DURATION_S, tmp_path)
    assert run.result.faults.get("latency_spike") and run.result.restarts >= 1
    assert run.result.violations == [], run.result.violations


def test_seed_201385_each_open_foreign_order_counts_in_the_judge_s_limit(tmp_path: Path) -> None:
    # Three foreign sells of 2 lots were open at once; the judge allowed one foreign order's
    # lots on top of the bot's limit, so the venue's worst case at an accept (23 lots: the
    # bot's own 17 and the foreign 6) was called a breach of 22. A harness artifact.
    run = run_one(201385, DURATION_S, tmp_path)
    assert run.result.faults.get("foreign_order") == 3
    assert run.result.violations == [], run.result.violations


def test_seed_204799_a_429_held_on_a_dead_order_socket_does_not_ban_the_bot(
    tmp_path: Path,
) -> None:
    run = run_one(204799, DURATION_S, tmp_path)
    assert run.result.faults.get("half_open") and run.result.faults.get("http_429")
    assert run.result.faults.get("latency_spike")
    assert run.result.violations == [], run.result.violations
    logs = "".join(p.read_text() for p in Path(run.result.out_dir).glob("bot-*.log"))
    # the fill taken during the silence, booked by the first reconciliation the bot could make
    assert "fill BUY 0.002 BTC @ 60004.10 (mmt1-2d)" in logs
    assert "missed fills 1" in logs
