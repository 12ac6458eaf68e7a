"""Show the running bot's status over its control socket: JSON by default, --text for one line.

The JSON document (schema ``mmtrio.status/2``) gives prices, sizes and money as strings in the
instrument's units and precision (``units`` names the assets); fees are negative (a cost), as
on the screen. `--all` lists every bot found under the state root ($MMTRIO_STATE_ROOT, else
the per-user state directory): each ``<root>/<bot>/`` with a ``lock`` or ``control.sock`` is a
bot; running ones are asked for their status.

Exit 1 when no bot answers (with --all: when none of the bots found answers, or none is found).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mmtrio.cli.common import add_target_options, find_bot

NAME = "status"
HELP = "show the running bot's status as JSON (--text: one line; --all: every bot on the box)"
EPILOG = """\
examples:
  mmtrio status                                # JSON: state, position, quotes, P&L, health
  mmtrio status --text                         # one line
  mmtrio status | jq -r .strategy.trading_state
  mmtrio status --config /etc/mmtrio/btcusdt.toml
  mmtrio status --config bot1/config.toml --name btc1   # started as `mmtrio run --name btc1`
  mmtrio status --all                          # every bot under the state root
  mmtrio status --all --state-root /var/lib/mmtrio --text   # the systemd units' bots
                                               # (as the mmtrio user; exit 1 when none runs)

exit codes: 0 answered; 1 no bot answered; 2 bad usage (a broken config file is only a warning:
the bot is reached through its control socket all the same)
"""


def register(parser: argparse.ArgumentParser) -> None:
    add_target_options(parser)
    parser.add_argument("--text", action="store_true", help="one human line instead of JSON")
    parser.add_argument("--json", action="store_true", help="JSON (the default; kept for scripts)")
    parser.add_argument("--all", action="store_true", help="every bot under the state root")
    parser.add_argument(
        "--state-root",
        metavar="DIR",
        help="with --all: where the bots' state directories are (default $MMTRIO_STATE_ROOT, "
        "else the per-user state directory)",
    )


def run(args: argparse.Namespace) -> int:
    from mmtrio.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
    from mmtrio.errors import ConfigError, MmtrioError
    from mmtrio.runtime.control import control_request
    from mmtrio.runtime.status import status_line

    if args.text and args.json:
        print("mmtrio status: choose --text or --json, not both", file=sys.stderr)
        return EXIT_USAGE
    if args.all:
        return _run_all(args)
    try:
        target, warnings = find_bot(args.config, args.state_dir, args.name)
    except ConfigError as exc:
        print(f"mmtrio status: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for warning in warnings:
        print(f"mmtrio status: warning: {warning}", file=sys.stderr)
    if target.control_socket is None:
        print("mmtrio status: no control socket is known; pass --state-dir DIR", file=sys.stderr)
        return EXIT_FAILED
    try:
        answer = control_request(target.control_socket, {"cmd": "status"})
    except MmtrioError as exc:
        print(f"mmtrio status: bot {target.bot or '?'}: {exc}", file=sys.stderr)
        if not target.control_socket.exists() and args.state_dir is None:
            from mmtrio.cli.kill import known_bots

            # e.g. `run --set venue.name=extended` runs extended-paper; this looked for the
            # file's venue: say which bots there are
            print(known_bots(), file=sys.stderr)
        return EXIT_FAILED
    if not answer.get("ok"):
        print(f"mmtrio status: {answer.get('error')}", file=sys.stderr)
        return EXIT_FAILED
    snap = answer.get("status", {})
    print(status_line(snap) if args.text else json.dumps(snap, indent=1))
    return EXIT_OK


def find_bots(root: Path) -> list[Path]:
    """State directories under ``root``: sub-directories holding a lock or a control socket."""
    if not root.is_dir():
        return []
    return sorted(
        d
        for d in root.iterdir()
        if d.is_dir() and ((d / "lock").exists() or (d / "control.sock").exists())
    )


def bot_entry(state_dir: Path) -> dict[str, Any]:
    """One bot of ``status --all``: name, state dir, and its status or why there is none."""
    from mmtrio.errors import MmtrioError
    from mmtrio.runtime.control import control_request

    entry: dict[str, Any] = {"bot": state_dir.name, "state_dir": str(state_dir)}
    sock = state_dir / "control.sock"
    if not sock.exists():
        entry.update(running=False, error="not running (no control socket)")
        return entry
    try:
        answer = control_request(sock, {"cmd": "status"})
    except MmtrioError as exc:
        entry.update(running=False, error=str(exc))
        return entry
    if not answer.get("ok"):
        entry.update(running=False, error=str(answer.get("error")))
        return entry
    entry.update(running=True, status=answer.get("status", {}))
    return entry


def _run_all(args: argparse.Namespace) -> int:
    from mmtrio.cli import EXIT_FAILED, EXIT_OK
    from mmtrio.config.locations import state_root
    from mmtrio.runtime.status import status_line

    root = Path(args.state_root) if args.state_root else state_root()
    bots = [bot_entry(d) for d in find_bots(root)]
    if args.text:
        if not bots:
            print(f"no bots under {root}")
        for b in bots:
            line = status_line(b["status"]) if b["running"] else f"{b['bot']}: {b['error']}"
            print(f"{b['bot']:<20} {line}")
    else:
        print(json.dumps({"state_root": str(root), "bots": bots}, indent=1))
    return EXIT_OK if any(b["running"] for b in bots) else EXIT_FAILED
