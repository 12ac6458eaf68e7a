"""The compiled replay core against the reference (Python) engine: same fills, same P&L, to the
lot, on short slices of the shipped recordings (the whole recordings: benchmarks/fidelity.py).

Both engines drive the live strategy at the same decision points; the compiled core hands it a
reduced but state-equivalent market stream (mmtrio.backtest.compiled.loop), so equal decisions
are a check of the reduction as much as of the matching port.
"""

from __future__ import annotations

import dataclasses
import gzip
import itertools
from pathlib import Path
from typing import Any

import pytest

from mmtrio.backtest.feed import FeedLatency
from mmtrio.backtest.runner import BacktestSettings, run_backtest
from mmtrio.backtest.settings import BacktestResult
from mmtrio.config import Config, load_config
from mmtrio.config.strategy import apply_overrides, build_strategy_config
from mmtrio.core.instruments import Instrument
from mmtrio.data.convert import convert
from mmtrio.data.source import StoreSource
from mmtrio.exchange.matching import QueueModel
from mmtrio.venues.binance.recording import RecordingSource, scan_recording

pytest.importorskip("numba")

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "binance-usdm"


def _slice(src: Path, dst: Path, lines: int, drop: set[int] | None = None) -> Path:
    with gzip.open(src, "rb") as fin, gzip.open(dst, "wb") as fout:
        for i, line in enumerate(itertools.islice(fin, lines)):
            if not drop or i not in drop:
                fout.write(line)
    return dst


@pytest.fixture(scope="module")
def cfg() -> Config:
    return apply_overrides(
        load_config(ROOT / "config.toml"),
        ["estimators.warmup_ms=0", "quoting.requote_interval_ms=50", "quoting.levels=2"],
    )


def _store(files: list[Path], root: Path) -> tuple[StoreSource, Instrument]:
    inst = scan_recording(files).instrument
    src = RecordingSource(tuple(files), inst, book_ticker=True)
    path, _ = convert(files, root, inst, src, "binance-collector")
    return StoreSource(path), inst


def _same(a: BacktestResult, b: BacktestResult) -> None:
    assert a.engine == "python" and b.engine == "compiled"
    assert a.report_input == b.report_input  # fills, mid samples, funding, order counts
    assert a.strategy_steps == b.strategy_steps
    assert a.commands == b.commands and a.rejects == b.rejects
    assert (a.restrictions, a.final_state) == (b.restrictions, b.final_state)
    assert (a.events, a.market_messages, a.book_gaps) == (b.events, b.market_messages, b.book_gaps)
    assert a.venue_position_lots == b.venue_position_lots == b.strategy_position_lots


CASES = {
    "btc-2024": BacktestSettings(),
    "btc-conservative-jitter": BacktestSettings(
        queue_model=QueueModel.CONSERVATIVE, order_jitter_ms=2.0, seed=5
    ),
    "btc-constant-feed": BacktestSettings(feed_latency=FeedLatency.CONSTANT, feed_base_ms=3),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_compiled_equals_reference(
    case: str, cfg: Config, tmp_path_factory: pytest.TempPathFactory
) -> None:
    d = tmp_path_factory.mktemp(case)
    files = [_slice(DATA / "btcusdt_20240808.gz", d / "b.gz", 9_000)]
    source, inst = _store(files, d / "stores")
    scfg = build_strategy_config(cfg, inst)
    settings = CASES[case]
    ref = run_backtest(source, scfg, dataclasses.replace(settings, engine="python"))
    fast = run_backtest(source, scfg, dataclasses.replace(settings, engine="compiled"))
    assert len(ref.report_input.fills) > 10, "the slice must trade for the check to mean much"
    _same(ref, fast)


def test_gap_and_funding_agree(cfg: Config, tmp_path: Path) -> None:
    # A gap mid-recording (three diffs lost: BookInvalid, resync from no snapshot = quoting
    # stops), and the 2023 pair's mark prices and midnight funding.
    with gzip.open(DATA / "btcusdt_20230404.dat.gz", "rb") as fh:
        lines = fh.readlines()
    depth = [i for i, line in enumerate(lines) if b"@depth" in line and i > 6_000]
    files = [
        _slice(DATA / "btcusdt_20230404.dat.gz", tmp_path / "a.gz", len(lines), set(depth[:3])),
        _slice(DATA / "btcusdt_20230405.dat.gz", tmp_path / "b.gz", 3_000),
    ]
    source, inst = _store(files, tmp_path / "stores")
    scfg = build_strategy_config(cfg, inst)
    ref = run_backtest(source, scfg, BacktestSettings(engine="python"))
    fast = run_backtest(source, scfg, BacktestSettings(engine="compiled"))
    assert ref.book_gaps == 1 and ref.market_messages > 4_000
    _same(ref, fast)


def test_raw_source_runs_compiled_through_a_temporary_store(cfg: Config, tmp_path: Path) -> None:
    files = [_slice(DATA / "ethusdt_20240808.gz", tmp_path / "e.gz", 6_000)]
    inst = scan_recording(files).instrument
    scfg = build_strategy_config(cfg, inst)
    raw = RecordingSource(tuple(files), inst)
    ref = run_backtest(raw, scfg, BacktestSettings(engine="python"))
    fast = run_backtest(raw, scfg, BacktestSettings(engine="compiled"))
    _same(ref, fast)


RECORDINGS = [
    ["btcusdt_20230404.dat.gz", "btcusdt_20230405.dat.gz"],
    ["btcusdt_20240718.gz", "btcusdt_20240719.gz"],
    ["btcusdt_20240808.gz"],
    ["ethusdt_20240808.gz"],
]


@pytest.mark.slow
@pytest.mark.parametrize("names", RECORDINGS, ids=[n[0].split(".")[0] for n in RECORDINGS])
def test_every_shipped_recording_whole(names: list[str], cfg: Config, tmp_path: Path) -> None:
    # The whole recording, both engines (benchmarks/fidelity.py adds configs and queue models).
    source, inst = _store([DATA / n for n in names], tmp_path)
    scfg = build_strategy_config(cfg, inst)
    ref = run_backtest(source, scfg, BacktestSettings(engine="python"))
    fast = run_backtest(source, scfg, BacktestSettings(engine="compiled"))
    assert len(ref.report_input.fills) > 50
    _same(ref, fast)


def test_warm_ups_compile_every_specialisation_a_store_run_uses(
    cfg: Config, tmp_path: Path
) -> None:
    """A run after the warm-ups compiles nothing: the compile is reported apart, not timed in
    the run. An array's writeability is part of numba's type; the warm-ups once passed
    writable arrays where a store hands read-only ones, so a cold cache compiled twice."""
    from mmtrio.backtest.compiled.engine import warm_up
    from mmtrio.backtest.compiled.loop import run_loop, skip_rows
    from mmtrio.backtest.fastsweep import _warm_fast, run_fast
    from mmtrio.backtest.fastsweep_kernel import run_fast_kernel
    from mmtrio.backtest.fastsweep_params import FastParams

    src = _slice(DATA / "btcusdt_20240718.gz", tmp_path / "slice.gz", 3000)
    store, inst = _store([src], tmp_path / "stores")
    scfg = build_strategy_config(cfg, inst)
    warm_up()
    _warm_fast(FastParams.of(scfg, BacktestSettings()))
    # numba dispatchers (typed here as the plain functions): .signatures lists what is compiled
    kernels: tuple[Any, ...] = (run_loop, skip_rows, run_fast_kernel)
    before = [list(k.signatures) for k in kernels]
    assert run_backtest(store, scfg, BacktestSettings(engine="compiled")).events
    assert run_fast(store, scfg, BacktestSettings()).events
    assert [list(k.signatures) for k in kernels] == before
