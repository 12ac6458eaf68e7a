"""Recorded Binance USD-M market data (hftbacktest collector format), read with the live codec.

One message a line: ``<local_receive_timestamp> <json>``; the json is a combined-stream
envelope ``{"stream": "<sym>@<kind>", "data": {...}}`` or a bare REST depth snapshot. The
local timestamp is ns (2024 files) or µs (2023 ``.dat.gz`` files), normalised to ns by
magnitude. (data/binance-usdm/README.md has the provenance.)

**One codec.** Lines are decoded by :class:`~mmtrio.venues.binance.codec.BinanceDecoder` (the
live connector's decoder) and sequenced by :class:`~mmtrio.venues.binance.sequencer.DepthSequencer`
(the live market stream's), so a recording yields exactly the neutral events the live
connector yields for the same bytes. A depth gap in a recording is handled as the live feed
handles one: :class:`~mmtrio.core.events.BookInvalid`, then the book is rebuilt from the next
snapshot in the data; ``gaps`` counts them.

**Any symbol.** A recording names its streams (``btcusdt@depth@0ms``): :func:`scan_recording`
takes the symbol from them and infers the instrument's grid from the data (the greatest common
step of the prices and sizes it contains). A file that mixes symbols, or names none, is refused
naming the file and line.

**Files in order.** A recording given as several files (``a.gz,b.gz``) is read in the order
given, and each file must start no earlier than the previous one ended (recorder time): files
out of time order are refused naming both files and their first and last times, never sorted
silently, since a backtest would mark a position across the jump.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from math import gcd
from pathlib import Path
from typing import IO, Any

import orjson

from mmtrio.core.events import BookInvalid, Event
from mmtrio.core.instruments import Instrument
from mmtrio.errors import DataFileError, InstrumentError, ProtocolError
from mmtrio.venues.binance.codec import BinanceDecoder, UnknownMessage
from mmtrio.venues.binance.codec_market import DepthSnapshot, DepthUpdate
from mmtrio.venues.binance.sequencer import DepthSequencer

QUOTE_ASSETS = ("USDT", "USDC", "BUSD", "FDUSD", "USD")  # USD: Extended's recorded
SCAN_LINES = 5_000
"""Lines read to infer the instrument (the full depth snapshot is always among them)."""
DEFAULT_MIN_NOTIONAL = Decimal(5)
"""A recording cannot show the venue's MIN_NOTIONAL filter; 5 USDT is Binance's usual value for
USDT-margined perpetuals (BTCUSDT's is 100). Config or ``--set`` override it where it matters."""


@dataclass(frozen=True, slots=True)
class RecordedLine:
    """One recorded line: local receive time (ns), the JSON object, and ``file:line``."""

    local_ns: int
    obj: dict[str, Any]
    where: str

    @property
    def is_snapshot(self) -> bool:
        return "lastUpdateId" in self.obj

    @property
    def stream(self) -> str | None:
        stream = self.obj.get("stream")
        return stream if isinstance(stream, str) else None


def local_ts_to_ns(ts: int) -> int:
    """Normalise a recorded local timestamp (s, ms, µs or ns since the epoch) to ns."""
    if ts >= 10**17:
        return ts
    if ts >= 10**14:
        return ts * 1_000
    if ts >= 10**11:
        return ts * 1_000_000
    return ts * 1_000_000_000


def parse_line(line: bytes, where: str) -> RecordedLine:
    """Parse one recorded line; ``where`` (file:line) names it in errors."""
    head, sep, body = line.partition(b" ")
    if not sep:
        shown = line[:80].decode("utf-8", "replace").rstrip()
        hint = ""
        if shown.startswith("exchange,symbol,"):
            hint = " (a Tardis CSV: `mmtrio data import-tardis BOOK.csv.gz TRADES.csv.gz` reads it)"
        raise DataFileError(f"{where}: expected '<timestamp> <json>', got '{shown}'{hint}")
    try:
        local = int(head)
        obj = orjson.loads(body)
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise DataFileError(f"{where}: unreadable line ({exc}); is this a recording file?") from exc
    if not isinstance(obj, dict):
        raise DataFileError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    if "lastUpdateId" not in obj and not (
        isinstance(obj.get("stream"), str) and isinstance(obj.get("data"), dict)
    ):
        raise DataFileError(f"{where}: neither a combined-stream envelope nor a depth snapshot")
    return RecordedLine(local_ts_to_ns(local), obj, where)


def iter_lines(path: Path) -> Iterator[RecordedLine]:
    """Lines of one recording file in file order (gzip or plain text).

    A corrupt or truncated file is a DataFileError naming the file and the byte offset
    reached (in the uncompressed stream), never a bare gzip/zlib exception.
    """
    try:
        if path.name.endswith(".gz"):
            fh: IO[bytes] | gzip.GzipFile = gzip.open(path, "rb")  # noqa: SIM115
        else:
            fh = path.open("rb")
    except OSError as exc:
        raise DataFileError(f"cannot open recording {path}: {exc.strerror or exc}") from exc
    offset = 0
    n = 0
    with fh:
        try:
            for n, line in enumerate(fh, 1):
                offset += len(line)
                if line.strip():
                    yield parse_line(line, f"{path}:{n}")
        except (OSError, EOFError, zlib.error) as exc:
            # gzip says "Not a gzipped file (b'..')" or "Compressed file ended before the
            # end-of-stream marker was reached" without naming the file: name it, and say what.
            what = "not a gzip file" if isinstance(exc, gzip.BadGzipFile) else "damaged"
            raise DataFileError(
                f"recording {path} is {what} (after line {n}, byte {offset} of the uncompressed "
                f"data): {exc}; use a file recorded in the hftbacktest collector format (.gz), "
                "as in data/binance-usdm/"
            ) from exc


def symbol_of(line: RecordedLine) -> str | None:
    """The symbol a stream line names (``btcusdt@depth@0ms`` → BTCUSDT); None for a snapshot."""
    stream = line.stream
    if stream is None:
        return None
    sym, at, _kind = stream.partition("@")
    if not at or not sym:
        raise DataFileError(f"{line.where}: stream name {stream!r} does not name a symbol")
    return sym.upper()


# --- instrument inference ------------------------------------------------------------------


class _Grid:
    """Greatest common step of decimal strings (as integers at the finest scale seen)."""

    def __init__(self) -> None:
        self.decimals = 0
        self.step = 0  # gcd of the values at 10**-decimals; 0 = nothing seen

    def add(self, text: Any, where: str) -> None:
        try:
            dec = Decimal(str(text))
        except InvalidOperation:
            raise DataFileError(f"{where}: {text!r} is not a decimal number") from None
        if not dec.is_finite() or dec <= 0:
            return
        exp = dec.as_tuple().exponent
        places = max(0, -exp) if isinstance(exp, int) else 0
        if places > self.decimals:
            self.step *= 10 ** (places - self.decimals)
            self.decimals = places
        self.step = gcd(self.step, int(dec.scaleb(self.decimals)))

    def size(self) -> Decimal | None:
        if self.step == 0:
            return None
        return Decimal(self.step).scaleb(-self.decimals)


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    """What a recording says about itself."""

    symbol: str
    instrument: Instrument
    files: tuple[Path, ...]


def scan_recording(
    paths: Sequence[Path],
    *,
    symbol: str | None = None,
    lines: int = SCAN_LINES,
    symbol_option: str = "--symbol",
) -> RecordingInfo:
    """The symbol and instrument of a recording (one symbol, several files in order).

    ``symbol`` (an override) must match the data; ``symbol_option`` is what the operator set
    it with, named when it does not match (``--symbol`` on the data commands, the config key
    ``venue.symbol`` for a paper bot). The tick and lot steps are the greatest
    common steps of the prices and sizes in the first ``lines`` lines of the first file,
    which always include its full depth snapshot (1,000 levels a side).
    """
    if not paths:
        raise DataFileError("a recording needs at least one file")
    seen: str | None = None
    prices, sizes = _Grid(), _Grid()
    for path in paths:
        for count, line in enumerate(iter_lines(Path(path)), 1):
            sym = symbol_of(line)
            if sym is not None:
                if seen is None:
                    seen = sym
                elif sym != seen:
                    raise DataFileError(
                        f"{line.where}: the recording mixes symbols ({seen} and {sym}); "
                        "record or pass one symbol's files only"
                    )
            if path == paths[0] and count <= lines:
                _collect(line, prices, sizes)
            elif count > lines:
                break
    if seen is None:
        raise DataFileError(
            f"{paths[0]}: no stream line names a symbol in the first {lines} lines; "
            "is this a Binance recording (hftbacktest collector format)?"
        )
    if symbol is not None and symbol.upper() != seen:
        raise DataFileError(
            f"{symbol_option} {symbol} does not match the recording, which holds {seen} "
            f"({paths[0]}); drop {symbol_option} or pass that symbol's files"
        )
    tick, lot = prices.size(), sizes.size()
    if tick is None or lot is None:
        raise DataFileError(f"{paths[0]}: no prices or sizes found to infer the instrument grid")
    quote = next((q for q in QUOTE_ASSETS if seen.endswith(q) and len(seen) > len(q)), "USDT")
    try:
        inst = Instrument(
            symbol=seen,
            tick_size=tick,
            lot_size=lot,
            min_qty=1,
            max_qty=10**12,
            min_notional=DEFAULT_MIN_NOTIONAL,
            base_asset=seen.removesuffix(quote),
            quote_asset=quote,
        )
    except InstrumentError as exc:
        raise DataFileError(f"{paths[0]}: cannot build an instrument from the data: {exc}") from exc
    return RecordingInfo(seen, inst, tuple(Path(p) for p in paths))


def _collect(line: RecordedLine, prices: _Grid, sizes: _Grid) -> None:
    obj = line.obj
    if line.is_snapshot:
        levels = [*obj.get("bids", ()), *obj.get("asks", ())]
    else:
        data = obj["data"]
        kind = data.get("e")
        if kind == "depthUpdate":
            levels = [*data.get("b", ()), *data.get("a", ())]
        elif kind in ("trade", "aggTrade"):
            levels = [(data.get("p"), data.get("q"))]
        elif kind == "bookTicker":
            levels = [(data.get("b"), data.get("B")), (data.get("a"), data.get("A"))]
        else:
            return
    for level in levels:
        if not isinstance(level, list | tuple) or len(level) < 2:
            raise DataFileError(f"{line.where}: a book level must be [price, size], got {level!r}")
        prices.add(level[0], line.where)
        sizes.add(level[1], line.where)


# --- decoding and sequencing ----------------------------------------------------------------


class RecordingReader:
    """Recorded lines → the neutral events the live connector would deliver, in file order.

    Yields ``(local_ns, event)``; depth goes through the live sequencer (a gap yields
    BookInvalid and the book waits for the next snapshot in the data). ``book_ticker`` False
    skips bookTicker lines (the backtester does not need them). Counters: ``lines``,
    ``gaps``, ``unknown`` (well-formed lines of an event type the codec does not handle).
    """

    def __init__(
        self, paths: Iterable[Path], instrument: Instrument, *, book_ticker: bool = True
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self.instrument = instrument
        self.book_ticker = book_ticker
        self.decoder = BinanceDecoder([instrument])
        self.sequencer = DepthSequencer(max_buffer=100_000)
        self.lines = 0
        self.unknown = 0

    @property
    def gaps(self) -> int:
        return self.sequencer.gaps

    def __iter__(self) -> Iterator[tuple[int, Event]]:
        decoder, seq, symbol = self.decoder, self.sequencer, self.instrument.symbol
        want_ticker = self.book_ticker
        prev: tuple[Path, int, int] | None = None  # the previous file, its first and last time
        # A snapshot read while synced: redundant if the next diff continues the chain (the
        # collector's pairs carry one, in file 1), a resync's if it breaks it (a recording
        # made across a feed gap: the live sequencer's BookInvalid wrote no line, then its
        # resync snapshot and the diffs after it). It used to be dropped either way, and the
        # book stayed invalid for the rest of the recording after a gap.
        resync: DepthSnapshot | None = None
        for path in self.paths:
            first: int | None = None
            for line in iter_lines(path):
                if first is None:
                    first = line.local_ns
                    if prev is not None and first < prev[2]:
                        raise _out_of_order(prev, path, first)
                last = line.local_ns
                self.lines += 1
                obj = line.obj
                if not want_ticker and obj.get("stream", "").endswith("@bookTicker"):
                    continue
                try:
                    if line.is_snapshot:
                        records: list[Any] = [decoder.decode_snapshot(obj, symbol)]
                    else:
                        records = decoder.decode_obj(obj)
                except ProtocolError as exc:
                    raise DataFileError(f"{line.where}: {exc}") from exc
                for rec in records:
                    if isinstance(rec, DepthUpdate):
                        deltas, gap = seq.on_diff(rec)
                        if gap:
                            yield (
                                line.local_ns,
                                BookInvalid(
                                    symbol,
                                    f"{line.where}: depth gap (pu={rec.prev_last_id})",
                                    rec.ts,
                                ),
                            )
                            if resync is not None:  # the chain broke after a snapshot
                                for book in seq.on_snapshot(resync)[0]:
                                    yield line.local_ns, book
                                deltas = seq.on_diff(rec)[0]  # the diff, against it
                        resync = None
                        for d in deltas:
                            yield line.local_ns, d
                    elif isinstance(rec, DepthSnapshot):
                        if seq.synced:
                            resync = rec  # the next diff says which (see above)
                            continue
                        events, gap = seq.on_snapshot(rec)
                        if gap:
                            yield (
                                line.local_ns,
                                BookInvalid(
                                    symbol, f"{line.where}: snapshot older than the stream", rec.ts
                                ),
                            )
                        for ev in events:
                            yield line.local_ns, ev
                    elif isinstance(rec, UnknownMessage):
                        self.unknown += 1
                    else:
                        yield line.local_ns, rec
            if first is not None:
                prev = (path, first, last)


def _utc_ns(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def _out_of_order(prev: tuple[Path, int, int], path: Path, first: int) -> DataFileError:
    """The files of one recording must follow each other in time (the backtest would
    otherwise jump back, or across the gap, with a position open)."""
    before, b_first, b_last = prev
    return DataFileError(
        f"recording files out of time order: {path} starts at {_utc_ns(first)}, before the "
        f"end of {before} ({_utc_ns(b_first)} to {_utc_ns(b_last)}); give one recording's "
        "files in time order, comma-separated"
    )


@dataclass(frozen=True, slots=True)
class RecordingSource:
    """A recording as a re-readable, picklable source of ``(local_ns, event)`` pairs (what
    the backtester and sweep workers take: they import no venue package)."""

    paths: tuple[Path, ...]
    instrument: Instrument
    book_ticker: bool = False

    def __call__(self) -> Iterator[tuple[int, Event]]:
        return iter(RecordingReader(self.paths, self.instrument, book_ticker=self.book_ticker))
