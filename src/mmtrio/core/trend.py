"""The trend estimator: a time-weighted exponential moving average of the mid (:class:`TrendEma`).

The conventions every estimator follows are in :mod:`mmtrio.core.estimators`.
"""

from __future__ import annotations

import math

from mmtrio.core.estimator_base import _LN2, NotEnoughData, _Clock, _positive


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
