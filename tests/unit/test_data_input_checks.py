"""Bad data input is refused with exit 2 and one line naming the file and the problem; the
importers do nothing the second time; one recording's files must be in time order.

A damaged hftbacktest ``.npz`` (truncated, a flipped byte, random bytes), a Tardis file with
an impossible price or amount, a store holding one, and recording files given out of time
order are each checked through ``main([...])`` for the exit code and the message.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from mmtrio.cli import EXIT_OK, EXIT_USAGE, main
from mmtrio.core.events import BookSnapshot, Event, Trade
from mmtrio.core.instruments import Instrument
from mmtrio.data.convert import write_store
from mmtrio.data.tardis import BOOK_COLUMNS, TRADE_COLUMNS

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "binance-usdm"


def _slice(src: Path, dst: Path, lines: int) -> Path:
    with gzip.open(src, "rb") as fin, gzip.open(dst, "wb") as fout:
        fout.writelines(itertools.islice(fin, lines))
    return dst


@pytest.fixture(scope="module")
def npz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid hftbacktest export of a slice of the BTCUSDT recording."""
    d = tmp_path_factory.mktemp("npz")
    raw = _slice(DATA / "btcusdt_20240808.gz", d / "btc.gz", 3_000)
    out = d / "btc.npz"
    args = ["--store-dir", str(d / "s")]
    assert main(["data", "export-hftbacktest", str(raw), "--out", str(out), *args]) == EXIT_OK
    return out


def _import_hbt(path: Path, store_dir: Path, *extra: str) -> int:
    return main(
        [
            *("data", "import-hftbacktest", str(path), "--symbol", "BTCUSDT"),
            *("--store-dir", str(store_dir), *extra),
        ]
    )


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # one line, no traceback
    assert "Traceback" not in err
    return lines[0]


def test_truncated_npz_is_named_with_its_offset(
    npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = tmp_path / "cut.npz"
    cut.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    assert _import_hbt(cut, tmp_path / "s") == EXIT_USAGE
    line = _one_line(capsys.readouterr().err)
    assert str(cut) in line and "not a valid .npz" in line and "truncated" in line
    assert f"byte offset {cut.stat().st_size}" in line


def test_flipped_byte_in_npz_is_named(
    npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = bytearray(npz.read_bytes())
    data[len(data) // 3] ^= 0xFF  # inside data.npy's compressed bytes
    flipped = tmp_path / "flip.npz"
    flipped.write_bytes(bytes(data))
    assert _import_hbt(flipped, tmp_path / "s") == EXIT_USAGE
    line = _one_line(capsys.readouterr().err)
    assert str(flipped) in line and "not a valid .npz" in line
    assert "member 'data.npy' (from byte offset 0" in line and "is damaged" in line


def test_random_bytes_are_not_an_npz(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.npz"
    junk.write_bytes(os.urandom(4096).replace(b"PK", b"QK"))
    assert _import_hbt(junk, tmp_path / "s") == EXIT_USAGE
    line = _one_line(capsys.readouterr().err)
    assert str(junk) in line and "not a valid .npz (not a zip archive" in line
    assert "pickled" not in line


def test_import_hftbacktest_twice_does_nothing_the_second_time(
    npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_dir = tmp_path / "s"
    assert _import_hbt(npz, store_dir, "--json") == EXIT_OK
    first = json.loads(capsys.readouterr().out)
    assert first["converted_now"] is True
    meta = Path(first["store"]) / "meta.json"
    mtime = meta.stat().st_mtime_ns
    assert _import_hbt(npz, store_dir, "--json") == EXIT_OK
    second = json.loads(capsys.readouterr().out)
    assert second["converted_now"] is False and second["store"] == first["store"]
    assert meta.stat().st_mtime_ns == mtime
    assert _import_hbt(npz, store_dir, "--json", "--force") == EXIT_OK
    assert json.loads(capsys.readouterr().out)["converted_now"] is True


def test_export_to_a_missing_directory_is_refused_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = _slice(DATA / "btcusdt_20240808.gz", tmp_path / "btc.gz", 3_000)
    out = tmp_path / "nowhere" / "x.npz"
    code = main(
        [
            *("data", "export-hftbacktest", str(raw), "--out", str(out)),
            *("--store-dir", str(tmp_path / "s")),
        ]
    )
    assert code == EXIT_USAGE
    line = _one_line(capsys.readouterr().err)
    assert f"--out {out}" in line and "does not exist" in line
    assert not (tmp_path / "s").exists()  # refused before converting anything


# --- Tardis: impossible values ------------------------------------------------------------

_BOOK = [
    "binance-futures,btcusdt,1000,1000,true,bid,60000.0,1.000",
    "binance-futures,btcusdt,1000,1000,true,ask,60000.1,1.000",
    "binance-futures,btcusdt,2000,2000,false,bid,60000.0,0",  # 0 removes the level: valid
    "binance-futures,btcusdt,3000,3000,false,bid,59999.9,0.500",
]
_TRADES = ["binance-futures,btcusdt,2500,2500,7,buy,60000.1,0.002"]


def _tardis(tmp_path: Path, book: list[str], trades: list[str]) -> list[str]:
    b, t = tmp_path / "book.csv", tmp_path / "trades.csv"
    b.write_text("\n".join([",".join(BOOK_COLUMNS), *book]) + "\n")
    t.write_text("\n".join([",".join(TRADE_COLUMNS), *trades]) + "\n")
    return [
        *("data", "import-tardis", str(b), str(t), "--store-dir", str(tmp_path / "s")),
        *("--tick", "0.1", "--lot", "0.001"),
    ]


def test_tardis_valid_files_import_and_a_second_import_does_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*_tardis(tmp_path, _BOOK, _TRADES), "--json"]
    assert main(args) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["converted_now"] is True
    assert main(args) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["converted_now"] is False


@pytest.mark.parametrize(
    ("book_line", "trade_line", "where", "what"),
    [
        (3, None, "book.csv:5", "price -59999.9 is not positive"),
        (3, None, "book.csv:5", "price 0 is not positive"),
        (3, None, "book.csv:5", "book amount -0.5 is negative"),
        (None, 0, "trades.csv:2", "trade amount 0 is not positive"),
        (None, 0, "trades.csv:2", "trade amount -0.002 is not positive"),
        (None, 0, "trades.csv:2", "price -60000.1 is not positive"),
    ],
)
def test_tardis_impossible_value_is_named_with_file_line_and_value(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    book_line: int | None,
    trade_line: int | None,
    where: str,
    what: str,
) -> None:
    book, trades = list(_BOOK), list(_TRADES)
    value = what.split(" is ", maxsplit=1)[0].rsplit(maxsplit=1)[-1]
    if book_line is not None:
        cols = book[book_line].split(",")
        cols[6 if "price" in what else 7] = value
        book[book_line] = ",".join(cols)
    if trade_line is not None:
        cols = trades[trade_line].split(",")
        cols[6 if "price" in what else 7] = value
        trades[trade_line] = ",".join(cols)
    assert main(_tardis(tmp_path, book, trades)) == EXIT_USAGE
    line = _one_line(capsys.readouterr().err)
    assert where in line and what in line


def test_verify_refuses_a_store_with_impossible_prices_or_sizes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inst = Instrument(
        symbol="BTCUSDT",
        tick_size=Decimal("0.1"),
        lot_size=Decimal("0.001"),
        min_qty=1,
        max_qty=10**12,
        min_notional=Decimal(5),
        base_asset="BTC",
        quote_asset="USDT",
    )
    snap = BookSnapshot("BTCUSDT", ((600_000, 5),), ((600_001, 5),), 1, 1)
    bad_level = BookSnapshot("BTCUSDT", ((600_000, -5),), ((600_001, 5),), 1, 1)
    bad_trade = Trade("BTCUSDT", 1, 600_000, 0, False, 2)
    cases: dict[str, tuple[list[tuple[int, Event]], str, str]] = {
        "level": ([(1, bad_level)], "levels.npy is corrupt at row 0", "size -5 lots"),
        "trade": ([(1, snap), (2, bad_trade)], "messages.npy is corrupt at row 1", "size 0"),
    }
    for name, (events, where, what) in cases.items():
        store = write_store(events, tmp_path / name, inst, {"kind": "test"})
        assert main(["data", "verify", str(store)]) == EXIT_USAGE
        line = _one_line(capsys.readouterr().err)
        assert where in line and what in line
    good = write_store([(1, snap)], tmp_path / "good", inst, {"kind": "test"})
    assert main(["data", "verify", str(good)]) == EXIT_OK


# --- recording files in time order ---------------------------------------------------------


def test_recording_files_out_of_time_order_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _slice(DATA / "btcusdt_20230404.dat.gz", tmp_path / "a.gz", 3_000)
    b = _slice(DATA / "btcusdt_20230405.dat.gz", tmp_path / "b.gz", 3_000)
    store_dir = ["--store-dir", str(tmp_path / "s")]
    assert main(["data", "convert", f"{b},{a}", *store_dir]) == EXIT_USAGE
    line = _one_line(capsys.readouterr().err)
    assert "out of time order" in line and str(a) in line and str(b) in line
    assert "2023-04-04" in line and "2023-04-05" in line  # both files' times
    assert main(["data", "convert", f"{a},{b}", *store_dir]) == EXIT_OK


def test_npz_without_data_array_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    assert _import_hbt(other, tmp_path / "s") == EXIT_USAGE
    assert "no 'data' array" in _one_line(capsys.readouterr().err)


def test_import_hftbacktest_refuses_a_tick_or_lot_that_contradicts_the_file(
    npz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --tick/--lot replaced the steps our export records without a word: a finer tick than
    # the venue's lets a backtest quote prices the venue never allows.
    store_dir = tmp_path / "s"
    assert _import_hbt(npz, store_dir, "--tick", "0.01") == EXIT_USAGE
    line = _one_line(capsys.readouterr().err)
    assert "--tick 0.01 differs from the tick size 0.10" in line and str(npz) in line
    assert "--force" in line
    assert _import_hbt(npz, store_dir, "--lot", "0.01") == EXIT_USAGE
    assert "--lot 0.01 differs from the lot size 0.001" in capsys.readouterr().err
    assert not store_dir.exists() or not any(store_dir.iterdir())  # refused before writing
    # the same steps spelt otherwise agree
    assert _import_hbt(npz, store_dir, "--tick", "0.1", "--lot", "0.0010", "--json") == EXIT_OK
    same = Path(json.loads(capsys.readouterr().out)["store"])
    assert json.loads((same / "meta.json").read_text())["instrument"]["tick_size"] == "0.10"
    # --force imports with the given step
    assert _import_hbt(npz, store_dir, "--tick", "0.01", "--force", "--json") == EXIT_OK
    forced = Path(json.loads(capsys.readouterr().out)["store"])
    assert json.loads((forced / "meta.json").read_text())["instrument"]["tick_size"] == "0.01"
    # hftbacktest's own files record no step: the given ones are used, as before
    with np.load(npz) as f:
        data = f["data"]
    bare = tmp_path / "bare.npz"
    np.savez_compressed(bare, data=data)
    assert _import_hbt(bare, store_dir, "--tick", "0.01", "--json") == EXIT_OK
    own = Path(json.loads(capsys.readouterr().out)["store"])
    assert json.loads((own / "meta.json").read_text())["instrument"]["tick_size"] == "0.01"
