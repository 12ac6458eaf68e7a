"""Binance USD-M market-data payloads → records (pure, strict).

Each ``parse_*`` takes the decoded JSON object (the ``data`` of a combined-stream envelope)
and the symbol's :class:`InstrumentCodec`; a missing or mistyped field, or an off-grid price,
raises ProtocolError naming the payload kind and the field.

Depth messages become Binance-level records (:class:`DepthUpdate` with U/u/pu,
:class:`DepthSnapshot` with lastUpdateId): their continuity is Binance's rule, applied by
:mod:`mmtrio.venues.binance.sequencer`, which alone turns them into the core's neutral
BookSnapshot/BookDelta. Trades, tickers and mark prices are neutral already.

Times: every record's ``ts`` is the event time ``E`` (when the venue published the message),
live and in recordings alike: the feed-latency and staleness guards compare it with the
local receive time, so the backtester and the live bot feed them the same clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmtrio.core.events import BookTicker, Level, MarkPrice, Trade
from mmtrio.venues.binance.codec_fields import (
    InstrumentCodec,
    Obj,
    get_bool,
    get_dec,
    get_int,
    levels,
    lots,
    positive_dec,
    price,
)


@dataclass(frozen=True, slots=True)
class DepthUpdate:
    """A ``depthUpdate``: ``first_id``=U, ``last_id``=u, ``prev_last_id``=pu."""

    symbol: str
    first_id: int
    last_id: int
    prev_last_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    ts: int


@dataclass(frozen=True, slots=True)
class DepthSnapshot:
    """A REST depth snapshot (``GET /fapi/v1/depth``) at ``last_update_id``."""

    symbol: str
    last_update_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    ts: int


def parse_depth_update(obj: Obj, ic: InstrumentCodec) -> DepthUpdate:
    """``depthUpdate`` → DepthUpdate (quantities absolute; 0 deletes the level)."""
    k = "depthUpdate"
    return DepthUpdate(
        symbol=ic.instrument.symbol,
        first_id=get_int(obj, "U", k),
        last_id=get_int(obj, "u", k),
        prev_last_id=get_int(obj, "pu", k),
        bids=levels(obj, "b", k, ic.px, ic.qty),
        asks=levels(obj, "a", k, ic.px, ic.qty),
        ts=get_int(obj, "E", k),
    )


def parse_depth_snapshot(obj: Obj, ic: InstrumentCodec) -> DepthSnapshot:
    """REST ``GET /fapi/v1/depth`` → DepthSnapshot. ``ts`` is the snapshot's ``E``."""
    k = "depth snapshot"
    return DepthSnapshot(
        symbol=ic.instrument.symbol,
        last_update_id=get_int(obj, "lastUpdateId", k),
        bids=levels(obj, "bids", k, ic.px, ic.qty),
        asks=levels(obj, "asks", k, ic.px, ic.qty),
        ts=get_int(obj, "E", k),
    )


def parse_trade(obj: Obj, ic: InstrumentCodec) -> Trade:
    """``trade`` → Trade; ``ts`` is the event time ``E`` (module docstring)."""
    k = "trade"
    return Trade(
        symbol=ic.instrument.symbol,
        trade_id=get_int(obj, "t", k),
        price=price(ic.px, obj, "p", k),
        qty=lots(ic.qty, obj, "q", k, positive=True),
        buyer_is_maker=get_bool(obj, "m", k),
        ts=get_int(obj, "E", k),
    )


def parse_agg_trade(obj: Obj, ic: InstrumentCodec) -> Trade:
    """``aggTrade`` → Trade keyed by the aggregate id ``a`` (its own id space)."""
    k = "aggTrade"
    return Trade(
        symbol=ic.instrument.symbol,
        trade_id=get_int(obj, "a", k),
        price=price(ic.px, obj, "p", k),
        qty=lots(ic.qty, obj, "q", k, positive=True),
        buyer_is_maker=get_bool(obj, "m", k),
        ts=get_int(obj, "E", k),
    )


def parse_book_ticker(obj: Obj, ic: InstrumentCodec) -> BookTicker:
    """``bookTicker`` → BookTicker; ``seq`` is ``u`` (the book state it shows)."""
    k = "bookTicker"
    return BookTicker(
        symbol=ic.instrument.symbol,
        bid_price=price(ic.px, obj, "b", k),
        bid_qty=lots(ic.qty, obj, "B", k),
        ask_price=price(ic.px, obj, "a", k),
        ask_qty=lots(ic.qty, obj, "A", k),
        ts=get_int(obj, "E", k),
        seq=get_int(obj, "u", k),
    )


def parse_mark_price(obj: Obj, ic: InstrumentCodec) -> MarkPrice:
    """``markPriceUpdate`` → MarkPrice (off the tick grid: Decimal, not ticks)."""
    k = "markPriceUpdate"
    return MarkPrice(
        symbol=ic.instrument.symbol,
        mark_price=positive_dec(obj, "p", k),
        index_price=positive_dec(obj, "i", k),
        funding_rate=get_dec(obj, "r", k),
        next_funding_ts=get_int(obj, "T", k),
        ts=get_int(obj, "E", k),
    )
