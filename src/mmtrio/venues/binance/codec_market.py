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

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from mmtrio.core.events import BookTicker, Level, MarkPrice, Trade
from mmtrio.errors import MmtrioError
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
    fast = _depth_update_fast(obj, ic)
    return fast if fast is not None else _depth_update_checked(obj, ic)


def _depth_update_checked(obj: Obj, ic: InstrumentCodec) -> DepthUpdate:
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
    fast = _trade_fast(obj, ic, "t")
    return fast if fast is not None else _trade_checked(obj, ic)


def _trade_checked(obj: Obj, ic: InstrumentCodec) -> Trade:
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
    fast = _trade_fast(obj, ic, "a")
    return fast if fast is not None else _agg_trade_checked(obj, ic)


def _agg_trade_checked(obj: Obj, ic: InstrumentCodec) -> Trade:
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
    fast = _book_ticker_fast(obj, ic)
    return fast if fast is not None else _book_ticker_checked(obj, ic)


def _book_ticker_checked(obj: Obj, ic: InstrumentCodec) -> BookTicker:
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


def _index_price(obj: Obj, kind: str) -> Decimal:
    """The index price: above zero, or exactly ``"0"`` for "not stated" (a recording of a
    venue whose mark stream has none, OKX: :mod:`mmtrio.venues.binance.collector`; the neutral
    :class:`~mmtrio.core.events.MarkPrice` says so with 0 too). A negative index is refused."""
    if obj.get("i") == "0":
        return Decimal(0)
    return positive_dec(obj, "i", kind)


def parse_mark_price(obj: Obj, ic: InstrumentCodec) -> MarkPrice:
    """``markPriceUpdate`` → MarkPrice (off the tick grid: Decimal, not ticks)."""
    k = "markPriceUpdate"
    return MarkPrice(
        symbol=ic.instrument.symbol,
        mark_price=positive_dec(obj, "p", k),
        index_price=_index_price(obj, k),
        funding_rate=get_dec(obj, "r", k),
        next_funding_ts=get_int(obj, "T", k),
        ts=get_int(obj, "E", k),
    )


# --- fast paths ------------------------------------------------------------------------------
# The market stream's messages, read without the named accessors: each one returns the record
# the checked parser above would, or None at the first thing it does not expect (a missing or
# mistyped field, an off-grid or out-of-range value); the checked parser then reads the
# message again and raises its ProtocolError naming the field. A valid message costs half as
# much this way (the accessors' calls, not the checks, were most of it), and no message gets a
# different result or error.

_FAST_MISS = (LookupError, TypeError, ValueError, ArithmeticError, MmtrioError)


def _levels_fast(
    raw: object, px: Callable[[str], int], qty: Callable[[str], int]
) -> tuple[Level, ...] | None:
    if type(raw) is not list:
        return None
    out: list[Level] = []
    append = out.append
    try:
        for p, q in raw:
            if type(p) is not str or type(q) is not str:
                return None
            ticks, size = px(p), qty(q)
            if ticks <= 0 or size < 0:
                return None
            append((ticks, size))
    except _FAST_MISS:
        return None
    return tuple(out)


def _depth_update_fast(obj: Obj, ic: InstrumentCodec) -> DepthUpdate | None:
    if type(obj) is not dict:
        return None
    first, last, prev, ts = obj.get("U"), obj.get("u"), obj.get("pu"), obj.get("E")
    if type(first) is not int or type(last) is not int or type(prev) is not int:
        return None
    if type(ts) is not int:
        return None
    bids = _levels_fast(obj.get("b"), ic.px, ic.qty)
    if bids is None:
        return None
    asks = _levels_fast(obj.get("a"), ic.px, ic.qty)
    if asks is None:
        return None
    return DepthUpdate(
        symbol=ic.instrument.symbol, first_id=first, last_id=last, prev_last_id=prev,
        bids=bids, asks=asks, ts=ts,
    )  # fmt: skip


def _trade_fast(obj: Obj, ic: InstrumentCodec, id_key: str) -> Trade | None:
    if type(obj) is not dict:
        return None
    trade_id, p, q = obj.get(id_key), obj.get("p"), obj.get("q")
    maker, ts = obj.get("m"), obj.get("E")
    if type(trade_id) is not int or type(ts) is not int or type(maker) is not bool:
        return None
    if type(p) is not str or type(q) is not str:
        return None
    try:
        ticks, size = ic.px(p), ic.qty(q)
    except _FAST_MISS:
        return None
    if ticks <= 0 or size <= 0:
        return None
    return Trade(
        symbol=ic.instrument.symbol, trade_id=trade_id, price=ticks, qty=size,
        buyer_is_maker=maker, ts=ts,
    )  # fmt: skip


def _book_ticker_fast(obj: Obj, ic: InstrumentCodec) -> BookTicker | None:
    if type(obj) is not dict:
        return None
    b, bq, a, aq = obj.get("b"), obj.get("B"), obj.get("a"), obj.get("A")
    ts, seq = obj.get("E"), obj.get("u")
    if type(ts) is not int or type(seq) is not int:
        return None
    if type(b) is not str or type(bq) is not str or type(a) is not str or type(aq) is not str:
        return None
    px, qty = ic.px, ic.qty
    try:
        bid, bid_qty, ask, ask_qty = px(b), qty(bq), px(a), qty(aq)
    except _FAST_MISS:
        return None
    if bid <= 0 or ask <= 0 or bid_qty < 0 or ask_qty < 0:
        return None
    return BookTicker(
        symbol=ic.instrument.symbol, bid_price=bid, bid_qty=bid_qty, ask_price=ask,
        ask_qty=ask_qty, ts=ts, seq=seq,
    )  # fmt: skip
