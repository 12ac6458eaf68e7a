"""The event store: written from a recording, read back as the same events; bad stores named."""

from __future__ import annotations

import gzip
import itertools
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from mmtrio.cli import EXIT_USAGE, main
from mmtrio.data.convert import convert
from mmtrio.data.layout import K_DELTA, LEVELS, MESSAGES, META
from mmtrio.data.source import StoreSource, iter_events
from mmtrio.data.store import HEADER_BYTES, content_key, open_store
from mmtrio.errors import DataFileError
from mmtrio.sim.paper import replay_driver
from mmtrio.venues.binance.recording import RecordingSource, scan_recording

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "binance-usdm"


def _slice(src: Path, dst: Path, lines: int) -> Path:
    with gzip.open(src, "rb") as fin, gzip.open(dst, "wb") as fout:
        fout.writelines(itertools.islice(fin, lines))
    return dst


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    # The 2023 pair (mark prices, funding across midnight), the second file cut short.
    d = tmp_path_factory.mktemp("p")
    return [
        DATA / "btcusdt_20230404.dat.gz",
        _slice(DATA / "btcusdt_20230405.dat.gz", d / "b.gz", 3_000),
    ]


@pytest.fixture(scope="module")
def store(pair: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    inst = scan_recording(pair).instrument
    src = RecordingSource(tuple(pair), inst, book_ticker=True)
    path, made = convert(pair, tmp_path_factory.mktemp("s"), inst, src, "binance-collector")
    assert made
    return path


def test_store_reads_back_the_readers_events(pair: list[Path], store: Path) -> None:
    inst = scan_recording(pair).instrument
    for tickers in (True, False):
        raw = list(RecordingSource(tuple(pair), inst, book_ticker=tickers)())
        assert list(StoreSource(store, book_ticker=tickers)()) == raw
    meta = json.loads((store / META).read_text())
    assert meta["counts"]["mark"] > 0 and meta["counts"]["snapshot"] == 1
    assert meta["instrument"]["tick_size"] == "0.10"


def test_store_is_named_by_content_and_converted_once(
    pair: list[Path], store: Path, tmp_path: Path
) -> None:
    assert store.name == content_key(pair, "binance-collector")
    inst = scan_recording(pair).instrument

    def boom() -> list[tuple[int, object]]:
        raise AssertionError("converted again")

    again, made = convert(pair, store.parent, inst, boom, "binance-collector")  # type: ignore[arg-type]
    assert (again, made) == (store, False)
    # A changed recording is another store.
    other = _slice(pair[1], tmp_path / "c.gz", 2_000)
    assert content_key([pair[0], other], "binance-collector") != store.name


def _copy(store: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in (META, MESSAGES, LEVELS):
        (dst / name).write_bytes((store / name).read_bytes())
    return dst


def test_truncated_store_is_named_with_the_offset(store: Path, tmp_path: Path) -> None:
    bad = _copy(store, tmp_path / "bad")
    data = (bad / LEVELS).read_bytes()
    (bad / LEVELS).write_bytes(data[:-100])
    with pytest.raises(DataFileError, match=r"levels\.npy is truncated.*damage from byte offset"):
        open_store(bad)


def test_flipped_byte_is_named_with_row_and_offset(store: Path, tmp_path: Path) -> None:
    bad = _copy(store, tmp_path / "bad")
    raw = bytearray((bad / MESSAGES).read_bytes())
    row = 1234
    raw[HEADER_BYTES + row * 80 + 20] ^= 0xFF  # inside the row's timestamp
    (bad / MESSAGES).write_bytes(bytes(raw))
    with pytest.raises(DataFileError) as err:
        list(iter_events(open_store(bad)))
    msg = str(err.value)
    assert "messages.npy is corrupt at row 0" in msg and "CRC-32" in msg
    assert f"byte offset {HEADER_BYTES}" in msg


def test_corrupt_store_stops_the_backtest_with_exit_2(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _copy(store, tmp_path / "bad")
    m = np.load(bad / MESSAGES, mmap_mode="r+")
    m["kind"][5] = 77  # an unknown kind: caught by the structure check too
    m.flush()
    del m
    code = main(["backtest", "--data", str(bad), "--config", str(ROOT / "config.toml")])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"store {bad}" in err and "corrupt at row 0" in err


def test_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="not an event store"):
        open_store(tmp_path)
    (tmp_path / META).write_text('{"format": "mmtrio-event-store", "version": 99}')
    with pytest.raises(DataFileError, match="format version 99"):
        open_store(tmp_path)


def test_sim_replays_a_store_as_the_recording(pair: list[Path], store: Path) -> None:
    inst = scan_recording(pair).instrument
    raw = replay_driver(pair, inst, loop=False)
    conv = replay_driver([store], inst, loop=False)
    assert raw.initial_snapshot() == conv.initial_snapshot()
    a = list(itertools.islice(raw, 5_000))
    b = list(itertools.islice(conv, 5_000))
    assert a == b and any(m.event.__class__.__name__ == "MarkPrice" for m in a)


def test_data_convert_and_verify_cli(
    pair: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = ",".join(str(p) for p in pair)
    root = tmp_path / "root"
    assert main(["data", "convert", spec, "--store-dir", str(root), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["converted_now"] is True and doc["symbol"] == "BTCUSDT"
    assert main(["data", "convert", spec, "--store-dir", str(root), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["store"] == doc["store"] and again["converted_now"] is False
    assert main(["data", "verify", doc["store"]]) == 0
    assert capsys.readouterr().out.strip() == doc["store"]
    assert open_store(Path(doc["store"])).messages["kind"].tolist().count(K_DELTA) > 1_000


def test_data_commands_say_what_they_did_on_stderr_and_keep_stdout_the_path(
    pair: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `data verify` and `data convert` printed a bare path: nothing said what was checked.
    spec = ",".join(str(p) for p in pair)
    args = ["--store-dir", str(tmp_path / "root")]
    assert main(["data", "convert", spec, *args]) == 0
    out, err = capsys.readouterr()
    path = out.strip()
    assert Path(path).is_dir() and "\n" not in path  # scripts read stdout as the path
    st = open_store(Path(path))
    first, last = st.meta["first_ts"], st.meta["last_ts"]
    day = datetime.fromtimestamp(first / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert err.startswith("converted: BTCUSDT, ") and err.endswith(", into a new store\n")
    assert f"{st.meta['rows']['messages']:,} messages" in err and day in err
    assert main(["data", "convert", spec, *args]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == path and err.startswith("already converted: BTCUSDT, ")
    assert "--force to convert again" in err
    assert main(["data", "verify", path]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == path
    line = err.strip()
    assert line.startswith(f"verified: BTCUSDT, {st.meta['rows']['messages']:,} messages, {day}")
    assert line.endswith("every block's CRC-32 and structure ok") and "\n" not in line
    assert last > first
    npz = tmp_path / "x.npz"
    assert main(["data", "export-hftbacktest", path, "--out", str(npz)]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == path
    assert err.startswith("exported: BTCUSDT, ") and f"hftbacktest rows to {npz}" in err
    assert main(["data", "verify", path, "--json"]) == 0  # the JSON carries it: stderr quiet
    assert capsys.readouterr().err == ""
