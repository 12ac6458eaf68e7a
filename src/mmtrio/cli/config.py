"""Check a configuration file without starting anything.

`mmtrio config check FILE` loads and checks FILE exactly as `mmtrio run` does at start, with
the same function (:func:`mmtrio.cli.checkup.check_config`): every key, the rules spanning
sections, the venue's URL rules, in paper mode the recording to replay (readable, and of
venue.symbol when that is set), and with ``[telegram] enabled`` the bot token (the variable
set, or the file there and chmod 600). It prints "ok" and a one-line summary (exit 0), or every
problem found — key, value, allowed range, what to do — and exits 2. With --credentials it also
resolves the venue's API credentials (environment or chmod-600 files); it never prints them.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mmtrio.config import Config

NAME = "config"
HELP = "check a configuration file (every problem listed at once)"
EPILOG = """\
examples:
  mmtrio config check config.toml
  MMTRIO_API_KEY=... MMTRIO_API_SECRET=... mmtrio config check live.toml --credentials

With [telegram] enabled the bot token is checked too: $MMTRIO_TELEGRAM_TOKEN set, or
telegram.token_file present and readable by its owner only (chmod 600).

exit codes: 0 valid; 2 invalid (every problem listed)
"""


def register(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="config_action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate FILE; exit 0 if ok, 2 with every problem")
    check.add_argument("file", metavar="FILE", help="TOML configuration file, e.g. config.toml")
    check.add_argument(
        "--credentials",
        action="store_true",
        help="also resolve the venue's API credentials; they are never printed",
    )


def run(args: argparse.Namespace) -> int:
    from mmtrio.cli import EXIT_OK, EXIT_USAGE
    from mmtrio.cli.checkup import check_config
    from mmtrio.errors import ConfigError

    try:
        checked = check_config(args.file, credentials=args.credentials)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    print(f"ok: {summary(checked.config)}")
    if checked.credentials is not None:
        print(f"credentials: found ({checked.credentials.source})")
    return EXIT_OK


def summary(config: Config) -> str:
    """One line saying what this config would do."""
    venue = config.venue
    if venue.mode == "paper":
        where = f"paper trading on the built-in simulated {venue.name} venue"
        if config.sim is not None and config.sim.synthetic:
            where += " (synthetic market)"
        elif config.sim is not None:
            where += f" ({len(config.sim.data_files)} recording(s))"
    else:
        from mmtrio.cli.venue import urls, venue_factory

        rest = urls(config, venue_factory(config)).get("rest", "?")
        if venue.mode == "testnet":
            where = f"{venue.name} testnet ({rest})"
        else:
            where = f"{venue.name} LIVE (real money, {rest})"
    q, r = config.quoting, config.risk
    symbol = venue.symbol or "the recording's symbol"
    return (
        f"{where}, {symbol}, model {q.model} γ={q.gamma:g}, {q.levels} level(s) × "
        f"{q.base_qty} base units, max position {r.max_position}, max notional "
        f"{r.max_notional}, max drawdown {r.max_drawdown} (sizes are checked against the "
        "venue's instrument at start)"
    )
