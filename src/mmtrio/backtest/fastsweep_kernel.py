"""The sweep model compiled: the whole replay of one recording for one parameter vector.

:func:`run_fast_kernel` runs in numba on the compiled core's matching kernels
(:mod:`mmtrio.backtest.compiled.matching`): it decides every requote interval on the venue's
book with the strategy's formulas (the GLFT closed form, the intensity fit, the EWMA
volatility), queues its requests for the venue ``order_latency_ms`` later, and counts what
happened in ``stats`` (``T_*``), our fills in ``fills`` and the mid samples in ``mids``.
:mod:`mmtrio.backtest.fastsweep` says what the model keeps and what it simplifies, and turns
these arrays into a backtest result; the parameters come from
:mod:`mmtrio.backtest.fastsweep_params` (``P_*``).
"""

from __future__ import annotations

import math

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
from mmtrio.backtest.fastsweep_formulas import ARRIVALS, fit_intensity, glft_deltas
from mmtrio.backtest.fastsweep_params import (
    P_AMEND,
    P_BASE,
    P_FB_A,
    P_FB_K,
    P_GAMMA,
    P_HARD,
    P_INT_WIN,
    P_INVRED,
    P_LAT,
    P_LEVELS,
    P_MAXHALF,
    P_MAXINV,
    P_MAXPOS,
    P_MICRO,
    P_MIDEVERY,
    P_MINHALF,
    P_REFRESH,
    P_REQUOTE,
    P_SAFETY,
    P_SIGMA_FB,
    P_SIZEMUL,
    P_SKEW,
    P_SPACING,
    P_TOL,
    P_VOL_HL,
    P_VOL_MIN,
)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

# stats T[...]
T_PLACE, T_AMEND, T_CANCEL, T_FILLS, T_MIDS, T_DECISIONS, T_EVENTS = range(7)
FILL_CAP = 1 << 20


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
                fa, fk = fit_intensity(arr_ts, arr_d, ahead_, atail, float(t), p[P_INT_WIN], p)
                fit_at = t
            pos = s[sl.S_POS]
            base = p[P_BASE]
            q = pos / base
            db, da = glft_deltas(q, p[P_GAMMA], sigma, fk, fa)
            d0b, d0a = glft_deltas(0.0, p[P_GAMMA], sigma, fk, fa)
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


__all__ = [
    "FILL_CAP",
    "T_AMEND",
    "T_CANCEL",
    "T_DECISIONS",
    "T_EVENTS",
    "T_FILLS",
    "T_MIDS",
    "T_PLACE",
    "run_fast_kernel",
]
