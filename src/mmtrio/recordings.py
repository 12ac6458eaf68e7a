"""Parsing the shipped recordings (data/binance-usdm, hftbacktest collector format).

One message a line: ``<local_receive_timestamp> <json>``; the json is a combined-stream
envelope ``{"stream": "<sym>@<kind>", "data": {...}}`` or a bare REST depth snapshot.
The local timestamp is ns (2024 files) or µs (2023 ``.dat.gz`` files); we normalise it to
ns by magnitude. Exchange time (``E``/``T``) is what the drivers use.

Conversion of price/qty strings to ticks/lots is exact (an off-grid value is an error) and
cached, because the same few thousand strings repeat hundreds of thousands of times and the
replay must run many times faster than real time.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import orjson

from mmtrio.core.events import (
    BookSnapshot,
    BookTicker,
    DepthDiff,
    Level,
    MarketData,
    MarkPrice,
    Trade,
)
from mmtrio.core.instruments import Instrument
from mmtrio.errors import DataFileError, InstrumentError, ProtocolError

KIND_BY_STREAM = {
    "depth": "depth",
    "depth@0ms": "depth",
    "depth@100ms": "depth",
    "depth@500ms": "depth",
    "trade": "trade",
    "bookTicker": "bookTicker",
    "markPrice": "markPrice",
    "markPrice@1s": "markPrice",
}


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One recorded line: its local receive time (ns), kind and wire payload."""

    local_ns: int
    kind: str  # "depth" | "trade" | "bookTicker" | "markPrice" | "snapshot"
    data: dict[str, Any]


def local_ts_to_ns(ts: int) -> int:
    """Normalise a recorded local timestamp (s, ms, µs or ns since the epoch) to ns."""
    if ts >= 10**17:
        return ts
    if ts >= 10**14:
        return ts * 1_000
    if ts >= 10**11:
        return ts * 1_000_000
    return ts * 1_000_000_000


def parse_line(line: bytes, where: str) -> RawMessage:
    """Parse one recorded line; ``where`` (file:line) names it in errors."""
    head, sep, body = line.partition(b" ")
    if not sep:
        raise DataFileError(f"{where}: expected '<timestamp> <json>', got {line[:80]!r}")
    try:
        local = int(head)
        obj = orjson.loads(body)
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise DataFileError(f"{where}: unreadable line ({exc}); is this a recording file?") from exc
    if not isinstance(obj, dict):
        raise ProtocolError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    if "lastUpdateId" in obj:
        return RawMessage(local_ts_to_ns(local), "snapshot", obj)
    stream = obj.get("stream")
    data = obj.get("data")
    if not isinstance(stream, str) or not isinstance(data, dict):
        raise ProtocolError(f"{where}: neither a combined-stream envelope nor a depth snapshot")
    kind = KIND_BY_STREAM.get(stream.partition("@")[2])
    if kind is None:
        raise ProtocolError(f"{where}: unsupported stream {stream!r}")
    return RawMessage(local_ts_to_ns(local), kind, data)


def iter_file(path: Path) -> Iterator[RawMessage]:
    """Messages of one recording file in file order (gzip or plain text)."""
    # Opened here and closed by the ``with`` below; the try only turns OSError into ours.
    try:
        if path.name.endswith(".gz"):
            fh: IO[bytes] | gzip.GzipFile = gzip.open(path, "rb")  # noqa: SIM115
        else:
            fh = path.open("rb")
    except OSError as exc:
        raise DataFileError(f"cannot open recording {path}: {exc.strerror or exc}") from exc
    with fh:
        n = 0
        try:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    yield parse_line(line, f"{path}:{n}")
        except (OSError, EOFError, zlib.error) as exc:
            # gzip says "Not a gzipped file (b'..')" or "Compressed file ended before the
            # end-of-stream marker was reached" without naming the file: name it, and say what.
            what = "not a gzip file" if isinstance(exc, gzip.BadGzipFile) else "damaged"
            raise DataFileError(
                f"recording {path} is {what} (after line {n}): {exc}; use a file recorded in the "
                "hftbacktest collector format (.gz), as in data/binance-usdm/"
            ) from exc


class Converter:
    """Exact, cached conversion of one instrument's wire messages into core events."""

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.ticks: Callable[[str], int] = lru_cache(maxsize=1 << 16)(instrument.price_to_ticks)
        self.lots: Callable[[str], int] = lru_cache(maxsize=1 << 16)(instrument.qty_to_lots)

    def levels(self, raw: Any, what: str) -> tuple[Level, ...]:
        ticks, lots = self.ticks, self.lots
        try:
            # A list comprehension, then tuple: measurably faster than a generator here (hot).
            return tuple([(ticks(p), lots(q)) for p, q in raw])
        except (TypeError, ValueError, InstrumentError) as exc:
            raise ProtocolError(f"{self.instrument.symbol} {what}: bad levels ({exc})") from exc

    def _symbol(self, data: dict[str, Any]) -> str:
        sym = data.get("s", self.instrument.symbol)
        if sym != self.instrument.symbol:
            raise ProtocolError(
                f"recording has {sym} data but the driver is for {self.instrument.symbol}; "
                "pass the recording files of one symbol"
            )
        return self.instrument.symbol

    def snapshot(self, data: dict[str, Any]) -> BookSnapshot:
        try:
            return BookSnapshot(
                symbol=self.instrument.symbol,
                last_update_id=int(data["lastUpdateId"]),
                bids=self.levels(data["bids"], "snapshot bids"),
                asks=self.levels(data["asks"], "snapshot asks"),
                ts=int(data["E"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"depth snapshot is missing or has a bad field: {exc}") from exc

    def depth(self, data: dict[str, Any]) -> DepthDiff:
        try:
            return DepthDiff(
                symbol=self._symbol(data),
                first_id=int(data["U"]),
                last_id=int(data["u"]),
                prev_last_id=int(data["pu"]),
                bids=self.levels(data["b"], "depth bids"),
                asks=self.levels(data["a"], "depth asks"),
                ts=int(data["E"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"depthUpdate is missing or has a bad field: {exc}") from exc

    def trade(self, data: dict[str, Any]) -> Trade:
        try:
            return Trade(
                symbol=self._symbol(data),
                trade_id=int(data["t"]),
                price=self.ticks(data["p"]),
                qty=self.lots(data["q"]),
                buyer_is_maker=bool(data["m"]),
                ts=int(data["E"]),
            )
        except (KeyError, TypeError, ValueError, InstrumentError) as exc:
            raise ProtocolError(f"trade is missing or has a bad field: {exc}") from exc

    def book_ticker(self, data: dict[str, Any]) -> BookTicker:
        try:
            return BookTicker(
                symbol=self._symbol(data),
                update_id=int(data["u"]),
                bid_price=self.ticks(data["b"]),
                bid_qty=self.lots(data["B"]),
                ask_price=self.ticks(data["a"]),
                ask_qty=self.lots(data["A"]),
                ts=int(data["E"]),
            )
        except (KeyError, TypeError, ValueError, InstrumentError) as exc:
            raise ProtocolError(f"bookTicker is missing or has a bad field: {exc}") from exc

    def mark_price(self, data: dict[str, Any]) -> MarkPrice:
        try:
            return MarkPrice(
                symbol=self._symbol(data),
                mark_price=Decimal(data["p"]),
                index_price=Decimal(data["i"]),
                funding_rate=Decimal(data["r"]),
                next_funding_ts=int(data["T"]),
                ts=int(data["E"]),
            )
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise ProtocolError(f"markPriceUpdate is missing or has a bad field: {exc}") from exc

    def event(self, kind: str, data: dict[str, Any]) -> MarketData:
        """The core event of a stream message of ``kind``."""
        if kind == "depth":
            return self.depth(data)
        if kind == "trade":
            return self.trade(data)
        if kind == "bookTicker":
            return self.book_ticker(data)
        if kind == "markPrice":
            return self.mark_price(data)
        raise ProtocolError(f"no core event for message kind {kind!r}")
