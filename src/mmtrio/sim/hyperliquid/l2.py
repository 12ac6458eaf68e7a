"""``l2Book`` aggregation: ``nSigFigs`` and ``mantissa``, as Hyperliquid documents them.

Hyperliquid's info endpoint and websocket take, with ``l2Book``, an optional ``nSigFigs``
(2, 3, 4 or 5; null = full precision) that aggregates the levels to that many significant
figures, and an optional ``mantissa`` (1, 2 or 5), allowed only with ``nSigFigs`` 5, that
widens the bucket to that many units of the fifth figure. A level's bucket is read off its own
price: 61812.3 at 3 figures falls in a bucket of 100 (61800), 9981.2 in one of 10 (9980).
Bids round down and asks up to their bucket (a level never looks better than it is); sizes
and order counts in a bucket are summed; the best 20 buckets a side are published
(:meth:`mmtrio.sim.hyperliquid.grid.Grid.book`).

In the engine's ticks (a power of ten: :mod:`.grid` refuses any other), a price of ``d``
digits in ticks has its ``n``-th significant figure at ``10**(d - n)`` ticks; a bucket is
never finer than one tick. A value outside these is refused as the venue refuses a body it
cannot deserialise (HTTP 422 on ``/info``, an ``error`` channel message on the websocket).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mmtrio.sim.errors import SimBadRequest
from mmtrio.sim.hyperliquid.words import BAD_JSON

SIG_FIGS = (2, 3, 4, 5)
MANTISSAS = (1, 2, 5)


@dataclass(frozen=True, slots=True)
class Aggregation:
    """An ``l2Book`` request's aggregation (``sig_figs`` None: full precision)."""

    sig_figs: int | None = None
    mantissa: int | None = None

    @property
    def full(self) -> bool:
        return self.sig_figs is None

    def suffix(self) -> str:
        """What tells this aggregation's websocket topic from the full book's."""
        if self.sig_figs is None:
            return ""
        return f":{self.sig_figs}" + (f":{self.mantissa}" if self.mantissa else "")

    def bucket(self, ticks: int) -> int:
        """The bucket, in ticks, of a price of ``ticks`` ticks."""
        if self.sig_figs is None:
            return 1
        return int(10 ** max(0, len(str(ticks)) - self.sig_figs)) * (self.mantissa or 1)

    def floor(self, ticks: int) -> int:
        """A bid's bucket price."""
        return ticks - ticks % self.bucket(ticks)

    def ceil(self, ticks: int) -> int:
        """An ask's bucket price."""
        b = self.bucket(ticks)
        return -(-ticks // b) * b

    def rounding(self) -> tuple[Callable[[int], int], Callable[[int], int]]:
        return self.floor, self.ceil


FULL = Aggregation()


def _int_or_none(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError
    return value


def aggregation(req: dict[str, Any]) -> Aggregation:
    """The aggregation an ``l2Book`` request or subscription asks for; SimBadRequest (422)
    with the venue's deserialisation text when a value is not one Hyperliquid accepts."""
    try:
        sig_figs = _int_or_none(req.get("nSigFigs"))
    except ValueError:
        raise SimBadRequest(
            f"{BAD_JSON}: nSigFigs: invalid type: expected an integer 2-5 or null", 422
        ) from None
    try:
        mantissa = _int_or_none(req.get("mantissa"))
    except ValueError:
        raise SimBadRequest(
            f"{BAD_JSON}: mantissa: invalid type: expected 1, 2, 5 or null", 422
        ) from None
    if sig_figs is not None and sig_figs not in SIG_FIGS:
        raise SimBadRequest(f"{BAD_JSON}: nSigFigs {sig_figs}: expected 2, 3, 4, 5 or null", 422)
    if mantissa is not None:
        if sig_figs != 5:
            raise SimBadRequest(f"{BAD_JSON}: mantissa is only allowed with nSigFigs 5", 422)
        if mantissa not in MANTISSAS:
            raise SimBadRequest(f"{BAD_JSON}: mantissa {mantissa}: expected 1, 2, 5 or null", 422)
    return Aggregation(sig_figs, None if mantissa == 1 else mantissa)
