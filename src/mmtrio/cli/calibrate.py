"""Walk-forward calibration: fit γ, k, A and the spread bounds on recordings, check held-out ones.

  mmtrio calibrate --data R [--data R ...] --holdout R [--holdout R ...]
                   [--config config.toml] [--set KEY=VALUE ...] [--grid KEY=V1,V2 ...]
                   [--min-fills N] [--workers N] [--json]

R is one recording as in `mmtrio backtest`: files comma-separated in order (a continuous pair
is two files), or an event store; repeat --data / --holdout for more recordings. Fitting uses
the --data recordings only; every figure printed is labelled in-sample or held-out.
One symbol per calibration: the --data recordings must hold one symbol (A and k are pooled
over their fits and one grid point is chosen on their summed P&L), and --data of several
symbols is refused (exit 2) naming each recording's symbol: calibrate each symbol with its own
command. --holdout may hold another symbol (a check that the calibration carries over: it is
only run, never fitted on). `mmtrio backtest --data a --data b` runs and ranks each recording
on its own, so it takes several symbols.

What it does (mmtrio.backtest.calibrate): fits the intensity λ(δ) = A·e^(−kδ) on each
recording (the fallback A and k are the in-sample geometric means); runs a grid over γ, the
half-spread bounds and the inventory skew on the fast sweep model over the in-sample
recordings and chooses the best point after fees among those with at least --min-fills fills
on every in-sample recording; chooses the defence's bounds at that point the same way on the
exact engine (--defence-grid, in-sample only); then runs the configuration as given, the
calibrated one with the defence off, and the calibrated one on the exact engine over every
recording, and prints the P&L before and after fees, and plainly where each one loses.

Fees are [sim] maker/taker_fee_bps of the config when present, else Binance's 2 / 5 bps
(--maker-fee-bps / --taker-fee-bps override). Deterministic: the same command prints the same
figures.
"""

from __future__ import annotations

import argparse
import json
import sys

from mmtrio.cli.common import add_config_option, load_command_config

NAME = "calibrate"
HELP = "fit γ, k, A and the spread bounds on recordings; report in-sample and held-out P&L"
EPILOG = """\
examples:
  mmtrio calibrate --data a.gz --data b1.gz,b2.gz --holdout c.gz
  mmtrio calibrate --data a.gz --holdout c.gz --grid quoting.gamma=0.1,1 --json > cal.json

exit codes: 0 done (whether or not the configuration makes money: read the verdicts);
1 failed; 2 bad arguments, config or data file
"""


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        required=True,
        action="append",
        metavar="FILES|STORE",
        help="an in-sample recording (fitted on): file(s) comma-separated in order (repeatable)",
    )
    parser.add_argument(
        "--holdout",
        required=True,
        action="append",
        metavar="FILES|STORE",
        help="a held-out recording (never fitted on), same form (repeatable)",
    )
    add_config_option(parser)
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key"
    )
    parser.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="a grid axis replacing the default grid (repeatable)",
    )
    parser.add_argument(
        "--defence-grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="a defence.* axis (exact engine, in-sample) replacing the default (repeatable)",
    )
    parser.add_argument(
        "--min-fills",
        type=_positive,
        default=None,
        help="fills a point needs on each in-sample recording to be chosen (default 20)",
    )
    parser.add_argument("--workers", type=_positive, default=1, help="grid processes (1)")
    parser.add_argument("--store-dir", metavar="DIR", help="where converted stores live")
    parser.add_argument("--maker-fee-bps", help="maker fee in bps (negative = rebate)")
    parser.add_argument("--taker-fee-bps", help="taker fee in bps")
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    from decimal import Decimal, InvalidOperation

    from mmtrio.backtest.calibrate import (
        DEFAULT_DEFENCE_GRID,
        DEFAULT_GRID,
        DEFAULT_MIN_FILLS,
        Rec,
        calibrate,
    )
    from mmtrio.backtest.calibrate_report import format_text, to_json
    from mmtrio.backtest.runner import BacktestSettings
    from mmtrio.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
    from mmtrio.cli.datasets import resolve, store_root
    from mmtrio.errors import MmtrioError, ParameterError

    def say(msg: str) -> None:
        print(f"calibrate: {msg}", file=sys.stderr)

    try:
        cfg = load_command_config(args.config, overrides=args.set)[0]
        sim = cfg.sim
        fees: dict[str, Decimal] = {}
        for name, given, default in (
            ("maker_fee_bps", args.maker_fee_bps, sim.maker_fee_bps if sim else 2.0),
            ("taker_fee_bps", args.taker_fee_bps, sim.taker_fee_bps if sim else 5.0),
        ):
            try:
                fees[name] = Decimal(str(given if given is not None else default))
            except InvalidOperation:
                flag = name.replace("_", "-")
                raise ParameterError(f"--{flag} {given!r} is not a number") from None
        settings = BacktestSettings(
            maker_fee_bps=fees["maker_fee_bps"], taker_fee_bps=fees["taker_fee_bps"]
        )
        symbol = cfg.venue.symbol if cfg.venue.mode != "paper" else None
        root = store_root(args.store_dir)
        train = [resolve(s, symbol=symbol, root=root) for s in args.data]
        hold = [resolve(s, symbol=symbol, root=root) for s in args.holdout]
        overlap = {r.label for r in train} & {r.label for r in hold}
        if overlap:
            raise ParameterError(
                f"{', '.join(sorted(overlap))} is both --data and --holdout: a held-out "
                "recording must not be fitted on"
            )
        base = cfg.model_dump(mode="json", by_alias=True, exclude_none=True)
        cal = calibrate(
            base,
            [Rec(r.label, r.source, r.instrument) for r in train],
            [Rec(r.label, r.source, r.instrument) for r in hold],
            settings,
            grid=tuple(args.grid) or DEFAULT_GRID,
            defence_grid=tuple(args.defence_grid) or DEFAULT_DEFENCE_GRID,
            min_fills=DEFAULT_MIN_FILLS if args.min_fills is None else args.min_fills,
            workers=args.workers or 1,
            progress=None if args.json else say,
        )
    except MmtrioError as exc:
        print(f"mmtrio calibrate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"mmtrio calibrate: {exc}", file=sys.stderr)
        return EXIT_FAILED
    quote_asset = train[0].instrument.quote_asset
    if args.json:
        print(json.dumps(to_json(cal, quote_asset), indent=2))
    else:
        print(format_text(cal, quote_asset))
    return EXIT_OK
