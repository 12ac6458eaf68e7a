"""The simulated market's recent public trades and one-minute candles (venue-neutral).

What market-data endpoints of any front end serve (recent trades, aggregate trades,
candles, 24-hour statistics) is derived from the public trades the market driver replays,
on the market clock. Both stores are bounded: the last ``TRADES_KEPT`` trades and the
last ``MINUTES_KEPT`` one-minute candles (a little over a day), so a 24 h run has flat
memory. Prices are ticks and sizes lots, as everywhere inside the sim; a front end formats.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

from mmtrio.core.events import Trade

TRADES_KEPT = 1_000  # the most a recent-trades page returns (1,000 on the largest venues)
MINUTES_KEPT = 1_500  # > 24 h of one-minute candles
MINUTE_MS = 60_000


@dataclass(slots=True)
class Candle:
    """One interval of trades: OHLC (ticks), volume (lots), quote volume (ticks × lots)."""

    open_ms: int
    open: int
    high: int
    low: int
    close: int
    volume: int = 0
    quote_volume: int = 0  # Σ price_ticks × qty_lots; the front end scales it once
    trades: int = 0
    taker_buy_volume: int = 0
    taker_buy_quote: int = 0
    first_id: int = 0
    last_id: int = 0

    def add(self, t: Trade) -> None:
        self.high = max(self.high, t.price)
        self.low = min(self.low, t.price)
        self.close = t.price
        self.volume += t.qty
        self.quote_volume += t.price * t.qty
        self.trades += 1
        if not t.buyer_is_maker:  # the aggressor bought
            self.taker_buy_volume += t.qty
            self.taker_buy_quote += t.price * t.qty
        self.last_id = t.trade_id

    def merge(self, other: Candle) -> None:
        """Extend this candle by a later one (aggregating minutes into a longer interval)."""
        self.high = max(self.high, other.high)
        self.low = min(self.low, other.low)
        self.close = other.close
        self.volume += other.volume
        self.quote_volume += other.quote_volume
        self.trades += other.trades
        self.taker_buy_volume += other.taker_buy_volume
        self.taker_buy_quote += other.taker_buy_quote
        self.last_id = other.last_id


def _candle(t: Trade, open_ms: int) -> Candle:
    return Candle(open_ms, t.price, t.price, t.price, t.price, first_id=t.trade_id,
                  last_id=t.trade_id)  # fmt: skip


class TradeTape:
    """Recent public trades and one-minute candles, fed every public trade in order.

    ``offset_ms``: what the front end adds to a market-clock time to put it on the wire;
    candles open on whole minutes (hours, days) of the wire clock, as a client expects."""

    def __init__(self, offset_ms: int = 0) -> None:
        self.offset_ms = offset_ms
        self.trades: deque[Trade] = deque(maxlen=TRADES_KEPT)
        self.minutes: deque[Candle] = deque(maxlen=MINUTES_KEPT)

    def _floor(self, ts: int, interval_ms: int, shift_ms: int = 0) -> int:
        return ts - (ts + self.offset_ms + shift_ms) % interval_ms

    def on_trade(self, t: Trade) -> None:
        self.trades.append(t)
        start = self._floor(t.ts, MINUTE_MS)
        if not self.minutes or self.minutes[-1].open_ms != start:
            self.minutes.append(_candle(t, start))
        self.minutes[-1].add(t)

    @property
    def last(self) -> Trade | None:
        return self.trades[-1] if self.trades else None

    def candles(
        self, interval_ms: int, start_ms: int | None, end_ms: int | None, shift_ms: int = 0
    ) -> list[Candle]:
        """Candles of ``interval_ms`` (a multiple of a minute) opening within [start, end],
        oldest first, built from the one-minute candles kept. ``shift_ms``: the time zone the
        intervals open in, ahead of UTC (a venue's daily candles opening at 00:00 UTC+8)."""
        out: list[Candle] = []
        for m in self.minutes:
            open_ms = self._floor(m.open_ms, interval_ms, shift_ms)
            start = None if start_ms is None else self._floor(start_ms, interval_ms, shift_ms)
            if (start is not None and open_ms < start) or (end_ms is not None and open_ms > end_ms):
                continue
            if out and out[-1].open_ms == open_ms:
                out[-1].merge(m)
            else:
                out.append(replace(m, open_ms=open_ms))
        return out

    def window(self, since_ms: int) -> Candle | None:
        """One candle summing every minute that opened at or after ``since_ms`` (24 h stats)."""
        total: Candle | None = None
        for m in self.minutes:
            if m.open_ms < since_ms:
                continue
            if total is None:
                total = replace(m)
            else:
                total.merge(m)
        return total
