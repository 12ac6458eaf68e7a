"""Reproduce the market-making literature with mmtrio's own model code.

mmtrio research as2008 [--paths N] [--seed S] [--json]
    Avellaneda & Stoikov (2008) §3.3: inventory vs symmetric strategy, beside the paper's
    published figures.
mmtrio research glft [--json]
    Guéant–Lehalle–Fernandez-Tapia (2013): closed-form quotes vs the exact solution of
    Theorem 1 over a parameter grid.
"""

from __future__ import annotations

import argparse
import json
import sys

NAME = "research"
HELP = "reproduce Avellaneda-Stoikov 2008 and check the GLFT closed form"
EPILOG = """\
examples:
  mmtrio research as2008 --paths 1000 --seed 0
  mmtrio research glft --json > glft.json

exit codes: 0 done; 2 bad arguments
"""

MAX_PATHS = 1_000_000


def _paths(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--paths must be an integer, got {text!r}") from None
    if not 1 <= value <= MAX_PATHS:
        raise argparse.ArgumentTypeError(f"--paths must be in [1, {MAX_PATHS}], got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed must be an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"--seed must be >= 0, got {value}")
    return value


def register(parser: argparse.ArgumentParser) -> None:
    """Add the `as2008` and `glft` studies as sub-subcommands."""
    studies = parser.add_subparsers(dest="study", metavar="STUDY", required=True)
    as08 = studies.add_parser(
        "as2008", help="Avellaneda-Stoikov (2008) §3.3 simulation, with the paper's figures"
    )
    as08.add_argument("--paths", type=_paths, default=1000, help="Monte Carlo paths (1000)")
    as08.add_argument("--seed", type=_seed, default=0, help="random seed (0)")
    as08.add_argument("--json", action="store_true", help="print one JSON document")
    gl = studies.add_parser("glft", help="GLFT closed form vs exact (Theorem 1) over a grid")
    gl.add_argument("--json", action="store_true", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    """Run the chosen study and print its table (or JSON); 0 on success."""
    if args.study == "as2008":
        from mmtrio.research import as2008

        results = as2008.run(paths=args.paths, seed=args.seed)
        if args.json:
            json.dump(as2008.to_json(results, args.paths, args.seed), sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            print(as2008.format_table(results, args.paths, args.seed))
        return 0
    from mmtrio.research import glft

    reports = glft.run()
    if args.json:
        json.dump(glft.to_json(reports), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(glft.format_table(reports))
    return 0
