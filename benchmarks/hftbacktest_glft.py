"""hftbacktest's side of the throughput benchmark: the same recording, an equivalent GLFT grid.

Benchmark-only: hftbacktest (and numba) are never project dependencies; this module is
imported by ``backtest_throughput.py`` only when hftbacktest is installed.

What it does:

1. converts the recording with hftbacktest's own converter for its collector format
   (``hftbacktest.data.utils.binancefutures.convert``) into its event array, saved to a
   temporary ``.npz`` (the converter's own ``np.savez_compressed``) and loaded back;
2. runs a numba ``@njit`` GLFT grid market maker written after hftbacktest's GLFT examples,
   parametrised from mmtrio's benchmark ``StrategyConfig`` (see ``GlftParams``): γ per tick
   per unit of inventory, 3 levels a side 1 tick apart, 0.002 BTC a level, 0.02 BTC limit,
   half spread clamped to [2, 200] ticks, 1 tick post-only safety, requote every 100 ms,
   EWMA volatility (30 s half-life) and an A·exp(−k·δ) trade-arrival fit over 300 s
   refitted every second with the same fallback (A = 1/s, k = 0.5/tick until 50 arrivals);
3. exchange model: ``PowerProbQueueModel(1)`` (a size decrease not explained by trades is
   in front of us with probability front/(front+back): the expected-value rule of mmtrio's
   PROBABILISTIC queue model), constant 5 ms order entry and response latency, trading-value
   fees 2 bps maker / 5 bps taker. ``no_partial_fill_exchange``: hftbacktest 2.4.4's
   ``partial_fill_exchange`` stops this run early with error 14 (InvalidOrderStatus) from
   ``elapse`` about 53 s into the recording, so the full-fill exchange model is used;
4. times the run separately from numba's JIT compile: the strategy is first compiled and
   run on a small slice of the data (compile time reported on its own), then run on the whole
   array. The events counted are the rows of the array, the way hftbacktest counts them.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hftbacktest import (
    BUY,
    GTX,
    LIMIT,
    BacktestAsset,
    HashMapMarketDepthBacktest,
)
from hftbacktest.data.utils import binancefutures
from numba import njit
from numpy.typing import NDArray

NS_PER_MS = 1_000_000
WARMUP_ROWS = 60_000  # rows of the JIT warm-up slice (compiles every path: book, trades, fills)
STATS = 8  # layout of the stats array filled by the strategy (see _STAT_* below)
_STAT_STEPS, _STAT_SUBMITS, _STAT_CANCELS, _STAT_FITS, _STAT_RC = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class GlftParams:
    """The strategy parameters, in the units mmtrio's ``QuoteParams`` uses (ticks, lots)."""

    gamma: float  # per tick per unit of q (q = position / base size)
    base_qty: float  # per level, base asset
    max_position: float  # base asset; worst-case (position + open orders) bound
    hard_fraction: float  # at |position| >= this share of the limit: reducing side only
    levels: int
    spacing_ticks: int
    min_half_spread_ticks: float
    max_half_spread_ticks: float
    safety_ticks: int  # post-only distance from the opposite best
    requote_ms: int
    vol_half_life_ms: float
    vol_min_returns: int
    sigma_fallback_ticks: float
    intensity_window_ms: int
    intensity_min_trades: int
    intensity_max_depth_ticks: int
    intensity_refresh_ms: int
    fallback_a: float
    fallback_k: float
    maker_fee: float
    taker_fee: float
    order_latency_ms: int
    tick_size: float
    lot_size: float


@njit(cache=False)
def _glft_grid(hbt: Any, p: NDArray[np.float64], stats: NDArray[np.float64]) -> None:
    """The strategy loop (numba). ``p`` is ``GlftParams`` as floats in field order."""
    gamma, base_qty, max_pos, hard = p[0], p[1], p[2], p[3]
    levels, spacing = int(p[4]), int(p[5])
    min_half, max_half, safety = p[6], p[7], int(p[8])
    requote_ns = int(p[9]) * 1_000_000
    vol_hl, vol_min, sig_fb = p[10], int(p[11]), p[12]
    win_ms, min_trades, max_depth = int(p[13]), int(p[14]), int(p[15])
    refresh_ms, fb_a, fb_k = int(p[16]), p[17], p[18]
    tick = p[22]
    ln2 = np.log(2.0)

    cap = 200_000
    arr_ts = np.zeros(cap, np.int64)
    arr_depth = np.zeros(cap, np.float64)
    head = 0
    tail = 0  # ring buffer [head, tail)
    first_ts = -1
    sum_r2 = 0.0
    sum_dt = 0.0
    n_ret = 0
    anchor = 0.0
    last_vol_ms = -1
    a_fit, k_fit = fb_a, fb_k
    last_fit_ms = -(10**15)
    prev_mid = 0.0
    counts = np.zeros(max_depth + 1, np.float64)
    want_bid = np.zeros(levels, np.int64)
    want_ask = np.zeros(levels, np.int64)

    while True:
        rc = hbt.elapse(requote_ns)
        if rc != 0:
            stats[_STAT_RC] = rc
            break
        stats[_STAT_STEPS] += 1
        hbt.clear_inactive_orders(0)
        depth = hbt.depth(0)
        bb = depth.best_bid_tick
        ba = depth.best_ask_tick
        bbq = depth.best_bid_qty
        baq = depth.best_ask_qty
        now_ms = hbt.current_timestamp // 1_000_000
        if bb <= 0 or ba <= 0 or ba <= bb or bbq <= 0.0 or baq <= 0.0 or ba > 10**12:
            hbt.clear_last_trades(0)
            continue
        mid = (bb + ba) / 2.0

        # Trade arrivals since the last step: one per (ms, aggressor side) sweep, depth of its
        # deepest print from the mid before it (the previous step's mid).
        if prev_mid > 0.0:
            trades = hbt.last_trades(0)
            cur_ms = -1
            cur_side = 0
            for i in range(len(trades)):
                tr = trades[i]
                t_ms = tr.local_ts // 1_000_000
                side = 1 if (tr.ev & (1 << 29)) != 0 else -1  # BUY_EVENT: buyer-initiated
                d = abs(tr.px / tick - prev_mid)
                if t_ms == cur_ms and side == cur_side and tail > head:
                    j = (tail - 1) % cap
                    if d > arr_depth[j]:
                        arr_depth[j] = d
                    continue
                cur_ms, cur_side = t_ms, side
                if first_ts < 0:
                    first_ts = t_ms
                arr_ts[tail % cap] = t_ms
                arr_depth[tail % cap] = d
                tail += 1
                if tail - head > cap:
                    head += 1
        hbt.clear_last_trades(0)
        if first_ts < 0:
            first_ts = now_ms
        prev_mid = mid

        # EWMA volatility of log mid returns, per √s, in ticks at the current mid.
        if last_vol_ms < 0:
            anchor = mid
        elif now_ms > last_vol_ms:
            dt = float(now_ms - last_vol_ms)
            r = np.log(mid / anchor)
            decay = np.exp(-ln2 * dt / vol_hl)
            sum_r2 = sum_r2 * decay + r * r
            sum_dt = sum_dt * decay + dt
            anchor = mid
            n_ret += 1
        last_vol_ms = now_ms
        sigma = sig_fb
        if n_ret >= vol_min and sum_dt > 0.0:
            sigma = np.sqrt(sum_r2 / sum_dt * 1000.0) * mid

        # Intensity fit (tail counts at 0..max_depth ticks, least squares on log λ).
        if now_ms - last_fit_ms >= refresh_ms:
            last_fit_ms = now_ms
            stats[_STAT_FITS] += 1
            while tail > head and arr_ts[head % cap] <= now_ms - win_ms:
                head += 1
            n = tail - head
            a_fit, k_fit = fb_a, fb_k
            span = min(win_ms, now_ms - first_ts)
            if n >= min_trades and span > 0:
                counts[:] = 0.0
                for i in range(head, tail):
                    d = arr_depth[i % cap]
                    top = int(np.floor(d + 1e-9))
                    if top > max_depth:
                        top = max_depth
                    counts[top] += 1.0  # reaches thresholds 0..top
                secs = span / 1000.0
                xs = np.zeros(max_depth + 1)
                ys = np.zeros(max_depth + 1)
                m = 0
                cum = 0.0
                tails = np.zeros(max_depth + 1)
                for t in range(max_depth, -1, -1):
                    cum += counts[t]
                    tails[t] = cum
                for t in range(max_depth + 1):
                    if tails[t] <= 0.0:
                        break
                    xs[m] = float(t)
                    ys[m] = np.log(tails[t] / secs)
                    m += 1
                if m >= 2:
                    mx = xs[:m].mean()
                    my = ys[:m].mean()
                    sxx = ((xs[:m] - mx) ** 2).sum()
                    sxy = ((xs[:m] - mx) * (ys[:m] - my)).sum()
                    slope = sxy / sxx
                    if -slope > 0.0:
                        k_fit = -slope
                        a_fit = np.exp(my - slope * mx)

        # GLFT distances (ticks) at inventory q, half spread clamped, centre kept.
        pos = hbt.position(0)
        q = pos / base_qty
        base = np.log1p(gamma / k_fit) / gamma
        power = np.exp((1.0 + k_fit / gamma) * np.log1p(gamma / k_fit))
        c = np.sqrt(sigma * sigma * gamma / (2.0 * k_fit * a_fit) * power)
        d_bid = base + (2.0 * q + 1.0) / 2.0 * c
        d_ask = base - (2.0 * q - 1.0) / 2.0 * c
        centre = (d_ask - d_bid) / 2.0
        half = min(max((d_ask + d_bid) / 2.0, min_half), max_half)
        d_bid, d_ask = half - centre, half + centre
        micro = bb + (ba - bb) * (bbq / (bbq + baq))
        bid_top = int(np.floor(min(micro - d_bid, float(ba - 1 - safety))))
        ask_top = int(np.ceil(max(micro + d_ask, float(bb + 1 + safety))))

        # Risk: worst case (position + the side's levels) within the limit; at the hard
        # fraction of the limit only the reducing side quotes (mmtrio's HARD band).
        eps = base_qty * 1e-6
        n_bid = levels
        n_ask = levels
        if pos >= hard * max_pos - eps:
            n_bid = 0
        if pos <= -hard * max_pos + eps:
            n_ask = 0
        n_bid = min(n_bid, int(np.floor((max_pos - pos) / base_qty + 1e-6)))
        n_ask = min(n_ask, int(np.floor((max_pos + pos) / base_qty + 1e-6)))
        for i in range(levels):
            want_bid[i] = bid_top - i * spacing if i < n_bid else -1
            want_ask[i] = ask_top + i * spacing if i < n_ask else -1

        # Reconcile the grid: keep orders at a wanted price, cancel the rest, add the missing.
        orders = hbt.orders(0)
        values = orders.values()
        while values.has_next():
            order = values.get()
            if not order.cancellable:
                continue
            keep = False
            for i in range(levels):
                w = want_bid[i] if order.side == BUY else want_ask[i]
                if w == order.price_tick:
                    keep = True
            if not keep:
                hbt.cancel(0, order.order_id, False)
                stats[_STAT_CANCELS] += 1
        for i in range(levels):
            if want_bid[i] > 0:
                oid = want_bid[i] * 2
                if oid not in orders:
                    hbt.submit_buy_order(0, oid, want_bid[i] * tick, base_qty, GTX, LIMIT, False)
                    stats[_STAT_SUBMITS] += 1
            if want_ask[i] > 0:
                oid = want_ask[i] * 2 + 1
                if oid not in orders:
                    hbt.submit_sell_order(0, oid, want_ask[i] * tick, base_qty, GTX, LIMIT, False)
                    stats[_STAT_SUBMITS] += 1


def convert_recording(path: Path, out_dir: Path) -> tuple[NDArray[Any], float, Path]:
    """hftbacktest's converter on one collector file → (event array, seconds, npz path)."""
    out = out_dir / (path.name.split(".")[0] + ".npz")
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # it prints progress lines
        binancefutures.convert(str(path), output_filename=str(out), buffer_size=3_000_000)
    dt = time.perf_counter() - t0
    data = np.load(out)["data"]
    return data, dt, out


def _asset(data: NDArray[Any], prm: GlftParams) -> Any:
    lat = prm.order_latency_ms * NS_PER_MS
    return (
        BacktestAsset()
        .data(data)
        .linear_asset(1.0)
        .constant_order_latency(lat, lat)
        .power_prob_queue_model(1.0)
        .no_partial_fill_exchange()  # partial_fill_exchange: error 14 in 2.4.4 (doc)
        .trading_value_fee_model(prm.maker_fee, prm.taker_fee)
        .tick_size(prm.tick_size)
        .lot_size(prm.lot_size)
        .last_trades_capacity(10_000)
    )


def _run(data: NDArray[Any], prm: GlftParams) -> tuple[Any, NDArray[np.float64], float]:
    p = np.array([float(v) for v in asdict(prm).values()], dtype=np.float64)
    stats = np.zeros(STATS, np.float64)
    t0 = time.perf_counter()
    hbt = HashMapMarketDepthBacktest([_asset(data, prm)])
    _glft_grid(hbt, p, stats)
    return hbt, stats, time.perf_counter() - t0


def run_hftbacktest(path: Path, prm: GlftParams) -> dict[str, Any]:
    """Convert ``path``, warm numba up on a slice, run the full backtest; one result dict."""
    with tempfile.TemporaryDirectory(prefix="mmtrio-hbt-") as tmp:
        data, convert_s, npz = convert_recording(path, Path(tmp))
        npz_mb = npz.stat().st_size / 1e6
        # Compile (and run) on a small slice first: JIT time is reported on its own.
        warm = np.ascontiguousarray(data[:WARMUP_ROWS])
        hbt_w, _, compile_s = _run(warm, prm)
        hbt_w.close()
        c0 = time.process_time()
        hbt, stats, run_s = _run(data, prm)
        cpu_s = time.process_time() - c0
        sv = hbt.state_values(0)
        depth = hbt.depth(0)
        mid = (depth.best_bid + depth.best_ask) / 2.0
        position, balance, fee = sv.position, sv.balance, sv.fee
        num_trades, volume, value = sv.num_trades, sv.trading_volume, sv.trading_value
        hbt.close()
    rows = len(data)
    return {
        "version": _version(),
        "rows": rows,
        "convert_seconds": round(convert_s, 3),
        "npz_mb": round(npz_mb, 2),
        "jit_compile_and_warmup_seconds": round(compile_s, 3),
        "warmup_rows": min(rows, WARMUP_ROWS),
        "seconds": round(run_s, 3),
        "cpu_seconds": round(cpu_s, 3),
        "events": rows,
        "events_per_s": round(rows / run_s),
        "events_per_cpu_s": round(rows / cpu_s),
        "requote_steps": int(stats[_STAT_STEPS]),
        "end_code": int(stats[_STAT_RC]),
        "orders_submitted": int(stats[_STAT_SUBMITS]),
        "cancels": int(stats[_STAT_CANCELS]),
        "fills": int(num_trades),
        "traded_qty": round(volume, 6),
        "traded_value": round(value, 2),
        "position": round(position, 6),
        "balance": round(balance, 6),
        "fees_paid": round(fee, 6),
        "equity": round(balance + position * mid - fee, 6),
        "final_mid": mid,
    }


def _version() -> str:
    import hftbacktest

    return str(hftbacktest.__version__)
