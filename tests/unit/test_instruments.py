"""Exact tick/lot conversion, venue filters and notional helpers of core/instruments.py."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mmtrio.core.instruments import BTCUSDT, ETHUSDT, Instrument, instrument_for
from mmtrio.errors import (
    InstrumentError,
    MinNotionalError,
    OffGridPriceError,
    OffGridQtyError,
    PriceOutOfRangeError,
    QtyOutOfRangeError,
)
from tests.strategies import custom_instruments


@pytest.mark.parametrize(
    ("inst", "text", "ticks"),
    [
        (BTCUSDT, "61800.20", 618002),
        (BTCUSDT, "61800.2", 618002),
        (BTCUSDT, "0.10", 1),
        (ETHUSDT, "2612.37", 261237),
        (ETHUSDT, "0.01", 1),
    ],
)
def test_price_to_ticks_exact(inst: Instrument, text: str, ticks: int) -> None:
    assert inst.price_to_ticks(text) == ticks
    assert inst.price_to_ticks(Decimal(text)) == ticks


def test_price_str_prints_venue_decimals() -> None:
    # tick 0.10 prints two decimals, as Binance does
    assert BTCUSDT.price_str(618002) == "61800.20"
    assert ETHUSDT.price_str(261237) == "2612.37"
    assert BTCUSDT.ticks_to_price(618002) == Decimal("61800.20")


def test_qty_conversion_both_ways() -> None:
    assert BTCUSDT.qty_to_lots("2.507") == 2507
    assert BTCUSDT.qty_to_lots("0.000") == 0
    assert BTCUSDT.qty_str(2507) == "2.507"
    assert BTCUSDT.lots_to_qty(1) == Decimal("0.001")


@pytest.mark.parametrize("text", ["61800.25", "0.05", "61800.201"])
def test_off_grid_price_raises(text: str) -> None:
    with pytest.raises(OffGridPriceError, match="not a multiple of the tick size"):
        BTCUSDT.price_to_ticks(text)


@pytest.mark.parametrize("text", ["0.0005", "1.0001"])
def test_off_grid_qty_raises(text: str) -> None:
    with pytest.raises(OffGridQtyError, match="not a multiple of the lot step"):
        BTCUSDT.qty_to_lots(text)


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "0x10", "12,5"])
def test_garbage_strings_raise_named_error(text: str) -> None:
    with pytest.raises(InstrumentError, match="not a decimal number"):
        BTCUSDT.price_to_ticks(text)
    with pytest.raises(InstrumentError, match="not a decimal number"):
        BTCUSDT.qty_to_lots(text)


@pytest.mark.parametrize("text", ["NaN", "nan", "inf", "-Infinity", "sNaN"])
def test_non_finite_strings_raise_named_error(text: str) -> None:
    with pytest.raises(InstrumentError, match="not a finite number"):
        BTCUSDT.price_to_ticks(text)
    with pytest.raises(InstrumentError, match="not a finite number"):
        BTCUSDT.qty_to_lots(text)


@pytest.mark.parametrize("text", ["1e30", "123456789012345678901234567890.1"])
def test_huge_values_raise_named_error(text: str) -> None:
    # Regression: these used to escape as a bare decimal.InvalidOperation (DivisionImpossible).
    with pytest.raises(InstrumentError, match="too large"):
        BTCUSDT.price_to_ticks(text)
    with pytest.raises(InstrumentError, match="too large"):
        BTCUSDT.qty_to_lots(text)


def test_check_price_and_qty_ranges() -> None:
    BTCUSDT.check_price(618002)
    for bad in (0, -5, BTCUSDT.min_price_ticks - 1, BTCUSDT.max_price_ticks + 1):
        with pytest.raises(PriceOutOfRangeError):
            BTCUSDT.check_price(bad)
    BTCUSDT.check_qty(1)
    for bad_qty in (0, -1, BTCUSDT.max_qty + 1):
        with pytest.raises(QtyOutOfRangeError):
            BTCUSDT.check_qty(bad_qty)


def test_check_order_min_notional() -> None:
    # 0.002 BTC @ 61800.20 = 123.6004 USDT >= 100; 0.001 BTC = 61.8002 < 100
    BTCUSDT.check_order(618002, 2)
    with pytest.raises(MinNotionalError, match="below the minimum"):
        BTCUSDT.check_order(618002, 1)
    assert BTCUSDT.notional(618002, 2) == Decimal("123.6004")
    # exactly at the minimum passes: 0.001 BTC @ 100000.00 = 100 USDT
    BTCUSDT.check_order(1_000_000, 1)


def test_min_lots_for_notional_is_a_ceiling() -> None:
    assert BTCUSDT.min_lots_for_notional(618002) == 2  # 100 / 61.8002 = 1.6 → 2
    assert BTCUSDT.min_lots_for_notional(1_000_000) == 1  # exactly 100
    assert BTCUSDT.min_lots_for_notional(999_999) == 2  # just below → one more lot
    assert ETHUSDT.min_lots_for_notional(261237) == 8  # 20 / 2.61237 = 7.66 → 8
    with pytest.raises(PriceOutOfRangeError):
        BTCUSDT.min_lots_for_notional(0)


def test_instrument_validation() -> None:
    with pytest.raises(InstrumentError, match="tick_size"):
        Instrument("X", Decimal(0), Decimal("0.001"), 1, 10, Decimal(0))
    with pytest.raises(InstrumentError, match="min_qty"):
        Instrument("X", Decimal("0.1"), Decimal("0.001"), 0, 10, Decimal(0))
    with pytest.raises(InstrumentError, match="empty"):
        Instrument("", Decimal("0.1"), Decimal("0.001"), 1, 10, Decimal(0))
    assert instrument_for("btcusdt") is BTCUSDT
    with pytest.raises(InstrumentError, match="unknown symbol"):
        instrument_for("DOGEUSDT")


@given(inst=custom_instruments(), ticks=st.integers(min_value=-(10**12), max_value=10**12))
def test_ticks_string_roundtrip(inst: Instrument, ticks: int) -> None:
    assert inst.price_to_ticks(inst.price_str(ticks)) == ticks


@given(inst=custom_instruments(), lots=st.integers(min_value=0, max_value=10**12))
def test_lots_string_roundtrip(inst: Instrument, lots: int) -> None:
    assert inst.qty_to_lots(inst.qty_str(lots)) == lots


@given(inst=custom_instruments(), ticks=st.integers(min_value=1, max_value=10**9))
def test_min_lots_meets_notional_and_is_minimal(inst: Instrument, ticks: int) -> None:
    lots = inst.min_lots_for_notional(ticks)
    assert lots >= inst.min_qty
    assert inst.notional(ticks, lots) >= inst.min_notional
    if lots > inst.min_qty:
        assert inst.notional(ticks, lots - 1) < inst.min_notional
