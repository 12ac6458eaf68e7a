"""Dense book sides for the compiled core: ``B[side, price - PBASE]`` = size in lots.

Best prices are cached as indexes (``NONE`` for an empty side). Setting a size at a new
better price moves the best there; removing the best scans outward to the next non-empty
price (near the touch on real data: a few ticks). Semantics are those of the Python engine's
and the core book's sides: a size of 0 removes a level, removing an absent level does nothing.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mmtrio.backtest.compiled.jit import jit
from mmtrio.backtest.compiled.slots import BUY, NONE

I64 = npt.NDArray[np.int64]


@jit
def side_set(b: I64, side: int, idx: int, qty: int, best: int) -> int:
    """Set the size at ``idx``; returns the side's new best index. A level outside the
    dense window is skipped (see :func:`mmtrio.backtest.compiled.engine._window`)."""
    row = b[side]
    if idx < 0 or idx >= row.shape[0]:
        return best
    if qty > 0:
        row[idx] = qty
        if best == NONE or (idx > best if side == BUY else idx < best):
            return idx
        return best
    if row[idx] == 0:
        return best
    row[idx] = 0
    if idx != best:
        return best
    return side_scan(b, side, idx)


@jit
def side_scan(b: I64, side: int, start: int) -> int:
    """The best non-empty index at or beyond ``start`` going away from the touch."""
    row = b[side]
    n = row.shape[0]
    if side == BUY:
        i = start
        while i >= 0:
            if row[i] > 0:
                return i
            i -= 1
        return NONE
    i = start
    while i < n:
        if row[i] > 0:
            return i
        i += 1
    return NONE


@jit
def side_clear(b: I64, side: int, best: int) -> None:
    """Empty one side (walks from the best away from the touch; sizes beyond are zero)."""
    row = b[side]
    if best == NONE:
        return
    if side == BUY:
        i = best
        while i >= 0:
            row[i] = 0
            i -= 1
    else:
        i = best
        while i < row.shape[0]:
            row[i] = 0
            i += 1


@jit
def side_load(b: I64, side: int, lv: I64, lo: int, hi: int, pbase: int) -> int:
    """Load levels ``lv[lo:hi]`` (sizes <= 0 skipped); returns the best index."""
    row = b[side]
    best = NONE
    for k in range(lo, hi):
        q = lv[k, 1]
        if q > 0:
            idx = lv[k, 0] - pbase
            if idx < 0 or idx >= row.shape[0]:
                continue
            row[idx] = q
            if best == NONE or (idx > best if side == BUY else idx < best):
                best = idx
    return best


@jit
def level(b: I64, side: int, idx: int) -> int:
    """Size at ``idx`` (0 outside the dense range)."""
    if idx < 0 or idx >= b.shape[1]:
        return 0
    return int(b[side, idx])
