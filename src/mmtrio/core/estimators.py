"""Online market estimators: volatility, trend, microprice and order-arrival intensity.

Conventions shared by every estimator here:

- time is an int millisecond argument (no clock reads); samples may arrive at irregular
  intervals and every estimator is written so that irregular sampling gives the same answer
  in expectation as regular sampling;
- prices are floats in whatever unit the caller feeds (ticks inside the core); the results
  are in that same unit (a volatility fed ticks is in ticks);
- a NaN, infinite, zero or negative price, or a time going backwards, raises
  :class:`~mmtrio.errors.ParameterError`;
- warm-up is explicit: an estimate is either a number or a :class:`NotEnoughData` saying
  what is missing (``have`` of ``need``). No estimator returns a made-up default.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

from mmtrio.core.events import Side
from mmtrio.errors import ParameterError

_LN2 = math.log(2.0)


@dataclass(frozen=True, slots=True)
class NotEnoughData:
    """An estimate is not available yet: ``reason``, with ``have`` of ``need`` collected."""

    reason: str
    have: float
    need: float

    def __str__(self) -> str:
        return f"not enough data: {self.reason} ({self.have:g} of {self.need:g})"


def _positive(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ParameterError(f"{what} must be positive and finite, got {value!r}")
    return float(value)


def _positive_int(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ParameterError(f"{what} must be a positive int, got {value!r}")
    return value


class _Clock:
    """The last sample time of one estimator; refuses time going backwards."""

    __slots__ = ("name", "ts")

    def __init__(self, name: str) -> None:
        self.name = name
        self.ts: int | None = None

    def advance(self, ts: int) -> int:
        """Elapsed ms since the previous sample (None → first sample, returns -1)."""
        if isinstance(ts, bool) or not isinstance(ts, int):
            raise ParameterError(f"{self.name}: time must be int ms, got {ts!r}")
        if self.ts is None:
            self.ts = ts
            return -1
        if ts < self.ts:
            raise ParameterError(
                f"{self.name}: sample at {ts} ms is older than the previous one at {self.ts} ms;"
                " feed samples in time order"
            )
        dt, self.ts = ts - self.ts, ts
        return dt


# --- volatility ------------------------------------------------------------------------------


class EwmaVolatility:
    """Exponentially weighted variance of mid log-returns, per unit of time.

    Keeps two exponentially decayed sums — of squared log-returns and of the time they span —
    and estimates the variance rate as their ratio. A return over a long gap carries the
    variance of that whole gap and is matched by its elapsed time in the denominator, so a
    process sampled irregularly gives the same variance per second as one sampled regularly,
    and the ratio needs no start-up bias correction. Decay is by time (half-life in ms), not
    by sample count.

    Two volatilities are exposed:

    - :meth:`sigma` — in log-return units per sqrt(``unit_ms``) (e.g. 0.0004 per √s);
    - :meth:`sigma_price` — in price units per sqrt(``unit_ms``) (``sigma × last mid``), the σ
      of the Avellaneda–Stoikov model, whose mid is an arithmetic Brownian motion. Over the
      quoting horizon (seconds) the log and arithmetic models agree to first order.

    Several mids in the same millisecond: the return is taken from the earlier anchor to the
    next sample with a positive elapsed time, so no move is lost and no zero-length interval
    enters the sums.
    """

    def __init__(self, half_life_ms: float, min_returns: int = 20) -> None:
        self.half_life_ms = _positive(half_life_ms, "EWMA volatility half-life (ms)")
        self.min_returns = _positive_int(min_returns, "EWMA volatility min_returns")
        self._clock = _Clock("EwmaVolatility")
        self._anchor: float | None = None
        self._last_mid: float | None = None
        self._sum_r2 = 0.0
        self._sum_dt = 0.0
        self.n_returns = 0

    def update(self, mid: float, ts: int) -> None:
        """Add a mid observed at ``ts`` ms."""
        mid = _positive(mid, "mid")
        dt = self._clock.advance(ts)
        self._last_mid = mid
        if dt < 0:
            self._anchor = mid
            return
        anchor = self._anchor if self._anchor is not None else mid
        if dt == 0:
            return
        r = math.log(mid / anchor)
        decay = math.exp(-_LN2 * dt / self.half_life_ms)
        self._sum_r2 = self._sum_r2 * decay + r * r
        self._sum_dt = self._sum_dt * decay + dt
        self._anchor = mid
        self.n_returns += 1

    @property
    def ready(self) -> bool:
        return self.n_returns >= self.min_returns

    def variance_per_ms(self) -> float | NotEnoughData:
        """Log-return variance per millisecond, or why not yet."""
        if not self.ready:
            return NotEnoughData("mid returns", self.n_returns, self.min_returns)
        return self._sum_r2 / self._sum_dt

    def sigma(self, unit_ms: float = 1000.0) -> float | NotEnoughData:
        """Volatility of log-returns per sqrt(``unit_ms``)."""
        unit = _positive(unit_ms, "volatility unit (ms)")
        var = self.variance_per_ms()
        if isinstance(var, NotEnoughData):
            return var
        return math.sqrt(var * unit)

    def sigma_price(self, unit_ms: float = 1000.0) -> float | NotEnoughData:
        """Volatility in price units per sqrt(``unit_ms``) at the last mid (A–S's σ)."""
        sig = self.sigma(unit_ms)
        if isinstance(sig, NotEnoughData):
            return sig
        if self._last_mid is None:  # unreachable once ready; kept explicit for the type
            return NotEnoughData("mids", 0, 1)
        return sig * self._last_mid


class RealizedVolatility:
    """Realised variance and bipower variation of mid log-returns over a sliding time window.

    Irregular sampling is normalised away: the realised variance rate is ``Σr² / Σdt`` and the
    bipower rate is ``(π/2)·Σ|rᵢ||rᵢ₋₁| / Σ√(dtᵢ·dtᵢ₋₁)``. For a Brownian log-price with
    variance rate σ², ``E r² = σ²·dt`` and ``E|rᵢ||rᵢ₋₁| = (2/π)·σ²·√(dtᵢ·dtᵢ₋₁)``, so both are
    unbiased for any spacing and any sample size (with equal spacing the bipower form reduces
    to the usual ``(π/2)·n/(n−1)·Σ|rᵢ||rᵢ₋₁|/T`` small-sample correction). Bipower variation
    is robust to jumps; the ratio of the two flags them.

    Minimum samples: realised variance needs ``max(2, min_returns)`` returns, bipower needs
    ``max(3, min_returns)`` (two products at least, so one outlier cannot make the estimate).
    The window also holds at most ``max_returns`` returns so memory stays bounded whatever the
    update rate.
    """

    def __init__(self, window_ms: int, min_returns: int = 10, max_returns: int = 100_000) -> None:
        self.window_ms = _positive_int(window_ms, "realised volatility window (ms)")
        self.min_returns = _positive_int(min_returns, "realised volatility min_returns")
        self.max_returns = _positive_int(max_returns, "realised volatility max_returns")
        self._clock = _Clock("RealizedVolatility")
        self._anchor: float | None = None
        # (end_ts, log_return, dt_ms)
        self._returns: deque[tuple[int, float, int]] = deque()
        # The terms of the sums, computed once when a return arrives rather than on every
        # read (a regime refresh reads both windows every second): r² per return, and per
        # pair of neighbours |rᵢ₋₁|·|rᵢ| and √(dtᵢ₋₁·dtᵢ) (item i pairs returns i and i+1).
        # Each term is the same float the read computed before and ``math.fsum`` is exactly
        # rounded, so the estimates are unchanged to the bit.
        self._squares: deque[float] = deque()
        self._pair_products: deque[float] = deque()
        self._pair_spans: deque[float] = deque()
        self._sum_dt = 0  # Σdt, exact (int ms)

    def update(self, mid: float, ts: int) -> None:
        """Add a mid observed at ``ts`` ms and drop returns that left the window."""
        mid = _positive(mid, "mid")
        dt = self._clock.advance(ts)
        if dt < 0 or self._anchor is None:
            self._anchor = mid
        elif dt > 0:
            r = math.log(mid / self._anchor)
            if self._returns:
                _, prev_r, prev_dt = self._returns[-1]
                self._pair_products.append(abs(prev_r) * abs(r))
                self._pair_spans.append(math.sqrt(prev_dt * dt))
            self._returns.append((ts, r, dt))
            self._squares.append(r * r)
            self._sum_dt += dt
            self._anchor = mid
            if len(self._returns) > self.max_returns:
                self._drop_oldest()
        self._evict(ts)

    def _drop_oldest(self) -> None:
        self._sum_dt -= self._returns.popleft()[2]
        self._squares.popleft()
        if self._pair_products:
            self._pair_products.popleft()
            self._pair_spans.popleft()

    def _evict(self, now: int) -> None:
        # A return belongs to the window if its whole interval lies inside it.
        while self._returns and self._returns[0][0] - self._returns[0][2] < now - self.window_ms:
            self._drop_oldest()

    @property
    def n_returns(self) -> int:
        return len(self._returns)

    def realized_variance_per_ms(self) -> float | NotEnoughData:
        """``Σr²/Σdt`` over the window (log-return variance per ms)."""
        need = max(2, self.min_returns)
        if len(self._returns) < need:
            return NotEnoughData("returns in window", len(self._returns), need)
        # fsum of ints is the exactly rounded Σdt, which is float() of the exact int sum.
        return math.fsum(self._squares) / float(self._sum_dt)

    def bipower_variance_per_ms(self) -> float | NotEnoughData:
        """Jump-robust bipower variation rate over the window (log-return variance per ms)."""
        need = max(3, self.min_returns)
        if len(self._returns) < need:
            return NotEnoughData("returns in window", len(self._returns), need)
        num = math.fsum(self._pair_products)
        den = math.fsum(self._pair_spans)
        return (math.pi / 2.0) * num / den

    def sigma(self, unit_ms: float = 1000.0) -> float | NotEnoughData:
        """Realised volatility per sqrt(``unit_ms``)."""
        unit = _positive(unit_ms, "volatility unit (ms)")
        var = self.realized_variance_per_ms()
        return var if isinstance(var, NotEnoughData) else math.sqrt(var * unit)

    def sigma_bipower(self, unit_ms: float = 1000.0) -> float | NotEnoughData:
        """Bipower (jump-robust) volatility per sqrt(``unit_ms``)."""
        unit = _positive(unit_ms, "volatility unit (ms)")
        var = self.bipower_variance_per_ms()
        return var if isinstance(var, NotEnoughData) else math.sqrt(var * unit)


# --- trend -----------------------------------------------------------------------------------


class TrendEma:
    """Time-weighted exponential moving average of the mid.

    The mid is a step function between samples: during ``[tᵢ₋₁, tᵢ)`` it was ``midᵢ₋₁``. The
    EMA integrates exactly that (``ema ← mid_prev + (ema − mid_prev)·e^(−dt·ln2/H)``), so a
    price that sat still for a long time weighs by that time, not by how many updates it got.
    Ready once ``warmup_ms`` (default: one half-life) of history has been integrated.
    """

    def __init__(self, half_life_ms: float, warmup_ms: float | None = None) -> None:
        self.half_life_ms = _positive(half_life_ms, "trend EMA half-life (ms)")
        self.warmup_ms = (
            self.half_life_ms if warmup_ms is None else _positive(warmup_ms, "trend EMA warm-up")
        )
        self._clock = _Clock("TrendEma")
        self._ema: float | None = None
        self._mid: float | None = None
        self._elapsed = 0.0

    def update(self, mid: float, ts: int) -> None:
        """Add a mid observed at ``ts`` ms."""
        mid = _positive(mid, "mid")
        dt = self._clock.advance(ts)
        if self._ema is None or self._mid is None:
            self._ema = mid
        elif dt > 0:
            decay = math.exp(-_LN2 * dt / self.half_life_ms)
            self._ema = self._mid + (self._ema - self._mid) * decay
            self._elapsed += dt
        self._mid = mid

    @property
    def ready(self) -> bool:
        return self._ema is not None and self._elapsed >= self.warmup_ms

    def value(self) -> float | NotEnoughData:
        """The EMA as of the last sample, or how much history is still missing (ms)."""
        if self._ema is None or not self.ready:
            return NotEnoughData("ms of mid history", self._elapsed, self.warmup_ms)
        return self._ema


# --- microprice ------------------------------------------------------------------------------


def microprice(bid_px: float, bid_qty: float, ask_px: float, ask_qty: float) -> float:
    """Size-weighted mid: ``(bid·askQty + ask·bidQty)/(bidQty + askQty)``, within [bid, ask].

    A heavy bid pulls the price toward the ask (buyers are queued up). Both sizes must be
    positive — an empty side is not a top of book — and the book must not be crossed or
    locked; otherwise ParameterError, so the caller goes to its "cannot quote" path.
    """
    bid = _positive(bid_px, "bid price")
    ask = _positive(ask_px, "ask price")
    bq = _positive(bid_qty, "bid size")
    aq = _positive(ask_qty, "ask size")
    if bid >= ask:
        raise ParameterError(f"book is crossed or locked (bid {bid} >= ask {ask}): no microprice")
    total = bq + aq
    # Written as bid + spread·weight so the result can never leave [bid, ask] by rounding.
    return bid + (ask - bid) * (bq / total)


# --- order-arrival intensity -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IntensityFit:
    """``λ(δ) = A·e^(−kδ)``: A in arrivals per second, k per tick, fitted on ``n`` arrivals."""

    a: float
    k: float
    r2: float
    n: int
    points: int  # depth thresholds used in the regression
    span_ms: int


@dataclass(frozen=True, slots=True)
class FitRejected:
    """Enough data, but the fit is not usable (e.g. k ≤ 0: the depth profile does not decay)."""

    reason: str


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
        if isinstance(ts, bool) or not isinstance(ts, int):
            raise ParameterError(f"IntensityEstimator: time must be int ms, got {ts!r}")
        if self._first_ts is None:
            self._first_ts = ts
        if self._now is None or ts > self._now:
            self._now = ts

    def on_mid(self, mid: float, ts: int) -> None:
        """Record the mid (ticks) at ``ts`` ms."""
        mid = _positive(mid, "mid")
        self._see(ts)
        self._mid, self._mid_ts = mid, ts

    def on_trade(self, price: float, aggressor: Side, ts: int) -> None:
        """Record a public trade print at ``price`` ticks; ``aggressor`` is the taker's side."""
        price = _positive(price, "trade price")
        self._see(ts)
        if self._mid is None or ts - self._mid_ts > self.max_mid_age_ms:
            self.trades_without_mid += 1
            return
        last = self._arrivals[-1] if self._arrivals else None
        if last is not None and last[0] == ts and last[1] == aggressor.sign:
            depth = max(last[3], abs(price - last[2]))
            if depth != last[3]:
                self._forget_depth(last[3])
                bisect.insort(self._depths, depth)
                last[3] = depth
                self._changes += 1
            return
        depth = abs(price - self._mid)
        self._arrivals.append([float(ts), float(aggressor.sign), self._mid, depth])
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
