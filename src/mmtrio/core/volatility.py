"""Volatility estimators of the mid: an exponentially weighted one and a sliding-window one.

:class:`EwmaVolatility` (the A–S σ) and :class:`RealizedVolatility` (realised and bipower
variance over a window). The conventions every estimator follows are in
:mod:`mmtrio.core.estimators`.
"""

from __future__ import annotations

import math
from collections import deque

from mmtrio.core.estimator_base import _LN2, NotEnoughData, _Clock, _positive, _positive_int
from mmtrio.core.exact_sum import ExactSum


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
        # Every applied book update passes here: the checks of _positive and _Clock.advance
        # inlined for the usual case (a positive finite float, an int time not going
        # backwards), the same answers.
        if type(mid) is not float or not 0.0 < mid < math.inf:
            mid = _positive(mid, "mid")
        clock = self._clock
        last = clock.ts
        if type(ts) is int and last is not None and ts >= last:
            dt, clock.ts = ts - last, ts
        else:
            dt = clock.advance(ts)
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
        mid = self._last_mid
        if (
            self.n_returns >= self.min_returns
            and mid is not None
            and type(unit_ms) is float
            and 0.0 < unit_ms < math.inf
        ):
            # Every decision asks: sigma()'s steps inlined (the same operations in the same
            # order, so the same float) when it is ready and the unit is a plain float.
            return math.sqrt(self._sum_r2 / self._sum_dt * unit_ms) * mid
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
        # rounded, so the estimates are unchanged to the bit. Each window of terms keeps its
        # exact sum as it slides (core/exact_sum.py): a read is O(1), not a pass over it.
        self._squares = ExactSum()
        self._pair_products = ExactSum()
        self._pair_spans = ExactSum()
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
        return self._squares.fsum() / float(self._sum_dt)

    def bipower_variance_per_ms(self) -> float | NotEnoughData:
        """Jump-robust bipower variation rate over the window (log-return variance per ms)."""
        need = max(3, self.min_returns)
        if len(self._returns) < need:
            return NotEnoughData("returns in window", len(self._returns), need)
        num = self._pair_products.fsum()
        den = self._pair_spans.fsum()
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
