"""The OKX WebSocket codec: one message → typed records (sans-I/O, like wsproto).

:class:`OkxDecoder` reads every message of the public and private sockets for the one
instrument it trades:

- channel pushes (``{"arg": {"channel", …}, "data": [...]}``) → neutral events (Trade,
  MarkPrice, OrderUpdate, AccountUpdate, FundingPayment) and :class:`BooksMessage` for the
  sequencer;
- ``{"event": "login" | "subscribe" | "unsubscribe" | "error" | "notice" …}`` →
  :class:`WsEvent`; op answers (``{"id", "op", "code", "msg", "data"}``) → :class:`OpResult`;
- the text ``pong`` (OKX's keep-alive answer to the text ``ping``) → :data:`PONG`.

A message for another instrument is a ProtocolError (we subscribe to ours only); a channel
this codec does not handle is counted and returned as :class:`UnknownMessage`, never fatal.

**Mark price.** OKX splits what the neutral MarkPrice holds over two channels:
``mark-price`` (the mark) and ``funding-rate`` (rate and next settlement). The decoder
keeps the latest of each and emits a MarkPrice on either once both are known. OKX's mark
channel carries no index price and mmtrio does not subscribe to one: ``index_price`` is 0,
meaning "not known" (no decision reads it).

JSON is parsed with orjson (the tick-to-order hot path).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import orjson

from mmtrio.core.events import (
    AccountUpdate,
    FundingPayment,
    MarkPrice,
    OrderUpdate,
    Trade,
)
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ProtocolError
from mmtrio.venues.okx import codec_market as m
from mmtrio.venues.okx.codec_market import BooksMessage, FundingRate, MarkPx
from mmtrio.venues.okx.codec_orders import parse_order
from mmtrio.venues.okx.codec_user import FundingTracker, account_update, positions_update
from mmtrio.venues.okx.fields import InstrumentCodec, Obj, get_list, get_obj, get_str


@dataclass(frozen=True, slots=True)
class WsEvent:
    """A control message: ``login``, ``subscribe``, ``unsubscribe``, ``error``, ``notice``…"""

    event: str
    code: str
    msg: str
    arg: Obj | None


@dataclass(frozen=True, slots=True)
class OpResult:
    """The answer to an op (``order``, ``amend-order``, ``cancel-order``, batch forms)."""

    id: str
    op: str
    code: str
    msg: str
    data: tuple[Obj, ...]


@dataclass(frozen=True, slots=True)
class UnknownMessage:
    """A well-formed push of a channel this codec does not handle (counted, not fatal)."""

    channel: str
    payload: Obj


class _Pong:
    __slots__ = ()

    def __repr__(self) -> str:
        return "PONG"


PONG: Final = _Pong()

Record = (
    BooksMessage
    | Trade
    | MarkPrice
    | OrderUpdate
    | AccountUpdate
    | FundingPayment
    | WsEvent
    | OpResult
    | UnknownMessage
    | _Pong
)


def loads(raw: bytes | str, kind: str = "message") -> Any:
    """Parse JSON, turning a decode failure into a ProtocolError."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"{kind}: not valid JSON ({exc})") from None


def _text(obj: Obj, key: str) -> str:
    val = obj.get(key, "")
    return val if isinstance(val, str) else str(val)


class OkxDecoder:
    """Decoder for the one instrument a session trades (see module docstring)."""

    def __init__(self, instrument: Instrument) -> None:
        self.codec = InstrumentCodec(instrument)
        self.symbol = instrument.symbol
        self.unknown: Counter[str] = Counter()
        self.funding = FundingTracker()
        self._mark: MarkPx | None = None
        self._rate: FundingRate | None = None

    @property
    def instrument(self) -> Instrument:
        return self.codec.instrument

    def _check_inst(self, obj: Obj, kind: str) -> None:
        inst = obj.get("instId")
        if inst is not None and inst != self.symbol:
            raise ProtocolError(
                f"{kind}: instrument {inst!r} is not the one this connector trades ({self.symbol})"
            )

    def decode(self, raw: bytes | str) -> list[Record]:
        """One WebSocket message → its records."""
        if raw in ("pong", b"pong"):
            return [PONG]
        return self.decode_obj(loads(raw))

    def decode_obj(self, obj: Any) -> list[Record]:
        if not isinstance(obj, dict):
            raise ProtocolError(f"message: expected a JSON object, got {type(obj).__name__}")
        if "event" in obj:
            arg = obj.get("arg")
            return [
                WsEvent(
                    get_str(obj, "event", "event"),
                    _text(obj, "code"),
                    _text(obj, "msg"),
                    arg if isinstance(arg, dict) else None,
                )
            ]
        if "op" in obj and "arg" not in obj:
            data = get_list(obj, "data", "op answer") if "data" in obj else []
            if not all(isinstance(d, dict) for d in data):
                raise ProtocolError("op answer: 'data' entries must be objects")
            return [
                OpResult(
                    _text(obj, "id"),
                    get_str(obj, "op", "op answer"),
                    _text(obj, "code"),
                    _text(obj, "msg"),
                    tuple(data),
                )
            ]
        arg = get_obj(obj, "arg", "push")
        channel = get_str(arg, "channel", "push")
        self._check_inst(arg, channel)
        data = get_list(obj, "data", channel)
        for d in data:
            if not isinstance(d, dict):
                raise ProtocolError(f"{channel}: 'data' entries must be objects")
            self._check_inst(d, channel)
        return self._channel(channel, obj, data)

    def _channel(self, channel: str, obj: Obj, data: list[Obj]) -> list[Record]:
        ic = self.codec
        if channel == "books":
            return [m.parse_books(obj.get("action"), d, ic) for d in data]
        if channel == "trades":
            return [m.parse_trade(d, ic) for d in data]
        if channel == "mark-price":
            out: list[Record] = []
            for d in data:
                self._mark = m.parse_mark_price(d, ic)
                out.extend(self._mark_price(self._mark.ts))
            return out
        if channel == "funding-rate":
            out = []
            for d in data:
                self._rate = m.parse_funding_rate(d, ic)
                out.extend(self._mark_price(self._rate.ts))
            return out
        if channel == "orders":
            return [parse_order(d, ic, push=True) for d in data]
        if channel == "positions":
            return list(positions_update(data, ic, self.funding))
        if channel == "account":
            return [account_update(d) for d in data]
        self.unknown[channel] += 1
        return [UnknownMessage(channel, obj)]

    def _mark_price(self, ts: int) -> list[Record]:
        mark, rate = self._mark, self._rate
        if mark is None or rate is None:
            return []
        return [
            MarkPrice(
                symbol=self.symbol,
                mark_price=mark.mark_price,
                index_price=Decimal(0),
                funding_rate=rate.rate,
                next_funding_ts=rate.funding_time,
                ts=ts,
            )
        ]


__all__ = [
    "PONG",
    "BooksMessage",
    "OkxDecoder",
    "OpResult",
    "Record",
    "UnknownMessage",
    "WsEvent",
    "loads",
]
