"""Hyperliquid's tick is the venue's price step at the price level, not its finest step.

The venue accepts at most 5 significant figures and at most ``6 − szDecimals`` decimals
(any whole number too): near 28,000 the step is 1, not 0.001, and every tick-based setting
of the core counts the instrument's tick (QA: ``min_half_spread_ticks = 16`` meant 0.016
USDC, the quotes sat at the touch). Expectations are computed by hand from that rule.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmtrio.core.events import Fill, Side
from mmtrio.errors import ProtocolError
from mmtrio.reporting.journal_read import connect_readonly, read_report_input
from mmtrio.runtime import journal_schema as js
from mmtrio.runtime.journal import Journal
from mmtrio.runtime.journal_view import read_journal
from mmtrio.venues.hyperliquid.codec_info import asset_at_price, instrument_of, parse_fill
from mmtrio.venues.hyperliquid.codec_market import parse_l2book
from mmtrio.venues.hyperliquid.price_grid import TickDrift, reference_price, tick_at

D = Decimal


@pytest.mark.parametrize(
    ("price", "sz", "tick"),
    [
        ("28150", 5, "1"),  # 5 figures reach the units: 28150 — and 0.1 (6 − 5 decimals) is finer
        ("28150", 3, "1"),  # the shipped recording's lot (0.001): not 0.001
        ("3012.3", 4, "0.1"),  # ETH: 3012.3 has its 5 figures at the first decimal
        ("999.99", 4, "0.01"),
        ("1000", 4, "0.1"),  # one more digit left of the point, one fewer after it
        ("0.5123", 2, "0.0001"),  # 5 figures would be 0.00001: capped by 6 − 2 = 4 decimals
        ("0.5123", 0, "0.00001"),  # with szDecimals 0 the 5 figures are the limit
        ("0.0000123", 0, "0.000001"),  # kPEPE-like: the 6-decimal cap
        ("99999", 5, "1"),
        ("123456", 5, "1"),  # 5 figures would say 10: any whole number is valid
        ("9999.9", 6, "1"),  # szDecimals 6: no decimals at all
    ],
)
def test_the_tick_is_the_venues_step_at_the_price(price: str, sz: int, tick: str) -> None:
    assert tick_at(D(price), sz) == D(tick)
    inst = instrument_of("X", sz, D(price))
    assert inst.tick_size == D(tick) and inst.sig_figs == 5
    assert inst.lot_size == D(1).scaleb(-sz)


def test_without_a_price_the_tick_is_the_finest_step() -> None:
    assert instrument_of("BTC", 5).tick_size == D("0.1")
    assert instrument_of("kPEPE", 0).tick_size == D("0.000001")
    with pytest.raises(ProtocolError):
        tick_at(D(0), 3)


@settings(max_examples=300, deadline=None)
@given(sz=st.integers(0, 6), digits=st.integers(1, 10**9), exp=st.integers(-12, 3))
def test_every_tick_multiple_is_a_valid_price_and_the_tick_is_the_smallest(
    sz: int, digits: int, exp: int
) -> None:
    """At the price it was derived from, the tick is the venue's step: the tick multiples at
    and just below it are valid (≤ 5 figures and ≤ 6 − sz decimals, or whole), a tenth of a
    tick more is not. (Rounding *up* may reach the next power of ten, where the step is 10×:
    the decade crossing price_grid.py handles.)"""
    price = D(digits).scaleb(exp)
    tick = tick_at(price, sz)
    near = (price / tick).to_integral_value(rounding=ROUND_FLOOR) * tick
    for p in (near, near - tick):
        if p > 0 and p != p.to_integral_value():
            t = p.normalize().as_tuple()
            assert len(t.digits) <= 5 and -int(t.exponent) <= 6 - sz, (price, tick, p)
    if tick < 1:  # whole numbers are always valid: only a tick below 1 can be too fine
        finer = near + tick / 10
        t = finer.normalize().as_tuple()
        assert len(t.digits) > 5 or -int(t.exponent) > 6 - sz, (price, tick, finer)


def test_the_start_reads_the_tick_from_the_mid_of_meta_and_asset_ctxs() -> None:
    meta = {"universe": [{"name": "ETH", "szDecimals": 4}, {"name": "BTC", "szDecimals": 5}]}
    body = [meta, [{"midPx": "3012.35", "markPx": "3012.3"}, {"midPx": None, "markPx": "28150"}]]
    eth, price = asset_at_price(body, "ETH")
    assert price == D("3012.35") and eth.instrument.tick_size == D("0.1") and eth.index == 0
    btc, price = asset_at_price(body, "BTC")  # no mid: the mark
    assert price == D("28150") and btc.instrument.tick_size == D(1) and btc.sz_decimals == 5
    assert reference_price({"midPx": "x", "markPx": "-1"}) is None
    with pytest.raises(ProtocolError, match="neither a midPx nor a markPx"):
        asset_at_price([meta, [{}, {}]], "BTC")
    with pytest.raises(ProtocolError, match="metaAndAssetCtxs"):
        asset_at_price(meta, "BTC")


BTC_AT_28K = instrument_of("BTC", 5, D("28150"))  # tick 1, finest step 0.1


def test_venue_prices_finer_than_the_tick_round_onto_it() -> None:
    """Below 10,000 (a price fallen through a power of ten) the venue's book is on 0.1: its
    levels round outward and levels that meet are summed; a price off the venue's finest
    step is still malformed."""
    lv = [
        [{"px": "9999.7", "sz": "1", "n": 1}, {"px": "9999.2", "sz": "2", "n": 1},
         {"px": "9998", "sz": "4", "n": 1}],
        [{"px": "10000.4", "sz": "1", "n": 1}, {"px": "10001", "sz": "3", "n": 1}],
    ]  # fmt: skip
    snap = parse_l2book({"coin": "BTC", "time": 1, "levels": lv}, BTC_AT_28K)
    assert snap.bids == ((9999, 300000), (9998, 400000))  # down, summed
    assert snap.asks == ((10001, 400000),)  # up, summed
    row = {"coin": "BTC", "px": "28150.6", "sz": "0.001", "side": "B", "time": 1_750_000_000_000,
           "oid": 1, "tid": 2, "crossed": True, "fee": "0.01", "feeToken": "USDC"}  # fmt: skip
    assert parse_fill(row, BTC_AT_28K).price == 28151  # nearest
    with pytest.raises(ProtocolError):
        parse_fill({**row, "px": "28150.65"}, BTC_AT_28K)  # off the 0.1 step: malformed
    assert BTC_AT_28K.price_str(28150) == "28150"  # the display follows the tick


def test_crossing_a_power_of_ten_warns_once_each_way() -> None:
    drift = TickDrift(D(1), 3)  # tick derived near 28,000
    assert drift.observe(28150, 28151) is None
    assert drift.observe(10010, 10011) is None  # inside 0.5 % of 10,000: no flapping
    warning = drift.observe(9900, 9901)
    assert warning is not None and "step is now 0.1" in warning and "10× more" in warning
    assert drift.observe(9800, 9801) is None  # said once
    back = drift.observe(10100, 10101)
    assert back is not None and "back" in back
    up = TickDrift(D("0.1"), 3)  # derived near 9,000 (90,000 ticks of 0.1)
    warning = up.observe(100_600, 100_610)  # 10,060.5
    assert warning is not None and "step is now 1" in warning and "10× less" in warning


def test_a_restart_reads_fills_journaled_in_another_tick(tmp_path: Path) -> None:
    """A journal written with tick 0.001 (the old finest tick, or before a decade crossing)
    is rebuilt in this start's tick: 28150.000 is 28150 ticks of 1, not 28,150,000."""
    old = instrument_of("BTC", 3)  # tick 0.001
    new = instrument_of("BTC", 3, D("28150"))  # tick 1
    fill = Fill("BTC", 7, "c", 1, Side.BUY, 28_150_000, 2, D("0.01"), "USDC", True, 1)
    journal = Journal.open(tmp_path)
    try:
        journal.write_batch(
            [
                js.instrument_record(old, 1),
                js.fill(fill, 2, bid=28_149_600, ask=28_150_400),
                js.instrument_record(new, 3),
            ]
        )
    finally:
        journal.close()
    view = read_journal(tmp_path / "journal.sqlite3", new)
    ((booked, mid),) = view.fills
    assert booked.price == 28150 and mid == D(28150)


def test_a_report_over_two_sessions_reads_each_fill_in_its_tick(tmp_path: Path) -> None:
    old = instrument_of("BTC", 3)  # tick 0.001
    new = instrument_of("BTC", 3, D("28150"))  # tick 1
    first = Fill("BTC", 7, "c", 1, Side.BUY, 28_150_000, 2, D("0.01"), "USDC", True, 1)
    second = Fill("BTC", 8, "c", 2, Side.SELL, 28_170, 2, D("0.01"), "USDC", True, 5)
    journal = Journal.open(tmp_path)
    try:
        journal.write_batch(
            [
                js.instrument_record(old, 1),
                js.fill(first, 2, bid=28_149_000, ask=28_151_000),
                js.instrument_record(new, 3),
                js.fill(second, 4, bid=28_169, ask=28_171),
            ]
        )
    finally:
        journal.close()
    conn = connect_readonly(tmp_path / "journal.sqlite3")
    try:
        report = read_report_input(conn, "BTC", 0)
    finally:
        conn.close()
    assert report.instrument.tick_size == 1
    assert [f.price for f in report.fills] == [28150, 28170]
    assert [(m.bid, m.ask) for m in report.mids] == [(28149, 28151), (28169, 28171)]
