"""Latch the kill switch of the running bot (`mmtrio kill`).

The bot cancels every order and stops quoting until `mmtrio resume`; with --flatten it also
closes the position with reduce-only orders priced within risk.flatten_max_slippage_bps. The
latch is journaled: a restart (systemd, the operator, a reboot) comes back HALTED.

It needs only the control socket or the kill file: the config file is read for their paths
without being validated (a broken ``config.toml`` is reported, never obeyed as a refusal), and
``--state-dir DIR`` skips the config altogether. When no bot answers, the kill file is written:
a bot starting on that state directory stays HALTED until the file is removed and it is resumed.
A ``--state-dir`` that does not exist is refused (exit 2), never created: a mistyped path would
otherwise write a kill file no bot reads and report success.
"""

from __future__ import annotations

import argparse
import sys

from mmtrio.cli.common import add_target_options, find_bot

NAME = "kill"
HELP = "halt the running bot: cancel all orders, stop quoting (optionally flatten)"
EPILOG = """\
examples:
  mmtrio kill                                  # cancel all, stop quoting
  mmtrio kill --flatten --reason "news at 14:30"   # also close the position
  mmtrio kill --state-dir /var/lib/mmtrio/binance-btcusdt   # no config file needed
                                               # (the directory must exist: a typo is refused)

exit codes: 0 the bot confirmed the halt, or no bot answered and the kill file was written
(the next start stays halted); 1 no bot answered and no kill file could be written; 2 the
--state-dir does not exist (nothing written)
"""


def register(parser: argparse.ArgumentParser) -> None:
    add_target_options(parser)
    parser.add_argument("--flatten", action="store_true", help="also close the position")
    parser.add_argument("--reason", default="operator kill (mmtrio kill)", help="logged reason")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mmtrio.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
    from mmtrio.errors import MmtrioError
    from mmtrio.runtime.control import control_request
    from mmtrio.runtime.status import status_line

    if args.state_dir is not None and not Path(args.state_dir).expanduser().is_dir():
        print(
            f"mmtrio kill: --state-dir {args.state_dir} is not a directory (no bot has run "
            "there: check the path; nothing was written)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    target, warnings = find_bot(args.config, args.state_dir)
    for warning in warnings:
        print(f"mmtrio kill: warning: {warning}", file=sys.stderr)
    request = {"cmd": "kill", "flatten": bool(args.flatten), "reason": args.reason}
    why = "the config does not locate its control socket"
    if target.control_socket is not None:
        try:
            answer = control_request(target.control_socket, request)
        except MmtrioError as exc:
            why = str(exc)
        else:
            if answer.get("ok"):
                print(status_line(answer.get("status", {})))
                return EXIT_OK
            why = str(answer.get("error"))
    if target.kill_file is None:
        print(f"mmtrio kill: no bot answered ({why}) and no kill file is known", file=sys.stderr)
        return EXIT_FAILED
    try:
        target.kill_file.parent.mkdir(parents=True, exist_ok=True)
        target.kill_file.write_text(f"{args.reason}\n", encoding="utf-8")
    except OSError as exc:
        print(
            f"mmtrio kill: no bot answered ({why}) and the kill file {target.kill_file} cannot "
            f"be written: {exc}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(
        f"no bot answered ({why}); wrote the kill file {target.kill_file}: a bot on this state "
        "directory halts at once (and stays halted at its next start) until the file is "
        "removed and `mmtrio resume` is run"
    )
    return EXIT_OK
