"""Hyperliquid's candles: ``candleSnapshot`` (``POST /info``) and the ``candle`` subscription.

Built from the replayed public trades (:class:`mmtrio.sim.tape.TradeTape`: one-minute candles,
a little over a day kept), on the wire clock. A row is ``{t, T, s, i, o, c, h, l, v, n}``
(open and close time in ms, coin, interval, prices, base volume, number of trades), as the
official SDK documents it. Prices are said on the 5-significant-figure grid (:mod:`.grid`):
the high rounded up, the low down, the open and close to the nearer grid price.

Intervals: Hyperliquid's ``1m`` … ``1w``; an interval opens on a whole multiple of its length
since the epoch (the weekly one too). ``1M`` (calendar months) is not served: the tape keeps
a day. A request without ``req.coin``/``interval``/``startTime`` or with an interval that is
not one of these is refused as the venue refuses a body it cannot deserialise (HTTP 422).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmtrio.core.events import Trade
from mmtrio.sim.errors import SimBadRequest
from mmtrio.sim.hyperliquid.words import BAD_JSON
from mmtrio.sim.tape import MINUTE_MS, Candle

if TYPE_CHECKING:
    from mmtrio.sim.hyperliquid.frontend import HyperliquidFrontEnd

INTERVALS_MS = {
    "1m": MINUTE_MS, "3m": 3 * MINUTE_MS, "5m": 5 * MINUTE_MS, "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS, "1h": 60 * MINUTE_MS, "2h": 120 * MINUTE_MS, "4h": 240 * MINUTE_MS,
    "8h": 480 * MINUTE_MS, "12h": 720 * MINUTE_MS, "1d": 1440 * MINUTE_MS,
    "3d": 3 * 1440 * MINUTE_MS, "1w": 7 * 1440 * MINUTE_MS,
}  # fmt: skip
MAX_CANDLES = 5000  # the most recent 5000 candles are available on the venue


def interval_ms(name: object) -> int:
    """The length of a named interval; SimBadRequest (422) for any other."""
    ms = INTERVALS_MS.get(name) if isinstance(name, str) else None
    if ms is None:
        raise SimBadRequest(
            f"{BAD_JSON}: interval: unknown variant {name!r}, expected one of "
            f"{', '.join(INTERVALS_MS)}",
            422,
        )
    return ms


def _nearest(front: HyperliquidFrontEnd, ticks: int) -> int:
    rule = front.grid.rule
    down, up = rule.floor_price(ticks), rule.ceil_price(ticks)
    return down if ticks - down < up - ticks else up


def row(front: HyperliquidFrontEnd, c: Candle, name: str, length_ms: int) -> dict[str, Any]:
    """A candle as the venue writes it (``c.open_ms`` on the market clock)."""
    g, rule, t = front.grid, front.grid.rule, front.venue.out_ts(c.open_ms)
    return {
        "t": t,
        "T": t + length_ms - 1,
        "s": front.coin,
        "i": name,
        "o": g.px(_nearest(front, c.open)),
        "c": g.px(_nearest(front, c.close)),
        "h": g.px(rule.ceil_price(c.high)),
        "l": g.px(rule.floor_price(c.low)),
        "v": g.sz(c.volume),
        "n": c.trades,
    }


def _ms(value: object, name: str, required: bool) -> int | None:
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise SimBadRequest(f"{BAD_JSON}: req.{name}: expected milliseconds (an integer)", 422)
    return value


def snapshot(front: HyperliquidFrontEnd, req: dict[str, Any]) -> Any:
    """``{"type": "candleSnapshot", "req": {coin, interval, startTime, endTime}}``: the
    candles opening within [startTime, endTime], oldest first; ``[]`` for an unknown coin."""
    body = req.get("req")
    if not isinstance(body, dict):
        raise SimBadRequest(f"{BAD_JSON}: missing field `req`", 422)
    coin = body.get("coin")
    if not isinstance(coin, str):
        raise SimBadRequest(f"{BAD_JSON}: req: missing field `coin`", 422)
    name = body.get("interval")
    length = interval_ms(name)
    start = _ms(body.get("startTime"), "startTime", True)
    end = _ms(body.get("endTime"), "endTime", False)
    if coin != front.coin:
        return []
    v = front.venue
    off = v.ts_offset
    candles = v.tape.candles(
        length, None if start is None else start - off, None if end is None else end - off
    )
    return [row(front, c, str(name), length) for c in candles[-MAX_CANDLES:]]


class CandleFeed:
    """The current candle of one subscribed interval, kept up to date trade by trade."""

    def __init__(self, front: HyperliquidFrontEnd, name: str) -> None:
        self.front = front
        self.name = name
        self.length = INTERVALS_MS[name]
        self.current: Candle | None = None

    def _open_of(self, ts: int) -> int:
        return ts - (ts + self.front.venue.ts_offset) % self.length

    def latest(self) -> Candle | None:
        """The candle of the latest trade's interval, built from the tape (a subscription's
        first message, and after the feed lapsed)."""
        tape = self.front.venue.tape
        last = tape.last
        if last is None:
            return None
        start = self._open_of(last.ts)
        found = tape.candles(self.length, start, None)
        self.current = found[-1] if found else None
        return self.current

    def on_trade(self, trade: Trade) -> dict[str, Any] | None:
        """The candle's row after ``trade`` (already on the tape)."""
        start = self._open_of(trade.ts)
        c = self.current
        if c is None or c.open_ms != start:
            c = self.latest()
        else:
            c.add(trade)
        return None if c is None else row(self.front, c, self.name, self.length)
