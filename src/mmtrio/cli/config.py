"""Check a configuration file without starting anything.

`mmtrio config check FILE` loads and validates FILE exactly as `mmtrio run` would. It prints
"ok" and a one-line summary (exit 0), or every problem found — key, value, allowed range — and
exits 2. With --credentials it also resolves the API credentials for venue.kind = "binance"
(environment or chmod-600 files); it never prints them.
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

exit codes: 0 valid; 2 invalid (every problem listed)
"""


def register(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="config_action", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="validate FILE; exit 0 if ok, 2 with every problem")
    check.add_argument("file", metavar="FILE", help="TOML configuration file, e.g. config.toml")
    check.add_argument(
        "--credentials",
        action="store_true",
        help="also resolve the API credentials (kind = 'binance'); they are never printed",
    )


def run(args: argparse.Namespace) -> int:
    from mmtrio.cli import EXIT_OK, EXIT_USAGE
    from mmtrio.config import load_config, load_credentials
    from mmtrio.errors import ConfigError

    try:
        config = load_config(args.file)
        credentials = load_credentials(config.venue) if args.credentials else None
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    print(f"ok: {summary(config)}")
    if credentials is not None:
        print(f"credentials: found ({credentials.source})")
    return EXIT_OK


def summary(config: Config) -> str:
    """One line saying what this config would do."""
    venue, inst = config.venue, config.instrument
    if venue.kind == "sim":
        where = "paper trading on the built-in sim"
        if config.sim is not None and config.sim.synthetic:
            where += " (synthetic market)"
        elif config.sim is not None:
            where += f" ({len(config.sim.data_files)} recording(s))"
    else:
        where = venue_summary(venue.rest_url or "", testnet=venue.testnet)
    q, r = config.quoting, config.risk
    return (
        f"{where}, {inst.symbol}, model {q.model} γ={q.gamma:g}, {q.levels} level(s) × "
        f"{q.base_qty} {inst.base_asset}, max position {r.max_position} {inst.base_asset}, "
        f"max notional {r.max_notional} USDT, max drawdown {r.max_drawdown} USDT"
    )


def venue_summary(rest_url: str, *, testnet: bool) -> str:
    """What a kind = "binance" venue is, judged by its REST host: only a production Binance
    host is called live money; a loopback URL is a local venue (an external sim, a proxy)."""
    from urllib.parse import urlsplit

    from mmtrio.config.sections import LOOPBACK_HOSTS

    parts = urlsplit(rest_url)
    host = parts.hostname or ""
    if host in LOOPBACK_HOSTS:
        return f"Binance protocol on a local venue at {parts.netloc} (loopback: not an exchange)"
    if testnet or host.endswith("binancefuture.com"):
        return "Binance testnet"
    if host == "binance.com" or host.endswith(".binance.com"):
        return "Binance LIVE (real money)"
    return f"Binance protocol at {host}: not a Binance host; check rest_url before trading"
