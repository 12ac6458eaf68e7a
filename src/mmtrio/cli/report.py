"""Report a bot's session from its journal: P&L with attribution, fills, markouts, inventory.

`mmtrio report --journal STATE_DIR/journal.sqlite3` prints a text summary of the latest
session (since the last `start` record). --since takes an ISO time (UTC if no zone), epoch
milliseconds, or a relative age like -1h, -30m, -2d, -90s. --json prints the machine-readable
document (schema "mmtrio.report/2"); --html FILE writes a self-contained page with the equity
curve, inventory and markouts by side. Without --journal, the journal of --state-dir DIR is
read, else that of --config's runtime.state_dir (with --name BOT: the state directory of
`mmtrio run --name BOT`, found by the same function). The journal is opened read-only: safe
while the bot runs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmtrio.cli.common import (
    STATE_DIR_HELP,
    add_config_option,
    add_name_option,
    check_target_flags,
    load_command_config,
    output_path,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mmtrio.config import Config
    from mmtrio.core.instruments import Instrument
    from mmtrio.reporting.charts import InventoryLimits
    from mmtrio.reporting.timeline import Marker

NAME = "report"
HELP = "session P&L, fills, markouts and drawdown from a bot's journal (text, JSON or HTML)"
EPILOG = """\
examples:
  mmtrio report                                # latest session of config.toml's state dir
  mmtrio report --journal ~/.local/state/mmtrio/binance-paper/journal.sqlite3 --since -1h
                                               # a foreground paper bot's journal (systemd:
                                               # /var/lib/mmtrio/<bot>/journal.sqlite3)
  mmtrio report --name btc1                    # a bot started with `mmtrio run --name btc1`
  mmtrio report --state-dir /var/lib/mmtrio/btc1   # no config file needed
  mmtrio report --json > session.json
  mmtrio report --html report.html

exit codes: 0 done; 1 the HTML file could not be written (a full disk: its directory is checked
before any work, and a missing or read-only one is exit 2); 2 bad arguments, or a journal that
cannot be read or reported (one line naming why)
"""

_RELATIVE = re.compile(r"^-(\d+(?:\.\d+)?)([smhd])$")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--journal", metavar="PATH", help="journal file (<state_dir>/journal.sqlite3)"
    )
    add_config_option(
        parser,
        "take the journal (and the inventory limits drawn in --html) from this config "
        "(default: ./config.toml if present, else the packaged default)",
    )
    add_name_option(parser)
    parser.add_argument("--state-dir", metavar="DIR", default=None, help=STATE_DIR_HELP)
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


def _journal_and_config(args: argparse.Namespace) -> tuple[Path, Config | None]:
    """The journal to read and, when a config is at hand, that config (its inventory limits
    are drawn on the charts).

    ``--journal`` alone reads that file and ``--state-dir DIR`` the journal in it (limits
    only with ``--config`` too); otherwise the config resolved like every command's
    (``--config``, ./config.toml, packaged default; ``--name`` applied as `mmtrio run --name`
    applies it) names the state directory. Raises ``ConfigError`` for flags that contradict.
    """
    from mmtrio.errors import ConfigError
    from mmtrio.runtime.journal import JOURNAL_NAME

    check_target_flags(args.name, args.state_dir)
    if args.journal and (args.state_dir or args.name):
        flag = "--state-dir" if args.state_dir else "--name"
        raise ConfigError(f"--journal and {flag} both say which journal to read; pass one")
    if not (args.journal or args.state_dir):
        config, _ = load_command_config(args.config, args.name)
        return Path(config.runtime.state_dir) / JOURNAL_NAME, config
    given = None if args.config is None else load_command_config(args.config, args.name)[0]
    if args.journal:
        return Path(args.journal), given
    return Path(args.state_dir).expanduser() / JOURNAL_NAME, given


def _limits(config: Config | None, instrument: Instrument) -> InventoryLimits | None:
    """risk.max_position and its bands in the journal's instrument lots (ConfigError when
    the config's sizes are not whole lots of it: that config did not run this journal)."""
    from mmtrio.config.strategy import size_lots
    from mmtrio.reporting.charts import InventoryLimits

    if config is None:
        return None
    r = config.risk
    _, max_lots = size_lots(config, instrument)
    return InventoryLimits(max_lots, r.warn_fraction, r.critical_fraction, r.hard_fraction)


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
    from mmtrio.reporting.timeline import read_markers, read_resumes, read_timeline

    try:
        if args.html:  # before any work, as `backtest --html`: a typo is exit 2, not a lost page
            output_path(args.html, "--html")
        path, config = _journal_and_config(args)
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
            if not found:
                raise ValueError(
                    f"{path} has no fills or mid samples since {_utc(since)}: nothing to report "
                    "(an earlier --since widens the window)"
                )
            if len(found) > 1:
                raise ValueError(
                    f"{path} has several symbols since {_utc(since)}: {', '.join(found)}; pass "
                    "--symbol"
                )
            symbol = found[0]
        data = read_report_input(conn, symbol, since)
        limits = _limits(config, data.instrument)
        report = compute_report(data)
        timeline = read_timeline(conn, symbol, since, data.end_ms) if args.html else None
        resumes = timeline.resumes if timeline else read_resumes(conn, since, data.end_ms)
        markers = timeline.markers if timeline else read_markers(conn, since, data.end_ms)
        conn.close()
        # Rendered here, inside the error handling: a report that cannot be printed (parts
        # that do not add up, a record read wrongly) is one line naming it, not a traceback.
        doc = report.to_json()
        doc.update(_events_json(markers, report.end_ms or 0))
        doc["resumes"] = [r.to_json() for r in resumes]
        text = json.dumps(doc, indent=2) if args.json else format_text(doc)
        page = None
        if args.html:
            from mmtrio.reporting.html import render_html

            page = render_html(report, timeline, limits)
    except (MmtrioError, ValueError) as exc:
        print(f"mmtrio report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if page is not None:
        try:
            Path(args.html).write_text(page, encoding="utf-8")
        except OSError as exc:
            print(
                f"mmtrio report: cannot write {args.html}: {exc.strerror or exc}", file=sys.stderr
            )
            return EXIT_FAILED
    print(text)
    if page is not None:
        print(f"HTML report written to {args.html}", file=sys.stderr)
    return EXIT_OK


def _utc(ms: int | None) -> str:
    from mmtrio.reporting.html import utc

    return utc(ms)


def _price(inst: Instrument, text: str) -> str:
    """A journal price (a decimal string; an average entry may lie between ticks) rounded
    to the half tick, the precision of a mid."""
    from decimal import Decimal

    from mmtrio import units

    return units.mid_price(inst, float(Decimal(text) / inst.tick_size))


def format_text(doc: dict[str, Any]) -> str:
    """The human summary printed without --json: UTC times, figures rounded like the screen."""
    from decimal import Decimal

    from mmtrio import units
    from mmtrio.core.instruments import Instrument
    from mmtrio.reporting.html import duration
    from mmtrio.reporting.pnl import printed_parts

    inst = Instrument.from_json(doc["instrument"])
    q, b = inst.quote_asset, inst.base_asset
    pnl = doc["pnl"]
    attribution = doc["attribution"]
    fills = doc["fills"]
    orders = doc["orders"]
    inventory = doc["inventory"]
    drawdown = doc["drawdown"]
    markouts = doc["markouts"]
    start, end = doc["start_ms"], doc["end_ms"]
    span = "" if start is None or end is None else f" ({duration(end - start)})"
    lines = [f"{doc['symbol']}  {_utc(start)} → {_utc(end)}{span}"]
    money = printed_parts(pnl, attribution)  # rounded together: they add up as printed
    lines.append(f"P&L ({q}; fees are a cost, negative; {doc['pnl_convention']})")
    lines += [f"  {k:<14} {units.money(v):>12}" for k, v in money.pnl().items()]
    lines.append(f"attribution ({q}; the parts add up to equity)")
    lines += [f"  {k:<14} {units.money(v):>12}" for k, v in money.attribution().items()]
    share = fills["maker_share"]
    lines.append(
        f"fills {fills['count']} (buy {fills['buys']} / sell {fills['sells']}), volume "
        f"{units.size(inst, fills['volume_lots'])} {b} "
        f"({units.money(Decimal(fills['volume_quote']), signed=False)} {q}), maker share "
        f"{'-' if share is None else f'{share:.1%}'}"
    )
    qtt = orders["quote_to_trade"]
    lines.append(
        f"orders place {orders['place']} amend {orders['amend']} cancel {orders['cancel']}, "
        f"order messages per fill {'-' if qtt is None else f'{qtt:.1f}'}"
    )
    if inventory["opening_lots"]:
        lines.append(
            f"carried in {units.size(inst, inventory['opening_lots'], signed=True)} {b} "
            f"(cost basis {_price(inst, inventory['opening_cost_basis'])}, valued at the "
            f"opening mid {_price(inst, inventory['opening_valued_at'])} {q})"
        )
    if inventory.get("adoptions"):
        lines.append(
            f"adopted from the venue {units.size(inst, inventory['adopted_lots'], signed=True)} "
            f"{b} ({inventory['adoptions']} reconciliation(s); valued in the reconciliation "
            "part): carried in + fills + adopted = final"
        )
    lines.append(
        f"inventory final {units.size(inst, inventory['final_lots'], signed=True)} {b}, max "
        f"|{units.size(inst, inventory['max_abs_lots'])}| {b}; max drawdown "
        f"{units.money(Decimal(drawdown['max']), signed=False)} {q} at {_utc(drawdown['at_ms'])}"
    )
    lines.append("markouts (mean bps, fills)")
    for side, cells in markouts.items():
        parts = []
        for h, cell in cells.items():
            mean = "-" if cell["mean_bps"] is None else units.bps(cell["mean_bps"])
            parts.append(f"{int(h) / 1000:g}s {mean} ({int(cell['count'])})")
        lines.append(f"  {side:<5} " + "  ".join(parts))
    lines += _halt_lines(doc.get("halts", []))
    lines += _kill_lines(doc.get("kills", []))
    lines += _resume_lines(doc.get("resumes", []))
    return "\n".join(lines)


def _events_json(markers: Sequence[Marker], end_ms: int) -> dict[str, Any]:
    """The halts and kills in the window, as the HTML report's table lists them."""
    from mmtrio.reporting.timeline import halts

    return {
        "halts": [
            {
                "from_ms": h.t0,
                "to_ms": h.t1,
                "duration_ms": h.t1 - h.t0,
                "ongoing": h.ongoing,
                "reason": h.reason,
            }
            for h in halts(markers, end_ms)
        ],
        "kills": [
            {"ts_ms": m.ts, "reason": m.reason, "flatten": m.flatten}
            for m in markers
            if m.kind == "kill"
        ],
    }


def _halt_lines(halts: list[dict[str, Any]]) -> list[str]:
    """Every HALTED period: when it began, how long it lasted, and why."""
    from mmtrio.reporting.html import duration

    if not halts:
        return ["halts none"]
    lines = [f"halts {len(halts)}"]
    for h in halts:
        still = " (still halted at the report's end)" if h["ongoing"] else ""
        lines.append(
            f"  {_utc(h['from_ms'])}  halted for {duration(h['duration_ms'])}{still}: {h['reason']}"
        )
    return lines


def _kill_lines(kills: list[dict[str, Any]]) -> list[str]:
    """Every kill switch engaged: when, and who or what engaged it (the reason says)."""
    if not kills:
        return ["kills none"]
    lines = [f"kills {len(kills)}"]
    for k in kills:
        flatten = " (with flatten)" if k["flatten"] else ""
        lines.append(f"  {_utc(k['ts_ms'])}  kill switch{flatten}: {k['reason']}")
    return lines


def _resume_lines(resumes: list[dict[str, Any]]) -> list[str]:
    """Every operator resume in the window: when, how, the operator's reason, and for a
    refused one what refused it."""
    if not resumes:
        return ["resumes none"]
    lines = [f"resumes {len(resumes)}"]
    for r in resumes:
        line = (
            f"  {_utc(r['ts_ms'])}  {'resumed' if r['accepted'] else 'REFUSED'}  "
            f"{r['how']}, reason: {r['reason']}"
        )
        if r["refused_because"] is not None:
            line += f"; refused: {r['refused_because']}"
        lines.append(line)
    return lines
