"""The user feed's translation: an order the venue calls ``filled`` ends in the core only
with its last fill, never before a fill still on its way is booked."""

from __future__ import annotations

from decimal import Decimal

from mmtrio.core.events import OrderStatus, OrderUpdate, Side, TimeInForce
from mmtrio.core.instruments import Instrument
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
