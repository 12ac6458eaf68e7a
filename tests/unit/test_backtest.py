"""Backtest runner, feed, config conversion and sweeps on slices of the shipped recordings.

The backtester takes a *source* of neutral events (here the Binance recording reader, as the
CLI passes it) and the instrument the data names (``scan_recording``).
"""

from __future__ import annotations

import gzip
import itertools
from decimal import Decimal
from pathlib import Path

import pytest

from mmtrio.backtest.feed import FeedLatency, RecordingFeed
from mmtrio.backtest.runner import BacktestSettings, run_backtest
from mmtrio.backtest.sweep import SweepPoint, format_table, parse_sweep, rank, run_local, run_point
from mmtrio.cli import main
from mmtrio.config import Config, load_config
from mmtrio.config.strategy import apply_overrides, build_strategy_config, size_lots
from mmtrio.core.events import BookDelta, BookInvalid, BookSnapshot, MarkPrice, Side
from mmtrio.core.instruments import Instrument
from mmtrio.errors import ConfigError, ParameterError, ProtocolError
from mmtrio.exchange.matching import QueueModel
from mmtrio.reporting.pnl import compute_report
from mmtrio.venues.binance.recording import RecordingSource, scan_recording

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "binance-usdm"
FAST = ["estimators.warmup_ms=0", "quoting.requote_interval_ms=50"]


def _slice(src: Path, dst: Path, lines: int) -> Path:
    with gzip.open(src, "rb") as fin, gzip.open(dst, "wb") as fout:
        fout.writelines(itertools.islice(fin, lines))
    return dst


@pytest.fixture(scope="module")
def btc_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # ~40 s of the 2024-08-08 BTCUSDT recording (snapshot on line 55).
    return _slice(DATA / "btcusdt_20240808.gz", tmp_path_factory.mktemp("d") / "b.gz", 12_000)


@pytest.fixture(scope="module")
def cfg() -> Config:
    return apply_overrides(load_config(ROOT / "config.toml"), FAST)


@pytest.fixture(scope="module")
def btc() -> Instrument:
    """BTCUSDT as the data states it (tick 0.10, lot 0.001)."""
    return scan_recording([DATA / "btcusdt_20240808.gz"]).instrument


def source(files: list[Path], inst: Instrument) -> RecordingSource:
    return RecordingSource(tuple(files), inst)


def test_feed_syncs_like_binance_and_keeps_time_monotonic(btc_slice: Path, btc: Instrument) -> None:
    feed = RecordingFeed(source([btc_slice], btc))
    items = list(feed)
    assert isinstance(items[0].event, BookSnapshot)
    snap = items[0].event
    first_diff = next(i.event for i in items if isinstance(i.event, BookDelta))
    assert first_diff.first_seq <= snap.seq <= first_diff.seq
    assert feed.gaps == 0
    for a, b in itertools.pairwise(items):
        assert b.exchange_ms >= a.exchange_ms
        assert b.arrival_ms >= a.arrival_ms
    assert all(i.arrival_ms >= i.exchange_ms for i in items)
    # The recording host ran 1.3-1.5 s behind the exchange: the offset removes that.
    assert -2_000 < feed.offset_ms < -1_000


def test_constant_feed_latency(btc_slice: Path, btc: Instrument) -> None:
    feed = RecordingFeed(source([btc_slice], btc), latency=FeedLatency.CONSTANT, base_ms=7)
    items = list(itertools.islice(feed, 500))
    assert {i.arrival_ms - i.exchange_ms for i in items[200:]} == {7}


def test_second_file_alone_cannot_sync(btc: Instrument) -> None:
    feed = RecordingFeed(source([DATA / "btcusdt_20240719.gz"], btc))
    with pytest.raises(ProtocolError, match="no depth snapshot"):
        list(itertools.islice(feed, 10))


def test_gap_between_files_is_counted_and_resynced(
    tmp_path: Path, btc_slice: Path, btc: Instrument, cfg: Config
) -> None:
    # The 2024-08-08 file does not continue the 2024-07-18 one: a chain break. As live, the
    # book is invalid (BookInvalid) until the next snapshot in the data rebuilds it.
    files = [_slice(DATA / "btcusdt_20240718.gz", tmp_path / "a.gz", 2_000), btc_slice]
    feed = RecordingFeed(source(files, btc))
    items = list(feed)
    assert feed.gaps == 1
    kinds = [type(i.event) for i in items]
    assert kinds.count(BookInvalid) == 1 and kinds.count(BookSnapshot) == 2
    gap_at = kinds.index(BookInvalid)
    resync = kinds.index(BookSnapshot, gap_at)
    # Nothing of the broken chain is delivered between the gap and the new snapshot.
    assert BookDelta not in kinds[gap_at:resync]
    after = [i.event for i in items[resync:] if isinstance(i.event, BookDelta)]
    assert after, "the book resumed after the second file's snapshot"


def test_backtest_reports_a_gap_in_the_data(
    tmp_path: Path, btc_slice: Path, btc: Instrument, cfg: Config
) -> None:
    # Three depth diffs lost mid-recording (a collector hiccup): the run goes on and says so.
    # (Within one recording's time span: a backtest over two files weeks apart steps the
    # strategy's timers through the whole hole.)
    with gzip.open(btc_slice, "rb") as fh:
        lines = fh.readlines()
    depth = [i for i, line in enumerate(lines) if b"@depth" in line and i > 6_000]
    dropped = set(depth[:3])
    gapped = tmp_path / "gapped.gz"
    with gzip.open(gapped, "wb") as out:
        out.writelines(line for i, line in enumerate(lines) if i not in dropped)
    r = run_backtest(source([gapped], btc), build_strategy_config(cfg, btc))
    assert r.book_gaps == 1
    assert r.commands["PlaceOrder"] > 0


def test_run_is_deterministic_and_consistent(btc_slice: Path, cfg: Config, btc: Instrument) -> None:
    scfg = build_strategy_config(cfg, btc)
    settings = BacktestSettings(order_jitter_ms=2.0, seed=7)
    r1 = run_backtest(source([btc_slice], btc), scfg, settings)
    r2 = run_backtest(source([btc_slice], btc), scfg, settings)
    assert r1.report_input == r2.report_input
    assert r1.commands["PlaceOrder"] > 0
    assert r1.report_input.fills, "a 40 s BTC slice with a 2-tick half spread must fill"
    # The strategy's ledger saw every venue fill: positions agree once answers are delivered.
    assert r1.strategy_position_lots == r1.venue_position_lots
    rep = compute_report(r1.report_input)
    assert rep.fills == len(r1.report_input.fills)
    assert rep.maker_share is not None and rep.maker_share > 0.9  # post-only quoting
    fees = sum((f.fee for f in r1.report_input.fills), Decimal(0))
    assert rep.pnl["fees"] == -fees
    assert r1.book_gaps == 0


def test_queue_models_differ(btc_slice: Path, cfg: Config, btc: Instrument) -> None:
    scfg = build_strategy_config(cfg, btc)
    src = source([btc_slice], btc)
    cons = run_backtest(src, scfg, BacktestSettings(queue_model=QueueModel.CONSERVATIVE))
    prob = run_backtest(src, scfg, BacktestSettings(queue_model=QueueModel.PROBABILISTIC))
    # Conservative never advances the queue on cancels, so it fills no more than probabilistic.
    assert len(cons.report_input.fills) <= len(prob.report_input.fills)
    assert cons.commands["PlaceOrder"] > 0 and prob.commands["PlaceOrder"] > 0


def test_funding_from_mark_price(tmp_path: Path, cfg: Config, btc: Instrument) -> None:
    # The 2023 pair crosses 00:00 UTC, a funding time, and carries markPrice@1s.
    files = [
        DATA / "btcusdt_20230404.dat.gz",
        _slice(DATA / "btcusdt_20230405.dat.gz", tmp_path / "c.gz", 3_000),
    ]
    assert scan_recording(files).instrument == btc  # the same grid in 2023
    # Three levels: this deterministic run is short at midnight (at the live decision cadence
    # the one-level default happens to be flat then, and a flat book pays nothing).
    scfg = build_strategy_config(apply_overrides(cfg, ["quoting.levels=3"]), btc)
    r = run_backtest(source(files, btc), scfg)
    assert r.funding_payments == 1
    pay = r.report_input.funding[0]
    assert pay.ts % 86_400_000 == 0  # settled at midnight UTC
    # The amount, computed apart: the position held at midnight times the last mark price
    # and funding rate published for that funding time (a long pays a positive rate).
    lots = sum(
        f.qty if f.side is Side.BUY else -f.qty for f in r.report_input.fills if f.ts <= pay.ts
    )
    mark = [e for _, e in source(files, btc)() if isinstance(e, MarkPrice) and e.ts < pay.ts][-1]
    assert mark.next_funding_ts == pay.ts and mark.funding_rate != 0 and lots != 0
    assert pay.amount == -(btc.lots_to_base(lots) * mark.mark_price * mark.funding_rate)


def test_settings_validation() -> None:
    with pytest.raises(ParameterError, match="order_latency_ms"):
        BacktestSettings(order_latency_ms=-1)
    with pytest.raises(ParameterError, match="maker_fee_bps"):
        BacktestSettings(maker_fee_bps=Decimal("NaN"))


def test_overrides_validate_like_the_file(cfg: Config) -> None:
    assert apply_overrides(cfg, ["quoting.gamma=0.5"]).quoting.gamma == 0.5
    assert apply_overrides(cfg, ["quoting.model=as"]).quoting.model == "as"
    with pytest.raises(ConfigError, match="unknown key"):
        apply_overrides(cfg, ["quoting.gama=0.5"])
    with pytest.raises(ConfigError, match=r"quoting\.gamma"):
        apply_overrides(cfg, ["quoting.gamma=50"])
    with pytest.raises(ConfigError, match=r"section\.key=value"):
        apply_overrides(cfg, ["quoting.gamma"])


def test_build_strategy_config_converts_units(cfg: Config, btc: Instrument) -> None:
    s = build_strategy_config(cfg, btc)
    assert s.instrument == btc
    # config.toml: base_qty 0.002 BTC, max_position 0.02 BTC; lots of 0.001 BTC.
    assert (s.quote.base_size_lots, s.limits.max_position_lots) == (2, 20)
    assert size_lots(cfg, btc) == (2, 20)
    assert s.quote.gamma == pytest.approx(cfg.quoting.gamma * 0.1 * float(cfg.quoting.base_qty))
    assert s.use_amend is (cfg.quoting.amend_vs_replace == "amend")
    # The same config on ETHUSDT's grid (tick 0.01): gamma follows the instrument's tick.
    eth = scan_recording([DATA / "ethusdt_20240808.gz"]).instrument
    e = build_strategy_config(cfg, eth)
    assert e.quote.gamma == pytest.approx(cfg.quoting.gamma * 0.01 * float(cfg.quoting.base_qty))


def test_build_strategy_config_refuses_sizes_off_the_lot_grid(cfg: Config, btc: Instrument) -> None:
    bad = apply_overrides(cfg, ['quoting.base_qty="0.0025"'])
    with pytest.raises(ConfigError, match=r"quoting\.base_qty = 0\.0025 is not a whole number"):
        build_strategy_config(bad, btc)


def test_the_sweep_table_prints_money_to_the_cent() -> None:
    # the exact strings of a point (its JSON) rounded like every surface; q/t is no money; the
    # position in the base asset to the lot, as everywhere (not "-3", which reads as 3 BTC)
    point = SweepPoint(
        ("quoting.gamma=0.5",),
        "12.34567",
        "-0.005",
        "-3.4449",
        "1.2351",
        7,
        2.345,
        -3,
        "b.gz",
        final_position="-0.003",
        base_asset="BTC",
        inventory="15.79557",  # equity - spread - fees: no funding
    )
    (head, row) = format_table([point]).splitlines()
    assert head.split() == [
        "#",
        "recording",
        "overrides",
        "equity",
        "spread",
        "inventory",
        "fees",
        "max_dd",
        "fills",
        "q/t",
        "position",
    ]
    cells = row.split()
    assert cells == [
        "1",
        "b.gz",
        "quoting.gamma=0.5",
        "+12.35",
        "-0.01",
        "+15.80",
        "-3.44",
        "1.24",
        "7",
        "2.35",
        "-0.003",
        "BTC",
    ]
    # spread + inventory + fees = equity as printed: alone, -0.005 +15.79557 -3.4449 print
    # +0.00 +15.80 -3.44 = +12.36, a cent off +12.35; the cent comes off the part rounded up most
    assert sum(Decimal(c) for c in cells[4:7]) == Decimal(cells[3])
    assert point.to_json()["equity"] == "12.34567"  # the JSON keeps the exact figure
    assert point.to_json()["final_position"] == "-0.003"
    assert point.to_json()["inventory"] == "15.79557"


def test_the_sweep_tables_parts_add_up_to_equity_as_printed() -> None:
    # each alone: +0.01 +0.01 +0.00 = +0.02 against an equity of +0.03
    point = SweepPoint((), "0.0298", "0.0149", "0", "0", 1, None, 0, "r", inventory="0.0149")
    (_, row) = format_table([point]).splitlines()
    cells = row.split()
    equity, spread, inventory, fees = (Decimal(c) for c in cells[3:7])
    assert spread + inventory + fees == equity == Decimal("0.03")


def test_parse_sweep_grid() -> None:
    grid = parse_sweep(["quoting.gamma=0.01,0.1", "quoting.levels=1,2,3"])
    assert len(grid) == 6
    assert grid[0] == ("quoting.gamma=0.01", "quoting.levels=1")
    with pytest.raises(ConfigError):
        parse_sweep(["quoting.gamma=0.1,,1"])
    for bad in ("quoting.gamma=", "quoting.gamma", "quoting.gamma= "):
        # said as a --sweep with no values, not as a malformed --set override
        with pytest.raises(ConfigError, match=r"^--sweep .*: no values; use section\.key="):
            parse_sweep([bad])


def test_local_sweep_matches_serial_points(tmp_path: Path, cfg: Config, btc: Instrument) -> None:
    small = _slice(DATA / "btcusdt_20240808.gz", tmp_path / "s.gz", 8_000)
    base = cfg.model_dump(mode="json", by_alias=True, exclude_none=True)
    grid = parse_sweep(["quoting.min_half_spread_ticks=1,5"])
    settings = BacktestSettings()
    src = source([small], btc)  # picklable: it crosses into the worker processes
    pooled = run_local(base, grid, src, btc, settings, workers=2)
    serial = rank([run_point(base, p, src, btc, settings) for p in grid])
    assert pooled == serial
    assert {p.overrides for p in pooled} == set(grid)
    for p in pooled:  # the position in BTC, to the lot (0.001), with its asset
        assert Decimal(p.final_position) == p.final_position_lots * Decimal("0.001")
        assert len(p.final_position.partition(".")[2]) == 3
        assert p.base_asset == "BTC"


@pytest.mark.parametrize("workers", ["0", "-1", "two"])
def test_sweep_workers_must_be_a_whole_number_of_at_least_one(
    workers: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # -1 reached ProcessPoolExecutor (a ValueError traceback); 0 meant "the CPU count"
    argv = ["backtest", "--data", "x.gz", "--sweep", "quoting.gamma=1,2", "--workers", workers]
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 2
    assert "argument --workers:" in capsys.readouterr().err
