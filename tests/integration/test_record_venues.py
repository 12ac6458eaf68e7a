"""`mmtrio record` on OKX, Hyperliquid and Extended, as a user runs it, and the file replayed.

Each venue's paper feed (its simulated venue, its own protocol and connector) is recorded for
a few seconds by the real command; the file is then backtested and, for the venue it came
from, served by that venue's simulated venue again (the loop a user closes to calibrate on
the venue they trade). The recording names and sizes the market as Binance would
(docs/BACKTESTING.md), and its book replays without a gap.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from mmtrio.cli import main
from mmtrio.sim.paper import PaperSpec, build_paper_venue
from mmtrio.venues.binance.recording import RecordingReader, scan_recording

pytestmark = [pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "config.toml"
# venue → (its name for the market, the recording's name for it, the file name's start)
VENUES = {
    "okx": ("BTC-USDT-SWAP", "BTCUSDT", "btc-usdt-swap_"),
    "hyperliquid": ("BTC", "BTCUSDC", "btc_"),
    "extended": ("BTC-USD", "BTCUSD", "btc-usd_"),
}


@pytest.mark.parametrize("venue", list(VENUES))
def test_record_a_venue_then_backtest_and_serve_it(
    venue: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = SHIPPED.read_text().replace('\nname = "binance"', f'\nname = "{venue}"', 1)
    text = text.replace('"data/binance-usdm/', f'"{REPO}/data/binance-usdm/')
    config = tmp_path / "config.toml"
    config.write_text(text)
    out = tmp_path / "rec"
    # A short state root: the config's check refuses a control socket path over 107 bytes,
    # and a pytest-xdist tmp_path plus "hyperliquid-paper/control.sock" is 109.
    state = Path(tempfile.mkdtemp(prefix="mmrec-"))
    env = {**os.environ, "MMTRIO_STATE_ROOT": str(state)}
    cmd = [sys.executable, "-m", "mmtrio", "record", "--config", str(config), "--out", str(out),
           "--duration", "5", "--json"]  # fmt: skip
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=120, check=False, env=env, cwd=tmp_path
    )
    shutil.rmtree(state, ignore_errors=True)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    own, recorded, file_start = VENUES[venue]
    assert summary["symbol"] == own
    (file,) = summary["files"]
    assert Path(file).name.startswith(file_start)
    with gzip.open(file) as fh:
        first = json.loads(fh.readline().split(b" ", 1)[1])
    assert "lastUpdateId" in first  # a book to start from

    info = scan_recording([Path(file)])
    assert info.instrument.symbol == recorded and info.instrument.base_asset == "BTC"
    reader = RecordingReader([Path(file)], info.instrument)
    kinds = [type(ev).__name__ for _, ev in reader]
    assert reader.gaps == 0 and reader.unknown == 0
    assert kinds.count("BookDelta") > 10 and kinds.count("Trade") > 0, kinds[:20]

    assert main(["backtest", "--data", file, "--json", "--no-progress",
                 "--store-dir", str(tmp_path / "stores")]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert report["symbol"] == recorded

    # served again by the simulated venue it came from, in that venue's words
    sim = build_paper_venue(venue, PaperSpec(data_files=(Path(file),)))
    assert sim.front.symbol == own
