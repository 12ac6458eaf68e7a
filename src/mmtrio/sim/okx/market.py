"""The simulated OKX venue's trade-derived market data: ticker, recent trades, candles.

``GET /api/v5/market/ticker`` (and the ``tickers`` channel, :mod:`.quotes`), ``GET
/api/v5/market/trades`` and ``GET /api/v5/market/candles`` in OKX v5's shapes, from the
front end's :class:`~mmtrio.sim.tape.TradeTape` (``OkxStreams.tape``): every public trade the
market replays plus every taker fill of the paper account, which on OKX prints a public trade
like anyone's (so ``last`` after a market order is that order's price, on the tick grid).

Ticker: ``last``/``lastSz`` the newest trade; ``open24h``/``high24h``/``low24h``,
``vol24h`` (contracts) and ``volCcy24h`` (base currency, as OKX counts a derivative's) over the
trades of the last 24 h of the market clock, or of the replay so far when it is younger
(the tape's one-minute candles: the window starts at the first whole minute inside it);
``sodUtc0``/``sodUtc8`` the first trade of the day at 00:00 UTC / UTC+8 (the replay's first
when it started later that day). Before any trade: ``last`` and the 24 h prices are "" and
the volumes "0" (OKX has no such instrument; the sim invents no price).

Candles: ``bar`` 1m 3m 5m 15m 30m 1H 2H 4H, and 6H 12H 1D opening in Hong Kong time (UTC+8)
or 6Hutc 12Hutc 1Dutc in UTC; ``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]``
newest first, ``confirm`` "0" for the candle still open; ``after``/``before`` are open
times (ms), ``limit`` up to 300 (100 by default). Recent trades: newest first, ``limit`` up
to 500 (100 by default).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mmtrio.core.events import Fill, Side, Trade
from mmtrio.core.instruments import Instrument
from mmtrio.sim.okx import words as w
from mmtrio.sim.okx.info import check_inst_params
from mmtrio.sim.okx.wire import OkxError, int_param
from mmtrio.sim.tape import MINUTE_MS, Candle, TradeTape

if TYPE_CHECKING:
    from mmtrio.sim.okx.frontend import OkxFrontEnd
    from mmtrio.sim.venue import SimVenue

Params = dict[str, str]
DAY_MS = 86_400_000
HK_MS = 8 * 3_600_000  # OKX's 6H/12H/1D candles and sodUtc8 open at 00:00 UTC+8
HOUR = 60 * MINUTE_MS
BARS: dict[str, tuple[int, int]] = {  # bar → (interval ms, time-zone shift ms)
    "1m": (MINUTE_MS, 0),
    "3m": (3 * MINUTE_MS, 0),
    "5m": (5 * MINUTE_MS, 0),
    "15m": (15 * MINUTE_MS, 0),
    "30m": (30 * MINUTE_MS, 0),
    "1H": (HOUR, 0),
    "2H": (2 * HOUR, 0),
    "4H": (4 * HOUR, 0),
    "6H": (6 * HOUR, HK_MS),
    "12H": (12 * HOUR, HK_MS),
    "1D": (DAY_MS, HK_MS),
    "6Hutc": (6 * HOUR, 0),
    "12Hutc": (12 * HOUR, 0),
    "1Dutc": (DAY_MS, 0),
}
TRADES_DEFAULT, TRADES_MAX = 100, 500
CANDLES_DEFAULT, CANDLES_MAX = 100, 300


def fill_trade(fill: Fill) -> Trade:
    """The public trade a taker fill of ours prints (the aggressor is our side)."""
    return Trade(fill.symbol, fill.trade_id, fill.price, fill.qty,
                 buyer_is_maker=fill.side is Side.SELL, ts=fill.ts)  # fmt: skip


def _first_open_since(tape: TradeTape, since: int) -> int | None:
    for m in tape.minutes:
        if m.open_ms >= since:
            return m.open
    return None


def ticker_row(venue: SimVenue, inst: Instrument, tape: TradeTape) -> dict[str, Any]:
    """One OKX ticker (module docstring): the REST answer's row and the channel's data."""
    bid, ask = venue.book.best()
    now = venue.market_ts
    last = tape.last
    day: Candle | None = tape.window(now - DAY_MS)
    px = inst.price_str
    row: dict[str, Any] = {
        "instType": "SWAP",
        "instId": inst.symbol,
        "last": "" if last is None else px(last.price),
        "lastSz": "" if last is None else inst.qty_str(last.qty),
        "askPx": "" if ask is None else px(ask[0]),
        "askSz": "" if ask is None else inst.qty_str(ask[1]),
        "bidPx": "" if bid is None else px(bid[0]),
        "bidSz": "" if bid is None else inst.qty_str(bid[1]),
        "open24h": "",
        "high24h": "",
        "low24h": "",
        "volCcy24h": "0",
        "vol24h": "0",
        "sodUtc0": "",
        "sodUtc8": "",
        "ts": w.s(venue.out_ts()),
    }
    if last is None:
        return row
    if day is None:  # no trade inside the window: the last price stands for all
        row.update(open24h=px(last.price), high24h=px(last.price), low24h=px(last.price))
    else:
        row.update(
            open24h=px(day.open),
            high24h=px(day.high),
            low24h=px(day.low),
            vol24h=inst.qty_str(day.volume),
            volCcy24h=w.dec(inst.lots_to_base(day.volume)),
        )
    wire_now = venue.out_ts(now)
    for key, shift in (("sodUtc0", 0), ("sodUtc8", HK_MS)):
        day_start = wire_now - (wire_now + shift) % DAY_MS - venue.ts_offset
        first = _first_open_since(tape, day_start)
        row[key] = px(last.price if first is None else first)
    return row


def ticker(front: OkxFrontEnd, params: Params) -> list[Any]:
    """``GET /api/v5/market/ticker``."""
    check_inst_params(front, params)
    return [ticker_row(front.venue, front.inst, front.streams.tape)]


def trades(front: OkxFrontEnd, params: Params) -> list[Any]:
    """``GET /api/v5/market/trades``: the newest trades first."""
    check_inst_params(front, params)
    limit = int_param(params, "limit", TRADES_DEFAULT, TRADES_MAX) or TRADES_DEFAULT
    inst, venue = front.inst, front.venue
    recent = list(front.streams.tape.trades)[-limit:]
    return [
        {
            "instId": front.symbol,
            "side": "sell" if t.buyer_is_maker else "buy",
            "sz": inst.qty_str(t.qty),
            "px": inst.price_str(t.price),
            "source": "0",
            "tradeId": w.s(t.trade_id),
            "ts": w.s(venue.out_ts(t.ts)),
        }
        for t in reversed(recent)
    ]


def candles(front: OkxFrontEnd, params: Params) -> list[Any]:
    """``GET /api/v5/market/candles`` (module docstring)."""
    check_inst_params(front, params)
    bar = BARS.get(params.get("bar", "1m"))
    if bar is None:
        raise OkxError("51000", "Parameter bar error")
    interval, shift = bar
    limit = int_param(params, "limit", CANDLES_DEFAULT, CANDLES_MAX) or CANDLES_DEFAULT
    after, before = int_param(params, "after", None), int_param(params, "before", None)
    venue, inst = front.venue, front.inst
    wire_now = venue.out_ts()
    quote_unit = inst.tick_size * inst.base_per_lot
    rows: list[Any] = []
    for c in reversed(front.streams.tape.candles(interval, None, None, shift)):
        opened = venue.out_ts(c.open_ms)
        if (after is not None and opened >= after) or (before is not None and opened <= before):
            continue
        rows.append(
            [
                w.s(opened),
                inst.price_str(c.open),
                inst.price_str(c.high),
                inst.price_str(c.low),
                inst.price_str(c.close),
                inst.qty_str(c.volume),
                w.dec(inst.lots_to_base(c.volume)),
                w.dec(quote_unit * c.quote_volume),
                "0" if opened + interval > wire_now else "1",
            ]
        )
        if len(rows) == limit:
            break
    return rows
