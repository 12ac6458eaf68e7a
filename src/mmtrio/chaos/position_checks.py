"""Invariants 1 and 2 (pure): every venue fill journaled once (1); the bot's position equal
to the venue's at every quiescent point, and no reconciliation halted on a mismatch (2).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mmtrio.chaos.barred import settle_start
from mmtrio.chaos.evidence import JournalRecord, Snapshot, Violation
from mmtrio.chaos.logs import LOTS_PATTERN as _LOTS

# 1 -------------------------------------------------------------------------------------------
_BEFORE_ANY_PAST = frozenset({"fill", "order_sent", "order_update", "order_outcome", "position"})


def adopted_history(records: Sequence[JournalRecord]) -> int | None:
    """The venue trade id through which the journal's first start adopted the venue's
    history, or None when it has no such start.

    A bot whose journal is new (no start reconciliation, no fill: ``runtime/recovery.py``)
    takes the venue's past as it finds it: the position is adopted and the venue's trades up
    to the last one listed, its checkpoint, are inside it, never journaled one by one (an
    account may hold years of trades). Those trades are no fill this bot lost, so invariant 1
    does not judge them. The judge decides this from the journal, not from the bot's own
    words: only when the journal's first reconciliation is a start one and nothing of a past
    (a fill, an order, a position) was journaled before it. Chaos seed 1714 on OKX (load
    ~20): the run's first bot took 20 s to import, its journal_full fault refused the journal
    at open, and the harness's foreign order filled meanwhile; the restart found a new
    journal and adopted that trade inside the venue's 2 lots, and the judge called it lost."""
    for r in records:
        if r.kind in _BEFORE_ANY_PAST:
            return None
        if r.kind == "reconcile":
            tid = r.payload.get("checkpoint_trade_id")
            if r.payload.get("phase") != "start" or tid is None:
                return None
            return int(tid)
    return None


def check_fills(
    venue_fills: Sequence[Mapping[str, Any]],
    journal_trade_ids: Iterable[int],
    fill_record_ids: Iterable[int],
    cutoff: int | None = None,
    adopted_through: int | None = None,
) -> list[Violation]:
    """Every venue fill is journaled once by trade id; the journal has no fill the venue lacks.

    ``cutoff``: only the first N venue fills are judged (the final SIGKILL's). The venue's
    fills up to the one with trade id ``adopted_through``, in the venue's own (time) order,
    are the history a new journal adopted (:func:`adopted_history`); an id the venue never
    made spares nothing."""
    out: list[Violation] = []
    venue = list(venue_fills)
    all_venue_ids = {int(f["trade_id"]) for f in venue}
    checked = venue if cutoff is None else venue[:cutoff]
    adopted = [i for i, f in enumerate(venue) if int(f["trade_id"]) == adopted_through]
    first_judged = adopted[0] + 1 if adopted else 0
    journal = set(journal_trade_ids)
    for f in checked[first_judged:]:
        tid = int(f["trade_id"])
        if tid not in journal:
            out.append(
                Violation(
                    1, None, f"fill lost: venue trade {tid} ({f.get('client_id')}) not in journal"
                )
            )
            break
    extra = sorted(journal - all_venue_ids)
    if extra:
        out.append(
            Violation(1, None, f"journal has fills the venue never made: trade ids {extra[:5]}")
        )
    doubled = sorted(t for t, n in Counter(fill_record_ids).items() if n > 1)
    if doubled:
        out.append(Violation(1, None, f"fill doubled in the journal: trade ids {doubled[:5]}"))
    return out


# 2 -------------------------------------------------------------------------------------------
_RECONCILE_HALT = re.compile(
    rf"reconcile: .*position venue {_LOTS} / ours {_LOTS}.*HALT: position mismatch"
)


def check_reconcile_halts(lines: Iterable[tuple[int, str]]) -> list[Violation]:
    """The bot's reconciliation found its position off the venue's beyond its tolerance."""
    for ts, text in lines:
        m = _RECONCILE_HALT.search(text)
        if m:
            return [
                Violation(
                    2,
                    ts,
                    f"the bot's reconciliation found position venue {m.group(1)} lots / bot "
                    f"{m.group(2)} lots and halted: {text.strip()[:160]}",
                )
            ]
    return []


def bot_positions(records: Sequence[JournalRecord]) -> list[tuple[int, int]]:
    """(local_ts_ms, lots) of the bot's OWN ledger position, from its ``reconcile`` records.

    Not the ``position`` records: those journal the venue's ACCOUNT_UPDATE messages as they
    arrived, and a faulted user stream can lose the last one while the bot's ledger (fed by
    the reconciler's missed fills) is right (seed 5008 judged the bot by a stale echo).
    """
    return [
        (r.local_ts_ms, int(r.payload["position_lots"]))
        for r in records
        if r.kind == "reconcile" and r.payload.get("position_lots") is not None
    ]


def position_samples(
    snapshots: Sequence[Snapshot],
    records: Sequence[JournalRecord],
    settle_ms: int,
    logged: Sequence[tuple[int, int]] = (),
    starts: Sequence[int] = (),
    *,
    barred: Sequence[tuple[int, int]] = (),
) -> list[tuple[int, int, int]]:
    """(wall_ms, bot_lots, venue_lots) at quiescent points.

    A snapshot is quiescent when the bot was alive and the venue's fills and position had not
    changed for ``settle_ms`` before it (the bot had a reconciliation interval to learn every
    fill, even one whose user-stream event was lost): the polls show the same state from one
    at or before the window's start on (a change is known only to precede the first poll
    that shows it). Time in ``barred`` (the venue's
    Retry-After windows and held responses, :func:`barred_windows`) does not count towards
    ``settle_ms``: a bot told to wait cannot ask, nor learn before the venue answers (chaos
    seed 139: a fill made while the user stream was down, then two 429s in a row; the bot
    learned it at the first request the venue allowed, 3.8 s on). The bot's position is its
    last journaled ledger position (:func:`bot_positions`) or status-line position
    (``logged``) at that time; points before the first of those are skipped. ``starts`` are
    the wall times the bot process (re)started: only what the process alive at a point has
    stated counts there (chaos seed 45: a restarted bot still in its start-up was judged by its
    predecessor's position).
    """
    # By time only, stable: two statements in one millisecond keep their written order (a
    # plain tuple sort let the larger lot count win a tie, whichever came later).
    positions = sorted(bot_positions(records) + list(logged), key=lambda p: p[0])
    out: list[tuple[int, int, int]] = []
    for i, snap in enumerate(snapshots):
        if not snap.bot_alive:
            continue
        since = settle_start(snap.wall_ms, settle_ms, barred)
        window = [s for s in snapshots[: i + 1] if s.wall_ms >= since]
        # the polled history must cover the whole settle window (and have no long poll gap)
        if snapshots[0].wall_ms > since or window[0].wall_ms > since + 1_000:
            continue
        if any(not s.bot_alive for s in window):
            continue
        # The venue's state must be the same from a poll at or before ``since`` on: a change
        # first seen by the window's first poll may have happened right before that poll,
        # after ``since`` (DST seed 101565: a fill between the polls at 40.039 s and 40.415 s,
        # judged at 43.659 s with ``since`` at 40.159 s, 3.26 s after it).
        last_before = max(j for j, s in enumerate(snapshots[: i + 1]) if s.wall_ms <= since)
        if any(
            s.n_fills != snap.n_fills or s.position_lots != snap.position_lots
            for s in snapshots[last_before : i + 1]
        ):
            continue
        born = max((t for t in starts if t <= snap.wall_ms), default=None)
        known = [
            lots for ts, lots in positions if ts <= snap.wall_ms and (born is None or ts >= born)
        ]
        if any(ts == snap.wall_ms for ts, _ in positions):
            # A statement in the snapshot's own millisecond cannot be ordered against it (DST
            # seed 44 at 10.5 s: the venue was polled at 9.000 s before a fill it matched at
            # 9.000 s, which the bot booked and logged at 9.000 s: "bot -4, venue -6").
            continue
        if known:
            out.append((snap.wall_ms, known[-1], snap.position_lots))
    return out


def check_positions(samples: Iterable[tuple[int, int, int]]) -> list[Violation]:
    """The bot's position equals the venue's at every quiescent point (first mismatch)."""
    for wall_ms, bot, venue in samples:
        if bot != venue:
            return [
                Violation(
                    2,
                    wall_ms,
                    f"position mismatch at quiescence: bot {bot} lots, venue {venue} lots",
                )
            ]
    return []
