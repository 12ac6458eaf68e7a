"""Binance market streams: stream names, and the payloads of the engine's public happenings.

``depthUpdate`` carries the public delta's ids as Binance's ``U``/``u``/``pu`` (the
recording's real update ids: the engine keeps them); ``bookTicker``'s ``u`` is the ``seq`` of
the public book it shows, so a client's book synced from depth matches every ticker with the
same ``u``. Times are the engine's re-based wire times.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from mmtrio.core.events import BookDelta, Trade
from mmtrio.sim.binance.partial_depth import PartialDepth
from mmtrio.sim.binance.wire import Formatter

if TYPE_CHECKING:
    from mmtrio.sim.venue import SimVenue

# canonical stream kind for each accepted stream name suffix
_SUFFIXES: dict[str, str] = {
    "depth": "depth",
    "depth@0ms": "depth",
    "depth@100ms": "depth",
    "depth@250ms": "depth",
    "depth@500ms": "depth",
    "trade": "trade",
    "aggtrade": "aggTrade",
    "bookticker": "bookTicker",
    "markprice": "markPrice",
    "markprice@1s": "markPrice",
    "markprice@3s": "markPrice",
}
# Partial book depth <sym>@depth<N>[@<speed>]: the top N levels, every 250 ms by default
# (partial_depth.py); each (N, speed) is its own topic, so each is paced as it asks.
PARTIAL_LEVELS = (5, 10, 20)
PARTIAL_SPEEDS_MS = (100, 250, 500)
DEFAULT_PARTIAL_SPEED_MS = 250
for _n in PARTIAL_LEVELS:
    _SUFFIXES[f"depth{_n}"] = f"depth{_n}@{DEFAULT_PARTIAL_SPEED_MS}ms"
    for _ms in PARTIAL_SPEEDS_MS:
        _SUFFIXES[f"depth{_n}@{_ms}ms"] = f"depth{_n}@{_ms}ms"


def canonical_stream(name: str, symbols: set[str]) -> str | None:
    """``btcusdt@depth@100ms`` → ``btcusdt@depth``; None for an unknown stream or symbol.

    All diff depth speeds get every public diff as it happens (the sim does not aggregate to
    100/250/500 ms): each diff still carries a consistent U/u/pu, so a client following the
    sync algorithm is unaffected, it just receives more, smaller messages. Partial depth
    (``depth5``, ``depth10@100ms``, …) is paced at its speed: ``btcusdt@depth5@250ms``.
    """
    sym, _, suffix = name.partition("@")
    kind = _SUFFIXES.get(suffix.lower())
    if kind is None or sym.lower() not in symbols:
        return None
    return f"{sym.lower()}@{kind}"


def combined_envelope(name: str, text: str) -> str:
    """A combined-stream message: ``{"stream": name, "data": payload}``."""
    return f'{{"stream":"{name}","data":{text}}}'


class MarketStreams:
    """Renders the engine's public happenings on the venue's hub, under Binance's names."""

    def __init__(self, venue: SimVenue) -> None:
        self.venue = venue
        self.symbol = venue.symbol
        self.sym_lower = venue.symbol.lower()
        self.fmt = Formatter(venue.instrument)
        self.depth = f"{self.sym_lower}@depth"
        self.trade = f"{self.sym_lower}@trade"
        self.agg_trade = f"{self.sym_lower}@aggTrade"
        self.book_ticker = f"{self.sym_lower}@bookTicker"
        self.mark_price = f"{self.sym_lower}@markPrice"
        self.partial = PartialDepth(
            venue,
            self.fmt,
            [
                (f"{self.sym_lower}@depth{n}@{ms}ms", n, ms)
                for n in PARTIAL_LEVELS
                for ms in PARTIAL_SPEEDS_MS
            ],
        )

    def on_book(self, public: BookDelta) -> None:
        fmt, ts = self.fmt, self.venue.out_ts()
        data = {
            "e": "depthUpdate",
            "E": ts,
            "T": ts,
            "s": self.symbol,
            "U": public.first_seq,
            "u": public.seq,
            "pu": public.prev_seq,
            "b": [[fmt.px(p), fmt.qty(q)] for p, q in public.bids],
            "a": [[fmt.px(p), fmt.qty(q)] for p, q in public.asks],
        }
        self.venue.hub.publish_book(self.depth, data)
        self.partial.on_book(public)

    def on_trade(self, trade: Trade) -> None:
        hub = self.venue.hub
        want_t, want_a = hub.has_subscribers(self.trade), hub.has_subscribers(self.agg_trade)
        if not (want_t or want_a):
            return
        ts = self.venue.out_ts(trade.ts)
        px, qty = self.fmt.px(trade.price), self.fmt.qty(trade.qty)
        tid = trade.trade_id
        if want_t:
            hub.publish(
                self.trade,
                {
                    "e": "trade",
                    "E": ts,
                    "T": ts,
                    "s": self.symbol,
                    "t": tid,
                    "p": px,
                    "q": qty,
                    "X": "MARKET",
                    "m": trade.buyer_is_maker,
                },
            )
        if want_a:
            hub.publish(
                self.agg_trade,
                {
                    "e": "aggTrade",
                    "E": ts,
                    "s": self.symbol,
                    "a": tid,
                    "p": px,
                    "q": qty,
                    "f": tid,
                    "l": tid,
                    "T": ts,
                    "m": trade.buyer_is_maker,
                },
            )

    def on_ticker(self) -> None:
        """bookTicker of the published public book (our quotes included), under its ``u``."""
        venue = self.venue
        if not venue.hub.has_subscribers(self.book_ticker):
            return
        ts = venue.out_ts()
        ticker = venue.book.ticker(ts)
        if ticker is None:
            return
        fmt = self.fmt
        venue.hub.publish(
            self.book_ticker,
            {
                "e": "bookTicker",
                "u": ticker.seq,
                "s": self.symbol,
                "b": fmt.px(ticker.bid_price),
                "B": fmt.qty(ticker.bid_qty),
                "a": fmt.px(ticker.ask_price),
                "A": fmt.qty(ticker.ask_qty),
                "T": ts,
                "E": ts,
            },
        )

    def on_mark(self) -> None:
        venue = self.venue
        if not venue.hub.has_subscribers(self.mark_price):
            return
        mark = venue.mark_price().quantize(Decimal("0.00000001"))
        index = venue.index if venue.index is not None else mark
        venue.hub.publish(
            self.mark_price,
            {
                "e": "markPriceUpdate",
                "E": venue.out_ts(),
                "s": self.symbol,
                "p": str(mark),
                "i": str(index),
                "P": str(mark),
                "r": str(venue.funding_rate),
                "T": venue.out_ts(venue.next_funding_ts),
            },
        )
