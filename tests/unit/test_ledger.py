"""Ledger: hand-computed examples of position, entry, P&L, fees, funding and attribution."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mmtrio.core.events import Fill, Side
from mmtrio.core.instruments import BTCUSDT, ETHUSDT
from mmtrio.core.ledger import Ledger, LedgerSnapshot
from mmtrio.core.trade_dedupe import TradeIdDedupe
from mmtrio.errors import InstrumentError, ParameterError

D = Decimal


def fill(
    trade_id: int,
    side: Side,
    price: str,
    qty: str,
    fee: str = "0",
    fee_asset: str = "USDT",
    symbol: str = "BTCUSDT",
) -> Fill:
    return Fill(
        symbol=symbol,
        trade_id=trade_id,
        client_id=f"c{trade_id}",
        order_id=trade_id,
        side=side,
        price=BTCUSDT.price_to_ticks(price),
        qty=BTCUSDT.qty_to_lots(qty),
        fee=D(fee),
        fee_asset=fee_asset,
        is_maker=True,
        ts=trade_id,
    )


def attribution_sum(s: LedgerSnapshot) -> Decimal:
    return sum(s.attribution.values(), D(0))


def test_build_reduce_flip_hand_computed() -> None:
    led = Ledger(BTCUSDT)
    assert led.on_fill(fill(1, Side.BUY, "60000.0", "1", fee="0.024"), D("60000.05"))
    s = led.snapshot()
    assert (s.position_lots, s.entry_price, s.cash) == (1000, D("60000.0"), D("-60000"))
    assert s.mark_source == "last_fill"
    assert s.unrealised == 0

    assert led.on_fill(fill(2, Side.BUY, "60010.0", "1", fee="-0.012"), D("60010.1"))
    assert led.entry_price == D("60005")
    assert led.position_lots == 2000

    # Sell 3 BTC: closes 2 at +15 each (realised 30), opens a 1 BTC short at 60020.
    assert led.on_fill(fill(3, Side.SELL, "60020.0", "3", fee="0.036"), D("60019.9"))
    assert led.position_lots == -1000
    assert led.entry_price == D("60020.0")
    assert led.realised == D("30")
    assert led.cash == D("60050")

    led.mark(D("60000"))
    led.on_funding(D("1.5"), ts=10)
    s = led.snapshot()
    assert s.mark_source == "mark"
    assert s.unrealised == D("20")  # short 1 BTC from 60020, marked at 60000
    assert s.cash + s.position_qty * D("60000") == s.realised + s.unrealised
    assert s.fees == D("0.048")
    assert s.funding == D("1.5")
    assert s.equity == D("51.452") == led.equity()
    assert s.trading_pnl == D("50")
    # Spread capture: 0.05 + 0.1 + 3·(60020 − 60019.9) = 0.45.
    assert s.spread_capture == D("0.45")
    assert s.inventory_pnl == D("49.55")
    assert attribution_sum(s) == s.equity
    assert s.attribution["fees"] == D("-0.048")
    assert (s.fills, s.volume_lots, s.maker_volume_lots) == (3, 5000, 5000)


def test_reduce_to_exactly_flat_resets_entry() -> None:
    led = Ledger(BTCUSDT)
    led.on_fill(fill(1, Side.SELL, "100.0", "0.5"), None)
    led.on_fill(fill(2, Side.BUY, "90.0", "0.5"), None)
    assert led.position_lots == 0
    assert led.entry_price == 0
    assert led.realised == D("5")  # short 0.5 from 100, covered at 90
    assert led.cash == led.realised
    assert led.snapshot().fills_without_mid == 2
    assert led.snapshot().spread_capture == 0


def test_average_entry_rounding_residual_keeps_identity_exact() -> None:
    led = Ledger(BTCUSDT)
    led.on_fill(fill(1, Side.BUY, "100.0", "0.001"), None)
    led.on_fill(fill(2, Side.BUY, "100.1", "0.002"), None)
    # (0.1 + 0.2002) / 0.003 = 100.0666…, kept to 8 digits below the tick.
    assert led.entry_price == D("100.0666666667")
    assert led.realised == D("0.003") * D("100.0666666667") - D("0.3002")
    for mark in ("99.9", "100.0666", "123.4"):
        led.mark(D(mark))
        s = led.snapshot()
        assert s.realised + s.unrealised == s.cash + s.position_qty * D(mark)
    # Once flat, realised is exactly the cash flow: 0.303 − 0.1 − 0.2002, residual included.
    led.on_fill(fill(3, Side.SELL, "101.0", "0.003"), None)
    assert led.position_lots == 0
    assert led.realised == led.cash == D("0.0028")


def test_duplicate_trade_id_is_booked_once() -> None:
    led = Ledger(BTCUSDT)
    f = fill(7, Side.BUY, "100.0", "1", fee="0.01")
    assert led.on_fill(f, D("100.05")) is True
    before = led.snapshot()
    assert led.on_fill(f, D("100.05")) is False
    after = led.snapshot()
    assert after.duplicate_fills == 1
    assert (after.position_lots, after.cash, after.fees, after.spread_capture) == (
        before.position_lots,
        before.cash,
        before.fees,
        before.spread_capture,
    )


def test_dedupe_is_bounded_and_uses_watermark() -> None:
    d = TradeIdDedupe(capacity=3)
    assert [d.is_new(i) for i in (1, 2, 3, 4)] == [True] * 4
    assert len(d) == 3
    assert d.watermark == 1
    assert d.is_new(1) is False  # evicted, but below the watermark: still known-seen
    assert d.is_new(0) is False
    assert d.below_watermark == 2
    assert d.is_new(3) is False
    assert d.duplicates == 1
    assert d.is_new(5) is True
    for i in range(6, 1000):
        d.is_new(i)
    assert len(d) == 3


def test_fee_in_other_asset_is_kept_apart_from_equity() -> None:
    led = Ledger(BTCUSDT)
    led.on_fill(fill(1, Side.BUY, "100.0", "1", fee="0.0002", fee_asset="BNB"), None)
    s = led.snapshot()
    assert s.fees == 0
    assert s.other_asset_fees == (("BNB", D("0.0002")),)
    assert s.equity == 0


def test_set_position_records_adjustment_and_reconciliation_pnl() -> None:
    led = Ledger(BTCUSDT)
    led.on_fill(fill(1, Side.BUY, "100.0", "1"), D("100.0"))
    led.on_fill(fill(2, Side.SELL, "110.0", "0.5"), D("110.0"))
    led.mark(D("120"))
    assert led.realised == D("5")
    assert led.equity() == D("15")  # 5 realised + 0.5·(120 − 100)
    # The venue says we are long 0.7 at 101 (a 0.2 buy at 105 was missed, say).
    adj = led.set_position(700, D("101"), ts=99)
    assert (adj.lots_before, adj.entry_before, adj.lots_after, adj.entry_after) == (
        500,
        D("100.0"),
        700,
        D("101"),
    )
    assert adj.equity_effect == D("0.7") * D("19") - D("10")
    assert led.realised == D("5")  # realised untouched
    s = led.snapshot()
    assert s.reconciliation_pnl == adj.equity_effect
    assert s.equity == D("5") + D("0.7") * D("19")
    assert attribution_sum(s) == s.equity
    assert s.realised + s.unrealised == s.cash + s.position_qty * D("120")
    assert list(led.adjustments) == [adj]
    # Flat at the venue: entry is ignored and becomes 0.
    led.set_position(0, D("0"))
    assert (led.position_lots, led.entry_price, led.unrealised()) == (0, D(0), D(0))
    assert attribution_sum(led.snapshot()) == led.equity() == D("5")


def test_bad_inputs_raise_named_errors() -> None:
    led = Ledger(BTCUSDT)
    eth = Fill("ETHUSDT", 1, "c", 1, Side.BUY, 100, 1, D(0), "USDT", True, 1)
    with pytest.raises(InstrumentError, match="ETHUSDT"):
        led.on_fill(eth, None)
    bad_qty = Fill("BTCUSDT", 1, "c", 1, Side.BUY, 100, 0, D(0), "USDT", True, 1)
    with pytest.raises(ParameterError, match="positive"):
        led.on_fill(bad_qty, None)
    with pytest.raises(ParameterError):
        led.on_fill(fill(2, Side.BUY, "1.0", "1", fee="NaN"), None)
    with pytest.raises(ParameterError):
        led.on_fill(fill(3, Side.BUY, "1.0", "1"), D("-1"))
    with pytest.raises(ParameterError):
        led.mark(D("0"))
    with pytest.raises(ParameterError):
        led.on_funding(D("Infinity"), ts=1)
    with pytest.raises(ParameterError):
        led.set_position(5, D("0"))
    with pytest.raises(ParameterError):
        Ledger(ETHUSDT, dedupe_capacity=0)
    # Nothing was booked by the rejected calls, and the rejected ids are not burnt.
    assert led.snapshot().fills == 0
    assert led.on_fill(fill(2, Side.BUY, "1.0", "1"), None) is True
