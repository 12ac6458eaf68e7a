"""The sweep mode: the GLFT quoting model itself compiled, for parameter grids.

Calibration runs hundreds of parameter sets over many recordings; the exact engine calls the
live strategy in Python at every decision point, which is what makes it exact and what makes
it slow. This mode compiles a *model* of that strategy (the way hftbacktest's accelerated mode
precomputes fill conditions) and runs it entirely in numba on the compiled core's matching
kernels (:mod:`mmtrio.backtest.compiled.matching`), so a parameter set costs about as much as
replaying the data.

The model keeps the strategy's formulas (GLFT closed form, inventory skew, half-spread clamp,
microprice reference, post-only safety, levels and spacing, the position limit counted at the
worst case with the hard band quoting only the reducing side, EWMA volatility of the mid by
time with its fallback, the A·e^(−kδ) tail-count fit over the intensity window refreshed every
second with its fallback and its r² gate) and simplifies what makes the exact engine exact:

- it decides every ``quoting.requote_interval_ms`` on the venue's book, without feed latency
  and without the burst cadence; requests reach the venue ``order_latency_ms`` later (no
  jitter), our fills are known at once;
- a level is amended (or cancelled and placed again) when its price moved by more than the
  reprice tolerance; sizes are the base size times the level multiplier, reduced on the side
  that grows inventory;
- no risk states besides the position limit (no drawdown halt, no stale-book or feed-latency
  guard, no order-rate limit), no funding, no post-only widening after rejects;
- no defence (:mod:`mmtrio.core.defence`: neither the markout widening nor the volatility
  regime): ``mmtrio calibrate`` ranks its grid here and measures the chosen point, with the
  defence, on the exact engine.

Its error against the exact engine is measured, per parameter set, on held-out recordings by
``benchmarks/backtest_throughput.py`` (and shown by ``--sweep-mode fast`` users there): use it
to rank and prune a grid, then confirm the short list with the exact engine.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mmtrio.backtest.compiled import slots as sl
from mmtrio.backtest.compiled.book import side_clear, side_load
from mmtrio.backtest.compiled.jit import jit
from mmtrio.backtest.compiled.matching import (
    amend,
    cancel,
    fill_crossed,
    on_levels,
    on_snapshot_orders,
    on_trade,
    place,
)
from mmtrio.backtest.feed import Source
from mmtrio.backtest.settings import BacktestResult, BacktestSettings
from mmtrio.core.events import Fill, Side
from mmtrio.core.quote_params import QuoteModel
from mmtrio.core.strategy import INTENSITY_MAX_DEPTH_TICKS, INTENSITY_REFRESH_MS
from mmtrio.core.strategy_config import StrategyConfig
from mmtrio.errors import ParameterError
from mmtrio.reporting.pnl import MidSample, OrderCounts, ReportInput

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

# parameter vector P[...]
P_GAMMA, P_BASE, P_MAXINV, P_LEVELS, P_SPACING, P_SIZEMUL, P_INVRED, P_SKEW = range(8)
P_MINHALF, P_MAXHALF, P_SAFETY, P_MICRO, P_MAXPOS, P_HARD, P_REQUOTE, P_VOL_HL = range(8, 16)
P_VOL_MIN, P_SIGMA_FB, P_INT_WIN, P_INT_MIN, P_FB_A, P_FB_K, P_LAT, P_TOL = range(16, 24)
P_AMEND, P_MIDEVERY, P_MAXDEPTH, P_REFRESH, P_MINR2 = range(24, 29)
P_SIZE = 32
# stats T[...]
T_PLACE, T_AMEND, T_CANCEL, T_FILLS, T_MIDS, T_DECISIONS, T_EVENTS = range(7)
ARRIVALS = 200_000
FILL_CAP = 1 << 20


@jit
def _fit(
    arr_ts: F64, arr_d: F64, head: int, tail: int, now: float, window: float, p: F64
) -> tuple[float, float]:
    """(A, k) from the arrivals in (now - window, now], else the fallback (as the core's
    IntensityEstimator: tail counts per depth threshold, least squares of their logs)."""
    maxd = p[P_MAXDEPTH]
    steps = int(math.floor(maxd + 1e-9))
    counts = np.zeros(steps + 2, np.float64)
    n = 0
    first = -1.0
    for j in range(head, tail):
        i = j % ARRIVALS
        if arr_ts[i] <= now - window:
            continue
        if first < 0:
            first = arr_ts[i]
        n += 1
        d = arr_d[i]
        # tail(δ) counts depths >= δ - 1e-9: bucket = how many thresholds this depth reaches
        b = int(math.floor(d + 1e-9)) + 1
        if b > steps + 1:
            b = steps + 1
        counts[b - 1] += 1.0
    if n < p[P_INT_MIN]:
        return p[P_FB_A], p[P_FB_K]
    span = min(window, now - first) if first >= 0 else 0.0
    if span <= 0:
        return p[P_FB_A], p[P_FB_K]
    seconds = span / 1000.0
    xs = np.zeros(steps + 1, np.float64)
    ys = np.zeros(steps + 1, np.float64)
    m = 0
    tail_n = float(n)
    for i in range(steps + 1):
        if tail_n <= 0:
            break
        xs[m] = float(i)
        ys[m] = math.log(tail_n / seconds)
        m += 1
        tail_n -= counts[i]
    if m < 2:
        return p[P_FB_A], p[P_FB_K]
    mx = xs[:m].mean()
    my = ys[:m].mean()
    sxx = ((xs[:m] - mx) ** 2).sum()
    sxy = ((xs[:m] - mx) * (ys[:m] - my)).sum()
    slope = sxy / sxx
    if not -slope > 0:
        return p[P_FB_A], p[P_FB_K]
    syy = ((ys[:m] - my) ** 2).sum()
    r2 = 1.0 if syy == 0 else (sxy * sxy) / (sxx * syy)
    if r2 < p[P_MINR2]:  # core.fit_gate: a poor fit quotes on the fallback
        return p[P_FB_A], p[P_FB_K]
    return math.exp(my - slope * mx), -slope


@jit
def _glft(q: float, gamma: float, sigma: float, k: float, a: float) -> tuple[float, float]:
    base = math.log1p(gamma / k) / gamma
    if sigma <= 0:
        c = 0.0
    else:
        log_c2 = (
            2.0 * math.log(sigma)
            + math.log(gamma)
            - math.log(2.0 * k)
            - math.log(a)
            + (1.0 + k / gamma) * math.log1p(gamma / k)
        )
        c = math.exp(0.5 * log_c2)
    return base + (2.0 * q + 1.0) / 2.0 * c, base - (2.0 * q - 1.0) / 2.0 * c


@jit
def _queue_cmd(cq: I64, ctail: int, t: int, op: int, slot: int, px: int, qty: int) -> int:
    i = ctail % cq.shape[0]
    cq[i, 0], cq[i, 1], cq[i, 2], cq[i, 3], cq[i, 4] = t, op, slot, px, qty
    return ctail + 1


@jit
def _collect(s: I64, u: I64, fills: I64, stats: I64) -> None:
    for r in range(s[sl.S_NUPD]):
        if u[r, sl.U_EXEC] == sl.X_TRADE:
            k = stats[T_FILLS]
            if k < fills.shape[0]:
                fills[k, 0] = u[r, sl.U_TS]
                fills[k, 1] = u[r, sl.U_SLOT]
                fills[k, 2] = u[r, sl.U_FPX]
                fills[k, 3] = u[r, sl.U_FQTY]
                fills[k, 4] = u[r, sl.U_MAKER]
                fills[k, 5] = u[r, sl.U_OID]
            stats[T_FILLS] = k + 1
    s[sl.S_NUPD] = 0


@jit
def run_fast_kernel(
    m: I64,
    lv: I64,
    s: I64,
    bk: I64,
    o: I64,
    u: I64,
    buf: I64,
    p: F64,
    fills: I64,
    mids: I64,
    stats: I64,
) -> None:
    """The whole replay for one parameter set (see the module doc)."""
    n = s[sl.S_NROWS]
    eb = bk[0:2]
    aux = bk[2:6]
    levels = int(p[P_LEVELS])
    cq = np.zeros((4096, 5), np.int64)
    chead = 0
    ctail = 0
    want = np.zeros((2, 64, 2), np.int64)
    arr_ts = np.zeros(ARRIVALS, np.float64)
    arr_d = np.zeros(ARRIVALS, np.float64)
    arr_side = np.zeros(ARRIVALS, np.int64)
    ahead_ = 0
    atail = 0
    vol_ts = -1
    anchor = 0.0
    last_mid = 0.0
    sum_r2 = 0.0
    sum_dt = 0.0
    n_ret = 0
    mid_now = 0.0
    mid_ts = 0
    fa, fk = p[P_FB_A], p[P_FB_K]
    fit_at = -(1 << 60)
    requote = int(p[P_REQUOTE])
    lat = int(p[P_LAT])
    next_dec = sl.INF
    last_e = 0
    next_mid = 0
    first = -1
    ln2 = math.log(2.0)
    pbase = s[sl.S_PBASE]
    ep = s[sl.S_EP]
    while ep < n:
        head = m[ep, sl.W_HEAD]
        kind = head & 0xFF
        if kind == 4:  # bookTicker: not market data for the engine
            ep += 1
            continue
        ts = m[ep, sl.W_TS]
        e = last_e if kind == 6 else max(ts, last_e)
        # requests reaching the venue before market data of the same ms
        while chead < ctail and cq[chead % 4096, 0] <= e:
            c = cq[chead % 4096]
            chead += 1
            slot = c[2]
            if c[1] == 0 and o[slot, sl.O_ACTIVE] == 0:
                side = 0 if slot < levels else 1
                if (
                    place(s, eb, aux, o, u, slot, side, c[3], c[4], sl.TIF_POST, 0, c[0], buf[0])
                    == 0
                ):
                    stats[T_PLACE] += 1
            elif c[1] == 1 and o[slot, sl.O_ACTIVE] == 1:
                amend(s, eb, aux, o, u, slot, c[3], c[4], c[0], buf[0])
                stats[T_AMEND] += 1
            elif c[1] == 2 and o[slot, sl.O_ACTIVE] == 1:
                cancel(s, aux, o, u, slot, c[0])
                stats[T_CANCEL] += 1
            _collect(s, u, fills, stats)
        # decisions due before this message
        while next_dec <= e:
            t = next_dec
            next_dec += requote
            bb, ba = s[sl.S_EBB], s[sl.S_EBA]
            if bb == sl.NONE or ba == sl.NONE or bb >= ba:
                continue
            stats[T_DECISIONS] += 1
            bpx, apx = bb + pbase, ba + pbase
            bq, aq = float(eb[0, bb]), float(eb[1, ba])
            if n_ret >= p[P_VOL_MIN] and sum_dt > 0:
                sigma = math.sqrt(sum_r2 / sum_dt * 1000.0) * last_mid
            else:
                sigma = p[P_SIGMA_FB]
            if t - fit_at >= p[P_REFRESH]:
                fa, fk = _fit(arr_ts, arr_d, ahead_, atail, float(t), p[P_INT_WIN], p)
                fit_at = t
            pos = s[sl.S_POS]
            base = p[P_BASE]
            q = pos / base
            db, da = _glft(q, p[P_GAMMA], sigma, fk, fa)
            d0b, d0a = _glft(0.0, p[P_GAMMA], sigma, fk, fa)
            db = d0b + p[P_SKEW] * (db - d0b)
            da = d0a + p[P_SKEW] * (da - d0a)
            centre = (da - db) / 2.0
            half = min(max((da + db) / 2.0, p[P_MINHALF]), p[P_MAXHALF])
            db, da = half - centre, half + centre
            mid = (bpx + apx) / 2.0
            ref = bpx + (apx - bpx) * (bq / (bq + aq)) if p[P_MICRO] > 0 else mid
            safety = p[P_SAFETY]
            bid_top = int(math.floor(min(ref - db, apx - 1 - safety)))
            ask_top = int(math.ceil(max(ref + da, bpx + 1 + safety)))
            maxpos = p[P_MAXPOS]
            frac = min(1.0, abs(pos) / p[P_MAXINV])
            cut = max(0.0, 1.0 - p[P_INVRED] * frac)
            for side in range(2):
                sign = 1 if side == 0 else -1
                allow = not (pos * sign >= p[P_HARD] * maxpos)
                reduce = cut if pos * sign > 0 else 1.0
                room = maxpos - pos * sign  # worst case: every order on this side fills
                for i in range(levels):
                    px = (
                        bid_top - i * int(p[P_SPACING])
                        if side == 0
                        else ask_top + i * int(p[P_SPACING])
                    )
                    qty = int(math.floor(base * p[P_SIZEMUL] ** i * reduce))
                    ok = allow and qty >= 1 and px > 0 and room >= qty
                    if ok:
                        room -= qty
                    want[side, i, 0] = px if ok else 0
                    want[side, i, 1] = qty if ok else 0
            for side in range(2):
                for i in range(levels):
                    slot = side * levels + i
                    px, qty = want[side, i, 0], want[side, i, 1]
                    active = o[slot, sl.O_ACTIVE] == 1
                    if qty == 0:
                        if active:
                            ctail = _queue_cmd(cq, ctail, t + lat, 2, slot, 0, 0)
                    elif not active:
                        ctail = _queue_cmd(cq, ctail, t + lat, 0, slot, px, qty)
                    elif abs(o[slot, sl.O_PRICE] - px) > p[P_TOL]:
                        if p[P_AMEND] > 0:
                            total = o[slot, sl.O_CUM] + qty
                            ctail = _queue_cmd(cq, ctail, t + lat, 1, slot, px, total)
                        else:
                            ctail = _queue_cmd(cq, ctail, t + lat, 2, slot, 0, 0)
        # the market message reaches the venue
        last_e = e
        ep += 1
        if first < 0 and kind != 1:
            continue  # nothing before the first snapshot
        if first < 0:
            first = e
            next_mid = e
            next_dec = e + requote
        if e >= next_mid:
            bb, ba = s[sl.S_EBB], s[sl.S_EBA]
            if bb != sl.NONE and ba != sl.NONE and bb < ba and stats[T_MIDS] < mids.shape[0]:
                k = stats[T_MIDS]
                mids[k, 0], mids[k, 1], mids[k, 2] = e, bb + pbase, ba + pbase
                stats[T_MIDS] = k + 1
            every = int(p[P_MIDEVERY])
            next_mid = e - e % every + every
        if kind == 2 or kind == 1:
            start = m[ep - 1, sl.W_START]
            midx = start + ((head >> 32) & 0xFFFFFFFF)
            end = midx + m[ep - 1, sl.W_NASKS]
            if kind == 2:
                stats[T_EVENTS] += end - start
                on_levels(s, eb, aux, o, lv, start, midx, 0, buf[0])
                on_levels(s, eb, aux, o, lv, midx, end, 1, buf[0])
            else:
                side_clear(eb, 0, s[sl.S_EBB])
                side_clear(eb, 1, s[sl.S_EBA])
                s[sl.S_EBB] = side_load(eb, 0, lv, start, midx, pbase)
                s[sl.S_EBA] = side_load(eb, 1, lv, midx, end, pbase)
                on_snapshot_orders(s, eb, aux, o)
            fill_crossed(s, eb, aux, o, u, ts, buf[0])
            _collect(s, u, fills, stats)
            bb, ba = s[sl.S_EBB], s[sl.S_EBA]
            if bb != sl.NONE and ba != sl.NONE:
                mid_now = (bb + ba) / 2.0 + pbase
                mid_ts = e
                # EwmaVolatility.update (core.volatility), by time
                if vol_ts < 0:
                    vol_ts = e
                    anchor = mid_now
                elif e > vol_ts:
                    dt = float(e - vol_ts)
                    r = math.log(mid_now / anchor)
                    decay = math.exp(-ln2 * dt / p[P_VOL_HL])
                    sum_r2 = sum_r2 * decay + r * r
                    sum_dt = sum_dt * decay + dt
                    anchor = mid_now
                    vol_ts = e
                    n_ret += 1
                last_mid = mid_now
        elif kind == 3:
            stats[T_EVENTS] += 1
            price = m[ep - 1, sl.W_B]
            bim = (head >> 8) & 0xFF
            on_trade(s, aux, o, u, price, m[ep - 1, sl.W_C], bim, ts, buf[0], buf[1])
            _collect(s, u, fills, stats)
            if mid_now > 0 and e - mid_ts <= 5000:
                side = -1 if bim == 1 else 1
                depth = abs(price - mid_now)
                if (
                    atail > ahead_
                    and arr_ts[(atail - 1) % ARRIVALS] == e
                    and arr_side[(atail - 1) % ARRIVALS] == side
                ):
                    j = (atail - 1) % ARRIVALS
                    arr_d[j] = max(arr_d[j], depth)
                else:
                    j = atail % ARRIVALS
                    arr_ts[j], arr_d[j], arr_side[j] = float(e), depth, side
                    atail += 1
                    if atail - ahead_ > ARRIVALS:
                        ahead_ = atail - ARRIVALS
    s[sl.S_E_LAST] = last_e
    s[sl.S_FIRST] = first


FAST_AXES: tuple[str, ...] = (
    "quoting.gamma",
    "quoting.base_qty",
    "quoting.levels",
    "quoting.level_spacing_ticks",
    "quoting.inventory_skew",
    "quoting.min_half_spread_ticks",
    "quoting.max_half_spread_ticks",
    "quoting.post_only_safety_ticks",
    "quoting.requote_interval_ms",
    "quoting.reprice_tolerance_ticks",
    "quoting.amend_vs_replace",
    "risk.max_position",
    "risk.hard_fraction",
    "estimators.vol_half_life_ms",
    "estimators.warmup_ms",
    "estimators.intensity_window_ms",
    "estimators.min_trades",
    "estimators.fallback_a",
    "estimators.fallback_k",
    "estimators.min_fit_r2",
)
"""The config keys the sweep model reads (:meth:`FastParams.of`, through
``mmtrio.config.strategy.build_strategy_config``): the only keys a fast sweep may vary. Any
other key leaves the model's result unchanged, so a fast sweep over it is refused
(:func:`check_axes`); ``tests/unit/test_fast_axes.py`` checks this list against the model."""


def check_axes(keys: Iterable[str]) -> None:
    """ParameterError naming every swept key the sweep model does not read, and the allowed."""
    unknown = sorted({k for k in keys if k not in FAST_AXES})
    if unknown:
        raise ParameterError(
            f"--sweep-mode fast does not model {', '.join(unknown)} (its rows would be "
            f"identical): sweep it with --sweep-mode exact, or sweep only {', '.join(FAST_AXES)}"
        )


@dataclass(frozen=True, slots=True)
class FastParams:
    """The model's parameters, read from the strategy config (see the module doc)."""

    vector: F64

    @staticmethod
    def of(cfg: StrategyConfig, settings: BacktestSettings) -> FastParams:
        q, lim = cfg.quote, cfg.limits
        if q.model is not QuoteModel.GLFT:
            raise ParameterError(
                f"--sweep-mode fast models GLFT quoting only; quoting.model is {q.model.value}"
            )
        if q.levels > 64:
            raise ParameterError("--sweep-mode fast supports at most 64 levels a side")
        p = np.zeros(P_SIZE, np.float64)
        p[P_GAMMA], p[P_BASE], p[P_MAXINV] = q.gamma, q.base_size_lots, q.max_inventory_lots
        p[P_LEVELS], p[P_SPACING], p[P_SIZEMUL] = q.levels, q.level_spacing_ticks, q.size_multiplier
        p[P_INVRED], p[P_SKEW] = q.inventory_size_reduction, q.inventory_skew
        p[P_MINHALF], p[P_MAXHALF] = q.min_half_spread_ticks, q.max_half_spread_ticks
        p[P_SAFETY], p[P_MICRO] = cfg.post_only_base_ticks, 1.0 if q.use_microprice else 0.0
        p[P_MAXPOS], p[P_HARD] = lim.max_position_lots, lim.hard_fraction
        p[P_REQUOTE] = max(1, cfg.min_requote_interval_ms)
        p[P_VOL_HL], p[P_VOL_MIN] = cfg.vol_half_life_ms, cfg.vol_min_returns
        p[P_SIGMA_FB] = cfg.sigma_fallback_ticks
        p[P_INT_WIN], p[P_INT_MIN] = cfg.intensity_window_ms, cfg.intensity_min_trades
        p[P_FB_A], p[P_FB_K] = cfg.fallback_a, cfg.fallback_k
        p[P_LAT], p[P_TOL] = settings.order_latency_ms, cfg.reprice_tolerance_ticks
        p[P_AMEND], p[P_MIDEVERY] = 1.0 if cfg.use_amend else 0.0, settings.mid_sample_ms
        p[P_MAXDEPTH], p[P_REFRESH] = INTENSITY_MAX_DEPTH_TICKS, INTENSITY_REFRESH_MS
        p[P_MINR2] = cfg.min_fit_r2
        return FastParams(p)


def run_fast(source: Source, config: StrategyConfig, settings: BacktestSettings) -> BacktestResult:
    """One parameter set on the sweep model; a result shaped like the exact engine's."""
    from mmtrio.data.source import StoreSource

    if not isinstance(source, StoreSource):
        import tempfile

        from mmtrio.data.convert import write_store

        with tempfile.TemporaryDirectory(prefix="mmtrio-fast-") as tmp:
            path = write_store(source(), Path(tmp) / "s", config.instrument, {"kind": "sweep"})
            return run_fast_store(path, config, settings)
    return run_fast_store(Path(source.path), config, settings)


def _warm_fast(prm: FastParams) -> float:
    """Compile (or load) the sweep kernel on no data; seconds taken (reported apart)."""
    import time

    from mmtrio.backtest.compiled.engine import read_only

    t0 = time.perf_counter()
    s = np.zeros(sl.S_SIZE, np.int64)
    z = read_only(np.zeros((0, sl.MSG_WORDS), np.int64))
    run_fast_kernel(
        z,
        read_only(np.zeros((0, 2), np.int64)),
        s,
        np.zeros((8, 4), np.int64),
        np.zeros((4, sl.O_FIELDS), np.int64),
        np.zeros((4, sl.U_FIELDS), np.int64),
        np.zeros((2, 4), np.int64),
        prm.vector,
        np.zeros((1, 6), np.int64),
        np.zeros((1, 3), np.int64),
        np.zeros(8, np.int64),
    )
    return time.perf_counter() - t0


def run_fast_store(
    path: Path, config: StrategyConfig, settings: BacktestSettings
) -> BacktestResult:
    from collections import Counter

    from mmtrio.backtest.compiled.engine import _offset_and_start, _window, read_only, warm_up
    from mmtrio.data.store import open_store

    prm = FastParams.of(config, settings)
    compile_s = warm_up() + _warm_fast(prm)
    store = open_store(path)
    m = read_only(store.messages.view(np.int64).reshape(-1, sl.MSG_WORDS))
    lv = read_only(store.levels.view(np.int64).reshape(-1, 2))
    _, start = _offset_and_start(m, True)
    pbase, width = _window(store, m, lv, start)
    s = np.zeros(sl.S_SIZE, np.int64)
    s[sl.S_NROWS], s[sl.S_EP], s[sl.S_PBASE] = len(m), start, pbase
    s[sl.S_EBB] = s[sl.S_EBA] = sl.NONE
    s[sl.S_NEXT_OID] = 1
    s[sl.S_QMODEL] = 1 if settings.queue_model.value == "probabilistic" else 0
    bk = np.zeros((8, width), np.int64)
    o = np.zeros((sl.ORDER_CAP, sl.O_FIELDS), np.int64)
    u = np.zeros((sl.U_CAP, sl.U_FIELDS), np.int64)
    buf = np.zeros((2, sl.ORDER_CAP), np.int64)
    fills = np.zeros((FILL_CAP, 6), np.int64)
    mids = np.zeros((max(1024, len(m) // 4), 3), np.int64)
    stats = np.zeros(8, np.int64)
    run_fast_kernel(m, lv, s, bk, o, u, buf, prm.vector, fills, mids, stats)
    inst = config.instrument
    levels = config.quote.levels
    fee_rate = (settings.fees.maker_rate, settings.fees.taker_rate)
    out_fills = []
    for k, (ts, slot, px, qty, maker, oid) in enumerate(
        fills[: min(int(stats[T_FILLS]), FILL_CAP)].tolist()
    ):
        side = Side.BUY if slot < levels else Side.SELL
        out_fills.append(
            Fill(
                symbol=inst.symbol,
                trade_id=k + 1,
                client_id=f"fast-{oid}",
                order_id=oid,
                side=side,
                price=px,
                qty=qty,
                fee=inst.notional(px, qty) * (fee_rate[0] if maker == 1 else fee_rate[1]),
                fee_asset=inst.quote_asset,
                is_maker=maker == 1,
                ts=ts,
            )
        )
    mid_rows = [MidSample(t, b, a) for t, b, a in mids[: int(stats[T_MIDS])].tolist()]
    first = int(s[sl.S_FIRST])
    last = int(s[sl.S_E_LAST])
    commands = Counter(
        {
            "PlaceOrder": int(stats[T_PLACE]),
            "AmendOrder": int(stats[T_AMEND]),
            "CancelOrder": int(stats[T_CANCEL]),
        }
    )
    return BacktestResult(
        report_input=ReportInput(
            instrument=inst,
            fills=tuple(out_fills),
            mids=tuple(mid_rows),
            funding=(),
            orders=OrderCounts(
                place=commands["PlaceOrder"],
                amend=commands["AmendOrder"],
                cancel=commands["CancelOrder"],
            ),
            start_ms=first,
            end_ms=last,
        ),
        market_messages=len(m),
        events=int(stats[T_EVENTS]),
        strategy_steps=int(stats[T_DECISIONS]),
        commands=commands,
        notices=Counter(),
        alerts=[],
        strategy_position_lots=int(s[sl.S_POS]),
        venue_position_lots=int(s[sl.S_POS]),
        funding_payments=0,
        first_ms=first,
        last_ms=last,
        engine="fast",
        compile_seconds=compile_s,
    )


__all__ = ["FAST_AXES", "Decimal", "FastParams", "check_axes", "run_fast"]
