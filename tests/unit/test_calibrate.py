"""`mmtrio calibrate`: walk-forward fitting on --data, figures on --holdout, before and after
fees, plain verdicts. The end-to-end run uses ~40 s slices of two shipped recordings."""

from __future__ import annotations

import gzip
import itertools
import json
from decimal import Decimal
from pathlib import Path

import pytest

from mmtrio.backtest.calibrate import (
    CALIBRATED,
    GIVEN,
    Calibration,
    GridScore,
    Row,
    choose,
    score_grid,
)
from mmtrio.backtest.calibrate_report import format_text, to_json, verdicts
from mmtrio.backtest.intensity_fit import RecordingFit, fit_recording
from mmtrio.backtest.report import pnl_verdict
from mmtrio.backtest.sweep import SweepPoint
from mmtrio.cli import main
from mmtrio.venues.binance.recording import RecordingSource, scan_recording

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "binance-usdm"


def _slice(src: Path, dst: Path, lines: int) -> Path:
    with gzip.open(src, "rb") as fin, gzip.open(dst, "wb") as fout:
        fout.writelines(itertools.islice(fin, lines))
    return dst


def _point(ov: str, rec: str, equity: str, fees: str, fills: int) -> SweepPoint:
    return SweepPoint((ov,), equity, "0", fees, "1", fills, None, 0, rec)


def test_score_grid_sums_the_training_recordings_and_splits_fees() -> None:
    pts = [
        _point("a=1", "r1", "-1.5", "-2", 30),
        _point("a=1", "r2", "0.5", "-1", 25),
        _point("a=2", "r1", "1", "-0.5", 3),  # missing on r2: dropped
    ]
    (score,) = score_grid(pts, 2)
    assert score.after_fees == Decimal("-1.0")
    assert score.before_fees == Decimal("2.0")  # after fees - fees
    assert (score.fills, score.fills_min) == (55, 25)


def _score(ov: str, after: str, fills_min: int) -> GridScore:
    return GridScore((ov,), Decimal(after), Decimal(after), fills_min, fills_min, Decimal(0))


def test_choose_prefers_after_fees_among_points_that_trade() -> None:
    quiet = _score("wide", "-0.01", 1)  # loses least, but hardly trades
    busy = _score("mid", "-2", 25)
    busier = _score("tight", "-4", 90)
    chosen, met = choose([quiet, busy, busier], 20)
    assert chosen is busy and met
    # nobody reaches the floor: the busiest point, and the report says so
    chosen, met = choose([quiet, _score("x", "-3", 5)], 20)
    assert chosen.overrides == ("x",) and not met


def _row(config: str, role: str, before: str, fees: str) -> Row:
    b, f = Decimal(before), Decimal(fees)
    zero = Decimal(0)
    return Row(config, role, "r", "exact", b, f, b + f, zero, zero, 10, zero)


def test_verdicts_say_plainly_where_a_configuration_loses() -> None:
    rows = [
        _row(GIVEN, "in-sample", "-1", "-2"),
        _row(GIVEN, "in-sample", "0.5", "-1"),
        _row(GIVEN, "held-out", "3", "-1"),
    ]
    lines = verdicts(rows, "USDT")
    assert lines[0].startswith("as given / in-sample: before fees -0.50, after fees -3.50 USDT")
    assert "LOSES after fees on all 2 recording(s) (before fees it loses on 1 of 2)" in lines[0]
    assert "makes money after fees on every recording" in lines[1]


def test_the_text_report_rounds_money_to_the_cent_and_keeps_the_fits_figures() -> None:
    point = GridScore(
        ("quoting.gamma=0.1",), Decimal("1.23456"), Decimal("2.000049"), 3, 6, Decimal(0)
    )
    # before 0.005 + fees -0.015 = after -0.01: each alone rounds to +0.00 and -0.02 (half to
    # even), which would not add up; rounded together they do
    row = Row(
        CALIBRATED,
        "held-out",
        "r",
        "exact",
        Decimal("0.005"),
        Decimal("-0.015"),
        Decimal("-0.01"),
        Decimal("1.23456"),
        Decimal("-1.229551"),
        4,
        Decimal("2.71828"),
    )
    fit = RecordingFit("r", 1.234567, 0.0123456, 0.98765, 500, 40.0)
    cal = Calibration([fit], [fit], 1.234567, 0.0123456, [point], point, True, 1, rows=[row])
    text = format_text(cal, "USDT")
    assert "after fees +1.23  before +2.00  fills    6" in text
    assert "(in-sample, fast model: after fees +1.23, before +2.00, 6 fills)" in text
    (table_row,) = [line for line in text.splitlines() if line.startswith("  calibrated")]
    # spread 1.23456 and inventory -1.229551 add up to the +0.01 before fees as printed: the
    # missing cent goes to the part rounded down the most (alone they print +1.23 and -1.23)
    assert table_row.split()[2:8] == ["r", "+0.01", "-0.02", "-0.01", "+1.24", "-1.23"]
    assert "2.72" in table_row and "2.71828" not in table_row  # max drawdown, unsigned
    assert "before fees +0.01, after fees -0.01 USDT" in text  # the verdict rounds the same
    assert "A 1.235/s  k 0.01235/tick  r² 0.988" in text  # not money: as precise as before
    assert "estimators.fallback_a=1.235" in text
    for money in ("1.2346", "2.0000", "0.0050", "1.2295"):
        assert money not in text, money


def test_the_table_prints_spread_and_inventory_as_the_backtest_does() -> None:
    # BTCUSDT 2024-07-18/19 as given: `mmtrio backtest` prints spread +0.25 inventory -1.14
    # (the parts add up to equity); the calibration's table printed -1.13 for the same run,
    # rounding each alone, so spread + inventory missed before fees by a cent
    row = Row(
        GIVEN,
        "in-sample",
        "r",
        "exact",
        Decimal("-0.888"),
        Decimal("-1.55938644"),
        Decimal("-2.44738644"),
        Decimal("0.2464"),
        Decimal("-1.1344"),
        62,
        Decimal("2.44738644"),
    )
    fit = RecordingFit("r", 1.0, 0.05, 0.9, 500, 40.0)
    point = GridScore((), Decimal(0), Decimal(0), 0, 0, Decimal(0))
    cal = Calibration([fit], [fit], 1.0, 0.05, [point], point, True, 1, rows=[row])
    (table_row,) = [
        line for line in format_text(cal, "USDT").splitlines() if line.startswith("  as given")
    ]
    assert table_row.split()[4:9] == ["-0.89", "-1.56", "-2.45", "+0.25", "-1.14"]


def test_the_json_writes_the_grids_figures_without_trailing_zeros() -> None:
    # sums of the sweep's exact strings carried their zeros: "-4.1388426000000"
    point = GridScore(
        ("quoting.gamma=1",), Decimal("-4.1388426000000"), Decimal("-1.65060000"), 9, 9, Decimal(1)
    )
    fit = RecordingFit("r", 1.0, 0.05, 0.9, 500, 40.0)
    cal = Calibration([fit], [fit], 1.0, 0.05, [point], point, True, 1, defence_grid=[point])
    doc = to_json(cal, "USDT")
    for section in ("grid", "defence_grid"):
        (cell,) = doc[section]
        assert (cell["after_fees"], cell["before_fees"]) == ("-4.1388426", "-1.6506"), section


def test_intensity_fit_of_a_recording(tmp_path: Path) -> None:
    small = _slice(DATA / "btcusdt_20240808.gz", tmp_path / "b.gz", 12_000)
    inst = scan_recording([small]).instrument
    fit = fit_recording("b", RecordingSource((small,), inst), inst.symbol)
    assert not isinstance(fit, str)
    assert fit.a > 0 and fit.k > 0 and 0 < fit.r2 <= 1 and fit.arrivals > 100
    empty = _slice(DATA / "btcusdt_20240808.gz", tmp_path / "e.gz", 10)
    assert isinstance(fit_recording("e", RecordingSource((empty,), inst), inst.symbol), str)


@pytest.mark.slow
def test_calibrate_fits_in_sample_and_reports_held_out_before_and_after_fees(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = _slice(DATA / "btcusdt_20240808.gz", tmp_path / "train.gz", 12_000)
    hold = _slice(DATA / "ethusdt_20240808.gz", tmp_path / "hold.gz", 12_000)
    args = ["calibrate", "--data", str(train), "--holdout", str(hold)]
    args += ["--store-dir", str(tmp_path / "stores"), "--min-fills", "1", "--json"]
    args += ["--set", "estimators.warmup_ms=0"]
    args += ["--grid", "quoting.min_half_spread_ticks=2,8", "--grid", "quoting.gamma=0.1"]
    args += ["--defence-grid", "defence.max_widen_ticks=0,10"]
    assert main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [f["recording"] for f in doc["fits"]["in_sample"]] == ["train.gz"]
    assert [f["recording"] for f in doc["fits"]["held_out"]] == ["hold.gz"]
    assert len(doc["grid"]) == 2 and len(doc["defence_grid"]) == 2
    chosen = doc["chosen"]
    assert chosen[0].startswith("estimators.fallback_a=") and chosen[1].startswith(
        "estimators.fallback_k="
    )
    assert any(c.startswith("quoting.min_half_spread_ticks=") for c in chosen)
    assert any(c.startswith("defence.max_widen_ticks=") for c in chosen)
    rows = doc["exact"]
    # three configurations × (one in-sample + one held-out recording)
    assert {(r["config"], r["role"], r["recording"]) for r in rows} == {
        (c, role, rec)
        for c in ("as given", "calibrated, defence off", "calibrated")
        for role, rec in (("in-sample", "train.gz"), ("held-out", "hold.gz"))
    }
    for r in rows:
        assert Decimal(r["after_fees"]) == Decimal(r["before_fees"]) + Decimal(r["fees"])
        assert r["engine"].startswith("exact")
    assert len(doc["verdicts"]) == 6
    for v in doc["verdicts"]:
        assert "LOSES" in v or "makes money" in v


def test_calibrate_refuses_a_holdout_that_is_also_fitted_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = _slice(DATA / "btcusdt_20240808.gz", tmp_path / "x.gz", 2_000)
    args = ["calibrate", "--data", str(f), "--holdout", str(f)]
    assert main([*args, "--store-dir", str(tmp_path / "s")]) == 2
    assert "must not be fitted on" in capsys.readouterr().err


def test_pnl_verdict_names_where_a_run_loses() -> None:
    assert pnl_verdict(Decimal("1"), Decimal("0.5")) == "makes money after fees"
    assert pnl_verdict(Decimal("1"), Decimal("-0.5")).startswith("LOSES after fees")
    assert pnl_verdict(Decimal("-1"), Decimal("-2")) == "LOSES before and after fees"


def test_backtest_text_states_the_split_and_the_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = _slice(DATA / "btcusdt_20240808.gz", tmp_path / "b.gz", 12_000)
    args = ["backtest", "--data", str(small), "--store-dir", str(tmp_path / "s")]
    assert main([*args, "--set", "estimators.warmup_ms=0"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("P&L before fees"))
    before = Decimal(line.split()[3].rstrip(","))
    fees = Decimal(line.split()[5].rstrip(","))
    after = Decimal(line.split()[8].rstrip(":"))
    assert after == before + fees and fees <= 0
    assert line.endswith(pnl_verdict(before, after))
    fills = next(x for x in out.splitlines() if x.startswith("fills "))
    qtr = fills.rsplit("quote-to-trade ", 1)[1]  # one decimal, as the HTML report shows it
    assert qtr == "—" or qtr == f"{float(qtr):.1f}"


def test_quote_to_trade_is_printed_to_one_decimal() -> None:
    # A day's backtest printed "quote-to-trade 13.764876632801162".
    from mmtrio.cli.backtest import ratio_text

    assert ratio_text(1378 * 13.764876632801162 / 1378) == "13.8"
    assert ratio_text(12.0) == "12.0"
    assert ratio_text(None) == "—"


def test_calibrate_refuses_a_bad_grid_key_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = _slice(DATA / "btcusdt_20240808.gz", tmp_path / "x.gz", 2_000)
    g = _slice(DATA / "ethusdt_20240808.gz", tmp_path / "y.gz", 2_000)
    args = ["calibrate", "--data", str(f), "--holdout", str(g), "--store-dir", str(tmp_path)]
    assert main([*args, "--defence-grid", "defence.max_widen=1"]) == 2
    err = capsys.readouterr().err
    assert "--defence-grid defence.max_widen=1" in err and "max_widen_ticks" in err
    assert "fitting" not in err  # refused before the fits
    # a key of another section would override the grid's chosen point (quoting.gamma listed
    # twice among the calibrated keys): refused, naming it, before any work
    assert main([*args, "--defence-grid", "quoting.gamma=1,2"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("mmtrio calibrate: --defence-grid quoting.gamma: only defence.* keys")


def test_calibrate_refuses_in_sample_recordings_of_two_symbols(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # It pooled A and k over BTCUSDT and ETHUSDT and chose one grid point on their summed P&L.
    btc = _slice(DATA / "btcusdt_20240808.gz", tmp_path / "btc.gz", 2_000)
    eth = _slice(DATA / "ethusdt_20240808.gz", tmp_path / "eth.gz", 2_000)
    hold = _slice(DATA / "btcusdt_20240718.gz", tmp_path / "hold.gz", 2_000)
    args = ["calibrate", "--data", str(btc), "--data", str(eth), "--holdout", str(hold)]
    assert main([*args, "--store-dir", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "btc.gz (BTCUSDT)" in err and "eth.gz (ETHUSDT)" in err
    assert "one `mmtrio calibrate` per symbol" in err
    assert "fitting" not in err  # refused before any work
