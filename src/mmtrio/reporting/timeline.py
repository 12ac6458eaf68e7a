"""What the report draws on the time axis besides P&L: our quotes, trading-state changes, kills.

Read from the journal (read-only, like ``journal_read``):

- **quote segments**: each of our orders' price over its life. An order's segment starts at its
  ``order_sent`` place, moves at each amend, and ends at the first of: a cancel sent for it, a
  rejection of its place, its terminal ``order_update`` (FILLED, CANCELED, EXPIRED, REJECTED),
  the next session's start, or the report's end. It is the price we *asked for*: a place the
  venue rejected (post-only would cross) shows as a segment of zero length.
- **markers**: ``state_change`` records (ACTIVE / REDUCING_ONLY / HALTED and why) and
  ``kill_switch`` records (operator kill, kill file, drawdown latch, disk guard).
- **resumes**: ``resume`` records, one per operator resume, accepted or refused
  (:func:`read_resumes`; the text and JSON report list them too, and the halts and kills
  from :func:`read_markers` and :func:`halts`).

Plain records out; the chart code (``reporting.html``) decides how they look.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from mmtrio.errors import JournalError

TERMINAL = frozenset({"FILLED", "CANCELED", "EXPIRED", "REJECTED", "EXPIRED_IN_MATCH"})
MAX_SEGMENTS = 20_000
"""A long session is thinned to the most recent segments (a chart shows no more anyway)."""


@dataclass(frozen=True, slots=True)
class QuoteSegment:
    """One order's price (ticks) on one side from ``t0`` to ``t1`` (ms)."""

    side: str
    price: int
    t0: int
    t1: int


@dataclass(frozen=True, slots=True)
class Marker:
    """A moment worth a line on the chart: kind ``state`` (with the new state) or ``kill``."""

    ts: int
    kind: str
    state: str  # ACTIVE | REDUCING_ONLY | HALTED for "state"; "KILL" for "kill"
    reason: str  # for a kill: who or what engaged it ("operator kill (control socket)", …)
    flatten: bool = False  # a kill that also closes the position


@dataclass(frozen=True, slots=True)
class ResumeEntry:
    """One operator resume: accepted or refused, with the loss-limit override or not, the
    operator's reason and the risk layer's answer (why it was refused)."""

    ts: int
    accepted: bool
    override: bool
    reason: str
    outcome: str

    @property
    def how(self) -> str:
        """Who resumed and how, in words."""
        return (
            "operator resume with the loss-limit override" if self.override else ("operator resume")
        )

    @property
    def why_refused(self) -> str | None:
        """The breach that refused it (None: accepted), without the advice that follows."""
        if self.accepted:
            return None
        why = self.outcome.removeprefix("resume refused: ")
        return why.split("; resume with the loss-limit override", 1)[0]

    def to_json(self) -> dict[str, object]:
        return {
            "ts_ms": self.ts,
            "accepted": self.accepted,
            "override": self.override,
            "how": self.how,
            "reason": self.reason,
            "refused_because": self.why_refused,
        }


@dataclass(frozen=True, slots=True)
class Timeline:
    quotes: tuple[QuoteSegment, ...]
    markers: tuple[Marker, ...]
    resumes: tuple[ResumeEntry, ...] = ()


def read_resumes(
    conn: sqlite3.Connection, since_ms: int, until_ms: int | None
) -> tuple[ResumeEntry, ...]:
    """Every ``resume`` record in ``[since_ms, until_ms]``, oldest first."""
    until = until_ms if until_ms is not None else 2**62
    out: list[ResumeEntry] = []
    rows = conn.execute(
        "SELECT seq, local_ts_ms, payload FROM records WHERE kind = 'resume' "
        "AND local_ts_ms BETWEEN ? AND ? ORDER BY seq",
        (since_ms, until),
    )
    for seq, ts, text in rows:
        try:
            p = json.loads(text)
            out.append(
                ResumeEntry(
                    int(ts),
                    bool(p["accepted"]),
                    bool(p.get("override", False)),
                    str(p.get("operator_reason") or ""),
                    str(p.get("outcome") or ""),
                )
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise JournalError(
                f"journal record seq {seq} (resume) has a malformed payload: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    return tuple(out)


def read_markers(
    conn: sqlite3.Connection, since_ms: int, until_ms: int | None
) -> tuple[Marker, ...]:
    """The state/kill markers alone (the text report's halts and kills), oldest first."""
    until = until_ms if until_ms is not None else 2**62
    out: list[Marker] = []
    rows = conn.execute(
        "SELECT seq, kind, local_ts_ms, payload FROM records WHERE kind IN "
        "('state_change', 'kill_switch') AND local_ts_ms BETWEEN ? AND ? ORDER BY seq",
        (since_ms, until),
    )
    for seq, kind, ts, text in rows:
        try:
            out.append(_marker(kind, json.loads(text), ts))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise JournalError(
                f"journal record seq {seq} ({kind}) has a malformed payload: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    return tuple(out)


def _marker(kind: str, p: dict[str, object], ts: int) -> Marker:
    if kind == "state_change":
        return Marker(ts, "state", _new_state(p), str(p.get("reason", "")))
    return Marker(ts, "kill", "KILL", str(p.get("reason", "")), bool(p.get("flatten", False)))


@dataclass(frozen=True, slots=True)
class Halt:
    """One HALTED period: from ``t0`` to ``t1`` (ms); ``ongoing`` when it had not ended by
    the report's end (``t1`` is that end)."""

    t0: int
    t1: int
    reason: str
    ongoing: bool


def halts(markers: Sequence[Marker], end_ms: int) -> list[Halt]:
    """Every HALTED period in ``markers`` (state changes), oldest first."""
    out: list[Halt] = []
    since: tuple[int, str] | None = None
    for m in markers:
        if m.kind != "state":
            continue
        if m.state == "HALTED" and since is None:
            since = (m.ts, m.reason)
        elif m.state != "HALTED" and since is not None:
            out.append(Halt(since[0], m.ts, since[1], False))
            since = None
    if since is not None:
        out.append(Halt(since[0], max(end_ms, since[0]), since[1], True))
    return out


def halt_spans(markers: Sequence[Marker], end_ms: int) -> list[tuple[int, int, str]]:
    """(start, end, reason) of every HALTED period in ``markers`` (state changes)."""
    return [(h.t0, h.t1, h.reason) for h in halts(markers, end_ms)]


def _new_state(p: dict[str, object]) -> str:
    """The state a ``state_change`` record moved to: its ``state``, or, in journals written
    before that field was filled, the ``Y`` of its reason "X -> Y: why"."""
    state = p.get("state")
    if isinstance(state, str):
        return state
    reason = str(p.get("reason", ""))
    head = reason.split(":", 1)[0]
    return head.split("->", 1)[1].strip() if "->" in head else "UNKNOWN"


def _ends_order(kind: str, p: dict[str, object]) -> bool:
    """A terminal order update, or the venue's rejection of a place."""
    if kind == "order_update":
        return p.get("status") in TERMINAL
    return kind == "order_outcome" and p.get("outcome") == "rejected" and p.get("op") == "place"


def read_timeline(
    conn: sqlite3.Connection, symbol: str, since_ms: int, until_ms: int | None
) -> Timeline:
    """Quote segments of ``symbol`` and state/kill markers in ``[since_ms, until_ms]``."""
    until = until_ms if until_ms is not None else 2**62
    open_: dict[str, tuple[str, int, int]] = {}  # client id -> (side, price, since)
    quotes: list[QuoteSegment] = []
    markers: list[Marker] = []
    last_ts = since_ms

    def close(cid: str, ts: int) -> None:
        seg = open_.pop(cid, None)
        if seg is not None:
            quotes.append(QuoteSegment(seg[0], seg[1], seg[2], ts))

    rows = conn.execute(
        "SELECT seq, kind, local_ts_ms, payload FROM records WHERE kind IN "
        "('order_sent', 'order_update', 'order_outcome', 'state_change', 'kill_switch', "
        "'start') AND local_ts_ms BETWEEN ? AND ? ORDER BY seq",
        (since_ms, until),
    )
    for seq, kind, ts, text in rows:
        last_ts = ts
        try:
            p = json.loads(text)
            if kind == "start":
                for cid in list(open_):
                    close(cid, ts)
            elif kind in ("state_change", "kill_switch"):
                markers.append(_marker(kind, p, ts))
            elif p.get("symbol", symbol) != symbol:
                continue
            elif kind == "order_sent":
                op, cid = p.get("op"), p.get("client_id")
                if not isinstance(cid, str):
                    continue
                if op in ("place", "amend") and isinstance(p.get("price"), int):
                    side = str(p.get("side") or (open_[cid][0] if cid in open_ else ""))
                    close(cid, ts)
                    open_[cid] = (side, int(p["price"]), ts)
                elif op == "cancel":
                    close(cid, ts)
            elif _ends_order(kind, p):
                close(str(p.get("client_id")), ts)
        except (ValueError, TypeError, KeyError) as exc:
            raise JournalError(
                f"journal record seq {seq} ({kind}) has a malformed payload: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    end = until_ms if until_ms is not None else last_ts
    for cid in list(open_):
        close(cid, max(end, open_[cid][2]))
    quotes.sort(key=lambda s: (s.t0, s.side, s.t1))
    resumes = read_resumes(conn, since_ms, until_ms)
    return Timeline(tuple(quotes[-MAX_SEGMENTS:]), tuple(markers), resumes)


__all__ = [
    "Halt",
    "Marker",
    "QuoteSegment",
    "ResumeEntry",
    "Timeline",
    "halt_spans",
    "halts",
    "read_markers",
    "read_resumes",
    "read_timeline",
]
