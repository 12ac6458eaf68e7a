"""`mmtrio backtest` end to end: report JSON and HTML, bad input, sweeps on both engines."""

from __future__ import annotations

import gzip
import importlib.util
import itertools
import json
from pathlib import Path

import pytest

from mmtrio.cli import EXIT_OK, EXIT_USAGE, main

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "binance-usdm"
CONFIG = str(ROOT / "config.toml")
FAST = ["--set", "estimators.warmup_ms=0"]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dst = tmp_path_factory.mktemp("d") / "btc.gz"
    with gzip.open(DATA / "btcusdt_20240808.gz", "rb") as fin, gzip.open(dst, "wb") as fout:
        fout.writelines(itertools.islice(fin, 8_000))
    return dst


def test_backtest_json_and_html(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = tmp_path / "r.html"
    code = main(
        [
            "backtest",
            "--data",
            str(small),
            "--config",
            CONFIG,
            *FAST,
            "--json",
            "--html",
            str(html),
            "--queue-model",
            "conservative",
            "--seed",
            "3",
            "--engine-core",
            "python",
        ]
    )
    assert code == EXIT_OK
    doc = json.loads(capsys.readouterr().out)
    assert doc["backtest"]["engine"] == "python"  # as the text says ("python engine")
    assert doc["schema"] == "mmtrio.report/2"
    assert doc["symbol"] == "BTCUSDT"
    assert doc["backtest"]["settings"]["queue_model"] == "conservative"
    assert doc["backtest"]["events"] > 10_000
    assert set(doc["attribution"]) >= {"spread_capture", "inventory", "fees", "funding"}
    page = html.read_text()
    assert page.count("<img") >= 2 and "data:image/png;base64," in page


def test_eth_recording_needs_no_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The symbol and its grid (tick 0.01) come from the data: no --set, no --symbol.
    eth = tmp_path / "eth.gz"
    with gzip.open(DATA / "ethusdt_20240808.gz", "rb") as fin, gzip.open(eth, "wb") as fout:
        fout.writelines(itertools.islice(fin, 5_000))
    code = main(["backtest", "--data", str(eth), "--config", CONFIG, *FAST, "--json"])
    assert code == EXIT_OK
    doc = json.loads(capsys.readouterr().out)
    assert doc["symbol"] == "ETHUSDT"
    assert doc["backtest"]["events"] > 1_000
    # --symbol is a check on the data, and the right symbol passes it.
    code = main(["backtest", "--data", str(eth), "--config", CONFIG, *FAST, "--symbol", "ETHUSDT"])
    assert code == EXIT_OK
    assert "ETHUSDT" in capsys.readouterr().out


def test_wrong_symbol_is_a_usage_error(small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["backtest", "--data", str(small), "--config", CONFIG, "--symbol", "ETHUSDT"])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "--symbol ETHUSDT does not match the recording, which holds BTCUSDT" in err


def test_recording_mixing_symbols_is_refused(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mixed = tmp_path / "mixed.gz"
    with gzip.open(DATA / "ethusdt_20240808.gz", "rb") as fin:
        eth_lines = list(itertools.islice(fin, 10))
    with gzip.open(small, "rb") as fin, gzip.open(mixed, "wb") as fout:
        fout.writelines(itertools.islice(fin, 100))
        fout.writelines(eth_lines)
    code = main(["backtest", "--data", str(mixed), "--config", CONFIG])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    # Names the file and the line where the second symbol appears.
    assert f"{mixed}:101" in err and "mixes symbols (BTCUSDT and ETHUSDT)" in err


def test_missing_file_and_bad_override(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--data", "/nonexistent.gz", "--config", CONFIG]) == EXIT_USAGE
    assert "not found" in capsys.readouterr().err
    assert (
        main(
            [
                "backtest",
                "--data",
                str(DATA / "btcusdt_20240808.gz"),
                "--config",
                CONFIG,
                "--set",
                "quoting.gamma=-1",
            ]
        )
        == EXIT_USAGE
    )
    assert "quoting.gamma" in capsys.readouterr().err


def _sweep(small: Path, engine: str, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    code = main(
        [
            "backtest",
            "--data",
            str(small),
            "--config",
            CONFIG,
            *FAST,
            "--json",
            "--sweep",
            "quoting.min_half_spread_ticks=1,4",
            "--engine",
            engine,
            "--workers",
            "2",
        ]
    )
    assert code == EXIT_OK
    out: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return out


def test_sweep_local_ranked(small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    points = _sweep(small, "local", capsys)
    assert len(points) == 2
    equities = [float(str(p["equity"])) for p in points]
    assert equities == sorted(equities, reverse=True)


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray not installed")
def test_sweep_ray_equals_local(small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _sweep(small, "ray", capsys) == _sweep(small, "local", capsys)
