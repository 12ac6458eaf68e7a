"""`mmtrio backtest` outputs: the --html path checked before the run (and a late write failure
after the result is printed), --html refused with a sweep, fast-sweep axes limited to what
the sweep model reads, a plain verdict for a run without fills, text rounded like every
surface, and an HTML report that draws our quotes and the config's inventory limits."""

from __future__ import annotations

import gzip
import itertools
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mmtrio.backtest import report as bt_report
from mmtrio.backtest.calibrate import GIVEN, Row
from mmtrio.backtest.calibrate_report import verdicts
from mmtrio.backtest.fastsweep_params import FAST_AXES, FastParams
from mmtrio.backtest.report import NO_TRADES, pnl_verdict
from mmtrio.backtest.runner import BacktestSettings, run_backtest
from mmtrio.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from mmtrio.config import load_config
from mmtrio.config.strategy import apply_overrides, build_strategy_config
from mmtrio.data.source import StoreSource
from mmtrio.errors import ConfigError, InstrumentError, ParameterError
from mmtrio.venues.binance.recording import scan_recording

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


@pytest.fixture(scope="module")
def store(small: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("s")
    assert main(["data", "convert", str(small), "--store-dir", str(d)]) == EXIT_OK
    (path,) = [p for p in d.iterdir() if not p.name.startswith(".")]
    return path


def _bt(*args: str) -> list[str]:
    return ["backtest", "--config", CONFIG, *FAST, *args]


def test_html_into_a_missing_directory_is_refused_before_the_run(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = tmp_path / "nowhere" / "r.html"
    stores = tmp_path / "stores"
    code = main(_bt("--data", str(small), "--store-dir", str(stores), "--html", str(html)))
    assert code == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == "" and f"--html {html}" in err and "does not exist" in err
    assert not stores.exists()  # nothing converted, nothing run


def test_html_write_failure_after_the_run_prints_the_result_first(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    def full_disk(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(bt_report, "write_html", full_disk)
    html = tmp_path / "r.html"
    assert main(_bt("--data", str(store), "--html", str(html))) == EXIT_FAILED
    out, err = capsys.readouterr()
    assert "equity " in out and "P&L before fees" in out  # the result is not lost
    assert f"cannot write the HTML report {html}: No space left on device" in err


@pytest.mark.parametrize("extra", [["--sweep", "quoting.gamma=0.1,1"], ["--data", "SECOND"]])
def test_html_with_a_sweep_is_refused(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    extra = [str(store) if e == "SECOND" else e for e in extra]
    html = tmp_path / "r.html"
    assert main(_bt("--data", str(store), *extra, "--html", str(html))) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "--html" in err and ("--sweep" in err or "several --data" in err)
    assert not html.exists()


def test_fast_sweep_refuses_an_axis_the_model_does_not_read(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in ("defence.max_widen_ticks=1,4", "risk.max_drawdown=10,20"):
        args = _bt("--data", str(store), "--sweep-mode", "fast", "--sweep", key)
        assert main([*args, "--sweep", "quoting.gamma=0.1,1"]) == EXIT_USAGE
        err = capsys.readouterr().err
        assert f"does not model {key.partition('=')[0]}" in err
        assert "quoting.inventory_skew" in err and "quoting.gamma" in err


def _perturbations(value: object) -> list[object]:
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value * 2 + 1, value * 10 + 1000, max(value // 2, 1)]
    if isinstance(value, float):
        return [value * 2 + 0.1, value / 2, min(value + 0.05, 0.99)]
    if isinstance(value, str):
        if value in {"amend", "replace"}:
            return ["replace", "amend"]
        try:
            number = Decimal(value)  # sizes and money are decimal strings
        except ArithmeticError:
            return []
        return [str(number * 2), str(number * 3)]
    return []


def test_fast_axes_are_the_keys_the_sweep_model_reads() -> None:
    """Every quoting/risk/estimators/defence key that changes the model's parameter vector is
    in FAST_AXES, and every FAST_AXES key changes it (so no listed axis gives equal rows)."""
    base = apply_overrides(load_config(Path(CONFIG)), ["quoting.model=glft"])
    instrument = scan_recording([DATA / "btcusdt_20240808.gz"]).instrument
    settings = BacktestSettings()
    ref = FastParams.of(build_strategy_config(base, instrument), settings).vector
    dumped = base.model_dump(mode="json", by_alias=True, exclude_none=True)
    moving: set[str] = set()
    tried: set[str] = set()
    for section in ("quoting", "risk", "estimators", "defence"):
        for key, value in dumped[section].items():
            name = f"{section}.{key}"
            for new in _perturbations(value):
                try:
                    cfg = apply_overrides(base, [f"{name}={json.dumps(new)}"])
                    vec = FastParams.of(build_strategy_config(cfg, instrument), settings).vector
                except (ConfigError, InstrumentError, ParameterError):
                    continue
                tried.add(name)
                if (vec != ref).any():
                    moving.add(name)
                    break
    assert moving <= set(FAST_AXES), moving - set(FAST_AXES)
    assert set(FAST_AXES) & tried <= moving, (set(FAST_AXES) & tried) - moving
    assert {"quoting.inventory_skew", "quoting.gamma", "risk.max_position"} <= moving


def test_verdict_for_zero_is_not_making_money() -> None:
    zero = Decimal(0)
    assert pnl_verdict(zero, zero, 0) == NO_TRADES == "no trades: nothing made or lost"
    assert "breaks even" in pnl_verdict(zero, zero, 4)
    assert pnl_verdict(Decimal("0.01"), Decimal("0.01"), 2) == "makes money after fees"
    assert pnl_verdict(Decimal("1"), Decimal("-1"), 2).startswith("LOSES after fees")

    def row(after: str, fills: int) -> Row:
        d = Decimal(after)
        return Row(GIVEN, "in-sample", "r", "python", d, zero, d, zero, zero, fills, zero)

    (line,) = verdicts([row("0", 0), row("0", 0)], "USDT")
    assert "no trades" in line and "makes money" not in line
    (line,) = verdicts([row("1", 3), row("0", 0)], "USDT")
    assert "makes money after fees on 1 of 2" in line
    (line,) = verdicts([row("1", 3), row("2", 3)], "USDT")
    assert "makes money after fees on every recording" in line


def test_a_run_without_fills_says_no_trades(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    far = [
        "--set",
        "quoting.min_half_spread_ticks=9000",
        "--set",
        "quoting.max_half_spread_ticks=10000",
    ]
    assert main(_bt("--data", str(store), *far, "--json")) == EXIT_OK
    doc = json.loads(capsys.readouterr().out)
    assert doc["fills"]["count"] == 0
    assert doc["backtest"]["verdict"] == NO_TRADES
    assert main(_bt("--data", str(store), *far)) == EXIT_OK
    out = capsys.readouterr().out
    assert f": {NO_TRADES}" in out and "makes money" not in out


def test_text_is_rounded_and_the_html_has_quotes_and_limits(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = tmp_path / "r.html"
    assert main(_bt("--data", str(store), "--html", str(html))) == EXIT_OK
    out = capsys.readouterr().out
    money_lines = [ln for ln in out.splitlines() if ln.startswith(("equity", "P&L", "attribution"))]
    assert len(money_lines) == 3
    for ln in money_lines:
        for figure in re.findall(r"[-+]?\d[\d,]*\.\d+", ln):
            assert len(figure.split(".")[1]) == 2, (figure, ln)  # to the cent
    # the drawdown with its asset, as `mmtrio report` says it
    assert re.search(r"max drawdown \d[\d,]*\.\d\d USDT, final position [-+]\d+\.\d{3} BTC", out)
    page = html.read_text()
    assert "limits unknown" not in page and page.count("<img") >= 2
    assert main(_bt("--data", str(store), "--json")) == EXIT_OK
    doc = json.loads(capsys.readouterr().out)
    for text in (doc["backtest"]["pnl_before_fees"], *doc["pnl"].values()):
        assert text == "0" or not text.endswith("0") or "." not in text, text  # no padding


def test_the_run_records_our_quotes_and_state_changes(store: Path) -> None:
    cfg = apply_overrides(load_config(Path(CONFIG)), ["estimators.warmup_ms=0"])
    source = StoreSource(store)
    result = run_backtest(source, build_strategy_config(cfg, source.instrument), BacktestSettings())
    tl = result.timeline
    assert tl is not None and len(tl.quotes) > 10
    assert {s.side for s in tl.quotes} == {"BUY", "SELL"}
    assert all(s.t0 <= s.t1 <= result.last_ms for s in tl.quotes)
    places = result.commands["PlaceOrder"] + result.commands["AmendOrder"]
    # One segment per price we asked for, but those asked for after the data's last event.
    assert places * 0.9 < len(tl.quotes) <= places
    assert tl.markers and tl.markers[0].state == "ACTIVE"


def test_help_and_docs_list_the_fast_axes() -> None:
    from mmtrio.cli import backtest as cli_backtest

    doc = " ".join((cli_backtest.__doc__ or "").split())
    page = " ".join((ROOT / "docs" / "BACKTESTING.md").read_text().split())
    for key in FAST_AXES:
        name = key.split(".")[1]
        assert name in doc, key
        assert f"`{name}`" in page or f"`{key}`" in page, key
