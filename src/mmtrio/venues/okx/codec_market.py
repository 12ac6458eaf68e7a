"""OKX public channels → records (pure): ``books``, ``trades``, ``mark-price``, ``funding-rate``.

Shapes (OKX v5 docs, "Order book channel", "Trades channel", "Mark price channel",
"Funding rate channel"); every push is ``{"arg": {"channel", "instId"}, "data": [...]}``:

- ``books``: ``action`` ``snapshot`` (``prevSeqId`` -1) or ``update``; ``data`` holds one
  object ``{asks, bids, ts, checksum, prevSeqId, seqId}``; a level is ``[px, sz, "0",
  numOrders]`` (the third field is deprecated and always "0"); size ``"0"`` deletes the
  level; sizes are in contracts. Continuity and the checksum are the sequencer's
  (:mod:`mmtrio.venues.okx.sequencer`); this module keeps the level strings it needs.
- ``trades``: ``{instId, tradeId, px, sz, side, ts, count}``; ``side`` is the taker's.
- ``mark-price``: ``{instType, instId, markPx, ts}``.
- ``funding-rate``: ``{instId, fundingRate, fundingTime, nextFundingTime, ts, …}``;
  ``fundingTime`` is the next settlement (what the neutral ``next_funding_ts`` means).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mmtrio.core.events import Level, Trade
from mmtrio.errors import InstrumentError, ProtocolError
from mmtrio.venues.okx.fields import (
    InstrumentCodec,
    Obj,
    get_dec,
    get_int,
    get_int_str,
    get_list,
    get_str,
)

RawLevel = tuple[int, int, str, str]
"""A book level as received: (ticks, lots, price string, size string); the strings are what
OKX's checksum is computed over."""


@dataclass(frozen=True, slots=True)
class BooksMessage:
    """One ``books`` push (snapshot or update), before the continuity check."""

    symbol: str
    snapshot: bool
    bids: tuple[RawLevel, ...]
    asks: tuple[RawLevel, ...]
    ts: int
    checksum: int
    prev_seq: int
    seq: int

    def neutral_levels(self) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        return (
            tuple((p, q) for p, q, _, _ in self.bids),
            tuple((p, q) for p, q, _, _ in self.asks),
        )


@dataclass(frozen=True, slots=True)
class MarkPx:
    """A ``mark-price`` push (combined with the funding rate into a neutral MarkPrice)."""

    symbol: str
    mark_price: Decimal
    ts: int


@dataclass(frozen=True, slots=True)
class FundingRate:
    """A ``funding-rate`` push."""

    symbol: str
    rate: Decimal
    funding_time: int
    ts: int


def _levels(obj: Obj, key: str, kind: str, ic: InstrumentCodec) -> tuple[RawLevel, ...]:
    raw = get_list(obj, key, kind)
    out: list[RawLevel] = []
    append = out.append
    try:
        for lvl in raw:
            px, sz = lvl[0], lvl[1]
            if type(px) is not str or type(sz) is not str or len(lvl) < 2:
                raise TypeError
            append((ic.px(px), ic.sz(sz), px, sz))
    except (TypeError, IndexError, KeyError):
        raise ProtocolError(
            f'{kind}: field {key!r} must be a list of [px, sz, "0", numOrders] levels'
        ) from None
    except InstrumentError as exc:
        raise ProtocolError(f"{kind}: field {key!r}: {exc}") from exc
    return tuple(out)


def parse_books(action: Any, data: Obj, ic: InstrumentCodec) -> BooksMessage:
    k = "books"
    if action not in ("snapshot", "update"):
        raise ProtocolError(f"{k}: field 'action' must be snapshot or update, got {action!r}")
    return BooksMessage(
        symbol=ic.instrument.symbol,
        snapshot=action == "snapshot",
        bids=_levels(data, "bids", k, ic),
        asks=_levels(data, "asks", k, ic),
        ts=get_int_str(data, "ts", k),
        # Absent on some depth channels; on ``books`` it is always sent (often 0 since 2026).
        checksum=get_int(data, "checksum", k) if "checksum" in data else 0,
        prev_seq=get_int(data, "prevSeqId", k),
        seq=get_int(data, "seqId", k),
    )


_TAKER_SOLD = {"buy": False, "sell": True}


def parse_trade(data: Obj, ic: InstrumentCodec) -> Trade:
    k = "trades"
    side = get_str(data, "side", k)
    if side not in _TAKER_SOLD:
        raise ProtocolError(f"{k}: field 'side' must be buy or sell, got {side!r}")
    return Trade(
        symbol=ic.instrument.symbol,
        trade_id=get_int_str(data, "tradeId", k),
        price=ic.price(data, "px", k),
        qty=ic.size(data, "sz", k),
        buyer_is_maker=_TAKER_SOLD[side],  # the taker sold: the buyer was the maker
        ts=get_int_str(data, "ts", k),
    )


def parse_mark_price(data: Obj, ic: InstrumentCodec) -> MarkPx:
    k = "mark-price"
    return MarkPx(ic.instrument.symbol, get_dec(data, "markPx", k), get_int_str(data, "ts", k))


def parse_funding_rate(data: Obj, ic: InstrumentCodec) -> FundingRate:
    k = "funding-rate"
    return FundingRate(
        ic.instrument.symbol,
        get_dec(data, "fundingRate", k),
        get_int_str(data, "fundingTime", k),
        get_int_str(data, "ts", k),
    )
