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
from mmtrio.data.store import open_store

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
