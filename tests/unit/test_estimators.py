"""Estimators: known-answer tests on simulated processes, irregular sampling, warm-up, guards."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pytest

from mmtrio.core.estimators import (
    EwmaVolatility,
    FitRejected,
    IntensityEstimator,
    IntensityFit,
    NotEnoughData,
    RealizedVolatility,
    TrendEma,
    microprice,
)
from mmtrio.core.events import Side
from mmtrio.core.instruments import BTCUSDT
from mmtrio.errors import ParameterError

DATA = Path(__file__).resolve().parents[2] / "data" / "binance-usdm"
SIGMA = 0.0005  # log-return vol per sqrt(second)


def random_walk(
    rng: np.random.Generator, n: int, irregular: bool, mid0: float = 60_000.0
) -> list[tuple[float, int]]:
    """A driftless log-price random walk with known SIGMA, sampled regularly or irregularly."""
    if irregular:
        dts = np.maximum(1, rng.exponential(200.0, n).round()).astype(int)
    else:
        dts = np.full(n, 200, dtype=int)
    rets = rng.normal(0.0, 1.0, n) * SIGMA * np.sqrt(dts / 1000.0)
    logp = math.log(mid0) + np.cumsum(rets)
    ts = np.cumsum(dts)
    return [(float(math.exp(lp)), int(t)) for lp, t in zip(logp, ts, strict=True)]


# --- EWMA volatility ----------------------------------------------------------------------


@pytest.mark.parametrize("irregular", [False, True])
def test_ewma_vol_recovers_known_sigma(irregular: bool) -> None:
    est = EwmaVolatility(half_life_ms=600_000)
    path = random_walk(np.random.default_rng(7), 20_000, irregular)
    for mid, ts in path:
        est.update(mid, ts)
    sig = est.sigma(1000)
    assert isinstance(sig, float)
    assert sig == pytest.approx(SIGMA, rel=0.05)
    per_minute = est.sigma(60_000)
    assert isinstance(per_minute, float)
    assert per_minute == pytest.approx(sig * math.sqrt(60), rel=1e-12)
    price_sig = est.sigma_price(1000)
    assert isinstance(price_sig, float)
    assert price_sig == pytest.approx(sig * path[-1][0], rel=1e-12)


def test_ewma_vol_same_in_regular_and_irregular_sampling() -> None:
    # One fine path, observed on every 100 ms and on an irregular subset of those times.
    fine = random_walk(np.random.default_rng(11), 40_000, irregular=False)
    rng = np.random.default_rng(12)
    keep = rng.random(len(fine)) < 0.3
    regular, irregular = EwmaVolatility(3_600_000), EwmaVolatility(3_600_000)
    for (mid, ts), k in zip(fine, keep, strict=True):
        regular.update(mid, ts)
        if k:
            irregular.update(mid, ts)
    a, b = regular.sigma(), irregular.sigma()
    assert isinstance(a, float) and isinstance(b, float)
    assert b == pytest.approx(a, rel=0.07)


def test_ewma_vol_warmup_and_same_ms_samples() -> None:
    est = EwmaVolatility(half_life_ms=10_000, min_returns=3)
    est.update(100.0, 0)
    est.update(101.0, 1000)
    est.update(105.0, 1000)  # same ms: no zero-length return
    res = est.sigma()
    assert res == NotEnoughData("mid returns", 1, 3)
    assert [est.ready] == [False]
    assert "1 of 3" in str(res)
    est.update(103.0, 2000)  # return measured from the anchor 101
    est.update(103.0, 3000)
    assert est.ready
    var = est.variance_per_ms()
    assert isinstance(var, float)
    d = math.exp(-math.log(2) * 1000 / 10_000)
    r1, r2 = math.log(101 / 100), math.log(103 / 101)
    num = (r1 * r1 * d + r2 * r2) * d
    den = (1000 * d + 1000) * d + 1000
    assert var == pytest.approx(num / den, rel=1e-12)


def test_estimators_reject_bad_input() -> None:
    for bad in (math.nan, math.inf, -math.inf, 0.0, -1.0):
        with pytest.raises(ParameterError):
            EwmaVolatility(half_life_ms=bad)
        with pytest.raises(ParameterError):
            EwmaVolatility(1000).update(bad, 0)
        with pytest.raises(ParameterError):
            RealizedVolatility(1000).update(bad, 0)
        with pytest.raises(ParameterError):
            TrendEma(1000).update(bad, 0)
        with pytest.raises(ParameterError):
            IntensityEstimator(1000, 5, 10, fallback_a=1, fallback_k=1).on_mid(bad, 0)
    for est in (EwmaVolatility(1000), RealizedVolatility(1000), TrendEma(1000)):
        est.update(100.0, 10)
        with pytest.raises(ParameterError, match="time order"):
            est.update(100.0, 9)
    with pytest.raises(ParameterError):
        RealizedVolatility(0)
    with pytest.raises(ParameterError):
        IntensityEstimator(1000, 5, 10, fallback_a=1, fallback_k=0)
    with pytest.raises(ParameterError):
        IntensityEstimator(1000, 1, 10, fallback_a=1, fallback_k=1, depth_step_ticks=2)


# --- realised volatility ------------------------------------------------------------------


@pytest.mark.parametrize("irregular", [False, True])
def test_realized_and_bipower_recover_known_sigma(irregular: bool) -> None:
    est = RealizedVolatility(window_ms=1_000_000)
    for mid, ts in random_walk(np.random.default_rng(3), 10_000, irregular):
        est.update(mid, ts)
    rv, bv = est.sigma(1000), est.sigma_bipower(1000)
    assert isinstance(rv, float) and isinstance(bv, float)
    assert rv == pytest.approx(SIGMA, rel=0.05)
    assert bv == pytest.approx(SIGMA, rel=0.06)


def test_bipower_is_robust_to_a_jump() -> None:
    est = RealizedVolatility(window_ms=10_000_000)
    path = random_walk(np.random.default_rng(5), 5_000, irregular=False)
    for i, (mid, ts) in enumerate(path):
        # A single 2 % jump halfway (hundreds of sigmas of one 200 ms return).
        est.update(mid * (1.02 if i >= 2_500 else 1.0), ts)
    rv, bv = est.sigma(), est.sigma_bipower()
    assert isinstance(rv, float) and isinstance(bv, float)
    assert rv > 1.5 * SIGMA
    assert bv == pytest.approx(SIGMA, rel=0.08)


def test_realized_vol_warmup_and_window() -> None:
    est = RealizedVolatility(window_ms=10_000, min_returns=1)
    est.update(100.0, 0)
    est.update(101.0, 1000)
    assert est.realized_variance_per_ms() == NotEnoughData("returns in window", 1, 2)
    est.update(100.0, 2000)
    rv = est.realized_variance_per_ms()
    assert rv == pytest.approx((math.log(1.01) ** 2 + math.log(100 / 101) ** 2) / 2000)
    assert est.bipower_variance_per_ms() == NotEnoughData("returns in window", 2, 3)
    est.update(102.0, 3000)
    assert isinstance(est.bipower_variance_per_ms(), float)
    est.update(102.0, 30_000)  # every earlier return has left the 10 s window
    assert est.n_returns == 0
    assert isinstance(est.sigma(), NotEnoughData)
    bounded = RealizedVolatility(window_ms=10**9, max_returns=50)
    for i in range(200):
        bounded.update(100.0 + i % 2, i)
    assert bounded.n_returns == 50


# --- trend --------------------------------------------------------------------------------


def test_trend_ema_time_weighting_known_answer() -> None:
    ema = TrendEma(half_life_ms=10_000)
    ema.update(100.0, 0)
    assert ema.value() == NotEnoughData("ms of mid history", 0.0, 10_000.0)
    ema.update(100.0, 10_000)
    assert ema.value() == 100.0
    ema.update(200.0, 10_000)
    ema.update(200.0, 20_000)  # 200 held for one half-life: halfway from 100
    assert ema.value() == pytest.approx(150.0)


def test_trend_ema_does_not_depend_on_sampling_rate() -> None:
    sparse, dense = TrendEma(5_000), TrendEma(5_000)
    steps = [(0, 100.0), (3_000, 103.0), (7_500, 99.0), (20_000, 101.0)]
    for ts, mid in steps:
        sparse.update(mid, ts)
    # The same step function, re-sampled every 250 ms: repeated mids must not add weight.
    held = 100.0
    schedule = dict(steps)
    for ts in range(0, 20_001, 250):
        held = schedule.get(ts, held)
        dense.update(held, ts)
    a, b = sparse.value(), dense.value()
    assert isinstance(a, float) and isinstance(b, float)
    assert a == pytest.approx(b, rel=1e-12)


# --- microprice ---------------------------------------------------------------------------


def test_microprice_known_answers_and_guards() -> None:
    assert microprice(100.0, 1.0, 101.0, 1.0) == 100.5
    assert microprice(100.0, 3.0, 101.0, 1.0) == 100.75  # heavy bid leans to the ask
    assert microprice(100, 1, 101, 3) == 100.25
    for args in [(100, 0, 101, 1), (100, 1, 101, 0), (101, 1, 101, 1), (102, 1, 101, 1)]:
        with pytest.raises(ParameterError):
            microprice(*args)
    with pytest.raises(ParameterError):
        microprice(100, math.nan, 101, 1)
    # Extreme size ratios stay inside the spread.
    assert 100 <= microprice(100, 1e300, 100.5, 1e-300) <= 100.5


# --- intensity ----------------------------------------------------------------------------


def synthetic_trades(a: float, k: float, seconds: int, seed: int) -> list[tuple[int, float, Side]]:
    """Market orders arriving as Poisson(a per s), reaching an Exp(k)-distributed depth."""
    rng = np.random.default_rng(seed)
    n = rng.poisson(a * seconds)
    times = np.sort(rng.uniform(0, seconds * 1000, n)).astype(int)
    depths = rng.exponential(1.0 / k, n)
    sides = rng.random(n) < 0.5
    mid = 600_000.5
    return [
        (int(t), mid + d if buy else mid - d, Side.BUY if buy else Side.SELL)
        for t, d, buy in zip(times, depths, sides, strict=True)
    ]


def test_intensity_recovers_known_a_and_k() -> None:
    a_true, k_true = 4.0, 0.4
    est = IntensityEstimator(
        window_ms=900_000, max_depth_ticks=8, min_trades=100, fallback_a=1.0, fallback_k=1.0
    )
    est.on_mid(600_000.5, 0)
    for ts, price, side in synthetic_trades(a_true, k_true, 900, seed=42):
        est.on_mid(600_000.5, ts)
        est.on_trade(price, side, ts)
    fit = est.fit(900_000)
    assert isinstance(fit, IntensityFit)
    assert fit.a == pytest.approx(a_true, rel=0.1)
    assert fit.k == pytest.approx(k_true, rel=0.1)
    assert fit.r2 > 0.98
    assert fit.points == 9
    params = est.params(900_000)
    assert (params.source, params.a, params.k) == ("fit", fit.a, fit.k)


def test_intensity_fallback_until_warm_and_sweeps_merge() -> None:
    est = IntensityEstimator(
        window_ms=60_000, max_depth_ticks=5, min_trades=3, fallback_a=2.0, fallback_k=0.7
    )
    est.on_trade(100.0, Side.BUY, 0)  # no mid yet: not an observation
    assert est.trades_without_mid == 1
    est.on_mid(100.5, 0)
    # One sweep: three prints in the same ms on the same side is one arrival, depth 2.5.
    for px in (101.0, 102.0, 103.0):
        est.on_trade(px, Side.BUY, 1000)
    assert est.n_arrivals == 1
    p = est.params(2000)
    assert (p.source, p.a, p.k) == ("fallback", 2.0, 0.7)
    assert p.detail == NotEnoughData("arrivals in window", 1, 3)
    est.on_trade(100.0, Side.SELL, 3000)
    est.on_trade(101.0, Side.BUY, 4000)
    # Depths 2.5, 0.5, 0.5 → tails per second over 4 s: δ=0: 3, δ=1: 1, δ=2: 1.
    fit = est.fit(4000)
    assert isinstance(fit, IntensityFit)
    assert fit.n == 3 and fit.points == 3 and fit.span_ms == 4000
    xs, ys = [0.0, 1.0, 2.0], [math.log(3 / 4), math.log(1 / 4), math.log(1 / 4)]
    slope = np.polyfit(xs, ys, 1)[0]
    assert fit.k == pytest.approx(-slope)
    # Everything leaves the window: back to the fallback, with the reason.
    assert est.params(200_000).source == "fallback"


def test_intensity_rejects_a_flat_profile() -> None:
    est = IntensityEstimator(
        window_ms=60_000, max_depth_ticks=2, min_trades=2, fallback_a=2.0, fallback_k=0.7
    )
    est.on_mid(100.0, 0)
    est.on_trade(110.0, Side.BUY, 1000)
    est.on_trade(90.0, Side.SELL, 2000)
    res = est.fit(3000)
    assert isinstance(res, FitRejected)
    assert est.params().source == "fallback"


Mids = list[tuple[int, float]]
Prints = list[tuple[int, int, Side]]


def load_btc_minute(seconds: int = 60) -> tuple[Mids, Prints]:
    """Mids (bookTicker) and trades of the first ``seconds`` of the BTC recording, in ticks."""
    mids: Mids = []
    trades: Prints = []
    start: int | None = None
    with gzip.open(DATA / "btcusdt_20240808.gz", "rt") as fh:
        for line in fh:
            _, _, payload = line.partition(" ")
            msg = json.loads(payload)
            stream, data = msg.get("stream", ""), msg.get("data", {})
            if stream.endswith("@bookTicker"):
                ts = int(data["T"])
                bid, ask = BTCUSDT.price_to_ticks(data["b"]), BTCUSDT.price_to_ticks(data["a"])
                mids.append((ts, (bid + ask) / 2))
            elif stream.endswith("@trade"):
                ts = int(data["T"])
                side = Side.SELL if data["m"] else Side.BUY
                trades.append((ts, BTCUSDT.price_to_ticks(data["p"]), side))
            else:
                continue
            start = ts if start is None else start
            if ts - start > seconds * 1000:
                break
    return mids, trades


def test_intensity_fit_on_recorded_btc_minute() -> None:
    mids, trades = load_btc_minute()
    assert len(trades) > 100
    est = IntensityEstimator(
        window_ms=60_000, max_depth_ticks=20, min_trades=50, fallback_a=1.0, fallback_k=1.0
    )
    # Merge the two streams by exchange time (mids first on ties: the book before the print).
    events = sorted([(t, 0, m) for t, m in mids] + [(t, 1, (p, s)) for t, p, s in trades])
    for ts, kind, payload in events:
        if kind == 0:
            est.on_mid(payload, ts)  # type: ignore[arg-type]
        else:
            price, side = payload  # type: ignore[misc]
            est.on_trade(price, side, ts)
    fit = est.fit()
    assert isinstance(fit, IntensityFit), fit
    assert math.isfinite(fit.a) and fit.a > 0
    assert math.isfinite(fit.k) and fit.k > 0
    assert fit.n >= 50
    assert est.params().source == "fit"
