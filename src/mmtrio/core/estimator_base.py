"""What every online estimator shares: the "not enough data yet" answer and the input checks.

:class:`NotEnoughData` is an estimate that is not available yet; ``_positive`` and
``_positive_int`` check parameters and prices, and ``_Clock`` refuses time going backwards.
The conventions they enforce are in the docstring of :mod:`mmtrio.core.estimators`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    # The hot cases first (every price and size): the same answers as the checks below.
    kind: type[object] = type(value)
    if kind is float:
        if 0.0 < value < math.inf:  # NaN fails both comparisons
            return value  # float(value) is value
    elif kind is int and value > 0:
        return float(value)
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
