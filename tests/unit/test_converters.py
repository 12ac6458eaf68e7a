"""Importers and the exporter round-trip a shipped recording: hftbacktest's ``.npz`` both ways,
Tardis ``incremental_book_L2`` + ``trades`` CSV in; bad files refused, naming what is wrong.

The Tardis files are written here from the recording's own events in the layout Tardis
publishes (the module doc of :mod:`mmtrio.data.tardis`): no Tardis data ships with the project.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import itertools
import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest

from mmtrio.backtest.runner import BacktestSettings, run_backtest
from mmtrio.cli import EXIT_USAGE, main
from mmtrio.config import load_config
from mmtrio.config.strategy import apply_overrides, build_strategy_config
from mmtrio.core.events import BookDelta, BookSnapshot, Event, Trade
from mmtrio.core.instruments import Instrument
from mmtrio.data.convert import convert
from mmtrio.data.hftbacktest import export_npz, read_npz
from mmtrio.data.source import StoreSource, iter_events
from mmtrio.data.store import open_store
from mmtrio.data.tardis import BOOK_COLUMNS, TRADE_COLUMNS, infer_instrument, read_tardis
from mmtrio.errors import DataFileError
from mmtrio.venues.binance.recording import RecordingSource, scan_recording

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "binance-usdm"


def _slice(src: Path, dst: Path, lines: int) -> Path:
    with gzip.open(src, "rb") as fin, gzip.open(dst, "wb") as fout:
        fout.writelines(itertools.islice(fin, lines))
    return dst


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Instrument, Path]:
    """A slice of the 2024 BTCUSDT recording and its event store."""
    d = tmp_path_factory.mktemp("rec")
    files = [_slice(DATA / "btcusdt_20240808.gz", d / "btc.gz", 8_000)]
    inst = scan_recording(files).instrument
    src = RecordingSource(tuple(files), inst, book_ticker=True)
    store, _ = convert(files, d / "stores", inst, src, "binance-collector")
    return files[0], inst, store


Market = BookSnapshot | BookDelta | Trade


def _book_and_trades(events: list[tuple[int, Event]]) -> list[tuple[int, Market]]:
    return [(t, e) for t, e in events if isinstance(e, Market)]


def test_hftbacktest_export_then_import_gives_the_same_events(
    recording: tuple[Path, Instrument, Path], tmp_path: Path
) -> None:
    _, inst, store = recording
    out = tmp_path / "btc.npz"
    counts = export_npz(open_store(store), out)
    original = list(iter_events(open_store(store), book_ticker=True))
    back = list(read_npz(out, inst))
    # hftbacktest needs exchange time non-decreasing: the export stamps each event with the
    # running maximum (as mmtrio's own feed orders them); every other field is kept.
    expected: list[tuple[int, Event]] = []
    high = 0
    for t, e in _book_and_trades(original):
        high = max(high, e.ts)
        expected.append((t, dataclasses.replace(e, ts=high)))
    assert sum(a != b for a, b in zip(expected, _book_and_trades(original), strict=True)) > 0
    assert back == expected
    # What has no hftbacktest form (mark prices, book tickers) is counted, not silently lost.
    assert counts["events_not_exported"] == len(original) - len(back) > 0


def test_hftbacktest_round_trip_from_the_cli_backtests_the_same(
    recording: tuple[Path, Instrument, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw, inst, store = recording
    out = tmp_path / "btc.npz"
    args = ["--store-dir", str(tmp_path / "s"), "--json"]
    assert main(["data", "export-hftbacktest", str(raw), "--out", str(out), *args]) == 0
    assert json.loads(capsys.readouterr().out)["out"] == str(out)
    assert main(["data", "import-hftbacktest", str(out), "--symbol", "BTCUSDT", *args]) == 0
    imported = json.loads(capsys.readouterr().out)
    assert imported["symbol"] == "BTCUSDT" and imported["source"]["kind"] == "hftbacktest"
    # our export names its symbol: another --symbol would label BTC prices as ETHUSDT's
    assert main(["data", "import-hftbacktest", str(out), "--symbol", "ETHUSDT", *args]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "holds BTCUSDT" in line and "not ETHUSDT" in line
    assert main(["data", "import-hftbacktest", str(out), *args]) == 0  # no --symbol needed
    assert json.loads(capsys.readouterr().out)["symbol"] == "BTCUSDT"
    cfg = apply_overrides(
        load_config(ROOT / "config.toml"), ["estimators.warmup_ms=0", "quoting.levels=2"]
    )
    back = StoreSource(Path(imported["store"]))
    assert back.instrument.tick_size == inst.tick_size
    assert back.instrument.lot_size == inst.lot_size
    scfg = build_strategy_config(cfg, inst)
    a = run_backtest(StoreSource(store), scfg, BacktestSettings(engine="python"))
    b = run_backtest(back, scfg, BacktestSettings(engine="python"))
    assert len(a.report_input.fills) > 5
    assert a.report_input.fills == b.report_input.fills
    assert a.commands == b.commands and a.events == b.events


def _write_tardis(
    events: Sequence[tuple[int, Event]], inst: Instrument, book: Path, trades: Path
) -> None:
    """The events as Tardis would publish them (µs times, decimal prices and amounts)."""

    def px(ticks: int) -> str:
        return str(inst.tick_size * ticks)

    def qty(lots: int) -> str:
        return str(inst.lot_size * lots)

    with gzip.open(book, "wt", newline="") as fb, gzip.open(trades, "wt", newline="") as ft:
        wb, wt = csv.writer(fb), csv.writer(ft)
        wb.writerow(BOOK_COLUMNS)
        wt.writerow(TRADE_COLUMNS)
        sym = inst.symbol.lower()
        for local_ns, ev in events:
            local = local_ns // 1_000
            if isinstance(ev, Trade):
                side = "sell" if ev.buyer_is_maker else "buy"
                wt.writerow(
                    [
                        *("binance-futures", sym, ev.ts * 1_000, local, ev.trade_id, side),
                        *(px(ev.price), qty(ev.qty)),
                    ]
                )
            elif isinstance(ev, BookSnapshot | BookDelta):
                snap = "true" if isinstance(ev, BookSnapshot) else "false"
                for side, levels in (("bid", ev.bids), ("ask", ev.asks)):
                    for p, q in levels:
                        wb.writerow(
                            [
                                *("binance-futures", sym, ev.ts * 1_000, local, snap, side),
                                *(px(p), qty(q)),
                            ]
                        )


def test_tardis_import_gives_the_recordings_book_and_trades(
    recording: tuple[Path, Instrument, Path], tmp_path: Path
) -> None:
    _, inst, store = recording
    original = _book_and_trades(list(iter_events(open_store(store))))
    # Tardis stamps in µs: the recording's local ns are cut to µs on the way.
    original = [(t // 1_000 * 1_000, e) for t, e in original]
    book, trades = tmp_path / "book.csv.gz", tmp_path / "trades.csv.gz"
    _write_tardis(original, inst, book, trades)
    guessed = infer_instrument([book, trades])
    assert (guessed.symbol, guessed.tick_size, guessed.lot_size) == (
        "BTCUSDT",
        inst.tick_size,
        inst.lot_size,
    )
    back = list(read_tardis([book, trades], inst))
    assert len(back) == len(original)
    for (ta, a), (tb, b) in zip(original, back, strict=True):
        assert ta == tb and type(a) is type(b)
        if isinstance(a, Trade):
            assert a == b
        else:
            # Tardis has no sequence ids: the importer numbers the messages itself.
            assert isinstance(b, BookSnapshot | BookDelta)
            assert (sorted(a.bids), sorted(a.asks), a.ts) == (sorted(b.bids), sorted(b.asks), b.ts)


def test_tardis_store_backtests_like_the_recording(
    recording: tuple[Path, Instrument, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, inst, store = recording
    original = _book_and_trades(list(iter_events(open_store(store))))
    book, trades = tmp_path / "book.csv.gz", tmp_path / "trades.csv.gz"
    _write_tardis(original, inst, book, trades)
    args = ["--store-dir", str(tmp_path / "s"), "--json"]
    assert main(["data", "import-tardis", str(book), str(trades), *args]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["symbol"] == "BTCUSDT" and doc["counts"]["snapshot"] == 1
    cfg = apply_overrides(
        load_config(ROOT / "config.toml"), ["estimators.warmup_ms=0", "quoting.levels=2"]
    )
    scfg = build_strategy_config(cfg, inst)
    settings = BacktestSettings(engine="python")
    a = run_backtest(StoreSource(store), scfg, settings)
    b = run_backtest(StoreSource(Path(doc["store"])), scfg, settings)
    assert len(a.report_input.fills) > 5
    # Same book, same trades, same arrival times up to the µs: the same fills.
    assert [(f.price, f.qty, f.side, f.is_maker) for f in a.report_input.fills] == [
        (f.price, f.qty, f.side, f.is_maker) for f in b.report_input.fills
    ]


def test_tardis_file_with_unknown_columns_is_refused_naming_them(tmp_path: Path) -> None:
    bad = tmp_path / "book.csv"
    cols = [*BOOK_COLUMNS[:-1], "size", "venue_seq"]
    bad.write_text(",".join(cols) + "\nbinance-futures,btcusdt,1,1,false,bid,1.0,1\n")
    with pytest.raises(DataFileError) as err:
        infer_instrument([bad])
    assert "size" in str(err.value) and "venue_seq" in str(err.value)
    assert "missing ['amount']" in str(err.value)
    code = main(["data", "import-tardis", str(bad), "--store-dir", str(tmp_path / "s")])
    assert code == EXIT_USAGE


def test_tardis_bad_value_is_named_with_file_and_line(tmp_path: Path) -> None:
    trades = tmp_path / "trades.csv"
    trades.write_text(
        ",".join(TRADE_COLUMNS)
        + "\nbinance-futures,btcusdt,1000,1000,7,buy,60000.1,0.002"
        + "\nbinance-futures,btcusdt,2000,2000,8,sideways,60000.1,0.002\n"
    )
    inst = infer_instrument([trades], tick=Decimal("0.1"), lot=Decimal("0.001"))
    with pytest.raises(DataFileError, match=r"trades\.csv:3: trade side 'sideways'"):
        list(read_tardis([trades], inst))


def test_tardis_import_without_the_book_or_the_trades_says_which_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trades = tmp_path / "trades.csv"
    trades.write_text(
        ",".join(TRADE_COLUMNS) + "\nbinance-futures,btcusdt,1000,1000,7,buy,60000.1,0.002\n"
    )
    book = tmp_path / "book.csv"
    book.write_text(
        ",".join(BOOK_COLUMNS) + "\nbinance-futures,btcusdt,1000,1000,true,bid,60000.1,0.002\n"
    )
    store_dir = ["--store-dir", str(tmp_path / "s")]
    # the trades file twice (the book meant): one line, no Python list, naming each file's kind
    assert main(["data", "import-tardis", str(trades), str(trades), *store_dir]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "[" not in err
    assert f"{trades} (trades), {trades} (trades): no incremental_book_L2 file" in err
    assert main(["data", "import-tardis", str(book), *store_dir]) == EXIT_USAGE
    assert f"{book} (incremental_book_L2): no trades file" in capsys.readouterr().err
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").iterdir())


def test_a_recording_without_a_snapshot_is_named_as_a_file_not_a_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the second file of a pair alone: it continues the first, and has no snapshot
    tail = _slice(DATA / "btcusdt_20240719.gz", tmp_path / "tail.gz", 2_000)
    assert main(["data", "convert", str(tail), "--store-dir", str(tmp_path / "s")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "mmtrio data: tail.gz: no book snapshot in the data" in err, err


def test_a_store_dir_that_is_a_file_is_named_before_any_conversion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # was: "mmtrio data: [Errno 17] File exists: '…'" and exit 1, after reading the recording
    raw = _slice(DATA / "btcusdt_20240808.gz", tmp_path / "b.gz", 500)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    assert main(["data", "convert", str(raw), "--store-dir", str(a_file)]) == EXIT_USAGE
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        f"mmtrio data: --store-dir {a_file} is a file, not a directory; choose another path"
    )
    monkeypatch.setenv("MMTRIO_STORE_DIR", str(a_file / "stores"))
    assert main(["backtest", "--data", str(raw)]) == EXIT_USAGE
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"mmtrio backtest: $MMTRIO_STORE_DIR={a_file / 'stores'}: cannot create")
    monkeypatch.setenv("MMTRIO_STORE_DIR", str(tmp_path / "new" / "stores"))
    assert main(["data", "convert", str(raw)]) == 0  # a missing one is made
    assert (tmp_path / "new" / "stores").is_dir()


def test_a_tardis_csv_given_as_a_recording_says_how_to_import_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trades = tmp_path / "trades.csv.gz"
    with gzip.open(trades, "wt", newline="") as fh:
        csv.writer(fh).writerow(TRADE_COLUMNS)  # "\r\n", as Tardis and csv write it
    assert main(["backtest", "--data", str(trades), "--no-store"]) == EXIT_USAGE
    (line,) = capsys.readouterr().err.splitlines()
    assert "got 'exchange,symbol,timestamp," in line and "b'" not in line and "\\r" not in line
    assert "mmtrio data import-tardis" in line
