"""Resume quoting after a kill (`mmtrio resume --config config.toml`).

Refused (exit 1, with the reason) while the kill file exists or when the risk layer keeps the
bot halted (e.g. the drawdown limit is still breached).
"""

from __future__ import annotations

import argparse
import sys

from mmtrio.cli.common import add_config_option, load_command_config

NAME = "resume"
HELP = "resume quoting after a kill switch (refused while a guard still holds)"
EPILOG = """\
examples:
  mmtrio resume
  mmtrio resume --config /etc/mmtrio/config.toml

exit codes: 0 quoting again; 1 refused (reason printed) or no bot answered; 2 bad config
"""


def register(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)


def run(args: argparse.Namespace) -> int:
    from mmtrio.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
    from mmtrio.errors import ConfigError, MmtrioError
    from mmtrio.runtime.control import control_request
    from mmtrio.runtime.status import status_line

    try:
        config, _ = load_command_config(args.config)
    except ConfigError as exc:
        print(f"mmtrio resume: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        answer = control_request(config.runtime.control_socket, {"cmd": "resume"})
    except MmtrioError as exc:
        print(f"mmtrio resume: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if not answer.get("ok"):
        print(f"mmtrio resume: {answer.get('error')}", file=sys.stderr)
        return EXIT_FAILED
    print(status_line(answer.get("status", {})))
    return EXIT_OK
