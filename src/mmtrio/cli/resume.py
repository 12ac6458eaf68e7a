"""Resume quoting after a kill (`mmtrio resume`).

Refused (exit 1, with the reason) while the kill file exists or when the risk layer keeps the
bot halted. A loss-limit breach (drawdown, daily or cumulative loss) is resumed only with
``--override`` and a ``--reason``: the operator accepts the loss so far and the limit restarts
from the current equity; both are journaled. Like `kill`, it needs only the control socket:
the config is read for its path without being validated, or skipped with ``--state-dir``;
``--name BOT`` finds the state directory as `mmtrio run --name BOT` does.
"""

from __future__ import annotations

import argparse
import sys

from mmtrio.cli.common import add_target_options, find_bot

NAME = "resume"
HELP = "resume quoting after a kill switch (refused while a guard still holds)"
EPILOG = """\
examples:
  mmtrio resume
  mmtrio resume --config /etc/mmtrio/config.toml
  mmtrio resume --name btc1                    # started as `mmtrio run --name btc1`
  mmtrio resume --override --reason "checked the fills, loss accepted"   # after a loss limit

exit codes: 0 quoting again; 1 refused (reason printed) or no bot answered; 2 bad usage
"""


def register(parser: argparse.ArgumentParser) -> None:
    add_target_options(parser)
    parser.add_argument(
        "--override",
        action="store_true",
        help="accept a loss-limit breach (drawdown, daily, cumulative) and restart that limit",
    )
    parser.add_argument("--reason", default=None, help="why (journaled; required with --override)")


def run(args: argparse.Namespace) -> int:
    from mmtrio.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
    from mmtrio.cli.kill import known_bots
    from mmtrio.errors import ConfigError, MmtrioError
    from mmtrio.runtime.control import control_request
    from mmtrio.runtime.status import status_line

    if args.override and not (args.reason and args.reason.strip()):
        print(
            "mmtrio resume: --override needs --reason TEXT (who accepts the loss and why; "
            "it is journaled)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        target, warnings = find_bot(args.config, args.state_dir, args.name)
    except ConfigError as exc:
        print(f"mmtrio resume: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for warning in warnings:
        print(f"mmtrio resume: warning: {warning}", file=sys.stderr)
    if target.control_socket is None:
        print("mmtrio resume: no control socket is known; pass --state-dir DIR", file=sys.stderr)
        return EXIT_FAILED
    request = {
        "cmd": "resume",
        "override": bool(args.override),
        "reason": args.reason or "operator resume (mmtrio resume)",
    }
    try:
        answer = control_request(target.control_socket, request)
    except MmtrioError as exc:
        print(f"mmtrio resume: {exc}", file=sys.stderr)
        if not target.control_socket.exists():  # e.g. `run --set venue.name=okx`: okx-paper
            print(known_bots(), file=sys.stderr)
        return EXIT_FAILED
    if not answer.get("ok"):
        print(f"mmtrio resume: {answer.get('error')}", file=sys.stderr)
        return EXIT_FAILED
    print(status_line(answer.get("status", {})))
    return EXIT_OK
