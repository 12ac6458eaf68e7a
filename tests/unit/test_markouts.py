"""Markouts: hand-computed completions at the mid prevailing at fill time + horizon."""

from __future__ import annotations

import math

import pytest

from mmtrio.core.events import Side
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.markouts import MarkoutTracker
from mmtrio.errors import ParameterError


def test_markouts_use_mid_prevailing_at_horizon() -> None:
    mt = MarkoutTracker(BTCUSDT, horizons_ms=(1000, 5000))
    mt.on_mid(600_000.5, 0)
    mt.on_fill(Side.BUY, 600_000, 2, ts=0)
    mt.on_fill(Side.SELL, 600_001, 1, ts=0)
    assert mt.pending == 4
    assert mt.on_mid(600_001.0, 500) == 0
    # Due at 1000: the first mid after it (1500) is too late; the one prevailing at 1000 is 600001.
    assert mt.on_mid(600_004.0, 1500) == 2
    assert mt.on_mid(599_999.0, 5000) == 2  # exactly on time: this mid
    assert mt.pending == 0
    s = mt.summary()
    assert s["BUY"][1000]["count"] == 1
    assert s["BUY"][1000]["mean_ticks"] == 1.0
    assert s["SELL"][1000]["mean_ticks"] == 0.0
    assert s["BUY"][5000]["mean_ticks"] == -1.0
    assert s["SELL"][5000]["mean_ticks"] == 2.0
    assert s["BUY"][5000]["mean_bps"] == pytest.approx(-1 / 600_000 * 1e4)
    # ALL, qty-weighted: (−1·2 + 2·1)/3 = 0; per fill mean (−1 + 2)/2 = 0.5.
    assert s["ALL"][5000]["weighted_ticks"] == 0.0
    assert s["ALL"][5000]["mean_ticks"] == 0.5
    # P&L in USDT: ticks·0.1·lots·0.001 → at 1000 ms: (1·2 + 0·1)·0.0001.
    assert s["ALL"][1000]["pnl_quote"] == pytest.approx(0.0002)


def test_empty_cells_are_nan_not_zero() -> None:
    s = MarkoutTracker(BTCUSDT).summary()
    assert set(s) == {"BUY", "SELL", "ALL"}
    assert set(s["BUY"]) == {1000, 5000, 30000, 60000}
    assert s["SELL"][60000]["count"] == 0
    assert math.isnan(s["SELL"][60000]["mean_ticks"])


def test_memory_is_bounded() -> None:
    mt = MarkoutTracker(BTCUSDT, horizons_ms=(1000, 2000), capacity=10)
    for i in range(100):
        mt.on_fill(Side.BUY, 1000, 1, ts=i)
    assert mt.pending == 10
    assert mt.dropped == 190
    mt.on_mid(1001.0, 10_000)
    assert mt.summary()["BUY"][2000]["count"] == 10  # the latest-due ones survived
    assert mt.summary()["BUY"][2000]["mean_ticks"] == 1.0


def test_bad_inputs() -> None:
    with pytest.raises(ParameterError):
        MarkoutTracker(BTCUSDT, horizons_ms=())
    with pytest.raises(ParameterError):
        MarkoutTracker(BTCUSDT, horizons_ms=(1000, 1000))
    with pytest.raises(ParameterError):
        MarkoutTracker(BTCUSDT, capacity=0)
    mt = MarkoutTracker(BTCUSDT)
    with pytest.raises(ParameterError):
        mt.on_fill(Side.BUY, 0, 1, ts=0)
    with pytest.raises(ParameterError):
        mt.on_fill(Side.BUY, 100, -1, ts=0)
    for bad in (math.nan, math.inf, 0.0, -5.0):
        with pytest.raises(ParameterError):
            mt.on_mid(bad, 0)
    mt.on_mid(100.0, 10)
    with pytest.raises(ParameterError, match="time order"):
        mt.on_mid(100.0, 9)


def test_listener_hears_each_completed_markout_as_the_report_counts_it() -> None:
    mt = MarkoutTracker(BTCUSDT, horizons_ms=(1000, 5000))
    heard: list[tuple[Side, int, float, int]] = []
    mt.listener = lambda side, h, ticks, ts: heard.append((side, h, ticks, ts))
    mt.on_mid(600_000.0, 0)
    mt.on_fill(Side.SELL, 600_002, 1, 0)
    mt.on_mid(600_010.0, 1_000)  # the sell was run over: -8 ticks at 1 s
    assert heard == [(Side.SELL, 1000, -8.0, 1_000)]
    mt.on_mid(599_990.0, 5_000)
    assert heard[-1] == (Side.SELL, 5000, 12.0, 5_000)
    assert mt.summary()["SELL"][1000]["mean_ticks"] == -8.0  # the same figure
