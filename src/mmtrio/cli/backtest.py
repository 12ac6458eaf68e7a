"""Backtest the market maker on recorded market data (data/binance-usdm format, or stores).

The recording streams through the same MarketMaker used live, decided at the live loop's
cadence (a burst at a time, at decision points), against the venue's matching engine, with a
latency model, a queue-position model, maker/taker fees and funding from mark-price data where
the recording has it. Deterministic for a given --seed.

  mmtrio backtest --data a.gz[,b.gz] [--config config.toml] [--set quoting.gamma=0.1 ...]
                  [--json] [--html report.html] [--engine-core auto|compiled|python]
  mmtrio backtest --data a.gz [--data b.gz ...] --sweep quoting.gamma=0.01,0.1,1 [--sweep ...]
                  [--sweep-mode exact|fast] [--engine local|ray] [--address ADDR]

Data. Each --data is one recording: raw files (comma-separated, in order) or an event store
directory. Raw files are converted once into an event store kept by the content hash of their
bytes (--store-dir, else $MMTRIO_STORE_DIR, else the user cache directory; see `mmtrio data`);
later runs memory-map it. --no-store reads the raw files on every run instead.

Engines. The compiled core (numba, `pip install 'mmtrio[fast]'`) is used when installed; the
reference engine (--engine-core python) is the pure Python one it is checked against. A sweep
runs every grid point on every recording, on a local process pool (--workers, default the CPU
count) or on Ray (--engine ray: a local Ray runtime, or the cluster at --address), and prints
one table; --sweep-mode fast runs the compiled GLFT sweep model instead of the strategy
(mmtrio.backtest.fastsweep; its error against the exact engine is measured by
benchmarks/backtest_throughput.py). A fast sweep may vary only the keys that model reads
(FAST_AXES: quoting.gamma, base_qty, levels, level_spacing_ticks, inventory_skew,
min_half_spread_ticks, max_half_spread_ticks, post_only_safety_ticks, requote_interval_ms,
reprice_tolerance_ticks, amend_vs_replace; risk.max_position, hard_fraction;
estimators.vol_half_life_ms, warmup_ms, intensity_window_ms, min_trades, fallback_a,
fallback_k, min_fit_r2); any other axis is refused (exit 2) rather than giving equal rows.

Output. The text summary is rounded like every surface (money to the cent, sizes to the
lot); --json keeps exact decimal strings. --html FILE writes one run's report (our quotes,
fills, halts, inventory against the config's limits); its directory is checked before the
run (exit 2), and --html with --sweep or several --data is refused (a sweep prints a table).

Queue models: "conservative" (our queue ahead shrinks only by trades at our price) and
"probabilistic" (also by an expected share of the cancellations at our level). Feed latency:
"recorded" (the recording's own local-vs-exchange delays, clock offset removed) or
"constant" (--feed-base-ms after the exchange time). Fees default to [sim] maker/taker_fee_bps
of the config when present, else Binance's 2 / 5 bps.

The symbol and the instrument (tick, lot) come from the data: a recording names its streams
(``ethusdt@depth@0ms``), and its prices and sizes give the grid. ``--symbol`` (or a configured
``venue.symbol``) is only checked against it. Sizes in the config (quoting.base_qty,
risk.max_position) are base-asset quantities checked against that grid.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mmtrio.backtest.runner import BacktestResult, BacktestSettings
    from mmtrio.cli.datasets import Recording
    from mmtrio.config import Config
    from mmtrio.reporting.pnl import SessionReport

from mmtrio.cli.common import add_config_option, load_command_config

NAME = "backtest"
HELP = "replay recorded market data through the strategy; report P&L, markouts, fills; sweeps"
EPILOG = """\
examples:
  # data/binance-usdm/... paths: from the root of a checkout of mmtrio (an installed
  # package ships one sample, python -c 'import mmtrio.packaged as p; print(p.SAMPLE_RECORDING)')
  mmtrio backtest --data data/binance-usdm/btcusdt_20240808.gz
  mmtrio backtest --data a.gz --set quoting.gamma=0.05 --html report.html
  mmtrio backtest --data a.gz --sweep quoting.gamma=0.01,0.1,1 --json
  mmtrio backtest --data a.gz --data b.gz --sweep quoting.levels=1,2,3 --engine ray

exit codes: 0 done; 1 failed (also: the --html file could not be written after the run, whose
result is printed first); 2 bad arguments, config or data file, or an --html path whose
directory is missing or not writable (checked before the run)
"""


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        required=True,
        action="append",
        metavar="FILES|STORE",
        help="one recording: file(s) comma-separated in order, or a store (repeatable)",
    )
    parser.add_argument("--store-dir", metavar="DIR", help="where converted stores live")
    parser.add_argument("--no-store", action="store_true", help="read raw files on every run")
    parser.add_argument(
        "--engine-core",
        choices=("auto", "compiled", "python"),
        default="auto",
        help="replay core: compiled (numba) when installed, or the python reference",
    )
    parser.add_argument(
        "--sweep-mode",
        choices=("exact", "fast"),
        default="exact",
        help="exact: the strategy at every point; fast: the compiled GLFT sweep model "
        "(only the axes it reads: see below)",
    )
    parser.add_argument("--address", help="Ray cluster address for --engine ray (default: local)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_config_option(parser)
    parser.add_argument("--symbol", help="check that the recording holds this symbol")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key"
    )
    parser.add_argument("--json", action="store_true", help="print the report (or table) as JSON")
    parser.add_argument(
        "--html",
        metavar="FILE",
        help="write the HTML report with plots (one run; refused with --sweep)",
    )
    parser.add_argument(
        "--sweep", action="append", default=[], metavar="KEY=V1,V2", help="grid axis (repeatable)"
    )
    parser.add_argument("--engine", choices=("local", "ray"), default="local", help="sweep engine")
    parser.add_argument(
        "--workers", type=_workers, default=None, help="sweep processes (default: CPUs)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the latency jitter (default 0)"
    )
    parser.add_argument("--latency-ms", type=int, default=5, help="one-way order latency (ms)")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="median order-latency jitter")
    parser.add_argument("--user-latency-ms", type=int, default=5, help="user-stream latency (ms)")
    parser.add_argument("--feed-latency", choices=("recorded", "constant"), default="recorded")
    parser.add_argument("--feed-base-ms", type=int, default=0, help="added feed latency (ms)")
    parser.add_argument(
        "--queue-model", choices=("conservative", "probabilistic"), default="probabilistic"
    )
    parser.add_argument("--maker-fee-bps", help="maker fee in bps (negative = rebate)")
    parser.add_argument("--taker-fee-bps", help="taker fee in bps")


def _settings(args: argparse.Namespace, cfg: Config) -> BacktestSettings:
    from decimal import Decimal, InvalidOperation

    from mmtrio.backtest.feed import FeedLatency
    from mmtrio.backtest.runner import BacktestSettings
    from mmtrio.errors import ParameterError
    from mmtrio.exchange.matching import QueueModel

    sim = cfg.sim
    fees: dict[str, Decimal] = {}
    for name, given, default in (
        ("maker_fee_bps", args.maker_fee_bps, sim.maker_fee_bps if sim else 2.0),
        ("taker_fee_bps", args.taker_fee_bps, sim.taker_fee_bps if sim else 5.0),
    ):
        try:
            fees[name] = Decimal(str(given if given is not None else default))
        except InvalidOperation:
            raise ParameterError(f"--{name.replace('_', '-')} {given!r} is not a number") from None
    return BacktestSettings(
        order_latency_ms=args.latency_ms,
        order_jitter_ms=args.jitter_ms,
        user_latency_ms=args.user_latency_ms,
        feed_latency=FeedLatency(args.feed_latency),
        feed_base_ms=args.feed_base_ms,
        queue_model=QueueModel(args.queue_model),
        seed=args.seed,
        maker_fee_bps=fees["maker_fee_bps"],
        taker_fee_bps=fees["taker_fee_bps"],
        engine=args.engine_core,
    )


def _workers(text: str) -> int:
    """--workers: a whole number of processes, at least one (argparse says the error)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    from mmtrio.backtest.report import build_report, report_json
    from mmtrio.backtest.runner import run_backtest
    from mmtrio.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
    from mmtrio.cli.datasets import resolve, store_root
    from mmtrio.config.strategy import build_strategy_config
    from mmtrio.errors import MmtrioError

    try:
        html = _html_target(args)
        cfg = load_command_config(args.config, overrides=args.set)[0]
        settings = _settings(args, cfg)
        symbol = args.symbol or (cfg.venue.symbol if cfg.venue.mode != "paper" else None)
        root = None if args.no_store else store_root(args.store_dir)
        recs = [resolve(spec, symbol=symbol, root=root) for spec in args.data]
        if args.sweep or len(recs) > 1:
            return _sweep(args, cfg, recs, settings)
        rec = recs[0]
        result = run_backtest(rec.source, build_strategy_config(cfg, rec.instrument), settings)
        report = build_report(result)
    except MmtrioError as exc:
        print(f"mmtrio backtest: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"mmtrio backtest: {exc}", file=sys.stderr)
        return EXIT_FAILED
    files = list(rec.files) if rec.files else [p for p in (rec.store,) if p is not None]
    doc = report_json(report, result, settings, files)
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(format_summary(doc, result, rec.label, settings.seed))
    if html is not None:
        return _write_html(html, report, result, cfg, as_json=args.json)
    return EXIT_OK


def _html_target(args: argparse.Namespace) -> Path | None:
    """The --html file, checked before the run (ParameterError: exit 2). A sweep (--sweep, or
    several --data) prints a table and has no HTML report: the combination is refused."""
    from mmtrio.cli.common import output_path
    from mmtrio.errors import ParameterError

    if args.html is None:
        return None
    if args.sweep or len(args.data) > 1:
        what = "--sweep" if args.sweep else "several --data"
        raise ParameterError(
            f"--html writes one backtest's report and cannot be combined with {what} (a sweep "
            "prints a table: use --json for a machine-readable one)"
        )
    return output_path(args.html, "--html")


def _write_html(
    path: Path, report: SessionReport, result: BacktestResult, cfg: Config, *, as_json: bool
) -> int:
    """Write the HTML report after the result is printed; a failure now (the path was
    checked before the run: a full disk, a directory removed meanwhile) is an I/O failure,
    exit 1, and the printed result stands."""
    from mmtrio.backtest.report import write_html
    from mmtrio.cli import EXIT_FAILED, EXIT_OK
    from mmtrio.config.strategy import size_lots
    from mmtrio.reporting.charts import InventoryLimits

    r = cfg.risk
    _, max_lots = size_lots(cfg, report.instrument)
    limits = InventoryLimits(max_lots, r.warn_fraction, r.critical_fraction, r.hard_fraction)
    try:
        write_html(report, result, limits, path)
    except OSError as exc:
        print(
            f"mmtrio backtest: cannot write the HTML report {path}: {exc.strerror or exc} "
            "(the result above is complete)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(f"HTML report: {path}", file=sys.stderr if as_json else sys.stdout)
    return EXIT_OK


def format_summary(doc: dict[str, Any], result: BacktestResult, label: str, seed: int) -> str:
    """The text summary: figures rounded like every surface (:mod:`mmtrio.units`: money to
    the cent, sizes to the lot), from the same document as --json."""
    from mmtrio import units
    from mmtrio.backtest.report import restriction_lines
    from mmtrio.core.instruments import Instrument
    from mmtrio.reporting.pnl import printed_parts

    inst = Instrument.from_json(doc["instrument"])
    fills, bt = doc["fills"], doc["backtest"]
    # Rounded together, so the parts add up to equity as printed (and before fees + fees to
    # after fees): the same figures `mmtrio report` would print.
    parts = printed_parts(doc["pnl"], doc["attribution"])
    pnl = parts.pnl()

    def money(key: str, value: Decimal) -> str:
        return f"{key} {units.money(value)}"

    lines = [
        f"{doc['symbol']} {label}: {result.events} events, {result.strategy_steps} "
        f"decisions, seed {seed}, {result.engine} engine"
    ]
    if result.book_gaps:
        lines.append(
            f"book continuity lost {result.book_gaps} time(s) in the data: quoting stopped "
            "until the next snapshot each time"
        )
    lines += restriction_lines(result)
    lines.append(
        f"{money('equity', pnl['equity'])}  {money('realised', pnl['realised'])}  "
        f"{money('unrealised', pnl['unrealised'])}  {money('fees', pnl['fees'])}  "
        f"{money('funding', pnl['funding'])} {inst.quote_asset}"
    )
    lines.append(
        f"P&L before fees {units.money(parts.equity - parts.fees)}, fees "
        f"{units.money(parts.fees)}, after fees {units.money(parts.equity)}: {bt['verdict']}"
    )
    lines.append("attribution " + "  ".join(money(k, v) for k, v in parts.attribution().items()))
    lines.append(
        f"fills {fills['count']} (buys {fills['buys']} / sells {fills['sells']}), "
        f"volume {units.size(inst, fills['volume_lots'])} {inst.base_asset}, "
        f"quote-to-trade {ratio_text(doc['orders']['quote_to_trade'])}"
    )
    lines.append(
        f"max drawdown {units.money(Decimal(doc['drawdown']['max']), signed=False)} "
        f"{inst.quote_asset}, final "
        f"position {units.size(inst, doc['inventory']['final_lots'], signed=True)} "
        f"{inst.base_asset}"
    )
    return "\n".join(lines)


def ratio_text(ratio: float | None) -> str:
    """A ratio as the HTML report shows it: one decimal, a dash before the first fill."""
    return "—" if ratio is None else f"{ratio:.1f}"


def _sweep(
    args: argparse.Namespace, cfg: Config, recs: list[Recording], settings: BacktestSettings
) -> int:
    """Every grid point on every recording, ranked in one table (--engine local or ray)."""
    from mmtrio.backtest.sweep import Job, format_table, parse_sweep, run_jobs
    from mmtrio.cli import EXIT_OK

    grid = parse_sweep(args.sweep)
    base = cfg.model_dump(mode="json", by_alias=True, exclude_none=True)
    jobs = [Job(point, rec.label, rec.source, rec.instrument) for rec in recs for point in grid]
    points = run_jobs(
        base,
        jobs,
        settings,
        engine=args.engine,
        mode=args.sweep_mode,
        workers=args.workers,
        address=args.address,
        progress=not args.no_progress and not args.json,
    )
    if args.json:
        print(json.dumps([p.to_json() for p in points], indent=2))
    else:
        print(format_table(points))
    return EXIT_OK
