"""The order-arrival intensity ``λ(δ) = A·e^(−kδ)``, fitted online from public trades.

:class:`IntensityEstimator` and what it answers: :class:`IntensityFit`, :class:`FitRejected`
and :class:`IntensityParams` (the (A, k) in force). The conventions every estimator
follows are in :mod:`mmtrio.core.estimators`.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

from mmtrio.core.estimator_base import NotEnoughData, _positive, _positive_int
from mmtrio.core.events import Side
from mmtrio.errors import ParameterError


@dataclass(frozen=True, slots=True)
class IntensityFit:
    """``λ(δ) = A·e^(−kδ)``: A in arrivals per second, k per tick, fitted on ``n`` arrivals."""

    a: float
    k: float
    r2: float
    n: int
    points: int  # depth thresholds used in the regression
    span_ms: int

    def __str__(self) -> str:
        return (
            f"A {self.a:.3g}/s, k {self.k:.3g}/tick (r² {self.r2:.3f}, {self.n} arrivals "
            f"over {self.span_ms / 1000:g} s)"
        )


@dataclass(frozen=True, slots=True)
class FitRejected:
    """Enough data, but the fit is not usable (e.g. k ≤ 0: the depth profile does not decay).

    Said as its reason (``str``), like :class:`NotEnoughData`: it is shown to the operator."""

    reason: str

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True, slots=True)
class IntensityParams:
    """The (A, k) in force and where it came from; ``detail`` says why when it is the fallback."""

    a: float
    k: float
    source: Literal["fit", "fallback"]
    detail: IntensityFit | NotEnoughData | FitRejected


class IntensityEstimator:
    """Fits the order-arrival intensity ``λ(δ) = A·e^(−kδ)`` from public trades.

    Depth ``δ`` is ``|trade price − mid|`` in ticks, the mid being the latest one before the
    trade (convert to price units with ``δ_price = δ·tick_size``, and ``k_price = k/tick_size``).
    The prints of one sweep (same ms, same aggressor side) are one market order: one arrival
    whose depth is the deepest print, measured from the mid before the sweep.

    ``λ(δ)`` is the rate at which a resting quote at depth δ would be reached, so it is
    estimated from the *tail* count: arrivals with depth ≥ δ, per second of window, at depths
    ``0, step, 2·step, …, max_depth_ticks``. A least-squares line through
    ``(δ, ln λ(δ))`` over the non-empty thresholds gives ``ln A`` and ``−k``. (For exponential
    depths the per-bucket density decays with the same k; the tail form gives A directly as
    the total arrival rate.) Arrivals deeper than ``max_depth_ticks`` count at every
    threshold (they reached all of them).

    Until ``min_trades`` arrivals are in the window and at least two thresholds are
    non-empty, :meth:`params` returns the configured fallback and says so.

    Trades and mids come from different streams whose timestamps interleave by a few ms, so
    this estimator accepts mildly out-of-order times: its window is anchored at the largest
    time seen.

    Cost: the depths in the window are kept sorted as arrivals come and go (an insertion and
    a removal by bisection each), so a fit reads the tail counts by bisection instead of
    sorting the whole window; the same multiset of depths gives the same counts, so the fit
    is the one a full sort gives, bit for bit. A fit whose inputs did not change (no arrival
    added, extended or evicted, the same span) is returned again without recomputing.
    """

    def __init__(
        self,
        window_ms: int,
        max_depth_ticks: float,
        min_trades: int,
        *,
        fallback_a: float,
        fallback_k: float,
        depth_step_ticks: float = 1.0,
        max_mid_age_ms: int = 5_000,
        max_arrivals: int = 200_000,
    ) -> None:
        self.window_ms = _positive_int(window_ms, "intensity window (ms)")
        self.max_depth_ticks = _positive(max_depth_ticks, "intensity max depth (ticks)")
        self.min_trades = _positive_int(min_trades, "intensity min_trades")
        self.fallback_a = _positive(fallback_a, "fallback A")
        self.fallback_k = _positive(fallback_k, "fallback k")
        self.depth_step_ticks = _positive(depth_step_ticks, "intensity depth step (ticks)")
        if self.depth_step_ticks > self.max_depth_ticks:
            raise ParameterError(
                f"intensity depth step {depth_step_ticks} exceeds max depth {max_depth_ticks}"
            )
        self.max_mid_age_ms = _positive_int(max_mid_age_ms, "intensity max mid age (ms)")
        self.max_arrivals = _positive_int(max_arrivals, "intensity max_arrivals")
        self._mid: float | None = None
        self._mid_ts = 0
        self._first_ts: int | None = None
        self._now: int | None = None
        # [ts, side_sign, mid_at_start, depth]; mutable so a sweep's later prints extend it.
        self._arrivals: deque[list[float]] = deque()
        self._depths: list[float] = []  # the arrivals' depths, sorted (see the class doc)
        self._changes = 0  # bumped by every change of the arrivals (the fit's memo key)
        self._memo: tuple[int, int, IntensityFit | NotEnoughData | FitRejected] | None = None
        self.trades_without_mid = 0

    def _see(self, ts: int) -> None:
        if type(ts) is not int and (isinstance(ts, bool) or not isinstance(ts, int)):
            raise ParameterError(f"IntensityEstimator: time must be int ms, got {ts!r}")
        if self._first_ts is None:
            self._first_ts = ts
        if self._now is None or ts > self._now:
            self._now = ts

    def on_mid(self, mid: float, ts: int) -> None:
        """Record the mid (ticks) at ``ts`` ms."""
        # Every applied book update: the fast paths of on_trade (the same answers).
        if type(mid) is not float or not 0.0 < mid < math.inf:
            mid = _positive(mid, "mid")
        now = self._now
        if type(ts) is int and now is not None:
            if ts > now:
                self._now = ts
        else:
            self._see(ts)
        self._mid, self._mid_ts = mid, ts

    def on_trade(self, price: float, aggressor: Side, ts: int) -> None:
        """Record a public trade print at ``price`` ticks; ``aggressor`` is the taker's side."""
        # Every public trade passes here: the checks of _positive and _see inlined for the
        # usual case (a positive finite float, an int time after the first), the same answers.
        if type(price) is not float or not 0.0 < price < math.inf:
            price = _positive(price, "trade price")
        now = self._now
        if type(ts) is int and now is not None:
            if ts > now:
                self._now = ts
        else:
            self._see(ts)
        if self._mid is None or ts - self._mid_ts > self.max_mid_age_ms:
            self.trades_without_mid += 1
            return
        last = self._arrivals[-1] if self._arrivals else None
        sign = 1 if aggressor is Side.BUY else -1  # Side.sign, without the property call
        if last is not None and last[0] == ts and last[1] == sign:
            depth = max(last[3], abs(price - last[2]))
            if depth != last[3]:
                self._forget_depth(last[3])
                bisect.insort(self._depths, depth)
                last[3] = depth
                self._changes += 1
            return
        depth = abs(price - self._mid)
        self._arrivals.append([float(ts), float(sign), self._mid, depth])
        bisect.insort(self._depths, depth)
        self._changes += 1
        if len(self._arrivals) > self.max_arrivals:
            self._forget_depth(self._arrivals.popleft()[3])

    def _forget_depth(self, depth: float) -> None:
        depths = self._depths
        del depths[bisect.bisect_left(depths, depth)]

    def _evict(self, now: int) -> None:
        start = now - self.window_ms
        arrivals = self._arrivals
        while arrivals and arrivals[0][0] <= start:
            self._forget_depth(arrivals.popleft()[3])
            self._changes += 1

    @property
    def n_arrivals(self) -> int:
        return len(self._arrivals)

    def fit(self, now: int | None = None) -> IntensityFit | NotEnoughData | FitRejected:
        """Fit over the window ending at ``now`` (default: the latest time seen)."""
        if now is not None:
            self._see(now)
        if self._now is None or self._first_ts is None:
            return NotEnoughData("arrivals in window", 0, self.min_trades)
        self._evict(self._now)
        n = len(self._arrivals)
        if n < self.min_trades:
            return NotEnoughData("arrivals in window", n, self.min_trades)
        span_ms = min(self.window_ms, self._now - self._first_ts)
        if span_ms <= 0:
            return NotEnoughData("ms of trade history", span_ms, 1)
        memo = self._memo
        if memo is not None and memo[0] == self._changes and memo[1] == span_ms:
            return memo[2]  # nothing it reads changed: the same fit
        result = self._fit(n, span_ms)
        self._memo = (self._changes, span_ms, result)
        return result

    def _fit(self, n: int, span_ms: int) -> IntensityFit | NotEnoughData | FitRejected:
        seconds = span_ms / 1000.0
        depths = self._depths
        xs: list[float] = []
        ys: list[float] = []
        steps = math.floor(self.max_depth_ticks / self.depth_step_ticks + 1e-9)
        for i in range(steps + 1):
            delta = i * self.depth_step_ticks
            # Small epsilon: a depth of exactly `delta` ticks (float mid) counts as reaching it.
            # The count of depths below delta - 1e-9 (a linear scan over the sorted depths
            # before; the same index).
            tail = n - bisect.bisect_left(depths, delta - 1e-9)
            if tail == 0:
                break
            xs.append(delta)
            ys.append(math.log(tail / seconds))
        if len(xs) < 2:
            return NotEnoughData("non-empty depth thresholds", len(xs), 2)
        mx = math.fsum(xs) / len(xs)
        my = math.fsum(ys) / len(ys)
        sxx = math.fsum((x - mx) ** 2 for x in xs)
        sxy = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
        slope = sxy / sxx
        intercept = my - slope * mx
        syy = math.fsum((y - my) ** 2 for y in ys)
        r2 = 1.0 if syy == 0 else (sxy * sxy) / (sxx * syy)
        k = -slope
        if not k > 0:
            return FitRejected(f"fitted k = {k:.4g} per tick is not positive: depth does not decay")
        a = math.exp(intercept)
        if not (math.isfinite(a) and math.isfinite(k)):
            return FitRejected(f"fit is not finite (A={a}, k={k})")
        return IntensityFit(a=a, k=k, r2=r2, n=n, points=len(xs), span_ms=span_ms)

    def params(self, now: int | None = None) -> IntensityParams:
        """The (A, k) to quote with: the fit when there is one, else the configured fallback."""
        result = self.fit(now)
        if isinstance(result, IntensityFit):
            return IntensityParams(result.a, result.k, "fit", result)
        return IntensityParams(self.fallback_a, self.fallback_k, "fallback", result)
