"""The merged time loop of the compiled core (the reference is
:mod:`mmtrio.backtest.python_engine`; the order of work at equal times is the same).

Two cursors walk the store's rows: the **engine** cursor at exchange time (the venue's market
book and our orders' matching) and the **view** cursor at feed arrival time (the strategy's
book). At each time ``t``: a request due at ``t`` goes back to Python (the venue's requests
are Python's: the strategy sent them); then market rows stamped ``t`` reach the engine; then
the strategy's burst at ``t`` is applied to the view. The loop returns to Python only when
Python has work: a request due, order updates produced, a mark price or a funding time reached,
a burst that changed a feature the strategy reads, or the time of the strategy's next answer or
timer (``S_PY_AT``). Everything else runs here.

The view hands the strategy what makes its state equal to having applied every market
message (:mod:`mmtrio.backtest.decisions` explains why that is enough):

- every trade (its fields in the row: ``V_TRADE_*``), mark price and book-invalid event, in
  order;
- its book's touch as a depth-1 snapshot (``VC_TOP``): after the first applied book message of
  a burst (the volatility estimator takes its return from the first mid of a new millisecond),
  before any other event when the touch moved since (trades are measured from the mid before
  them), and at the burst's end; a delta that crosses the book is preceded by the touch before
  it and delivered as the crossed touch (the strategy's book then waits for a snapshot, as
  with the full delta);
- a delta while that book awaits a snapshot as a delta without levels (``VC_UNSYNCED``: the
  strategy only notes its time for the feed-latency guard, as with the full delta).

Times (as :class:`mmtrio.backtest.feed.RecordingFeed`): exchange time is the running maximum
of the rows' times; arrival is ``local - offset + base`` (recorded latency) or ``E + base``
(constant), at least ``E``, running maximum; a book-invalid row takes the previous row's times.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mmtrio.backtest.compiled.book import side_clear, side_load, side_set
from mmtrio.backtest.compiled.jit import jit
from mmtrio.backtest.compiled.matching import (
    fill_crossed,
    on_levels,
    on_snapshot_orders,
    on_trade,
)
from mmtrio.backtest.compiled.slots import (
    BUY,
    INF,
    M_CAP,
    NONE,
    S_BASE,
    S_D_AP,
    S_D_AQ,
    S_D_BP,
    S_D_BQ,
    S_D_LAT,
    S_D_SYNC,
    S_E_LAST,
    S_E_LASTAR,
    S_EBA,
    S_EBB,
    S_END,
    S_EP,
    S_EVENTS,
    S_FIRST,
    S_FUND_DUE,
    S_GAPS,
    S_MAXLAT,
    S_MID_EVERY,
    S_NEXT_MID,
    S_NEXT_REQ,
    S_NMID,
    S_NROWS,
    S_NUPD,
    S_NVOUT,
    S_OFFSET,
    S_PBASE,
    S_PY_AT,
    S_RECORDED,
    S_STOP_ROW,
    S_STOP_T,
    S_TAIL,
    S_TICKERS,
    S_V_LASTAR,
    S_V_LASTE,
    S_VBA,
    S_VBB,
    S_VLAT,
    S_VP,
    S_VSYNC,
    SELL,
    STOP_DECIDE,
    STOP_DONE,
    STOP_FULL,
    STOP_FUNDING,
    STOP_MARK,
    STOP_PYTHON,
    STOP_REQUEST,
    STOP_UPDATES,
    V_AP,
    V_AQ,
    V_BP,
    V_BQ,
    V_CAP,
    V_CODE,
    V_NOW,
    V_ROW,
    V_TRADE_BUYER_MAKER,
    V_TRADE_ID,
    V_TRADE_PX,
    V_TRADE_QTY,
    V_TS,
    VC_BURST_END,
    VC_INVALID,
    VC_MARK,
    VC_TICKER,
    VC_TOP,
    VC_TRADE,
    VC_UNSYNCED,
    W_A,
    W_B,
    W_C,
    W_HEAD,
    W_LOCAL,
    W_NASKS,
    W_START,
    W_TS,
)

I64 = npt.NDArray[np.int64]

K_SNAPSHOT = 1
K_DELTA = 2
K_TRADE = 3
K_TICKER = 4
K_MARK = 5
K_INVALID = 6


@jit
def skip_rows(m: I64, s: I64, i: int) -> int:
    """The next row at or after ``i`` that the replay reads (bookTickers only when asked)."""
    n = s[S_NROWS]
    if s[S_TICKERS] == 1:
        return i
    while i < n and (m[i, W_HEAD] & 0xFF) == K_TICKER:
        i += 1
    return i


@jit
def row_times(m: I64, s: I64, i: int, last_e: int, last_ar: int) -> tuple[int, int]:
    """(exchange ms, arrival ms) of row ``i`` given the running maxima before it."""
    if (m[i, W_HEAD] & 0xFF) == K_INVALID:
        return last_e, last_ar
    e = max(m[i, W_TS], last_e)
    if s[S_RECORDED] == 1:
        at = m[i, W_LOCAL] // 1_000_000 - s[S_OFFSET] + s[S_BASE]
    else:
        at = e + s[S_BASE]
    at = max(at, e)
    return e, max(at, last_ar)


# --- engine ---------------------------------------------------------------------------------------
@jit
def engine_row(m: I64, lv: I64, s: I64, bk: I64, o: I64, u: I64, mids: I64, buf: I64) -> int:
    """Apply the engine cursor's row; a stop code, or 0 to go on."""
    i = s[S_EP]
    e, ar = row_times(m, s, i, s[S_E_LAST], s[S_E_LASTAR])
    s[S_E_LAST], s[S_E_LASTAR] = e, ar
    s[S_EP] = skip_rows(m, s, i + 1)
    eb = bk[0:2]
    aux = bk[2:6]
    if s[S_FIRST] == NONE:
        s[S_FIRST] = e
        s[S_NEXT_MID] = e
    if e >= s[S_NEXT_MID]:
        bb, ba = s[S_EBB], s[S_EBA]
        if bb != NONE and ba != NONE and bb < ba:
            k = s[S_NMID]
            mids[k, 0] = e
            mids[k, 1] = bb + s[S_PBASE]
            mids[k, 2] = ba + s[S_PBASE]
            s[S_NMID] = k + 1
        every = s[S_MID_EVERY]
        s[S_NEXT_MID] = e - e % every + every
    head = m[i, W_HEAD]
    kind = head & 0xFF
    ts = m[i, W_TS]
    if kind == K_DELTA or kind == K_SNAPSHOT:
        start = m[i, W_START]
        mid = start + ((head >> 32) & 0xFFFFFFFF)
        end = mid + m[i, W_NASKS]
        if kind == K_DELTA:
            s[S_EVENTS] += end - start
            on_levels(s, eb, aux, o, lv, start, mid, BUY, buf[0])
            on_levels(s, eb, aux, o, lv, mid, end, SELL, buf[0])
        else:
            side_clear(eb, BUY, s[S_EBB])
            side_clear(eb, SELL, s[S_EBA])
            s[S_EBB] = side_load(eb, BUY, lv, start, mid, s[S_PBASE])
            s[S_EBA] = side_load(eb, SELL, lv, mid, end, s[S_PBASE])
            on_snapshot_orders(s, eb, aux, o)
        fill_crossed(s, eb, aux, o, u, ts, buf[0])
    elif kind == K_TRADE:
        s[S_EVENTS] += 1
        on_trade(s, aux, o, u, m[i, 4], m[i, 5], (head >> 8) & 0xFF, ts, buf[0], buf[1])
    elif kind == K_MARK:
        s[S_STOP_T], s[S_STOP_ROW] = e, i
        return STOP_MARK
    elif kind == K_INVALID:
        s[S_GAPS] += 1
    if s[S_NUPD] > 0:
        s[S_STOP_T], s[S_STOP_ROW] = e, i
        return STOP_UPDATES
    if e >= s[S_FUND_DUE]:
        s[S_STOP_T], s[S_STOP_ROW] = e, i
        return STOP_FUNDING
    return 0


# --- strategy view --------------------------------------------------------------------------------
@jit
def emit_view(s: I64, bk: I64, v: I64, code: int, now: int, ts: int, row: int) -> None:
    k = s[S_NVOUT]
    v[k, V_CODE] = code
    v[k, V_NOW] = now
    v[k, V_TS] = ts
    v[k, V_ROW] = row
    if code == VC_TOP:
        pbase = s[S_PBASE]
        bb, ba = s[S_VBB], s[S_VBA]
        v[k, V_BP] = 0 if bb == NONE else bb + pbase
        v[k, V_BQ] = 0 if bb == NONE else bk[6, bb]
        v[k, V_AP] = 0 if ba == NONE else ba + pbase
        v[k, V_AQ] = 0 if ba == NONE else bk[7, ba]
    s[S_NVOUT] = k + 1


@jit
def _crossed(s: I64) -> bool:
    bb, ba = s[S_VBB], s[S_VBA]
    return bool(bb != NONE and ba != NONE and bb >= ba)


@jit
def view_burst(m: I64, lv: I64, s: I64, bk: I64, v: I64, t: int) -> bool:
    """Apply every row arriving at ``t`` to the strategy's view; True if it is a decision."""
    vb = bk[6:8]
    pbase = s[S_PBASE]
    first = True
    pending = False
    pts = 0
    mark = False
    maxlat = s[S_MAXLAT]
    while s[S_VP] < s[S_NROWS]:
        i = s[S_VP]
        e, ar = row_times(m, s, i, s[S_V_LASTE], s[S_V_LASTAR])
        if ar != t:
            break
        s[S_V_LASTE], s[S_V_LASTAR] = e, ar
        s[S_VP] = skip_rows(m, s, i + 1)
        head = m[i, W_HEAD]
        kind = head & 0xFF
        ts = m[i, W_TS]
        if kind == K_DELTA:
            s[S_VLAT] = 1 if t - ts > maxlat else 0
            if s[S_VSYNC] == 0:
                emit_view(s, bk, v, VC_UNSYNCED, t, ts, i)
                continue
            # the touch before this delta, in case it crosses the book
            bb0, ba0 = s[S_VBB], s[S_VBA]
            bq0 = 0 if bb0 == NONE else vb[0, bb0]
            aq0 = 0 if ba0 == NONE else vb[1, ba0]
            start = m[i, W_START]
            mid = start + ((head >> 32) & 0xFFFFFFFF)
            end = mid + m[i, W_NASKS]
            for k in range(start, mid):
                s[S_VBB] = side_set(vb, BUY, lv[k, 0] - pbase, lv[k, 1], s[S_VBB])
            for k in range(mid, end):
                s[S_VBA] = side_set(vb, SELL, lv[k, 0] - pbase, lv[k, 1], s[S_VBA])
            if _crossed(s):
                if pending:
                    k = s[S_NVOUT]
                    v[k, V_CODE] = VC_TOP
                    v[k, V_NOW] = t
                    v[k, V_TS] = pts
                    v[k, V_BP] = 0 if bb0 == NONE else bb0 + pbase
                    v[k, V_BQ] = bq0
                    v[k, V_AP] = 0 if ba0 == NONE else ba0 + pbase
                    v[k, V_AQ] = aq0
                    v[k, V_ROW] = i
                    s[S_NVOUT] = k + 1
                    pending = False
                emit_view(s, bk, v, VC_TOP, t, ts, i)
                s[S_VSYNC] = 0
            elif first:
                emit_view(s, bk, v, VC_TOP, t, ts, i)
                first = False
            else:
                pending = True
                pts = ts
            continue
        if pending:
            emit_view(s, bk, v, VC_TOP, t, pts, i)
            pending = False
        if kind == K_SNAPSHOT:
            s[S_VLAT] = 1 if t - ts > maxlat else 0
            side_clear(vb, BUY, s[S_VBB])
            side_clear(vb, SELL, s[S_VBA])
            start = m[i, W_START]
            mid = start + ((head >> 32) & 0xFFFFFFFF)
            end = mid + m[i, W_NASKS]
            s[S_VBB] = side_load(vb, BUY, lv, start, mid, pbase)
            s[S_VBA] = side_load(vb, SELL, lv, mid, end, pbase)
            emit_view(s, bk, v, VC_TOP, t, ts, i)
            if _crossed(s):
                s[S_VSYNC] = 0
            else:
                s[S_VSYNC] = 1
                first = False
        elif kind == K_TRADE:
            s[S_VLAT] = 1 if t - ts > maxlat else 0
            k = s[S_NVOUT]
            emit_view(s, bk, v, VC_TRADE, t, ts, i)
            v[k, V_TRADE_ID] = m[i, W_A]
            v[k, V_TRADE_PX] = m[i, W_B]
            v[k, V_TRADE_QTY] = m[i, W_C]
            v[k, V_TRADE_BUYER_MAKER] = 1 if (head >> 8) & 0xFF == 1 else 0
        elif kind == K_MARK:
            emit_view(s, bk, v, VC_MARK, t, ts, i)
            mark = True
        elif kind == K_INVALID:
            emit_view(s, bk, v, VC_INVALID, t, ts, i)
            s[S_VSYNC] = 0
        elif kind == K_TICKER:
            s[S_VLAT] = 1 if t - ts > maxlat else 0
            emit_view(s, bk, v, VC_TICKER, t, ts, i)
    if pending:
        emit_view(s, bk, v, VC_TOP, t, pts, -1)
    emit_view(s, bk, v, VC_BURST_END, t, 0, -1)
    # features (mmtrio.backtest.decisions.StrategySide.features) against the last decision's
    if s[S_VSYNC] == 1:
        bb, ba = s[S_VBB], s[S_VBA]
        f1 = 0 if bb == NONE else bb + pbase
        f2 = 0 if bb == NONE else vb[0, bb]
        f3 = 0 if ba == NONE else ba + pbase
        f4 = 0 if ba == NONE else vb[1, ba]
    else:
        f1 = f2 = f3 = f4 = 0
    changed = (
        s[S_VSYNC] != s[S_D_SYNC]
        or f1 != s[S_D_BP]
        or f2 != s[S_D_BQ]
        or f3 != s[S_D_AP]
        or f4 != s[S_D_AQ]
        or s[S_VLAT] != s[S_D_LAT]
    )
    return bool(changed or mark)


# --- the loop -------------------------------------------------------------------------------------
@jit
def run_loop(m: I64, lv: I64, s: I64, bk: I64, o: I64, u: I64, v: I64, mids: I64, buf: I64) -> int:
    """Run until Python has work; the stop code (``S_STOP_T``: when)."""
    n = s[S_NROWS]
    while True:
        if s[S_NVOUT] > V_CAP - 16_384 or s[S_NMID] > M_CAP - 16:
            return STOP_FULL
        ep, vp = s[S_EP], s[S_VP]
        te = INF
        if ep < n:
            te = row_times(m, s, ep, s[S_E_LAST], s[S_E_LASTAR])[0]
        elif s[S_END] == INF:
            s[S_END] = max(s[S_E_LAST], s[S_E_LASTAR]) + s[S_TAIL]
        tv = INF
        if vp < n:
            tv = row_times(m, s, vp, s[S_V_LASTE], s[S_V_LASTAR])[1]
        t = min(min(te, tv), min(s[S_NEXT_REQ], s[S_PY_AT]))
        if t >= INF or t > s[S_END]:
            return STOP_DONE
        s[S_STOP_T] = t
        if s[S_NEXT_REQ] == t:
            return STOP_REQUEST
        if te == t:
            code = engine_row(m, lv, s, bk, o, u, mids, buf)
            if code != 0:
                return code
            continue
        if tv == t:
            decide = view_burst(m, lv, s, bk, v, t)
            s[S_STOP_T] = t
            if t == s[S_PY_AT]:
                return STOP_PYTHON
            if decide:
                return STOP_DECIDE
            continue
        return STOP_PYTHON


__all__ = ["K_DELTA", "K_SNAPSHOT", "run_loop"]
