"""Import Tardis.dev CSV: ``incremental_book_L2`` plus ``trades`` → neutral events.

The files (gzip or plain) are those Tardis publishes per exchange, symbol and day:

- ``incremental_book_L2``: ``exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,
  amount`` (times in µs since the epoch; ``side`` bid/ask; ``amount`` absolute, 0 removes);
- ``trades``: ``exchange,symbol,timestamp,local_timestamp,id,side,price,amount`` (``side`` is
  the taker's: buy/sell, or unknown).

A file whose header is not exactly one of these is refused, naming the unknown and the missing
columns. Rows are merged by ``local_timestamp`` (arrival order; a trade before a book update
of the same µs, as hftbacktest's Tardis converter orders them). Consecutive book rows with the
same times and snapshot flag are one message. Tardis has no sequence numbers: deltas get a
running sequence (continuous by construction). A snapshot that follows incremental updates
means Tardis' collector resynced (a reconnect, or its start-of-day snapshot): it is imported as
``BookInvalid`` then the snapshot, so the gap is counted and the book rebuilt, as live.

Prices and sizes go onto the instrument's grid exactly (:mod:`mmtrio.data.grid`); the steps are
given, or inferred from the first rows. A price or a trade amount of zero or less, and a
negative book amount, are refused naming the file, the line and the value (a book amount of 0
is valid: it removes the level).
"""

from __future__ import annotations

import csv
import gzip
import heapq
import io
import itertools
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO

from mmtrio.core.events import BookDelta, BookInvalid, BookSnapshot, Event, Trade
from mmtrio.core.instruments import Instrument
from mmtrio.data.grid import GridGuess, to_steps
from mmtrio.errors import DataFileError, InstrumentError

BOOK_COLUMNS = (
    "exchange",
    "symbol",
    "timestamp",
    "local_timestamp",
    "is_snapshot",
    "side",
    "price",
    "amount",
)
TRADE_COLUMNS = (
    "exchange",
    "symbol",
    "timestamp",
    "local_timestamp",
    "id",
    "side",
    "price",
    "amount",
)
SCAN_ROWS = 20_000
_Row = tuple[int, int, int, str, list[str]]  # local µs, order (0 trade, 1 book), line, path, row


def _open(path: Path) -> IO[str]:
    try:
        if path.name.endswith(".gz"):
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
        return path.open("r", encoding="utf-8", newline="")
    except OSError as exc:
        raise DataFileError(f"cannot open {path}: {exc.strerror or exc}") from exc


def file_kind(path: Path) -> str:
    """``"book"`` or ``"trades"`` from the header; DataFileError naming bad columns."""
    with _open(path) as fh:
        try:
            header = next(csv.reader(fh), None)
        except (OSError, EOFError, csv.Error) as exc:
            raise DataFileError(f"{path}: unreadable ({exc})") from exc
    if header is None:
        raise DataFileError(f"{path}: empty file; expected a Tardis CSV with a header line")
    cols = tuple(c.strip() for c in header)
    for kind, want in (("book", BOOK_COLUMNS), ("trades", TRADE_COLUMNS)):
        if cols == want:
            return kind
    best = BOOK_COLUMNS if "is_snapshot" in cols else TRADE_COLUMNS
    unknown = [c for c in cols if c not in best]
    missing = [c for c in best if c not in cols]
    what = "incremental_book_L2" if best is BOOK_COLUMNS else "trades"
    raise DataFileError(
        f"{path}: not a Tardis {what} file: unknown column(s) {unknown or 'none'}, missing "
        f"{missing or 'none'} (expected {','.join(best)})"
    )


def _rows(path: Path, order: int) -> Iterator[_Row]:
    fh = _open(path)
    with fh:
        reader = csv.reader(fh)
        try:
            next(reader)
            for line, row in enumerate(reader, 2):
                if len(row) != 8:
                    raise DataFileError(f"{path}:{line}: expected 8 fields, got {len(row)}")
                try:
                    local = int(row[3])
                except ValueError:
                    raise DataFileError(
                        f"{path}:{line}: local_timestamp {row[3]!r} is not an integer"
                    ) from None
                yield local, order, line, str(path), row
        except (OSError, EOFError, csv.Error) as exc:
            raise DataFileError(f"{path}: damaged after line {reader.line_num} ({exc})") from exc


def check_kinds(paths: Sequence[Path]) -> None:
    """An import needs the book (``incremental_book_L2``) and the trades: a DataFileError
    naming the files and what each is when one kind is missing (the same file given twice, a
    trades file where the book was meant)."""
    names = {"book": "incremental_book_L2", "trades": "trades"}
    kinds = [file_kind(path) for path in paths]
    for missing in ("book", "trades"):
        if missing not in kinds:
            named = ", ".join(f"{p} ({names[k]})" for p, k in zip(paths, kinds, strict=True))
            raise DataFileError(
                f"{named}: no {names[missing]} file; a Tardis import needs the book and the "
                "trades (BOOK.csv.gz TRADES.csv.gz)"
            )


def infer_instrument(
    paths: Sequence[Path], tick: Decimal | None = None, lot: Decimal | None = None
) -> Instrument:
    """The symbol and grid of Tardis files (steps given, or inferred from the first rows)."""
    symbols: set[str] = set()
    prices, sizes = GridGuess(), GridGuess()
    for path in paths:
        file_kind(path)
        for _, _, line, where, row in itertools.islice(_rows(path, 0), SCAN_ROWS):
            symbols.add(row[1])
            prices.add(row[6], f"{where}:{line}")
            sizes.add(row[7], f"{where}:{line}")
    if len(symbols) != 1:
        raise DataFileError(f"Tardis files must hold one symbol, found {sorted(symbols) or 'none'}")
    symbol = symbols.pop().upper()
    tick = tick or prices.size()
    lot = lot or sizes.size()
    if tick is None or lot is None:
        raise DataFileError("no prices or sizes in the Tardis files to infer the grid from")
    quote = next((q for q in ("USDT", "USDC", "USD") if symbol.endswith(q)), "USDT")
    try:
        return Instrument(
            symbol=symbol,
            tick_size=tick,
            lot_size=lot,
            min_qty=1,
            max_qty=10**12,
            min_notional=Decimal(5),
            base_asset=symbol.removesuffix(quote),
            quote_asset=quote,
        )
    except InstrumentError as exc:
        raise DataFileError(f"cannot build an instrument from the Tardis files: {exc}") from exc


def _positive(steps: int, text: str, where: str, what: str) -> int:
    """``steps`` if above zero; a price or a trade amount of zero or less is refused."""
    if steps <= 0:
        raise DataFileError(
            f"{where}: {what} {text} is not positive; a Tardis {what} must be above zero "
            "(check the file)"
        )
    return steps


def read_tardis(paths: Sequence[Path], inst: Instrument) -> Iterator[tuple[int, Event]]:
    """The files' rows as ``(local_ns, event)`` in arrival order (see the module doc)."""
    streams = []
    for path in paths:
        kind = file_kind(path)
        streams.append(_rows(path, 0 if kind == "trades" else 1))
    merged = heapq.merge(*streams, key=lambda r: (r[0], r[1]))
    sym = inst.symbol
    seq = 0
    trade_seq = 0
    seen_delta = False
    synced = False
    pending: list[tuple[str, int, int]] = []  # (side, ticks, lots) of the open message
    key: tuple[int, int, bool] | None = None  # (local µs, exchange µs, snapshot)
    where = ""

    def flush() -> Iterator[tuple[int, Event]]:
        nonlocal seq, seen_delta, synced
        if key is None or not pending:
            return
        local, exch, snap = key
        bids = tuple((p, q) for s, p, q in pending if s == "bid")
        asks = tuple((p, q) for s, p, q in pending if s == "ask")
        ts = exch // 1_000
        seq += 1
        if snap:
            if synced and seen_delta:
                yield local * 1_000, BookInvalid(sym, f"{where}: Tardis resynced the book", ts)
            bids = tuple(sorted(bids, reverse=True))
            asks = tuple(sorted(asks))
            yield local * 1_000, BookSnapshot(sym, bids, asks, ts, seq)
            synced, seen_delta = True, False
        elif synced:
            seen_delta = True
            yield local * 1_000, BookDelta(sym, bids, asks, ts, seq, seq - 1, seq)
        pending.clear()

    for local, order, line, src, row in merged:
        here = f"{src}:{line}"
        if row[1].upper() != sym:
            raise DataFileError(f"{here}: symbol {row[1]} in a {sym} import")
        try:
            exch = int(row[2])
        except ValueError:
            raise DataFileError(f"{here}: timestamp {row[2]!r} is not an integer") from None
        if order == 0:
            yield from flush()
            key = None
            price = _positive(
                to_steps(row[6], inst.tick_size, here, "price"), row[6], here, "price"
            )
            qty = _positive(
                to_steps(row[7], inst.lot_size, here, "amount"), row[7], here, "trade amount"
            )
            if row[5] not in ("buy", "sell", "unknown"):
                raise DataFileError(f"{here}: trade side {row[5]!r} is not buy, sell or unknown")
            trade_seq += 1
            tid = int(row[4]) if row[4].isdigit() else trade_seq
            yield local * 1_000, Trade(sym, tid, price, qty, row[5] == "sell", exch // 1_000)
            continue
        snap = row[4].strip().lower() == "true"
        if row[4].strip().lower() not in ("true", "false"):
            raise DataFileError(f"{here}: is_snapshot {row[4]!r} is not true or false")
        if row[5] not in ("bid", "ask"):
            raise DataFileError(f"{here}: book side {row[5]!r} is not bid or ask")
        k = (local, exch, snap)
        if snap and key is not None and key[2]:
            k = key  # a snapshot's rows are one message, whatever their stamps
        if k != key:
            yield from flush()
            key = k
            where = str(here)
        price = _positive(to_steps(row[6], inst.tick_size, here, "price"), row[6], here, "price")
        amount = to_steps(row[7], inst.lot_size, here, "amount")
        if amount < 0:
            raise DataFileError(
                f"{here}: book amount {row[7]} is negative; a Tardis book amount is the "
                "level's absolute size (0 removes the level): check the file"
            )
        pending.append((row[5], price, amount))
    yield from flush()
