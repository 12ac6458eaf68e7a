"""The exit summary says the venue's position when the stop's reconciliation found another one.

QA (Hyperliquid paper bot): a position appeared at the venue without a trade of ours (the sim's
``position_adjust``: a liquidation, transfer or manual order does the same); the bot latched
the kill switch for the mismatch, and at Ctrl-C the summary said ``position  flat (0 BTC)``
from its own books while the venue held +0.003 BTC: an operator reading it walks away from an
open position.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mmtrio.core.instruments import BTCUSDT
from mmtrio.runtime.exit_summary import ExitSummary
from tests.strategies import sample_status


def _summary(ours: int, venue: int | None) -> list[str]:
    view = sample_status()
    assert view.strategy is not None
    st = dataclasses.replace(view.strategy, position_lots=ours)
    return ExitSummary(
        "hyperliquid-paper", BTCUSDT, "SIGINT received", 3, 0, 0, st, None,
        venue_position_lots=venue,
    ).lines()  # fmt: skip


def test_a_venue_position_the_books_do_not_have_is_said() -> None:
    (line,) = [x for x in _summary(0, 3) if x.startswith("  position")]
    assert line == (
        "  position  the VENUE HOLDS +0.003 BTC, worth +180.00 USDT at mid 60001.30, this "
        "bot's books +0.000 BTC: they disagree; check the account (a restart adopts the "
        "venue's position)"
    )


def test_books_that_agree_with_the_venue_read_as_before() -> None:
    assert _summary(0, 0) == _summary(0, None)
    assert "  position  flat (0 BTC)" in _summary(0, 0)
    left = [x for x in _summary(4, 4) if x.startswith("  position")]
    assert left == [x for x in _summary(4, None) if x.startswith("  position")]
    assert "LEFT OPEN" in left[0]


def test_the_report_it_points_to_names_the_bot(tmp_path: Path) -> None:
    # QA: after `mmtrio run --set venue.name=hyperliquid` the summary said "`mmtrio report`
    # shows the session", and `mmtrio report` there looked for binance-paper's journal.
    view = sample_status()
    journal = tmp_path / "journal.sqlite3"
    lines = ExitSummary(
        "hyperliquid-paper", BTCUSDT, "SIGINT received", 0, 0, 0, view.strategy, journal
    ).lines()
    assert lines[-1] == (
        f"  journal   {journal}  (`mmtrio report --name hyperliquid-paper` shows the session)"
    )


def test_exit_code_3_names_its_guard() -> None:
    # QA: after `mmtrio kill` and Ctrl-C the summary said "exit code 3, stopped safely by a
    # guard" and nothing about which; only the log named the latched kill switch.
    view = sample_status()
    guard = "the kill switch is latched: operator kill (mmtrio kill)"
    lines = ExitSummary(
        "hyperliquid-paper", BTCUSDT, "SIGINT received", 3, 0, 0, view.strategy, None,
        guard=guard,
    ).lines()  # fmt: skip
    assert lines[:2] == [
        "mmtrio hyperliquid-paper stopped (SIGINT received): exit code 3, stopped safely by a "
        "guard",
        f"  guard     {guard}",
    ]
    plain = ExitSummary("b", BTCUSDT, "SIGINT", 0, 0, 0, view.strategy, None).lines()
    assert not any(line.startswith("  guard") for line in plain)
