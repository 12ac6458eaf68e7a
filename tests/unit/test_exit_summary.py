"""The exit summary says which guard stopped the bot, and a position mismatch's two sides."""

from __future__ import annotations

import dataclasses

from mmtrio.core.instruments import BTCUSDT
from mmtrio.runtime.exit_summary import ExitSummary
from tests.strategies import sample_status

MISMATCH = (
    "position mismatch: venue 0.003 BTC (3 lots), ours 0.000 BTC (0 lots) "
    "(tolerance 0.002 BTC (2 lots))"
)


def test_a_latched_kill_switch_is_named_next_to_the_books_position() -> None:
    """OKX QA: after the venue's position moved (position_adjust), Ctrl-C printed only
    "position flat (0 BTC)", the books' figure, while the venue held 0.003 BTC."""
    view = sample_status()
    assert view.strategy is not None
    flat = dataclasses.replace(view.strategy, position_lots=0)
    summary = ExitSummary("okx-paper", BTCUSDT, "SIGINT received", 3, 0, 0, flat, None,
                          latched=MISMATCH)  # fmt: skip
    lines = summary.lines()
    assert lines[0].endswith("exit code 3, stopped safely by a guard")
    halted = next(line for line in lines if line.startswith("  halted"))
    assert f"kill switch: {MISMATCH}" in halted and "stays HALTED until `mmtrio resume`" in halted
    assert "  position  flat (0 BTC)" in lines


def test_no_halted_line_without_a_latch() -> None:
    view = sample_status()
    lines = ExitSummary("btc", BTCUSDT, "SIGINT", 0, 2, 0, view.strategy, None).lines()
    assert not any(line.startswith("  halted") for line in lines)
