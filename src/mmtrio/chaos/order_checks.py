"""Invariants 5, 6 and 7 (pure): no order rests at the venue unknown to the bot (5), every
cancel is resolved within its deadline (6), no order is sent from a book the bot knows is out
of sync (7).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from mmtrio.chaos.barred import settle_end
from mmtrio.chaos.evidence import JournalRecord, ProcessRecord, Snapshot, Violation

# The bot's own start-up deadline for a step (runtime.engine_startup.SESSION_START_TIMEOUT_S),
# the fallback for an incarnation with no start reconcile record: orders seen while it is still
# starting after that count as unknown. Conservative: since DST seed 213239 each finished step
# gives the next 30 s, so a start-up the venue keeps answering may reconcile later (its record
# then counts).
STARTUP_BUDGET_MS = 30_000


# 5 -------------------------------------------------------------------------------------------
def check_unknown_orders(
    snapshots: Sequence[Snapshot],
    records: Sequence[JournalRecord],
    interval_ms: int,
    grace_ms: int,
    logged_known: Mapping[str, int] | None = None,
    *,
    barred: Sequence[tuple[int, int]] = (),
    processes: Sequence[ProcessRecord] = (),
) -> list[Violation]:
    """No order rests at the venue, unknown to the bot, longer than the reconcile interval
    (time the venue barred or held the bot's requests does not count, as for invariant 2).

    The bot knows an order from its first journal record naming the client id (sent, outcome,
    update, or adoption by reconciliation), or from its log naming it (``logged_known``:
    client id -> wall ms, e.g. a foreign order its reconciliation reported). An order first
    seen open at ``t`` must be known or gone by ``t + interval + grace`` while the bot is
    alive.

    A bot process that is still starting cannot know anything yet: when the incarnation
    alive at a snapshot (``processes``) began after ``t``, the clock starts at its start-up
    reconciliation instead (its ``phase = "start"`` reconcile record), or, when it never got
    that far, :data:`STARTUP_BUDGET_MS` after it was spawned (the bot's own start-up
    deadline). Chaos seed 1632 (OKX): an order placed while the bot was down after a full
    disk was "unknown" for 3.9 s, 3 s of which the CPU-starved restart spent importing.
    """
    # The journal first, then the log: the earlier of the two counts. (Seeding this from the
    # log made every journal record of a logged id look already known and be skipped: DST
    # seed 100239 journaled a foreign order's NEW from the user stream the moment it was
    # placed, its reconciliation then failed three times (a 500, two clock skews), and the
    # order was judged unknown until the log named it 4.7 s later.)
    known: dict[str, int] = {}
    for r in records:
        cid = r.payload.get("client_id")
        if isinstance(cid, str):
            known.setdefault(cid, r.local_ts_ms)
        for o in r.payload.get("orders", ()) if r.kind == "reconcile" else ():
            ocid = o.get("client_id") if isinstance(o, Mapping) else o
            if isinstance(ocid, str):
                known.setdefault(ocid, r.local_ts_ms)
    for cid, ts in (logged_known or {}).items():
        known[cid] = min(ts, known.get(cid, ts))
    ready = _ready_times(processes, records)
    first_seen: dict[str, int] = {}
    for snap in snapshots:
        for cid in snap.open_orders:
            first_seen.setdefault(cid, snap.wall_ms)
            origin = _ready_at(ready, snap.wall_ms, first_seen[cid])
            limit = settle_end(origin, interval_ms + grace_ms, barred)
            if snap.wall_ms > limit and snap.bot_alive and known.get(cid, limit + 1) > limit:
                return [
                    Violation(
                        5,
                        snap.wall_ms,
                        f"order {cid} open at the venue since {first_seen[cid]} and still unknown "
                        f"to the bot after {snap.wall_ms - first_seen[cid]} ms "
                        f"(reconcile interval {interval_ms} ms)",
                    )
                ]
    return []


def _ready_times(
    processes: Sequence[ProcessRecord], records: Sequence[JournalRecord]
) -> list[tuple[int, int]]:
    """(spawned, ready) wall ms of each bot incarnation: ready at its start-up reconcile."""
    starts = sorted(
        r.local_ts_ms
        for r in records
        if r.kind == "reconcile" and r.payload.get("phase") == "start"
    )
    out: list[tuple[int, int]] = []
    for p in sorted(processes, key=lambda p: p.start_ms):
        done = next((t for t in starts if t >= p.start_ms), None)
        out.append((p.start_ms, done if done is not None else p.start_ms + STARTUP_BUDGET_MS))
    return out


def _ready_at(ready: Sequence[tuple[int, int]], now: int, seen: int) -> int:
    """When the incarnation alive at ``now`` could first know an order seen at ``seen``."""
    current = [done for spawned, done in ready if spawned <= now]
    return max(seen, current[-1]) if current else seen


# 6 -------------------------------------------------------------------------------------------
_RESOLVED_OUTCOMES = frozenset({"accepted", "rejected", "not_found"})
_TERMINAL = frozenset({"CANCELED", "FILLED", "EXPIRED", "REJECTED", "EXPIRED_IN_MATCH"})


def check_cancel_deadlines(
    records: Sequence[JournalRecord],
    deadline_ms: int,
    grace_ms: int,
    end_ms: int,
    *,
    barred: Sequence[tuple[int, int]] = (),
) -> list[Violation]:
    """Every cancel is resolved (confirmed, refused, terminal update or a clean reconcile)
    within the cancel deadline, unless the session ended first (a restart re-reconciles).

    ``end_ms`` is when the evidence stops (the bot's last journal record): a cancel still
    pending then is judged only if its deadline had passed by that time. Time in ``barred``
    (the venue refused or held the bot's requests, or the link to it was silent) does not
    count, as for invariants 2 and 5: nothing can resolve a cancel sent into a half-open
    link before the link answers again (chaos seeds 1642 on OKX and 1826 on Extended, each
    resolved within 0.3 s of link time but 9–14 s of wall time)."""

    def due(sent: JournalRecord) -> int:
        return settle_end(sent.local_ts_ms, deadline_ms + grace_ms, barred)

    pending: dict[str, JournalRecord] = {}
    for r in records:
        p = r.payload
        cid = p.get("client_id")
        if r.kind == "order_sent" and p.get("op") == "cancel" and isinstance(cid, str):
            pending.setdefault(cid, r)
            continue
        resolved: list[str] = []
        if (
            r.kind == "order_outcome"
            and p.get("outcome") in _RESOLVED_OUTCOMES
            and isinstance(cid, str)
        ):
            resolved = [cid] if p.get("op") in ("cancel", None) or cid in pending else []
        elif r.kind == "order_update" and p.get("status") in _TERMINAL and isinstance(cid, str):
            resolved = [cid]
        elif r.kind == "reconcile" and p.get("ok") is True:
            resolved = [c for c, s in pending.items() if s.local_ts_ms < r.local_ts_ms]
        elif r.kind in ("start", "stop"):
            # a session ended (stop, or SIGKILL then a new start): its slots are gone, and
            # the new session reconciles from the venue; not judged against the deadline
            pending.clear()
            continue
        for c in resolved:
            sent = pending.pop(c, None)
            if sent is not None and r.local_ts_ms > due(sent):
                return [_late_cancel(sent, r.local_ts_ms, deadline_ms)]
    for sent in pending.values():
        if end_ms > due(sent):
            return [_late_cancel(sent, None, deadline_ms)]
    return []


def _late_cancel(sent: JournalRecord, resolved_ms: int | None, deadline_ms: int) -> Violation:
    when = "never" if resolved_ms is None else f"after {resolved_ms - sent.local_ts_ms} ms"
    return Violation(
        6,
        sent.local_ts_ms,
        f"cancel of {sent.payload.get('client_id')} (journal seq {sent.seq}) resolved {when}; "
        f"the slot's cancel deadline is {deadline_ms} ms",
    )


# 7 -------------------------------------------------------------------------------------------
# The bot journals its state changes ("ACTIVE -> HALTED: book invalid: depth gap ...", then
# "HALTED -> ACTIVE: ..." once resynced). Judged in journal order (seq), not by timestamps.
# One loop step journals its commands first, then its samples and state-change notices: an
# order followed (through only such step records) by "-> ACTIVE" was decided in the step
# that resynced the book, from the synced book, and is legitimate.
OUT_OF_SYNC = re.compile(r"book invalid|book (is )?out of sync", re.I)
# Leaving HALTED for ACTIVE or REDUCING_ONLY: an invalid book demands HALTED, so a state below
# it means the book is valid again (chaos seed 5056: resynced after an 8 s silent link, the
# bot went HALTED -> REDUCING_ONLY for the feed's latency, not -> ACTIVE, and its reducing
# order from the synced book was judged "sent out of sync").
IN_SYNC = re.compile(r"-> (ACTIVE|REDUCING_ONLY)\b", re.I)
_STEP_KINDS = frozenset({"order_sent", "mid_sample", "state_change"})


def check_book_sync(records: Sequence[JournalRecord]) -> list[Violation]:
    """No new order (place/amend) is sent while the bot's own state says the book is invalid.

    Out of sync: from a ``state_change`` whose reason names an invalid book until the next
    transition to ACTIVE, or the next process ``start`` (a fresh process has a fresh book).
    """
    since: JournalRecord | None = None
    suspect: JournalRecord | None = None  # an order sent while out of sync, same step?
    for r in records:
        reason = str(r.payload.get("reason", ""))
        if r.kind == "start" or (r.kind == "state_change" and IN_SYNC.search(reason)):
            since = suspect = None
            continue
        if suspect is not None and r.kind not in _STEP_KINDS:
            break  # the step ended without resyncing: the order came from a stale book
        if r.kind == "state_change" and OUT_OF_SYNC.search(reason) and since is None:
            since = r
        elif (
            since is not None
            and suspect is None
            and r.kind == "order_sent"
            and r.payload.get("op") in ("place", "amend")
        ):
            suspect = r
    if suspect is None or since is None:
        return []
    return [
        Violation(
            7,
            suspect.local_ts_ms,
            f"{suspect.payload.get('op')} {suspect.payload.get('client_id')} (journal seq "
            f"{suspect.seq}) sent while the book was out of sync (since seq {since.seq}: "
            f"{str(since.payload.get('reason'))[:100]})",
        )
    ]
