"""Latch the kill switch of the running bot (`mmtrio kill --config config.toml`).

The bot cancels every order and stops quoting until `mmtrio resume`; with --flatten it also
closes the position with reduce-only orders priced within risk.flatten_max_slippage_bps.
Exit 0 when the bot confirmed the halt, 1 when no bot answered.
"""

from __future__ import annotations

import argparse
import sys

from mmtrio.cli.common import add_config_option, load_command_config

NAME = "kill"
HELP = "halt the running bot: cancel all orders, stop quoting (optionally flatten)"
EPILOG = """\
examples:
  mmtrio kill                                  # cancel all, stop quoting
  mmtrio kill --flatten --reason "news at 14:30"   # also close the position

exit codes: 0 the bot confirmed the halt; 1 no bot answered; 2 bad config
"""


def register(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument("--flatten", action="store_true", help="also close the position")
    parser.add_argument("--reason", default="operator kill (mmtrio kill)", help="logged reason")


def run(args: argparse.Namespace) -> int:
    from mmtrio.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
    from mmtrio.errors import ConfigError, MmtrioError
    from mmtrio.runtime.control import control_request
    from mmtrio.runtime.status import status_line

    try:
        config, _ = load_command_config(args.config)
    except ConfigError as exc:
        print(f"mmtrio kill: {exc}", file=sys.stderr)
        return EXIT_USAGE
    request = {"cmd": "kill", "flatten": bool(args.flatten), "reason": args.reason}
    try:
        answer = control_request(config.runtime.control_socket, request)
    except MmtrioError as exc:
        print(f"mmtrio kill: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if not answer.get("ok"):
        print(f"mmtrio kill: {answer.get('error')}", file=sys.stderr)
        return EXIT_FAILED
    print(status_line(answer.get("status", {})))
    return EXIT_OK
