"""`mmtrio record` as a user runs it: the paper venue's feed to a collector-format file, which
the backtester and the converter then read; a bad --rotate is refused with exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmtrio.cli import EXIT_USAGE, main
from mmtrio.cli.record import parse_rotation
from mmtrio.data.record import Rotation
from mmtrio.data.store import open_store
from mmtrio.errors import ParameterError

pytestmark = [pytest.mark.integration]


def test_record_then_backtest_and_convert(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rec"
    env = {**os.environ, "MMTRIO_STATE_ROOT": str(tmp_path / "state")}
    cmd = [sys.executable, "-m", "mmtrio", "record", "--out", str(out), "--duration", "4"]
    done = subprocess.run(
        [*cmd, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    (file,) = summary["files"]
    assert Path(file).parent == out and Path(file).name.startswith("btcusdt_")
    events = summary["events"]
    assert events["BookSnapshot"] == 1 and events["BookDelta"] > 0 and events["Trade"] >= 0
    stores = str(tmp_path / "stores")
    assert main(["data", "convert", file, "--store-dir", stores, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    counts = open_store(Path(doc["store"])).meta["counts"]
    assert counts["delta"] == events["BookDelta"] and counts["snapshot"] == 1
    assert main(["backtest", "--data", doc["store"], "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["symbol"] == "BTCUSDT"


def test_record_refuses_a_bad_rotation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["record", "--out", str(tmp_path), "--rotate", "hourly", "--duration", "1"])
    assert code == EXIT_USAGE
    assert "--rotate 'hourly'" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["0MB", "0min", "1.5MB", "min"])
def test_record_refuses_a_rotation_that_never_rotates_or_is_no_number(
    bad: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 0MB / 0min used to be taken as "never rotate": one file for ever, no word said
    code = main(["record", "--out", str(tmp_path), "--rotate", bad, "--duration", "1"])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"--rotate {bad!r}" in err and err.count("\n") == 1, err
    assert not any(tmp_path.iterdir())  # refused before the venue or a file was opened


def test_record_rotation_counts_whole_minutes_and_megabytes() -> None:
    assert parse_rotation("30min") == Rotation(daily=False, minutes=30)
    assert parse_rotation("100MB") == Rotation(daily=False, megabytes=100)
    assert parse_rotation("daily") == Rotation()
    with pytest.raises(ParameterError):
        Rotation(daily=False)  # neither a period nor a size: it would never rotate


def test_sim_serves_an_event_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`mmtrio sim --data STORE` replays the store over the venue's REST API."""
    import signal

    import httpx

    eth = Path(__file__).resolve().parents[2] / "data" / "binance-usdm" / "ethusdt_20240808.gz"
    stores = str(tmp_path / "stores")
    assert main(["data", "convert", str(eth), "--store-dir", stores, "--json"]) == 0
    store = json.loads(capsys.readouterr().out)["store"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "mmtrio", "sim", "--port", "0", "--json", "--data", store],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else ""
        info = json.loads(line)
        assert info["symbol"] == "ETHUSDT"
        book = httpx.get(f"{info['rest']}/fapi/v1/depth", params={"symbol": "ETHUSDT"}).json()
        assert book["bids"] and book["asks"] and float(book["bids"][0][0]) > 1000
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0


def test_record_refuses_an_out_path_it_cannot_write_before_the_venue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # was: the sim started, then an ExceptionGroup traceback from the file writer, exit 1
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    for out, why in (
        (a_file, "is a file, not a directory"),
        (a_file / "sub", "cannot create the directory"),
    ):
        code = main(["record", "--out", str(out), "--duration", "1"])
        assert code == EXIT_USAGE
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith(f"mmtrio record: --out {out}") and why in line, line
