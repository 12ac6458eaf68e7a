"""Invariant 12: the bot quoted at all (``chaos/venue_checks.check_quoted``).

Every other invariant holds for a bot that never sends an order, so a campaign of a bot that
stopped quoting used to come out clean."""

from __future__ import annotations

from typing import Any

from mmtrio.chaos.evidence import ProcessRecord
from mmtrio.chaos.venue_checks import MIN_UP_MS, check_quoted


def proc(start_ms: int, end_ms: int | None) -> ProcessRecord:
    return ProcessRecord(0, start_ms, end_ms, 0, "TERM", "")


def order(cid: str) -> dict[str, Any]:
    return {"client_id": cid, "time_in_force": "POST_ONLY"}


def test_a_bot_up_long_enough_without_one_order_violates() -> None:
    (v,) = check_quoted([], frozenset(), [proc(0, MIN_UP_MS)], MIN_UP_MS)
    assert v.invariant == 12 and "never quoted" in v.message and "20 s of bot time" in v.message


def test_one_order_of_the_bot_s_is_enough() -> None:
    assert check_quoted([order("mmt1x0")], frozenset(), [proc(0, 60_000)], 60_000) == []


def test_the_harness_s_foreign_orders_are_not_the_bot_s() -> None:
    orders = [order("chaosforeign1")]
    assert check_quoted(orders, frozenset({"chaosforeign1"}), [proc(0, 60_000)], 60_000)
    # dumps of earlier versions name the client id clientOrderId
    assert check_quoted([{"clientOrderId": "mmt1x0"}], frozenset(), [proc(0, 60_000)], 60_000) == []


def test_bot_time_is_summed_over_incarnations_and_a_running_one_counts_to_the_end() -> None:
    short = [proc(0, 8_000), proc(9_000, 17_000)]  # 16 s in all: proves nothing
    assert check_quoted([], frozenset(), short, 40_000) == []
    running = [proc(0, 8_000), proc(9_000, None)]  # up until the evidence was taken
    (v,) = check_quoted([], frozenset(), running, 30_000)
    assert "29 s of bot time (2 process(es))" in v.message
