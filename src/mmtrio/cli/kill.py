"""Latch the kill switch of the running bot (`mmtrio kill`).

The bot cancels every order and stops quoting until `mmtrio resume`; with --flatten it also
closes the position with reduce-only orders priced within risk.flatten_max_slippage_bps. The
latch is journaled: a restart (systemd, the operator, a reboot) comes back HALTED.

It needs only the control socket or the kill file: the config file is read for their paths
without being validated (a broken ``config.toml`` is reported, never obeyed as a refusal), and
``--state-dir DIR`` skips the config altogether; ``--name BOT`` finds the state directory the
way `mmtrio run --name BOT` does (the systemd template unit). When no bot answers, the kill file
is written: a bot starting on that state directory stays HALTED until the file is removed and
it is resumed. But only into a state directory a bot has used (it holds the bot's ``lock``,
journal or control socket): a ``--state-dir`` that does not exist, or a directory no bot ever
ran with (a bot started with ``--name`` while kill was given only ``--config``), is refused
(exit 2, listing the bots under the state root), never written: a kill file no bot reads would
report success while the real bot keeps trading.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmtrio.cli.common import add_target_options, find_bot

NAME = "kill"
HELP = "halt the running bot: cancel all orders, stop quoting (optionally flatten)"
EPILOG = """\
examples:
  mmtrio kill                                  # cancel all, stop quoting
  mmtrio kill --flatten --reason "news at 14:30"   # also close the position
  mmtrio kill --state-dir /var/lib/mmtrio/binance-btcusdt   # no config file needed
                                               # (the directory must exist: a typo is refused)
  mmtrio kill --config bot1/config.toml --name btc1   # a bot started with `run --name btc1`
                                               # (systemd: mmtrio@btc1)

exit codes: 0 the bot confirmed the halt, or no bot answered and the kill file was written
into its state directory (the next start stays halted); 1 no bot answered and no kill file
could be written; 2 no bot answered and no bot ever ran with that state directory (it does not
exist, or holds no lock, journal or control socket: check --config/--name/--state-dir; the
bots under the state root are listed; nothing written), or bad usage
"""


def register(parser: argparse.ArgumentParser) -> None:
    add_target_options(parser)
    parser.add_argument("--flatten", action="store_true", help="also close the position")
    parser.add_argument(
        "--reason",
        default=None,
        help='logged reason (default "operator kill (mmtrio kill)", or "operator kill and '
        'flatten (mmtrio kill --flatten)")',
    )


def run(args: argparse.Namespace) -> int:
    from mmtrio.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
    from mmtrio.errors import ConfigError, MmtrioError
    from mmtrio.runtime.control import control_request
    from mmtrio.runtime.status import status_line

    if args.state_dir is not None and not Path(args.state_dir).expanduser().is_dir():
        print(
            f"mmtrio kill: --state-dir {args.state_dir} is not a directory (no bot has run "
            "there: check the path; nothing was written)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        target, warnings = find_bot(args.config, args.state_dir, args.name)
    except ConfigError as exc:
        print(f"mmtrio kill: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for warning in warnings:
        print(f"mmtrio kill: warning: {warning}", file=sys.stderr)
    if args.reason is None:  # the log, the journal and the report say which kill it was
        args.reason = (
            "operator kill and flatten (mmtrio kill --flatten)"
            if args.flatten
            else "operator kill (mmtrio kill)"
        )
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
    if target.state_dir is not None and not bot_ran_in(target.state_dir):
        print(
            f"mmtrio kill: no bot answered ({why}), and no bot ever ran with state directory "
            f"{target.state_dir} (no lock, journal or control socket there): nothing was "
            "written. A bot started with `mmtrio run --name BOT` (the systemd template unit "
            "mmtrio@BOT) is reached with `mmtrio kill --name BOT` or `--state-dir DIR`.",
            file=sys.stderr,
        )
        print(known_bots(), file=sys.stderr)
        return EXIT_USAGE
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


def bot_ran_in(state_dir: Path) -> bool:
    """Whether a bot has used ``state_dir``: its lock, journal or control socket is there."""
    from mmtrio.config.locations import CONTROL_SOCKET_NAME
    from mmtrio.runtime.journal import JOURNAL_NAME, LOCK_NAME

    names = (LOCK_NAME, JOURNAL_NAME, CONTROL_SOCKET_NAME)
    return state_dir.is_dir() and any((state_dir / n).exists() for n in names)


def known_bots() -> str:
    """The bots under the state root, one line each, as `mmtrio status --all --text` finds
    them (running or not)."""
    from mmtrio.cli.status import bot_entry, find_bots
    from mmtrio.config.locations import state_root

    root = state_root()
    bots = [bot_entry(d) for d in find_bots(root)]
    if not bots:
        return f"no bots under the state root {root} ($MMTRIO_STATE_ROOT; systemd: /var/lib/mmtrio)"
    lines = [f"bots under the state root {root} (`mmtrio status --all`):"]
    for b in bots:
        how = "running" if b["running"] else b["error"]
        lines.append(f"  {b['bot']:<20} {b['state_dir']}  ({how})")
    return "\n".join(lines)
