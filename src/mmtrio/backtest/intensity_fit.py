"""The order-arrival intensity ``λ(δ) = A·e^(−kδ)`` fitted on a whole recording.

The live strategy fits (A, k) online over ``estimators.intensity_window_ms``
(:class:`~mmtrio.core.intensity.IntensityEstimator`) and quotes on the configured fallback
until that fit exists, or while the fit fails its quality gate (:mod:`mmtrio.core.fit_gate`).
``mmtrio calibrate`` sets that fallback from recordings: the same estimator, the same depth
convention (``|trade − mid before it|`` in ticks, one arrival per sweep), over the recording's
whole span. The mid is the book's, rebuilt from the recording's snapshot and diffs with the
core's :class:`~mmtrio.core.book.OrderBook`, as the strategy rebuilds it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mmtrio.backtest.feed import Source
from mmtrio.core.book import BookOutcome, OrderBook
from mmtrio.core.events import BookDelta, BookInvalid, BookSnapshot, Trade
from mmtrio.core.intensity import IntensityEstimator, IntensityFit
from mmtrio.core.planner import INTENSITY_MAX_DEPTH_TICKS

MAX_WINDOW_MS = 24 * 3_600_000  # a recording longer than a day is fitted over its last day


@dataclass(frozen=True, slots=True)
class RecordingFit:
    """(A, k) of one recording, with the fit's r², its arrivals and its span."""

    label: str
    a: float
    k: float
    r2: float
    arrivals: int
    span_s: float


def fit_recording(label: str, source: Source, symbol: str) -> RecordingFit | str:
    """The recording's (A, k) fit, or why there is none (a sentence)."""
    book = OrderBook(symbol)
    est = IntensityEstimator(
        MAX_WINDOW_MS, INTENSITY_MAX_DEPTH_TICKS, 1, fallback_a=1.0, fallback_k=1.0
    )
    last = None
    for _, ev in source():
        if isinstance(ev, BookSnapshot):
            outcome = book.apply_snapshot(ev)
        elif isinstance(ev, BookDelta):
            outcome = book.apply_delta(ev)
        elif isinstance(ev, BookInvalid):
            book.mark_out_of_sync(ev.reason)
            continue
        elif isinstance(ev, Trade):
            if ev.symbol == symbol and ev.price > 0:
                t = max(ev.ts, last or ev.ts)
                est.on_trade(float(ev.price), ev.aggressor, t)
            continue
        else:
            continue
        last = max(ev.ts, last or ev.ts)
        mid = book.mid() if outcome is BookOutcome.APPLIED else None
        if mid is not None and mid > 0:
            est.on_mid(mid, last)
    result = est.fit()
    if not isinstance(result, IntensityFit):
        return f"{label}: no intensity fit ({result})"
    return RecordingFit(label, result.a, result.k, result.r2, result.n, result.span_ms / 1000)


def pooled(fits: list[RecordingFit]) -> tuple[float, float]:
    """(A, k) across recordings: geometric means (A and k are rates; a log scale is theirs)."""
    n = len(fits)
    a = math.exp(math.fsum(math.log(f.a) for f in fits) / n)
    k = math.exp(math.fsum(math.log(f.k) for f in fits) / n)
    return a, k


__all__ = ["RecordingFit", "fit_recording", "pooled"]
