"""The user feed's translation: an order the venue calls ``filled`` ends in the core only
with its last fill, never before a fill still on its way is booked."""

from __future__ import annotations

from decimal import Decimal

import trio
import trio.testing

from mmtrio.core.events import OrderStatus, OrderUpdate, Side, TimeInForce
from mmtrio.core.instruments import Instrument
from mmtrio.errors import RateLimited
from mmtrio.venues.hyperliquid.tracking import OrderTracking
from mmtrio.venues.hyperliquid.userstream import UserStream

INST = Instrument(
    "BTC", Decimal("0.1"), Decimal("0.001"), 1, 10**6, Decimal(10), quote_asset="USDC", sig_figs=5
)
CLOID = "0x" + "ab" * 16


def order_row(status: str, remaining: str) -> dict[str, object]:
    order = {"coin": "BTC", "side": "B", "limitPx": "60000", "sz": remaining, "oid": 7,
             "timestamp": 1, "origSz": "0.002", "cloid": CLOID}  # fmt: skip
    return {"order": order, "status": status, "statusTimestamp": 2}


def fill_row(tid: int) -> dict[str, object]:
    return {"coin": "BTC", "px": "60000", "sz": "0.001", "side": "B", "oid": 7,
            "time": 1_750_000_000_000, "crossed": False, "fee": "0.01", "feeToken": "USDC",
            "tid": tid, "hash": "0x",
            "startPosition": "0", "dir": "Open Long", "closedPnl": "0", "cloid": CLOID}  # fmt: skip


def test_filled_waits_for_its_fills() -> None:
    tracking = OrderTracking()
    tracking.placed(CLOID, Side.BUY, 600000, 2, TimeInForce.POST_ONLY, False)
    tracking.acked(CLOID, 7)
    us = UserStream("ws://127.0.0.1:1/ws", "0x" + "11" * 20, INST, tracking, clock_ms=lambda: 0)
    # 'filled' ahead of userFills: nothing for the core yet (the order still counts as open).
    assert us._on_order_updates([order_row("filled", "0.0")]) == []
    first = us._on_fills([fill_row(1)])
    assert [(u.status, u.fill is not None) for u in first if isinstance(u, OrderUpdate)] == [
        (OrderStatus.PARTIALLY_FILLED, True)
    ]
    last = us._on_fills([fill_row(2)])
    assert [(u.status, u.cum_qty) for u in last if isinstance(u, OrderUpdate)] == [
        (OrderStatus.FILLED, 2)
    ]
    # Once its fills are in, a 'filled' state is news the core may have (a duplicate, here).
    (again,) = us._on_order_updates([order_row("filled", "0.0")])
    assert isinstance(again, OrderUpdate) and again.status is OrderStatus.FILLED


def test_a_late_429_to_a_post_given_up_on_still_starts_the_back_off() -> None:
    # Hyperliquid chaos seed 20201: a refresh's 429 arrived after the post had timed out;
    # it was dropped as a late answer, the next refresh went out inside the back-off the venue
    # had stated, and the venue banned the bot (418).
    us = UserStream("ws://127.0.0.1:1/ws", "0x" + "11" * 20, INST, OrderTracking(),
                    clock_ms=lambda: 0)  # fmt: skip
    told: list[RateLimited] = []
    us.on_limit = told.append
    late_429 = {"id": 41, "response": {"type": "error",
                "payload": "Too many requests: injected. Retry after 2 s."}}  # fmt: skip
    us._on_post(late_429)  # nobody waits for id 41 any more
    assert us.skipped["late post answer"] == 1
    assert [t.retry_after_s for t in told] == [2.0]
    late_other = {"id": 42, "response": {"type": "error", "payload": "Order must have..."}}
    us._on_post(late_other)  # a late answer of another kind sets no back-off
    assert us.skipped["late post answer"] == 2 and len(told) == 1


class _SentFrames:
    """Stands in for the websocket: keeps what is sent, never answers."""

    def __init__(self) -> None:
        self.frames: list[str] = []

    async def send_message(self, text: str) -> None:
        self.frames.append(text)


async def test_a_post_its_caller_gives_up_on_leaves_no_waiter_so_its_late_429_binds(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Hyperliquid chaos seed 20201: the dead-man's attempt (0.5 s) was cancelled around a post
    # (5 s timeout). Its waiter stayed behind, so the venue's late 429 found it and was read
    # as an answer nobody used: the back-off went unheeded and the next refresh drew a ban.
    us = UserStream("ws://127.0.0.1:1/ws", "0x" + "11" * 20, INST, OrderTracking(),
                    clock_ms=lambda: 0)  # fmt: skip
    us._ws = _SentFrames()  # type: ignore[assignment]
    told: list[RateLimited] = []
    us.on_limit = told.append
    with trio.move_on_after(0.5):  # the caller's own bound, shorter than the post's
        await us.post("action", {"action": {"type": "scheduleCancel"}})
    assert us._pending == {}
    us._on_post({"id": 1, "response": {"type": "error",
                 "payload": "Too many requests: injected. Retry after 2 s."}})  # fmt: skip
    assert [t.retry_after_s for t in told] == [2.0]
