"""Our orders against the recorded book, compiled: a port of :mod:`mmtrio.exchange.matching`
(the reference; its module doc states the rules) and :mod:`mmtrio.exchange.queue_position`,
rule for rule and in the same order, so that fills, prices and trade order agree to the lot.

Arrays: ``S`` the scalar state, ``EB[side, idx]`` the engine's market book, ``AUX`` our resting
lots count per price (rows 0/1: how many of our orders rest there) and market trade size seen
at a level holding our orders since a diff last touched it (rows 2/3), ``O`` our orders, ``U``
the order updates produced (read by the adapter).

Where the Python engine iterates a dict of price queues (insertion order) this port orders by
``O_GRP`` (the sequence at which that price's queue was created), and within a price by
``O_REST`` (time priority): the same orders.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mmtrio.backtest.compiled.book import level, side_set
from mmtrio.backtest.compiled.jit import jit
from mmtrio.backtest.compiled.slots import (
    BUY,
    CAUSE_IOC,
    CAUSE_POST_ONLY_AMEND,
    CAUSE_SELF_TRADE,
    NONE,
    O_ACTIVE,
    O_AHEAD,
    O_CAUSE,
    O_CUM,
    O_GRP,
    O_OID,
    O_PRICE,
    O_QTY,
    O_REST,
    O_RESTING,
    O_RO,
    O_SIDE,
    O_STATUS,
    O_TIF,
    REJ_OK,
    REJ_REDUCE_ONLY,
    REJ_WOULD_TAKE,
    S_EBA,
    S_EBB,
    S_GRP_SEQ,
    S_NEXT_OID,
    S_NUPD,
    S_PBASE,
    S_POS,
    S_QMODEL,
    S_REST_SEQ,
    S_SLOTS_HI,
    SELL,
    ST_CANCELED,
    ST_EXPIRED,
    ST_FILLED,
    ST_NEW,
    ST_PARTIAL,
    TIF_IOC,
    TIF_POST,
    U_CAUSE,
    U_CUM,
    U_EXEC,
    U_FPX,
    U_FQTY,
    U_MAKER,
    U_OID,
    U_PRICE,
    U_QTY,
    U_SLOT,
    U_STATUS,
    U_TS,
    X_AMENDMENT,
    X_CANCELED,
    X_EXPIRED,
    X_NEW,
    X_TRADE,
)

I64 = npt.NDArray[np.int64]


# --- bookkeeping ----------------------------------------------------------------------------------
@jit
def _best_key(s: I64, side: int) -> int:
    return S_EBB if side == BUY else S_EBA


@jit
def market_best(s: I64, side: int) -> int:
    """Best market price of a side (ticks), or NONE."""
    idx = s[S_EBB] if side == BUY else s[S_EBA]
    return NONE if idx == NONE else idx + s[S_PBASE]


@jit
def set_market(s: I64, eb: I64, side: int, price: int, qty: int) -> None:
    idx = price - s[S_PBASE]
    key = _best_key(s, side)
    s[key] = side_set(eb, side, idx, qty, s[key])


@jit
def emit(
    s: I64, u: I64, o: I64, slot: int, x: int, ts: int, fpx: int, fqty: int, maker: int
) -> None:
    k = s[S_NUPD]
    u[k, U_SLOT] = slot
    u[k, U_EXEC] = x
    u[k, U_STATUS] = o[slot, O_STATUS]
    u[k, U_PRICE] = o[slot, O_PRICE]
    u[k, U_QTY] = o[slot, O_QTY]
    u[k, U_CUM] = o[slot, O_CUM]
    u[k, U_TS] = ts
    u[k, U_FPX] = fpx
    u[k, U_FQTY] = fqty
    u[k, U_MAKER] = maker
    u[k, U_OID] = o[slot, O_OID]
    u[k, U_CAUSE] = o[slot, O_CAUSE]
    s[S_NUPD] = k + 1


@jit
def queue_at(s: I64, o: I64, side: int, price: int, out: I64) -> int:
    """Slots of our orders resting at ``price`` on ``side``, in time priority; the count."""
    n = 0
    for i in range(s[S_SLOTS_HI]):
        if o[i, O_RESTING] == 1 and o[i, O_SIDE] == side and o[i, O_PRICE] == price:
            # insertion sort by rest sequence (a queue holds a handful of orders)
            j = n
            while j > 0 and o[out[j - 1], O_REST] > o[i, O_REST]:
                out[j] = out[j - 1]
                j -= 1
            out[j] = i
            n += 1
    return n


@jit
def own_best(s: I64, o: I64, side: int) -> int:
    """Best price among our resting orders on ``side`` (NONE if none)."""
    best = NONE
    for i in range(s[S_SLOTS_HI]):
        if o[i, O_RESTING] == 1 and o[i, O_SIDE] == side:
            p = o[i, O_PRICE]
            if best == NONE or (p > best if side == BUY else p < best):
                best = p
    return best


@jit
def _in_range(s: I64, aux: I64, price: int) -> int:
    idx = price - s[S_PBASE]
    return idx if 0 <= idx < aux.shape[1] else NONE


@jit
def rest(s: I64, eb: I64, aux: I64, o: I64, slot: int, buf: I64) -> None:
    side, price = o[slot, O_SIDE], o[slot, O_PRICE]
    idx = _in_range(s, aux, price)
    ahead = 0 if idx == NONE else eb[side, idx]
    n = queue_at(s, o, side, price, buf)
    if n > 0:  # never ahead of an earlier order of ours at the same price
        last = buf[n - 1]
        ahead = max(ahead, o[last, O_AHEAD])
        o[slot, O_GRP] = o[last, O_GRP]
    else:
        s[S_GRP_SEQ] += 1
        o[slot, O_GRP] = s[S_GRP_SEQ]
    s[S_REST_SEQ] += 1
    o[slot, O_REST] = s[S_REST_SEQ]
    o[slot, O_AHEAD] = ahead
    o[slot, O_RESTING] = 1
    if idx != NONE:
        aux[side, idx] += 1


@jit
def unrest(s: I64, aux: I64, o: I64, slot: int) -> None:
    if o[slot, O_RESTING] == 0:
        return
    o[slot, O_RESTING] = 0
    side = o[slot, O_SIDE]
    idx = _in_range(s, aux, o[slot, O_PRICE])
    if idx != NONE:
        aux[side, idx] -= 1
        if aux[side, idx] == 0:
            aux[2 + side, idx] = 0  # the queue is gone: forget the trades seen there


@jit
def close(s: I64, o: I64, u: I64, slot: int, x: int, status: int, ts: int) -> None:
    o[slot, O_STATUS] = status
    o[slot, O_ACTIVE] = 0
    o[slot, O_AHEAD] = 0
    emit(s, u, o, slot, x, ts, 0, 0, 0)


@jit
def fill(
    s: I64, aux: I64, o: I64, u: I64, slot: int, price: int, qty: int, maker: int, ts: int
) -> None:
    o[slot, O_CUM] += qty
    s[S_POS] += qty if o[slot, O_SIDE] == BUY else -qty
    if o[slot, O_QTY] - o[slot, O_CUM] <= 0:
        unrest(s, aux, o, slot)
        o[slot, O_STATUS] = ST_FILLED
        o[slot, O_ACTIVE] = 0
        o[slot, O_AHEAD] = 0
    else:
        o[slot, O_STATUS] = ST_PARTIAL
    emit(s, u, o, slot, X_TRADE, ts, price, qty, maker)


# --- queue position (mmtrio.exchange.queue_position) ----------------------------------------------
@jit
def aheads_after_level_change(
    o: I64, q: I64, n: int, old: int, new: int, traded: int, probabilistic: int
) -> None:
    if new <= 0:
        for j in range(n):
            o[q[j], O_AHEAD] = 0
        return
    base = max(0, old - traded)
    cancelled = max(0, base - new)
    prev = 0
    for j in range(n):
        a = min(o[q[j], O_AHEAD], base) if base > 0 else 0
        if probabilistic == 1 and cancelled > 0 and base > 0:
            total = base
            a -= (2 * cancelled * a + total) // (2 * total)
        a = max(0, min(a, new))
        if j > 0 and a < prev:
            a = prev
        o[q[j], O_AHEAD] = a
        prev = a


# --- market data ----------------------------------------------------------------------------------
@jit
def fill_crossed(s: I64, eb: I64, aux: I64, o: I64, u: I64, ts: int, buf: I64) -> None:
    for side in (BUY, SELL):
        opp = SELL if side == BUY else BUY
        while True:
            own = own_best(s, o, side)
            ob = market_best(s, opp)
            if own == NONE or ob == NONE:
                break
            if (ob > own) if side == BUY else (ob < own):
                break
            queue_at(s, o, side, own, buf)
            slot = buf[0]
            avail = eb[opp, ob - s[S_PBASE]]
            qty = min(o[slot, O_QTY] - o[slot, O_CUM], avail)
            set_market(s, eb, opp, ob, avail - qty)
            fill(s, aux, o, u, slot, own, qty, 1, ts)


@jit
def on_levels(
    s: I64, eb: I64, aux: I64, o: I64, lv: I64, lo: int, hi: int, side: int, buf: I64
) -> None:
    pbase = s[S_PBASE]
    for k in range(lo, hi):
        price, qty = lv[k, 0], lv[k, 1]
        idx = price - pbase
        if 0 <= idx < aux.shape[1] and aux[side, idx] > 0:
            old = eb[side, idx]
            traded = aux[2 + side, idx]
            aux[2 + side, idx] = 0
            n = queue_at(s, o, side, price, buf)
            aheads_after_level_change(o, buf, n, old, qty, traded, s[S_QMODEL])
        set_market(s, eb, side, price, qty)


@jit
def on_trade(
    s: I64,
    aux: I64,
    o: I64,
    u: I64,
    price: int,
    qty: int,
    buyer_is_maker: int,
    ts: int,
    buf: I64,
    grp: I64,
) -> None:
    hit = BUY if buyer_is_maker == 1 else SELL
    # Trades through our price fill us fully, whichever side was the aggressor; price
    # levels in the order their queues were created (the Python engine's dict order).
    for side in (BUY, SELL):
        ng = 0
        for i in range(s[S_SLOTS_HI]):
            if o[i, O_RESTING] == 1 and o[i, O_SIDE] == side:
                g = o[i, O_GRP]
                seen = False
                for j in range(ng):
                    if grp[j] == g:
                        seen = True
                if not seen:
                    j = ng
                    while j > 0 and grp[j - 1] > g:
                        grp[j] = grp[j - 1]
                        j -= 1
                    grp[j] = g
                    ng += 1
        for j in range(ng):
            p = NONE
            for i in range(s[S_SLOTS_HI]):
                if o[i, O_RESTING] == 1 and o[i, O_SIDE] == side and o[i, O_GRP] == grp[j]:
                    p = o[i, O_PRICE]
                    break
            if p == NONE:
                continue
            through = p > price if side == BUY else p < price
            if through:
                n = queue_at(s, o, side, p, buf)
                for k in range(n):
                    slot = buf[k]
                    fill(s, aux, o, u, slot, p, o[slot, O_QTY] - o[slot, O_CUM], 1, ts)
    n = queue_at(s, o, hit, price, buf)
    if n > 0:
        left = qty
        eaten = 0
        for k in range(n):
            slot = buf[k]
            eat = min(left, max(0, o[slot, O_AHEAD] - eaten))
            eaten += eat
            left -= eat
            f = min(left, o[slot, O_QTY] - o[slot, O_CUM])
            left -= f
            grp[k] = f
        for k in range(n):
            slot = buf[k]
            o[slot, O_AHEAD] = max(0, o[slot, O_AHEAD] - eaten)
        for k in range(n):
            if grp[k] > 0:
                fill(s, aux, o, u, buf[k], price, grp[k], 1, ts)
        idx = _in_range(s, aux, price)
        if idx != NONE and aux[hit, idx] > 0:
            aux[2 + hit, idx] += qty


@jit
def on_snapshot_orders(s: I64, eb: I64, aux: I64, o: I64) -> None:
    """After the market book was replaced: cap queues at the new sizes, forget trades."""
    for i in range(s[S_SLOTS_HI]):
        if o[i, O_RESTING] == 1:
            side = o[i, O_SIDE]
            idx = _in_range(s, aux, o[i, O_PRICE])
            size = 0 if idx == NONE else eb[side, idx]
            o[i, O_AHEAD] = min(o[i, O_AHEAD], size)
            if idx != NONE:
                aux[2 + side, idx] = 0


# --- requests -------------------------------------------------------------------------------------
@jit
def would_take(s: I64, o: I64, side: int, price: int) -> bool:
    opp = SELL if side == BUY else BUY
    for opp_price in (market_best(s, opp), own_best(s, o, opp)):
        if opp_price != NONE and (price >= opp_price if side == BUY else price <= opp_price):
            return True
    return False


@jit
def take_and_rest(s: I64, eb: I64, aux: I64, o: I64, u: I64, slot: int, ts: int, buf: I64) -> None:
    side = o[slot, O_SIDE]
    opp = SELL if side == BUY else BUY
    limit = o[slot, O_PRICE]
    own_opp = own_best(s, o, opp)
    stp = own_opp != NONE and (limit >= own_opp if side == BUY else limit <= own_opp)
    if stp:
        limit = own_opp - 1 if side == BUY else own_opp + 1
    if o[slot, O_TIF] != TIF_POST:
        pbase = s[S_PBASE]
        while o[slot, O_QTY] - o[slot, O_CUM] > 0:
            p = market_best(s, opp)
            if p == NONE or (p > limit if side == BUY else p < limit):
                break
            avail = eb[opp, p - pbase]
            qty = min(o[slot, O_QTY] - o[slot, O_CUM], avail)
            set_market(s, eb, opp, p, avail - qty)  # consumed until a diff overwrites it
            fill(s, aux, o, u, slot, p, qty, 0, ts)
    if o[slot, O_QTY] - o[slot, O_CUM] <= 0:
        return
    if stp:
        o[slot, O_CAUSE] = CAUSE_SELF_TRADE
        close(s, o, u, slot, X_EXPIRED, ST_EXPIRED, ts)
    elif o[slot, O_TIF] == TIF_IOC:
        o[slot, O_CAUSE] = CAUSE_IOC
        close(s, o, u, slot, X_EXPIRED, ST_EXPIRED, ts)
    else:
        rest(s, eb, aux, o, slot, buf)


@jit
def place(
    s: I64,
    eb: I64,
    aux: I64,
    o: I64,
    u: I64,
    slot: int,
    side: int,
    price: int,
    qty: int,
    tif: int,
    reduce_only: int,
    ts: int,
    buf: I64,
) -> int:
    """A new order in ``slot`` (the adapter checked the id and the filters); REJ_* code."""
    if reduce_only == 1 and not (s[S_POS] < 0 if side == BUY else s[S_POS] > 0):
        return REJ_REDUCE_ONLY
    if tif == TIF_POST and would_take(s, o, side, price):
        return REJ_WOULD_TAKE
    for f in range(o.shape[1]):
        o[slot, f] = 0
    o[slot, O_ACTIVE] = 1
    o[slot, O_SIDE] = side
    o[slot, O_PRICE] = price
    o[slot, O_QTY] = qty
    o[slot, O_TIF] = tif
    o[slot, O_RO] = reduce_only
    o[slot, O_OID] = s[S_NEXT_OID]
    o[slot, O_STATUS] = ST_NEW
    s[S_NEXT_OID] += 1
    s[S_SLOTS_HI] = max(s[S_SLOTS_HI], slot + 1)
    emit(s, u, o, slot, X_NEW, ts, 0, 0, 0)
    take_and_rest(s, eb, aux, o, u, slot, ts, buf)
    return REJ_OK


@jit
def amend(
    s: I64, eb: I64, aux: I64, o: I64, u: I64, slot: int, price: int, qty: int, ts: int, buf: I64
) -> None:
    if qty <= o[slot, O_CUM]:
        unrest(s, aux, o, slot)
        close(s, o, u, slot, X_CANCELED, ST_CANCELED, ts)
        return
    unrest(s, aux, o, slot)
    if o[slot, O_TIF] == TIF_POST and would_take(s, o, o[slot, O_SIDE], price):
        o[slot, O_CAUSE] = CAUSE_POST_ONLY_AMEND
        close(s, o, u, slot, X_EXPIRED, ST_EXPIRED, ts)
        return
    o[slot, O_PRICE] = price
    o[slot, O_QTY] = qty
    emit(s, u, o, slot, X_AMENDMENT, ts, 0, 0, 0)
    take_and_rest(s, eb, aux, o, u, slot, ts, buf)


@jit
def cancel(s: I64, aux: I64, o: I64, u: I64, slot: int, ts: int) -> None:
    unrest(s, aux, o, slot)
    close(s, o, u, slot, X_CANCELED, ST_CANCELED, ts)


@jit
def cancel_all(s: I64, aux: I64, o: I64, u: I64, ts: int) -> None:
    """Every open order, oldest (lowest order id) first."""
    while True:
        pick = NONE
        for i in range(s[S_SLOTS_HI]):
            if o[i, O_ACTIVE] == 1 and (pick == NONE or o[i, O_OID] < o[pick, O_OID]):
                pick = i
        if pick == NONE:
            return
        cancel(s, aux, o, u, pick, ts)


__all__ = ["level"]
