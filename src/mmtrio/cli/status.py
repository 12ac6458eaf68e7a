"""Show the running bot's status (`mmtrio status --config config.toml`), over its control socket.

Prints one line (state, position, quotes, P&L), or with --json the whole snapshot.
Exit 1 when no bot answers.
"""

from __future__ import annotations

import argparse
import json
import sys

NAME = "status"
HELP = "show the running bot's status (over its control socket)"
EPILOG = """\
examples:
  mmtrio status                                # one line: state, position, quotes, P&L
  mmtrio status --config /etc/mmtrio/config.toml --json | jq .strategy.trading_state

exit codes: 0 answered; 1 no bot answered; 2 bad config
"""


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="config.toml", help="config file of the running bot")
    parser.add_argument("--json", action="store_true", help="print the full snapshot as JSON")


def run(args: argparse.Namespace) -> int:
    from mmtrio.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
    from mmtrio.config import load_config
    from mmtrio.errors import ConfigError, MmtrioError
    from mmtrio.runtime.control import control_request
    from mmtrio.runtime.status import status_line

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"mmtrio status: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        answer = control_request(config.runtime.control_socket, {"cmd": "status"})
    except MmtrioError as exc:
        print(f"mmtrio status: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if not answer.get("ok"):
        print(f"mmtrio status: {answer.get('error')}", file=sys.stderr)
        return EXIT_FAILED
    snap = answer.get("status", {})
    print(json.dumps(snap, indent=1) if args.json else status_line(snap))
    return EXIT_OK
