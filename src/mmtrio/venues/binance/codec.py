"""The Binance USD-M codec: bytes from the venue → typed records (sans-I/O, like wsproto).

:class:`BinanceDecoder` parses one websocket message (bare or in a combined-stream envelope)
into core events plus a few venue-level records defined here and in the sibling modules
(``DepthUpdate``/``DepthSnapshot``, which the sequencer turns into neutral book events;
``TradeLite``, ``ListenKeyExpired``, ``UnknownMessage``). Validation is strict: a malformed
payload raises ProtocolError naming the payload kind and field. An event type we do not know
is counted and returned as :class:`UnknownMessage`, never fatal — Binance adds event types
(e.g. STRATEGY_UPDATE, GRID_UPDATE) without notice.

JSON is parsed with orjson: this is on the tick-to-order hot path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from mmtrio.core.events import (
    AccountUpdate,
    BookTicker,
    FundingPayment,
    MarginCall,
    MarkPrice,
    OrderUpdate,
    Trade,
)
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ProtocolError
from mmtrio.venues.binance import codec_market as m
from mmtrio.venues.binance import codec_user as u
from mmtrio.venues.binance.codec_fields import InstrumentCodec, Obj
from mmtrio.venues.binance.codec_market import DepthSnapshot, DepthUpdate
from mmtrio.venues.binance.codec_rest import (
    AccountInfo,
    AssetBalance,
    ExchangeInfo,
    OrderAck,
    OrderState,
    PositionRisk,
)
from mmtrio.venues.binance.codec_user import ListenKeyExpired, TradeLite


@dataclass(frozen=True, slots=True)
class UnknownMessage:
    """A well-formed message of a type this codec does not handle (counted, not fatal)."""

    event_type: str
    payload: dict[str, Any]


Record = (
    DepthUpdate
    | DepthSnapshot
    | Trade
    | BookTicker
    | MarkPrice
    | OrderUpdate
    | AccountUpdate
    | FundingPayment
    | MarginCall
    | TradeLite
    | ListenKeyExpired
    | UnknownMessage
)


def loads(raw: bytes | str, kind: str = "message") -> Any:
    """Parse JSON, turning a decode failure into a ProtocolError."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"{kind}: not valid JSON ({exc})") from None


class BinanceDecoder:
    """Decoder for the symbols we trade. ``unknown`` counts unhandled event types."""

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._codecs: dict[str, InstrumentCodec] = {
            i.symbol: InstrumentCodec(i) for i in instruments
        }
        if not self._codecs:
            raise ProtocolError("BinanceDecoder needs at least one instrument")
        self.unknown: Counter[str] = Counter()
        # A single traded symbol lets a cross-margin FUNDING_FEE (no position listed) be
        # attributed; with several, it stays account-level (see codec_user).
        self._default_symbol = next(iter(self._codecs)) if len(self._codecs) == 1 else None
        market: dict[str, Callable[[Obj, InstrumentCodec], Record]] = {
            "depthUpdate": m.parse_depth_update,
            "trade": m.parse_trade,
            "aggTrade": m.parse_agg_trade,
            "bookTicker": m.parse_book_ticker,
            "markPriceUpdate": m.parse_mark_price,
        }
        self._market = market

    @property
    def instruments(self) -> dict[str, Instrument]:
        return {s: c.instrument for s, c in self._codecs.items()}

    def codec_for(self, symbol: str, kind: str = "message") -> InstrumentCodec:
        """The symbol's codec; ProtocolError for a symbol this decoder does not trade."""
        try:
            return self._codecs[symbol]
        except KeyError:
            raise ProtocolError(
                f"{kind}: symbol {symbol!r} is not one this connector trades "
                f"({', '.join(self._codecs)})"
            ) from None
        except TypeError:
            raise ProtocolError(f"{kind}: symbol must be a string, got {symbol!r}") from None

    # --- streams -----------------------------------------------------------------------
    def decode(self, raw: bytes | str) -> list[Record]:
        """One websocket message → its records (most messages give exactly one)."""
        return self.decode_obj(loads(raw))

    def decode_obj(self, obj: Any) -> list[Record]:
        """A parsed message (bare payload or ``{"stream","data"}`` envelope) → records."""
        if not isinstance(obj, dict):
            raise ProtocolError(f"message: expected a JSON object, got {type(obj).__name__}")
        if "stream" in obj and "data" in obj:
            obj = obj["data"]
            if not isinstance(obj, dict):
                raise ProtocolError("combined stream: field 'data' must be an object")
        e = obj.get("e")
        if not isinstance(e, str):
            if "lastUpdateId" in obj:  # a REST snapshot line in a recording
                raise ProtocolError(
                    "message: a depth snapshot needs its symbol; use decode_snapshot(obj, symbol)"
                )
            raise ProtocolError("message: missing string field 'e' (event type)")
        parse = self._market.get(e)
        if parse is not None:
            sym = obj.get("s")
            return [parse(obj, self.codec_for(sym, e))]  # type: ignore[arg-type]
        if e == "ORDER_TRADE_UPDATE":
            return [u.parse_order_trade_update(obj, self.codec_for)]
        if e == "TRADE_LITE":
            return [u.parse_trade_lite(obj, self.codec_for)]
        if e == "ACCOUNT_UPDATE":
            return list(u.parse_account_update(obj, self.codec_for, self._default_symbol))
        if e == "listenKeyExpired":
            return [u.parse_listen_key_expired(obj)]
        if e == "MARGIN_CALL":
            return [u.parse_margin_call(obj)]
        self.unknown[e] += 1
        return [UnknownMessage(e, obj)]

    def decode_snapshot(self, obj: Any, symbol: str) -> DepthSnapshot:
        """A REST depth snapshot (which does not name its symbol) → DepthSnapshot."""
        if not isinstance(obj, dict):
            raise ProtocolError(f"depth snapshot: expected an object, got {type(obj).__name__}")
        return m.parse_depth_snapshot(obj, self.codec_for(symbol, "depth snapshot"))


__all__ = [
    "AccountInfo",
    "AssetBalance",
    "BinanceDecoder",
    "ExchangeInfo",
    "ListenKeyExpired",
    "OrderAck",
    "OrderState",
    "PositionRisk",
    "Record",
    "TradeLite",
    "UnknownMessage",
    "loads",
]
