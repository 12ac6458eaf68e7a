"""`mmtrio …`: the command line. Each subcommand lives in its own module of this package.

A subcommand module defines ``NAME``, ``HELP``, ``register(parser)`` to add its arguments and
``run(args) -> int`` returning the exit code. Heavy imports stay inside ``run`` so that
``mmtrio --help`` is instant.

Exit codes (documented in the README):
  0  finished normally (for `run`: a clean stop with zero open orders confirmed)
  1  failed: a crash, or a stop that could not confirm zero open orders
  2  bad usage: invalid argument, configuration or input file
  3  stopped safely on purpose by a guard (supervisor escalation, kill switch latched at exit)
  4  a check found violations (`chaos`) or a mismatch
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from types import ModuleType

from mmtrio import __version__

# Order here is the order in `mmtrio --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "mmtrio.cli.run",
    "mmtrio.cli.init",
    "mmtrio.cli.status",
    "mmtrio.cli.kill",
    "mmtrio.cli.resume",
    "mmtrio.cli.research",
    "mmtrio.cli.sim",
    "mmtrio.cli.config",
    "mmtrio.cli.report",
    "mmtrio.cli.chaos",
    "mmtrio.cli.backtest",
    "mmtrio.cli.calibrate",
    "mmtrio.cli.data",
    "mmtrio.cli.record",
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SAFE_STOP = 3
EXIT_VIOLATIONS = 4


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    pass


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, ModuleType]]:
    parser = argparse.ArgumentParser(
        prog="mmtrio",
        description=(
            "mmtrio: a market maker for crypto perpetual futures, on Trio.\n\n"
            "Exit codes: 0 ok, 1 failed, 2 bad usage/config, 3 safe stop by a guard, "
            "4 violations found."
        ),
        epilog=(
            "examples:\n"
            "  mmtrio run                      paper trading on the built-in sim (./config.toml,\n"
            "                                  else the packaged default)\n"
            "  mmtrio init [DIR]               write a commented config.toml to edit\n"
            "  mmtrio status                   the running bot's state, position and P&L\n"
            "  mmtrio kill --flatten           halt: cancel all orders, close the position\n"
            "  mmtrio report --since -1h       P&L and fills of the last hour, from the journal\n"
            "  mmtrio config check config.toml validate a config file\n"
            "  mmtrio COMMAND --help           each command's options, examples, exit codes"
        ),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mmtrio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules: dict[str, ModuleType] = {}
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        cmd = sub.add_parser(
            module.NAME,
            help=module.HELP,
            description=module.__doc__,
            epilog=getattr(module, "EPILOG", None),  # examples and exit codes
            formatter_class=_HelpFormatter,
        )
        module.register(cmd)
        modules[module.NAME] = module
    return parser, modules


# Options whose value may start with "-" (a relative age: --since -1h). argparse takes "-1h"
# for an option and stops with "expected one argument"; joining it to the option as
# "--since=-1h" makes the documented spelling work.
DASH_VALUE_OPTIONS = frozenset({"--since"})


def join_dash_values(argv: list[str]) -> list[str]:
    """``["--since", "-1h"]`` → ``["--since=-1h"]`` (see DASH_VALUE_OPTIONS)."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in DASH_VALUE_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append(f"{token}={argv[i + 1]}")
            i += 2
            continue
        out.append(token)
        i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    parser, modules = build_parser()
    args = parser.parse_args(join_dash_values(sys.argv[1:] if argv is None else argv))
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        code: int = modules[args.command].run(args)
        sys.stdout.flush()  # here, so that a pipe closed at the end is caught too
    except BrokenPipeError:
        # The reader of our output went away (`mmtrio chaos --deterministic ... | head -1`):
        # stop quietly, as Unix tools do, instead of a traceback; what is left to print has
        # nowhere to go. Python's own advice: point stdout at /dev/null so that the flush at
        # exit does not raise again. Exit 1: the command did not finish.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
