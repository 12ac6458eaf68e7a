"""Nonces across restarts, and the per-cloid memory a modify's cancel-replace needs."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from mmtrio.core.events import Side, TimeInForce
from mmtrio.errors import ConfigError
from mmtrio.venues.hyperliquid.codec import OrderState
from mmtrio.venues.hyperliquid.nonces import FILE_NAME, RESERVE_MS, NonceSource
from mmtrio.venues.hyperliquid.tracking import OrderTracking

T0 = 1_750_000_000_000


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


async def test_nonces_increase_within_a_millisecond_and_across_restarts(tmp_path: Path) -> None:
    clock = Clock(T0)
    first = NonceSource(clock, tmp_path)
    burst = [await first.take() for _ in range(5)]  # five actions in one millisecond
    assert burst == list(range(T0, T0 + 5))
    assert int((tmp_path / FILE_NAME).read_text()) == T0 + RESERVE_MS  # reserved ahead
    # A restart whose wall clock stepped back by ten seconds: the reservation still holds.
    clock.now = T0 - 10_000
    second = NonceSource(clock, tmp_path)
    again = await second.take()
    assert again > max(burst) and again == T0 + RESERVE_MS + 1
    # Past the reservation the next ceiling is written before the nonce is used.
    clock.now = T0 + 3 * RESERVE_MS
    n = await second.take()
    assert n == clock.now and int((tmp_path / FILE_NAME).read_text()) == n + RESERVE_MS


async def test_without_a_state_dir_only_the_process_rule_holds() -> None:
    clock = Clock(T0)
    src = NonceSource(clock)
    assert [await src.take(), src.next_unreserved()] == [T0, T0 + 1]
    clock.now = T0 - 5
    assert await src.take() == T0 + 2  # never backwards


async def test_the_reservation_makes_its_state_dir(tmp_path: Path) -> None:
    # The venue may take its first nonce before anything else created the bot's state dir
    # (the Hyperliquid latency benchmark's dead-man arm did, and the bot stopped with exit 3).
    state = tmp_path / "not" / "yet"
    src = NonceSource(Clock(T0), state)
    assert await src.take() == T0
    assert int((state / FILE_NAME).read_text()) == T0 + RESERVE_MS


async def test_a_damaged_reservation_is_named(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_text("garbage\n")
    with pytest.raises(ConfigError, match="not a number"):
        NonceSource(Clock(T0), tmp_path)


async def test_concurrent_takes_are_unique(tmp_path: Path) -> None:
    src = NonceSource(Clock(T0), tmp_path)
    got: list[int] = []

    async def take() -> None:
        got.append(await src.take())

    async with trio.open_nursery() as n:
        for _ in range(50):
            n.start_soon(take)
    assert len(set(got)) == 50


def state(
    oid: int, status: str, remaining: int, orig: int = 100, price: int = 600000
) -> OrderState:
    return OrderState("BTC", "0xc1", oid, Side.BUY, price, orig, remaining, status, T0)


def test_modify_cancel_replace_in_the_order_the_venue_may_send_it() -> None:
    tr = OrderTracking()
    released: list[list[OrderState]] = []
    tr.release = released.append
    tr.placed("0xc1", Side.BUY, 600000, 100, TimeInForce.POST_ONLY, False)
    tr.acked("0xc1", 1)
    assert tr.on_state(state(1, "open", 100))[0] == "deliver"
    tr.on_fill("0xc1", 1, trade_id=10, lots=30)
    tr.on_fill("0xc1", 1, trade_id=10, lots=30)  # the same fill twice counts once
    assert tr.get("0xc1").filled == 30  # type: ignore[union-attr]
    # Modify in flight: the old leg's cancel arrives before the answer: held, not delivered.
    tr.begin_amend("0xc1")
    assert tr.on_state(state(1, "canceled", 70))[0] == "hold"
    tr.end_amend("0xc1", 2, price=599990, qty=100)  # success: the held cancel was the old leg
    assert released == [] and tr.dropped_cancels == 1
    t = tr.get("0xc1")
    assert t is not None and t.oid == 2 and t.filled == 30
    # New leg open (remaining 70), then a late duplicate of the old cancel: dropped.
    assert tr.on_state(state(2, "open", 70, orig=70, price=599990))[0] in ("deliver", "amended")
    assert tr.on_state(state(1, "canceled", 70))[0] == "drop"
    tr.on_fill("0xc1", 2, trade_id=11, lots=20)
    assert tr.get("0xc1").filled == 50  # type: ignore[union-attr]


def test_new_leg_before_the_answer_settles_the_held_cancel() -> None:
    tr = OrderTracking()
    tr.release = lambda states: pytest.fail(f"released {states}")
    tr.placed("0xc1", Side.BUY, 600000, 100, TimeInForce.POST_ONLY, False)
    tr.acked("0xc1", 1)
    tr.begin_amend("0xc1")
    assert tr.on_state(state(1, "canceled", 100))[0] == "hold"
    what, t = tr.on_state(state(2, "open", 100, price=599990))
    assert what == "amended" and t is not None and t.oid == 2 and 1 in t.superseded
    tr.end_amend("0xc1", 2, price=599990, qty=100)
    assert tr.dropped_cancels == 1


def test_a_failed_modify_releases_a_real_cancel() -> None:
    tr = OrderTracking()
    released: list[list[OrderState]] = []
    tr.release = released.append
    tr.placed("0xc1", Side.BUY, 600000, 100, TimeInForce.POST_ONLY, False)
    tr.acked("0xc1", 1)
    tr.begin_amend("0xc1")
    assert tr.on_state(state(1, "canceled", 100))[0] == "hold"
    tr.end_amend("0xc1", None)  # "Cannot modify canceled or filled order": it was cancelled
    assert [s.oid for s in released[0]] == [1]


def test_dead_man_triggers_are_counted_per_utc_day() -> None:
    tr = OrderTracking()
    day = 86_400_000 * (T0 // 86_400_000)
    for ts, oid in ((day + 5, 1), (day + 5, 2), (day + 9_000, 3)):
        st = OrderState("BTC", "", oid, Side.BUY, 1, 1, 1, "scheduledCancel", ts)
        tr.on_state(st)
    assert tr.deadman_triggers(day + 1) == 2  # two firings (one cancelled two orders)
    assert tr.deadman_triggers(day + 86_400_000) == 0
