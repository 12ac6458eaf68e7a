"""Synthetic market driver: a jump-diffusion mid with Poisson order flow near the touch.

Model (one step every ``step_ms`` of sim time):

1. The log mid moves by Brownian noise (``volatility`` annualised) plus Poisson jumps
   (``jump_intensity`` per second, normal sizes of ``jump_std`` in log terms). The target
   touch is the tick grid around the mid: ``bid = floor(mid - spread/2)``, ``ask = bid + spread``.
2. Re-centering: market levels the new target crosses are pulled (cancelled: market makers
   re-quote, trades come from the market-order flow), and the touch is refilled up to the
   target.
3. Order flow on each side, Poisson per step: limit orders join one of the ``depth_levels``
   levels behind the touch (or improve it by a tick when the spread allows), cancellations
   shrink a random level near the touch, market orders sweep the opposite side from its best.
4. The book is kept to ``2 * depth_levels`` levels a side (farther levels are deleted, as
   a depth-limited feed would), so memory is flat however long it runs.

Each step emits, all stamped with the step's time: the trades, ONE book delta holding every
level that changed (``first_seq = prev_seq + 1``, ``seq = prev_seq + number of changes``: an
unbroken chain), a book ticker when the touch changed (``seq`` = that delta's ``seq``), and a
mark price
every ``mark_interval_ms`` with ``funding_rate`` and the next funding time on the 8 h grid
(00:00, 08:00, 16:00 UTC). Deterministic under ``seed`` (numpy Generator); the book is never
crossed. Floats drive the model only: every price leaves as an integer tick.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from mmtrio.core.events import BookDelta, BookSnapshot, BookTicker, MarkPrice, Trade
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ParameterError
from mmtrio.sim.market import MarketDriver, MarketMessage

FUNDING_INTERVAL_MS = 8 * 3_600_000
_MS_PER_YEAR = 365 * 24 * 3_600_000
START_UPDATE_ID = 1_000_000


@dataclass(frozen=True, slots=True)
class SyntheticParams:
    """Parameters of the synthetic market (rates are per second, per side)."""

    start_price: Decimal = Decimal("60000")
    volatility: float = 0.6  # annualised, of log price
    jump_intensity: float = 0.002  # jumps per second
    jump_std: float = 0.002  # log size of a jump (std dev)
    step_ms: int = 100
    spread_ticks: int = 1
    depth_levels: int = 20
    level_qty_mean: float = 200.0  # lots added by a limit arrival / initial level size
    limit_rate: float = 20.0
    cancel_rate: float = 15.0
    market_rate: float = 3.0
    market_qty_mean: float = 50.0  # lots of a market order
    funding_rate: Decimal = Decimal("0.0001")
    mark_interval_ms: int = 1_000
    start_ts: int = 1_704_067_200_000  # 2024-01-01T00:00:00Z
    max_steps: int | None = None  # None: endless

    def __post_init__(self) -> None:
        floats = {
            "volatility": self.volatility,
            "jump_intensity": self.jump_intensity,
            "jump_std": self.jump_std,
            "limit_rate": self.limit_rate,
            "cancel_rate": self.cancel_rate,
            "market_rate": self.market_rate,
        }
        for name, val in floats.items():
            if not math.isfinite(val) or val < 0:
                raise ParameterError(f"synthetic market: {name} must be finite and >= 0, got {val}")
        for name, val in (
            ("level_qty_mean", self.level_qty_mean),
            ("market_qty_mean", self.market_qty_mean),
        ):
            if not math.isfinite(val) or val < 1:
                raise ParameterError(
                    f"synthetic market: {name} must be finite and >= 1 lot, got {val}"
                )
        ints = {
            "step_ms": self.step_ms,
            "spread_ticks": self.spread_ticks,
            "depth_levels": self.depth_levels,
            "mark_interval_ms": self.mark_interval_ms,
        }
        for name, ival in ints.items():
            if ival < 1:
                raise ParameterError(f"synthetic market: {name} must be >= 1, got {ival}")
        if not self.start_price.is_finite() or self.start_price <= 0:
            raise ParameterError(
                f"synthetic market: start_price must be > 0, got {self.start_price}"
            )
        if not self.funding_rate.is_finite() or abs(self.funding_rate) >= Decimal("0.05"):
            raise ParameterError(
                "synthetic market: funding_rate must be a rate within ±0.05, "
                f"got {self.funding_rate}"
            )
        if self.start_ts < 0:
            raise ParameterError(f"synthetic market: start_ts must be >= 0 ms, got {self.start_ts}")
        if self.max_steps is not None and self.max_steps < 0:
            raise ParameterError(f"synthetic market: max_steps must be >= 0, got {self.max_steps}")


class SyntheticDriver(MarketDriver):
    """An endless (or ``max_steps``-long) synthetic market for one instrument."""

    def __init__(self, instrument: Instrument, seed: int, params: SyntheticParams) -> None:
        self.instrument = instrument
        self.seed = seed
        self.params = params
        start_ticks = int(params.start_price / instrument.tick_size)
        lo = instrument.min_price_ticks + 4 * params.depth_levels + params.spread_ticks
        hi = instrument.max_price_ticks - 4 * params.depth_levels - params.spread_ticks
        if not lo <= start_ticks <= hi:
            raise ParameterError(
                f"synthetic market: start_price {params.start_price} is outside what "
                f"{instrument.symbol}'s price filter allows with {params.depth_levels} levels"
            )
        self._lo, self._hi = lo, hi
        rng = np.random.default_rng(seed)
        self._bids0, self._asks0 = self._initial_book(rng, start_ticks)

    def initial_snapshot(self) -> BookSnapshot:
        return BookSnapshot(
            symbol=self.instrument.symbol,
            bids=tuple(sorted(self._bids0.items(), reverse=True)),
            asks=tuple(sorted(self._asks0.items())),
            ts=self.params.start_ts,
            seq=START_UPDATE_ID,
        )

    def _qty(self, rng: np.random.Generator, mean: float) -> int:
        return int(rng.geometric(1.0 / mean))

    def _initial_book(
        self, rng: np.random.Generator, mid_ticks: int
    ) -> tuple[dict[int, int], dict[int, int]]:
        p = self.params
        bid = mid_ticks - p.spread_ticks // 2
        bids = {bid - i: self._qty(rng, p.level_qty_mean) for i in range(p.depth_levels)}
        asks = {
            bid + p.spread_ticks + i: self._qty(rng, p.level_qty_mean)
            for i in range(p.depth_levels)
        }
        return bids, asks

    def __iter__(self) -> Iterator[MarketMessage]:
        return _Run(self).messages()


class _Run:
    """One run of the synthetic market (every ``iter()`` restarts from the seed)."""

    def __init__(self, drv: SyntheticDriver) -> None:
        self.drv = drv
        self.p = drv.params
        self.ins = drv.instrument
        self.rng = np.random.default_rng(drv.seed)
        mid = int(self.p.start_price / self.ins.tick_size)
        # Same draws as the driver made for initial_snapshot().
        self.bids, self.asks = drv._initial_book(self.rng, mid)
        self.log_mid = math.log(float(self.p.start_price))
        self.last_u = START_UPDATE_ID
        self.trade_id = 1
        self.now = self.p.start_ts
        self.changes_b: dict[int, int] = {}
        self.changes_a: dict[int, int] = {}
        self.trades: list[MarketMessage] = []

    # --- book edits (recorded for the step's diff) -------------------------------------------
    def _set(self, is_bid: bool, price: int, qty: int) -> None:
        book, changes = (self.bids, self.changes_b) if is_bid else (self.asks, self.changes_a)
        if qty > 0:
            book[price] = qty
        else:
            book.pop(price, None)
        changes[price] = qty

    def _sweep(self, hit_bids: bool, qty: int) -> None:
        """A market order of ``qty`` lots against one side, best level first."""
        book = self.bids if hit_bids else self.asks
        while qty > 0 and book:
            best = max(book) if hit_bids else min(book)
            take = min(qty, book[best])
            self._print(best, take, aggressor_sells=hit_bids)
            self._set(hit_bids, best, book[best] - take)
            qty -= take

    def _print(self, price: int, qty: int, *, aggressor_sells: bool) -> None:
        ev = Trade(self.ins.symbol, self.trade_id, price, qty, aggressor_sells, self.now)
        self.trades.append(MarketMessage(self.now, ev))
        self.trade_id += 1

    # --- one step ----------------------------------------------------------------------
    def _move_mid(self) -> float:
        p, rng = self.p, self.rng
        dt = p.step_ms
        sigma = p.volatility * math.sqrt(dt / _MS_PER_YEAR)
        self.log_mid += sigma * float(rng.standard_normal())
        jumps = int(rng.poisson(p.jump_intensity * dt / 1000.0))
        if jumps:
            self.log_mid += float(rng.normal(0.0, p.jump_std * math.sqrt(jumps)))
        mid = math.exp(self.log_mid) / float(self.ins.tick_size)
        if not self.drv._lo <= mid <= self.drv._hi:  # reflect at the price filter
            mid = min(max(mid, self.drv._lo), self.drv._hi)
            self.log_mid = math.log(mid * float(self.ins.tick_size))
        return mid

    def _recenter(self, mid: float) -> None:
        p = self.p
        tbid = math.floor(mid - p.spread_ticks / 2)
        task = tbid + p.spread_ticks
        # Quotes the move left on the wrong side are pulled (cancelled), as market makers
        # re-quote; trades come from the market-order flow only, at a realistic rate.
        for px in [px for px in self.asks if px <= tbid]:
            self._set(False, px, 0)
        for px in [px for px in self.bids if px >= task]:
            self._set(True, px, 0)
        self._refill(tbid, task)

    def _refill(self, tbid: int, task: int) -> None:
        p = self.p
        best_ask = min(self.asks) if self.asks else task + p.depth_levels
        best_bid = max(self.bids) if self.bids else tbid - p.depth_levels
        for px in range(task, min(best_ask, task + p.depth_levels)):
            if px > best_bid:
                self._set(False, px, self._qty(p.level_qty_mean))
        # the asks do not change while the bids refill: their best, once (the asks of a
        # one-sided book bound nothing)
        lowest_ask = min(self.asks) if self.asks else None
        for px in range(tbid, max(best_bid, tbid - p.depth_levels), -1):
            if lowest_ask is None or px < lowest_ask:
                self._set(True, px, self._qty(p.level_qty_mean))

    def _qty(self, mean: float) -> int:
        return int(self.rng.geometric(1.0 / mean))

    def _flow(self, is_bid: bool) -> None:
        p, rng = self.p, self.rng
        rate = p.step_ms / 1000.0
        book = self.bids if is_bid else self.asks
        opp = self.asks if is_bid else self.bids
        for _ in range(int(rng.poisson(p.limit_rate * rate))):
            if not book:
                break
            best = max(book) if is_bid else min(book)
            k = int(rng.integers(-1, p.depth_levels))
            px = best - k if is_bid else best + k
            opp_best = (min(opp) if is_bid else max(opp)) if opp else None
            if opp_best is not None and (px >= opp_best if is_bid else px <= opp_best):
                px = best  # improving would cross: join the touch instead
            self._set(is_bid, px, book.get(px, 0) + self._qty(p.level_qty_mean))
        for _ in range(int(rng.poisson(p.cancel_rate * rate))):
            if len(book) <= 1:
                break  # keep a touch on each side
            ranked = sorted(book, reverse=is_bid)[: p.depth_levels]
            px = ranked[int(rng.integers(0, len(ranked)))]
            self._set(is_bid, px, max(0, book[px] - self._qty(p.level_qty_mean)))
        for _ in range(int(rng.poisson(p.market_rate * rate))):
            # A market order arriving on this side's flow hits the opposite side.
            self._sweep(not is_bid, self._qty(p.market_qty_mean))

    def _trim(self) -> None:
        keep = 2 * self.p.depth_levels
        for is_bid, book in ((True, self.bids), (False, self.asks)):
            if len(book) > keep:
                for px in sorted(book, reverse=is_bid)[keep:]:
                    self._set(is_bid, px, 0)

    def messages(self) -> Iterator[MarketMessage]:
        p = self.p
        next_mark = p.start_ts
        top = self._top()
        step = 0
        while p.max_steps is None or step < p.max_steps:
            step += 1
            self.now += p.step_ms
            mid = self._move_mid()
            self._recenter(mid)
            self._flow(True)
            self._flow(False)
            tbid = math.floor(mid - p.spread_ticks / 2)
            self._refill(tbid, tbid + p.spread_ticks)
            self._trim()
            yield from self.trades
            self.trades = []
            if self.changes_b or self.changes_a:
                yield self._diff_message()
            new_top = self._top()
            if new_top != top:
                top = new_top
                yield self._ticker_message()
            if self.now >= next_mark:
                next_mark = self.now + p.mark_interval_ms
                yield self._mark_message(mid)

    def _top(self) -> tuple[int, int, int, int]:
        b = max(self.bids)
        a = min(self.asks)
        return b, self.bids[b], a, self.asks[a]

    def _diff_message(self) -> MarketMessage:
        b = tuple(sorted(self.changes_b.items(), reverse=True))
        a = tuple(sorted(self.changes_a.items()))
        self.changes_b, self.changes_a = {}, {}
        first, prev = self.last_u + 1, self.last_u
        self.last_u += len(b) + len(a)
        ev = BookDelta(
            self.ins.symbol, b, a, self.now, seq=self.last_u, prev_seq=prev, first_seq=first
        )
        return MarketMessage(self.now, ev)

    def _ticker_message(self) -> MarketMessage:
        b, bq, a, aq = self._top()
        ev = BookTicker(self.ins.symbol, b, bq, a, aq, self.now, seq=self.last_u)
        return MarketMessage(self.now, ev)

    def _mark_message(self, mid: float) -> MarketMessage:
        ins = self.ins
        mark = (Decimal(repr(mid)) * ins.tick_size).quantize(Decimal("0.00000001"))
        next_funding = (self.now // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS
        ev = MarkPrice(ins.symbol, mark, mark, self.p.funding_rate, next_funding, self.now)
        return MarketMessage(self.now, ev)
