"""An order this bot did not place is named on its first user-stream update, once."""

from __future__ import annotations

from decimal import Decimal

from mmtrio.core.events import ExecType, Fill, OrderStatus, OrderUpdate, Side, TimeInForce
from mmtrio.core.foreign import MAX_REMEMBERED
from tests.unit.test_strategy import MID, SYM, Session, quoting_session


def _update(cid: str, now: int, status: OrderStatus = OrderStatus.NEW, cum: int = 0) -> OrderUpdate:
    fill = None
    exec_type = ExecType.NEW
    if cum:
        exec_type = ExecType.TRADE
        fill = Fill(
            SYM, 900 + cum, cid, 42, Side.SELL, MID + 20, cum, Decimal("0"), "USDT", True, now
        )
    return OrderUpdate(
        SYM, cid, 42, Side.SELL, exec_type, status, MID + 20, 3, cum,
        TimeInForce.GTC, False, now, fill,
    )  # fmt: skip


def _foreign_alerts(s: Session) -> list[str]:
    return [n.message for n in s.mm.drain_notices() if n.kind == "alert" and n.data.get("foreign")]


def test_a_foreign_order_is_named_at_its_first_update_and_only_then() -> None:
    s, _, _ = quoting_session()
    s.mm.drain_notices()
    s.step(_update("web_manual1", s.now))
    (alert,) = _foreign_alerts(s)
    assert "web_manual1 (venue id 42) SELL 0.003 BTC of BTCUSDT @ 60002.00, NEW" in alert
    assert "left alone" in alert and "NEW" in alert
    # its fill later: booked into the position, not named again
    s.step(_update("web_manual1", s.now, OrderStatus.FILLED, cum=3))
    assert _foreign_alerts(s) == []
    assert s.mm.ledger.position_lots == -3


def test_our_own_ids_are_never_called_foreign() -> None:
    s, bid, _ = quoting_session()
    s.mm.drain_notices()
    s.step(_update("t1-999", s.now))  # ours (an id the tracker no longer knows)
    s.step(_update(bid.client_id, s.now))  # ours, tracked
    s.step(_update("", s.now, OrderStatus.FILLED, cum=1))  # a listed fill without its id
    assert _foreign_alerts(s) == []


def test_the_memory_of_named_orders_is_bounded() -> None:
    s, _, _ = quoting_session()
    for i in range(MAX_REMEMBERED + 5):
        s.mm.foreign.first_seen(_update(f"web_{i}", s.now))
    assert len(s.mm.foreign._named) == MAX_REMEMBERED
    assert s.mm.foreign.first_seen(_update("web_0", s.now)) is not None  # forgotten: again


def test_a_contract_venue_s_foreign_order_is_sized_in_the_base_asset() -> None:
    """QA (OKX testnet mode): a foreign 1-contract order (0.01 BTC) was named as
    `BUY 1.0 BTC-USDT-SWAP`, in contracts; sizes in the logs are in the base asset."""
    from dataclasses import replace as _replace

    from mmtrio.core.client_ids import ClientIdGenerator
    from mmtrio.core.foreign import ForeignOrders
    from mmtrio.core.instruments import BTCUSDT
    from mmtrio.venues.binance.client_ids import client_id_format

    swap = _replace(
        BTCUSDT, symbol="BTC-USDT-SWAP", lot_size=Decimal("0.1"), contract_size=Decimal("0.01")
    )
    names = ForeignOrders(ClientIdGenerator(client_id_format("t"), 1), swap)
    upd = _update("foreign1", 1)
    alert = names.first_seen(_replace(upd, symbol="BTC-USDT-SWAP", qty=10))  # 1.0 contract
    assert alert is not None and "BUY" not in alert  # the update is a SELL
    assert "SELL 0.010 BTC of BTC-USDT-SWAP @" in alert, alert
