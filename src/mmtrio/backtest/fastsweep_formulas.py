"""The strategy's formulas as the sweep model computes them, in numba.

:func:`fit_intensity` is the core's intensity estimator (:mod:`mmtrio.core.intensity`: the
A·e^(−kδ) fit of tail counts per depth, with its fallback and its r² gate) over the model's
ring of trade arrivals (``ARRIVALS`` long); :func:`glft_deltas` is the GLFT closed form
(:mod:`mmtrio.core.quoting`): the bid and ask distances from the reference for an inventory
``q`` in base sizes. :mod:`mmtrio.backtest.fastsweep_kernel` calls both at every decision.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from mmtrio.backtest.compiled.jit import jit
from mmtrio.backtest.fastsweep_params import P_FB_A, P_FB_K, P_INT_MIN, P_MAXDEPTH, P_MINR2

F64 = npt.NDArray[np.float64]

ARRIVALS = 200_000


@jit
def fit_intensity(
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
def glft_deltas(q: float, gamma: float, sigma: float, k: float, a: float) -> tuple[float, float]:
    """(bid, ask) distances from the reference in ticks, for inventory ``q`` in base sizes."""
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


__all__ = ["ARRIVALS", "fit_intensity", "glft_deltas"]
