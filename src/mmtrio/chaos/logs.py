"""Reading the bot's logs: entries with their wall time, and the facts the checkers need.

Pure text parsing (no I/O): the harness reads the files, :mod:`mmtrio.chaos.invariants`
judges what is parsed here. Both of the bot's formats are understood: plain lines and
loguru JSON lines (headless runs).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from mmtrio.core.foreign import NAMED as FOREIGN_NAMED
from mmtrio.runtime.deadman import ARMED as DEADMAN_ARMED

_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3})")


def log_entries(raw: str) -> list[tuple[int, str]]:
    """A bot log as (wall_ms, text) entries, whichever format it was written in.

    Plain lines start with "YYYY-MM-DD HH:MM:SS.mmm" (local time); lines without a stamp
    (a traceback) continue the previous entry. JSON lines (loguru ``serialize``: headless
    runs) carry ``record.time.timestamp`` and the formatted ``text``, traceback included.
    """
    out: list[tuple[int, str]] = []
    for line in raw.splitlines():
        if line.startswith("{"):
            try:
                doc = json.loads(line)
                rec = doc["record"]
                ts = int(float(rec["time"]["timestamp"]) * 1000)
                out.append((ts, str(doc.get("text", rec.get("message", ""))).rstrip("\n")))
                continue
            except (ValueError, KeyError, TypeError):
                pass  # not a log record: treated as a plain line below
        m = _STAMP.match(line)
        if m:
            stamp = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f")
            out.append((int(stamp.timestamp() * 1000), line[24:]))
        elif out:
            out[-1] = (out[-1][0], out[-1][1] + "\n" + line)
        else:
            out.append((0, line))  # output before the first stamp (an early crash)
    return out


# The bot's log speaks the instrument's units (``position +0.009 BTC``); the judge works in
# lots, so a size is divided by the instrument's lot (from the journal's instrument record).
# The older lot forms (``pos=-6``, ``position -6 lots``, ``books at -6 lots``, ``(-6 -> -9
# lots)``) are still read.
_NUM = r"([+-]?\d+(?:\.\d+)?)"
_STATUS_POS = re.compile(rf"\bstatus \S+ \(\w+\) .*\| position {_NUM} (\w+) \(")
_FILL_POS = re.compile(rf"\bfill (?:BUY|SELL) .* @ \S+ \(.*\); position {_NUM} (\w+)$")
# a fill the start-up reconciliation booked, logged after its summary (trading.drain_startup)
_STARTUP_FILL = re.compile(r"\bstart-up: fill (?:BUY|SELL) ")
_REPLAY_POS = re.compile(rf"^journal: .*\bposition {_NUM} (\w+)")
_ADOPTED_POS = re.compile(
    rf"gap of [+-]\S+(?: \w+)? adopted from the venue \([^)]*? -> {_NUM} (\w+)\)"
)
# Sizes are "0.004 BTC (4 lots)"; logs from before that wrote bare lots.
LOTS_PATTERN = r"(?:\S+ \w+ \()?(-?\d+)(?: lots\))?"
_RECONCILE_POS = re.compile(
    rf"reconcile.*position venue (?:\S+ \w+ \()?-?\d+(?: lots\))? / ours {LOTS_PATTERN}"
)
_OLD_LOTS = (
    re.compile(r"\bstatus \S+ .* pos=(-?\d+) "),
    re.compile(r"lots @ -?\d+ ticks \(.*\); position (-?\d+) lots$"),
    re.compile(r"^journal: .* books at (-?\d+) lots"),
)


def _lots(qty: str, asset: str, lot: Decimal | None) -> int | None:
    """``qty`` in lots: ``asset`` "lots" is already lots; else it needs the instrument's lot."""
    if asset == "lots":
        return int(Decimal(qty))
    if lot is None:
        return None
    lots = Decimal(qty) / lot
    return int(lots) if lots == lots.to_integral_value() else None


def log_positions(
    lines: Iterable[tuple[int, str]], lot: Decimal | None = None
) -> list[tuple[int, int]]:
    """The bot's own position as its log states it: (wall_ms, lots), from the periodic status
    line, from every reconciliation summary (a restarted bot adopts the venue's position
    there before it journals any position record) and from every booked fill (chaos seed 20:
    while 429s postponed the reconciliation, the judge saw only the position before a fill),
    from a restarted bot's journal replay (what it holds before its first reconciliation,
    which a stop during start-up can pre-empt), and from the alert of a position gap adopted
    at start ("… adopted from the venue (-0.006 BTC -> -0.009 BTC)"): the start-up's fill lines
    are logged after its reconciliation summary and state the position at the fill, before
    the adoption (chaos seed 3031: judged by such a line, "bot -6, venue -9"). Those lines
    are marked ``start-up:`` and are history, not a statement of the position now: the
    summary logged before them already states what the bot holds after them (chaos seed
    2043: a snapshot fell in the 19 ms between such a fill line and the adoption line).

    ``lot``: the instrument's lot size, to turn the sizes the log speaks into lots (None: only
    lot-form lines are read)."""
    out: list[tuple[int, int]] = []
    for ts, text in lines:
        if _STARTUP_FILL.search(text):
            continue
        m = (
            _STATUS_POS.search(text)
            or _FILL_POS.search(text)
            or _REPLAY_POS.search(text)
            or _ADOPTED_POS.search(text)
        )
        if m:
            lots = _lots(m.group(1), m.group(2), lot)
            if lots is not None:
                out.append((ts, lots))
            continue
        m = _RECONCILE_POS.search(text) or next(
            (hit for pat in _OLD_LOTS if (hit := pat.search(text))), None
        )
        if m:
            out.append((ts, int(m.group(1))))
    return out


_FOREIGN = re.compile(r"foreign open orders[^:]*: (.+)$")
_FOREIGN_SEEN = re.compile(re.escape(FOREIGN_NAMED) + r"(\S+) \(venue id")


def logged_order_ids(lines: Iterable[tuple[int, str]]) -> dict[str, int]:
    """Client ids the bot's log names as foreign orders it saw: id -> first wall ms (the
    reconciler's list, or the alert on the order's first user-stream update)."""
    out: dict[str, int] = {}
    for ts, text in lines:
        m = _FOREIGN.search(text)
        if m:
            for cid in m.group(1).split(","):
                out.setdefault(cid.strip(), ts)
        seen = _FOREIGN_SEEN.search(text)
        if seen:
            out.setdefault(seen.group(1), ts)
    return out


_TRACEBACK = "Traceback (most recent call last)"
_CRITICAL = re.compile(r"(^|\|)\s*CRITICAL\b")
_SUPERVISED = re.compile(r"supervised task (\S+) failed .*; restart \d+")


def supervised_restarts(entries: Iterable[tuple[int, str]]) -> int:
    """Child tasks the bot's supervisor restarted (the crash was absorbed by design)."""
    return sum(1 for _, text in entries if _SUPERVISED.search(text.split("\n", 1)[0]))


def unsupervised_crash(raw: str) -> str | None:
    for _, text in log_entries(raw):
        head = text.split("\n", 1)[0]
        if _SUPERVISED.search(head):
            continue  # a supervised child failed and was restarted: counted, not a crash
        if _TRACEBACK in text or _CRITICAL.search(head):
            return head[:200] if _TRACEBACK not in head else text[:200]
    return None


JOURNAL_FAILED = "journal failed: "  # runtime/engine(_bot).py name the cause of such a stop
# ... and adds this when the journal failed before the process sent anything to the venue
BEFORE_VENUE = "(at start: nothing was sent to the venue)"
NO_ORDER_ENTRY = "start-up never reached the venue's order entry"  # runtime.shutdown


def first_entry_ms(raw: str, marker: str) -> int | None:
    """Wall ms of the bot's first entry whose first line holds ``marker`` (None: none does)."""
    for ts, text in log_entries(raw):
        if marker in text.split("\n", 1)[0]:
            return ts
    return None


def first_arm_ms(raw: str) -> int | None:
    """Wall ms of the bot's first "dead-man armed for …" entry (``runtime/deadman.py``
    logs it once the venue confirmed the first arm, before any order); None without one."""
    return first_entry_ms(raw, DEADMAN_ARMED)


def first_journal_failure(raw: str, fallback_ms: int) -> tuple[int, bool]:
    """Wall ms of the bot's first "journal failed: …" entry (``fallback_ms`` without one), and
    whether it came before the process had sent anything to the venue."""
    # A bot whose start-up stopped before the venue's order entry (its shutdown says so) sent
    # no order either (chaos seed 2026 on Hyperliquid: the journal failed just after the
    # instrument was read; the harness's foreign order came 10 ms after the bot had stopped).
    no_orders = NO_ORDER_ENTRY in raw
    for ts, text in log_entries(raw):
        head = text.split("\n", 1)[0]
        if JOURNAL_FAILED in head:
            return ts, BEFORE_VENUE in head or no_orders
    return fallback_ms, False
