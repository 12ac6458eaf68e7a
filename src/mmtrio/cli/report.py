"""Report a bot's session from its journal: P&L with attribution, fills, markouts, inventory.

`mmtrio report --journal STATE_DIR/journal.sqlite3` prints a text summary of the latest
session (since the last `start` record). --since takes an ISO time (UTC if no zone), epoch
milliseconds, or a relative age like -1h, -30m, -2d, -90s. --json prints the machine-readable
document (schema "mmtrio.report/1"); --html FILE writes a self-contained page with the equity
curve, inventory and markouts by side. Without --journal, the journal of --config's
runtime.state_dir is used. The journal is opened read-only: safe while the bot runs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

NAME = "report"
HELP = "session P&L, fills, markouts and drawdown from a bot's journal (text, JSON or HTML)"
EPILOG = """\
examples:
  mmtrio report                                # latest session of config.toml's state dir
  mmtrio report --journal state/journal.sqlite3 --since -1h
  mmtrio report --json > session.json
  mmtrio report --html report.html

exit codes: 0 done; 1 the journal could not be read; 2 bad arguments
"""

_RELATIVE = re.compile(r"^-(\d+(?:\.\d+)?)([smhd])$")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--journal", metavar="PATH", help="journal file (<state_dir>/journal.sqlite3)"
    )
    parser.add_argument(
        "--config", metavar="FILE", help="take the journal from this config's runtime.state_dir"
    )
    parser.add_argument(
        "--since",
        metavar="WHEN",
        help="ISO time, epoch ms or -1h/-30m/-2d (default: session start)",
    )
    parser.add_argument("--symbol", help="instrument, if the journal holds more than one")
    parser.add_argument("--json", action="store_true", help="print the JSON document")
    parser.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")


def parse_since(text: str, now_ms: int) -> int:
    """``--since`` → epoch ms. Raises ValueError with a readable message."""
    text = text.strip()
    if m := _RELATIVE.match(text):
        return now_ms - int(float(m.group(1)) * _UNIT_MS[m.group(2)])
    if text.isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--since {text!r} is not an ISO time (2024-08-08T12:00:00), epoch ms, "
            "or a relative age (-90s, -30m, -1h, -2d)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _journal_path(args: argparse.Namespace) -> Path:
    from mmtrio.config import load_config

    if args.journal:
        return Path(args.journal)
    if args.config:
        return Path(load_config(args.config).runtime.state_dir) / "journal.sqlite3"
    raise ValueError("say which journal to report: --journal PATH or --config FILE")


def run(args: argparse.Namespace) -> int:
    from mmtrio.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
    from mmtrio.errors import MmtrioError
    from mmtrio.reporting.journal_read import (
        connect_readonly,
        last_session_start,
        read_report_input,
        symbols_in,
    )
    from mmtrio.reporting.pnl import compute_report

    try:
        path = _journal_path(args)
        conn = connect_readonly(path)
        now_ms = time.time_ns() // 1_000_000
        if args.since is not None:
            since = parse_since(args.since, now_ms)
        else:
            since = last_session_start(conn) or 0
        if args.symbol:
            symbol = args.symbol.upper()
        else:
            found = symbols_in(conn, since)
            if len(found) != 1:
                what = "no fills or mid samples" if not found else f"several: {', '.join(found)}"
                raise ValueError(f"{path} has {what} since {since} ms; pass --symbol")
            symbol = found[0]
        report = compute_report(read_report_input(conn, symbol, since))
        conn.close()
    except (MmtrioError, ValueError) as exc:
        print(f"mmtrio report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.html:
        from mmtrio.reporting.html import render_html

        try:
            Path(args.html).write_text(render_html(report), encoding="utf-8")
        except OSError as exc:
            print(f"mmtrio report: cannot write {args.html}: {exc}", file=sys.stderr)
            return EXIT_FAILED
    doc = report.to_json()
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(format_text(doc))
    if args.html:
        print(f"HTML report written to {args.html}", file=sys.stderr)
    return EXIT_OK


def format_text(doc: dict[str, Any]) -> str:
    """The human summary printed without --json."""
    pnl = doc["pnl"]
    attribution = doc["attribution"]
    fills = doc["fills"]
    orders = doc["orders"]
    inventory = doc["inventory"]
    drawdown = doc["drawdown"]
    markouts = doc["markouts"]
    lines = [f"{doc['symbol']}  from {doc['start_ms']} to {doc['end_ms']} (epoch ms)"]
    lines += [f"  {k:<14} {v}" for k, v in pnl.items()]
    lines.append("attribution")
    lines += [f"  {k:<14} {v}" for k, v in attribution.items()]
    share = fills["maker_share"]
    lines.append(
        f"fills {fills['count']} (buy {fills['buys']} / sell {fills['sells']}), volume "
        f"{fills['volume_qty']} ({fills['volume_quote']} quote), maker share "
        f"{'-' if share is None else f'{share:.1%}'}"
    )
    qtt = orders["quote_to_trade"]
    lines.append(
        f"orders place {orders['place']} amend {orders['amend']} cancel {orders['cancel']}, "
        f"quote-to-trade {'-' if qtt is None else f'{qtt:.1f}'}"
    )
    lines.append(
        f"inventory final {inventory['final_lots']} lots, max |{inventory['max_abs_lots']}| lots;"
        f" max drawdown {drawdown['max']}"
    )
    lines.append("markouts (mean bps, count)")
    for side, cells in markouts.items():
        parts = []
        for h, cell in cells.items():
            bps = cell["mean_bps"]
            parts.append(
                f"{int(h) / 1000:g}s {'-' if bps is None else f'{bps:+.2f}'} ({int(cell['count'])})"
            )
        lines.append(f"  {side:<5} " + "  ".join(parts))
    return "\n".join(lines)
