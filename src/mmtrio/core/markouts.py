"""Fill markouts: how the mid moved after each of our fills, at several horizons.

The markout of a fill at horizon ``h`` is ``side·(mid(t+h) − fill_price)``: positive when the
market moved in our favour after the fill (we bought and the mid rose), negative when we
were picked off (adverse selection). ``mid(t+h)`` is the mid *prevailing* at ``t+h``, i.e. the
last mid observed at or before ``t+h`` — mids arrive irregularly, and the first mid after
``t+h`` may already contain moves that happened later than the horizon.

Prices are ticks (the fill price an int, the mid a float because it can sit between ticks);
sizes are lots. Memory is bounded: at most ``capacity`` markouts wait for their horizon (the
oldest are dropped and counted beyond that); completed markouts are folded into running sums.

``listener`` (optional) is told of each completed markout as it completes — ``(side,
horizon_ms, ticks, ts)`` — so the strategy's adverse-selection defence
(:mod:`mmtrio.core.defence`) learns from the same figures the report shows.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass

from mmtrio.core.events import Side
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ParameterError

DEFAULT_HORIZONS_MS = (1000, 5000, 30000, 60000)


@dataclass(slots=True)
class _Stats:
    count: int = 0
    qty: int = 0
    sum_ticks: float = 0.0
    sum_ticks_qty: float = 0.0
    sum_bps: float = 0.0

    def add(self, ticks: float, price: int, qty: int) -> None:
        self.count += 1
        self.qty += qty
        self.sum_ticks += ticks
        self.sum_ticks_qty += ticks * qty
        self.sum_bps += ticks / price * 1e4


class MarkoutTracker:
    """Markouts of our fills at fixed horizons, summarised per side and horizon."""

    def __init__(
        self,
        instrument: Instrument,
        horizons_ms: tuple[int, ...] = DEFAULT_HORIZONS_MS,
        capacity: int = 50_000,
    ) -> None:
        if not horizons_ms or any(
            isinstance(h, bool) or not isinstance(h, int) or h <= 0 for h in horizons_ms
        ):
            raise ParameterError(f"markout horizons must be positive int ms, got {horizons_ms!r}")
        if len(set(horizons_ms)) != len(horizons_ms):
            raise ParameterError(f"markout horizons repeat: {horizons_ms!r}")
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ParameterError(f"markout capacity must be a positive int, got {capacity!r}")
        self.instrument = instrument
        self.horizons_ms = tuple(sorted(horizons_ms))
        self.capacity = capacity
        # (due_ts, seq, horizon, side_sign, price_ticks, qty): seq keeps the heap order total.
        self._pending: list[tuple[int, int, int, int, int, int]] = []
        self._seq = 0
        self._stats: dict[tuple[Side, int], _Stats] = {
            (side, h): _Stats() for side in Side for h in self.horizons_ms
        }
        self._mid: float | None = None
        self._mid_ts: int | None = None
        self.dropped = 0
        self.listener: Callable[[Side, int, float, int], None] | None = None

    @property
    def pending(self) -> int:
        """Markouts still waiting for their horizon."""
        return len(self._pending)

    def on_fill(self, side: Side, price_ticks: int, qty: int, ts: int) -> None:
        """Start the markouts of one fill (one per horizon)."""
        if isinstance(price_ticks, bool) or not isinstance(price_ticks, int) or price_ticks <= 0:
            raise ParameterError(f"fill price must be a positive int of ticks, got {price_ticks!r}")
        if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
            raise ParameterError(f"fill qty must be a positive int of lots, got {qty!r}")
        for h in self.horizons_ms:
            self._seq += 1
            heapq.heappush(self._pending, (ts + h, self._seq, h, side.sign, price_ticks, qty))
        while len(self._pending) > self.capacity:
            # Over capacity the soonest-due markouts go: memory stays flat under any fill rate.
            heapq.heappop(self._pending)
            self.dropped += 1

    def on_mid(self, mid: float, ts: int) -> int:
        """Record a mid (ticks) at ``ts``; completes due markouts and returns how many."""
        if not math.isfinite(mid) or mid <= 0:
            raise ParameterError(f"mid must be a positive finite number of ticks, got {mid!r}")
        if self._mid_ts is not None and ts < self._mid_ts:
            raise ParameterError(
                f"mid at {ts} ms is older than the previous mid at {self._mid_ts} ms; "
                "feed mids in time order"
            )
        done = 0
        while self._pending and self._pending[0][0] <= ts:
            due, _, h, sign, price, qty = heapq.heappop(self._pending)
            # The mid prevailing at `due`: this one if it is exactly on time, else the previous.
            at_due = mid if (due == ts or self._mid is None) else self._mid
            ticks = sign * (at_due - price)
            side = Side.BUY if sign > 0 else Side.SELL
            self._stats[(side, h)].add(ticks, price, qty)
            if self.listener is not None:
                self.listener(side, h, ticks, ts)
            done += 1
        self._mid, self._mid_ts = mid, ts
        return done

    def summary(self) -> dict[str, dict[int, dict[str, float]]]:
        """Per side ("BUY", "SELL", "ALL") and horizon: count, mean and qty-weighted markouts.

        ``mean_ticks``/``mean_bps`` average per fill; ``weighted_ticks`` weights by size;
        ``pnl_quote`` is the markout P&L in the quote asset (ticks·tick_size·lots·base_per_lot).
        Means are NaN when a cell has no completed markout.
        """
        tick = float(self.instrument.tick_size)
        lot = float(self.instrument.base_per_lot)
        out: dict[str, dict[int, dict[str, float]]] = {}
        for label, sides in (("BUY", (Side.BUY,)), ("SELL", (Side.SELL,)), ("ALL", tuple(Side))):
            out[label] = {}
            for h in self.horizons_ms:
                agg = _Stats()
                for s in sides:
                    st = self._stats[(s, h)]
                    agg.count += st.count
                    agg.qty += st.qty
                    agg.sum_ticks += st.sum_ticks
                    agg.sum_ticks_qty += st.sum_ticks_qty
                    agg.sum_bps += st.sum_bps
                n = agg.count
                out[label][h] = {
                    "count": float(n),
                    "mean_ticks": agg.sum_ticks / n if n else math.nan,
                    "mean_bps": agg.sum_bps / n if n else math.nan,
                    "weighted_ticks": agg.sum_ticks_qty / agg.qty if agg.qty else math.nan,
                    "pnl_quote": agg.sum_ticks_qty * tick * lot,
                }
        return out
