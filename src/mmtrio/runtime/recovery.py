"""Crash recovery: rebuild the books from the journal, then reconcile with the venue.

After ``kill -9`` at any moment the journal holds a prefix of what the process appended
(the writer commits in append order), and the venue holds the truth. At start:

1. **Read the journal** (:func:`mmtrio.runtime.journal_view.read_journal`, a second
   read-only SQLite connection: WAL readers see every committed record). Two facts come
   from ``reconcile`` records:

   - the *baseline*: the latest ``phase = "start"`` record's position (lots, entry) and trade
     id ``T``. Its position is the venue's at that start, which includes every trade ≤ T;
   - the *watermark*: the highest ``checkpoint_trade_id`` of any phase. A checkpoint is only
     written for a T such that every venue trade ≤ T is journaled (verified against the fills
     table, see :class:`Checkpointer`), so trades after it are the only ones that can be
     missing. Without any checkpoint (a journal from before checkpoints) the highest
     journaled trade id stands in. Without any fill either, the journal is new only when it
     has no start record: a start record whose trade id is None says the venue listed no
     trade at that start, so every trade it lists now came after it and is checked (issue
     #20, finding 1: such a journal was taken for new, and a fill made while the bot was
     down after an early kill -9 was adopted into the position and never journaled).
2. **Rebuild the ledger**: the baseline position, every trade id up to ``T`` taken as booked
   (it is inside the baseline), then every journaled fill after ``T`` in trade-id order
   (:func:`rebuild_ledger`). The ledger now knows those trade ids, so the user stream or a
   venue listing repeating one later books nothing.
3. **Reconcile** (:func:`mmtrio.runtime.reconcile.reconcile`, ``startup=True``): our open
   orders cancelled (or adopted), every venue trade after the watermark that the ledger lacks
   is booked *and journaled* (against its order's client id when the journal knows the
   order: the dead process's own, :mod:`.journal_orders`), the venue position compared
   with the rebuilt books (a gap is an error line) and adopted.
4. **Checkpoint** the new baseline durably (``write_durable``) before anything is quoted.

Client ids are never reused: ``Journal.next_epoch`` is committed before any order exists.

At stop (:func:`reconcile_at_stop`) the same booking runs once more after the cancel-all, so
fills that raced the shutdown are journaled, and a ``phase = "stop"`` record holds the
books' final position next to the venue's.

Decision: a baseline pruned away by retention (a bot running longer than
``retention_days`` without a restart) degrades to replaying every journaled fill from flat;
the venue position is then adopted with a logged gap, never silently.
"""

from __future__ import annotations

from collections.abc import Callable, MutableSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from loguru import logger

from mmtrio import determinism
from mmtrio.core.events import Event, OrderUpdate
from mmtrio.core.instruments import Instrument
from mmtrio.core.ledger import Ledger
from mmtrio.core.loss_limits import LimitsState
from mmtrio.errors import JournalError
from mmtrio.runtime import journal_schema as js
from mmtrio.runtime.journal_orders import journaled_orders, unacked_places
from mmtrio.runtime.journal_view import (
    PHASE_START,
    PHASE_STOP,
    JournalView,
    journaled_ids,
    read_journal,
)
from mmtrio.runtime.reconcile import Reconcilable, ReconcileReport, reconcile, sized_lots
from mmtrio.venues.protocol import Gateway

MAX_PENDING_IDS = 200_000  # bounded memory of unverified trade ids (see Checkpointer)


class Recoverable(Reconcilable, Protocol):
    """The part of core.strategy.MarketMaker start-up recovery uses."""

    def restore_limits(self, state: LimitsState, now: int) -> None: ...


class DurableSink(Protocol):
    """runtime.journal_writer.JournalWriter, as recovery uses it."""

    def append(self, record: js.Record) -> object: ...
    async def write_durable(self, records: list[js.Record]) -> None: ...


def rebuild_ledger(ledger: Ledger, view: JournalView, now: int) -> int:
    """Baseline position, then the journaled fills after it; returns the fills replayed.

    The baseline holds every venue trade up to its trade id ``T``, and the ledger is told so
    (``booked_through``), as the start that wrote it was: a venue listing one of them again
    (Hyperliquid lists the rest of the watermark's millisecond) or a replayed fill event
    must not book it. Before, a restart with nothing traded since the last start booked
    trade ``T`` again, journaled it twice and raised a false "gap adopted" alert."""
    if view.baseline is not None:
        ledger.set_position(view.baseline.lots, view.baseline.entry_price, now)
        if view.baseline.trade_id is not None:
            ledger.booked_through(view.baseline.trade_id)
    return sum(1 for fill, mid in view.fills if ledger.on_fill(fill, mid))


def checkpoint_record(
    phase: str,
    symbol: str,
    report: ReconcileReport,
    ledger: Ledger,
    checkpoint: int | None,
    *,
    now_ms: int,
    **extra: int,
) -> js.Record:
    """The ``reconcile`` record of one pass (``ok`` unless it halted)."""
    payload: dict[str, Any] = {
        "ok": not report.halted,
        "phase": phase,
        "symbol": symbol,
        "checkpoint_trade_id": checkpoint,
        "position_lots": ledger.position_lots,
        "entry_price": ledger.entry_price,
        "venue_position_lots": report.venue_position,
        "position_gap_lots": report.position_gap,
        "missed_fills": len(report.missed_fills),
        **extra,
    }
    if report.halt_reason:
        payload["detail"] = report.halt_reason
    if report.gap_reason:
        payload["gap_reason"] = report.gap_reason
    return js.Record(js.Kind.RECONCILE, now_ms, payload)


@dataclass(slots=True)
class StartArgs:
    """What the engine passes to :func:`recover_at_start`."""

    journal_path: Path
    gateway: Gateway
    mm: Recoverable
    instrument: Instrument
    adopt: bool
    tolerance_lots: int
    known_trade_ids: MutableSet[int]
    is_ours: Callable[[str], bool]
    clock_ms: Callable[[], int]
    wall_ms: Callable[[], int]
    record: Callable[[Event], object]
    sink: DurableSink


def _recovery_text(view: JournalView, replayed: int, rebuilt: int, inst: Instrument) -> str:
    """What start-up recovered from the journal, in words and the instrument's units (a first
    start says so, instead of ``baseline None lots at trade None``)."""
    qty = f"{inst.lots_to_base(rebuilt):+} {inst.base_asset}"
    if view.is_new:
        return (
            f"first start (no earlier session journaled): position {qty}; the venue's "
            "position is adopted"
        )
    if view.baseline is None:
        base = "no position checkpoint"
    else:
        tid = view.baseline.trade_id
        trade = "" if tid is None else f" at venue trade {tid}"
        base = f"checkpoint {inst.lots_to_base(view.baseline.lots):+} {inst.base_asset}{trade}"
    checked = (
        f"venue trades after {view.watermark} are checked"
        if view.watermark is not None
        else "every venue trade is checked (the venue had listed none at the last start)"
    )
    return f"{base}, {replayed} fill(s) replayed since, position {qty}; {checked}"


async def recover_at_start(a: StartArgs) -> ReconcileReport:
    """Steps 1–4 of the module docstring; returns the startup reconciliation's report."""
    symbol = a.instrument.symbol
    view = await determinism.run_sync(read_journal, a.journal_path, a.instrument)
    replayed = rebuild_ledger(a.mm.ledger, view, a.clock_ms())
    if view.limits is not None:
        # Before the venue's missed fills and position are booked: the total continues at
        # the books the state was written with (core/loss_limits.py).
        a.mm.restore_limits(view.limits, a.clock_ms())
    a.known_trade_ids |= {f.trade_id for f, _ in view.fills}
    rebuilt = a.mm.ledger.position_lots
    logger.info("journal: {}", _recovery_text(view, replayed, rebuilt, a.instrument))

    async def journaled(order_ids: set[int], client_ids: set[str]) -> dict[int, OrderUpdate]:
        # A fill the venue lists by its order id only (Binance) of an order the dead process
        # placed: the journal names it (runtime/journal_orders.py).
        return await determinism.run_sync(
            journaled_orders, a.journal_path, symbol, order_ids, client_ids
        )

    async def unacked() -> list[str]:
        # ... or one it sent and was killed before journaling its accept: the venue names it
        return await determinism.run_sync(unacked_places, a.journal_path, symbol)

    report = await reconcile(
        a.gateway,
        a.mm,
        symbol,
        adopt=a.adopt,
        tolerance_lots=a.tolerance_lots,
        known_trade_ids=a.known_trade_ids,
        is_ours=a.is_ours,
        clock_ms=a.clock_ms,
        startup=True,
        since_trade_id=view.watermark,
        record=a.record,
        journal_new=view.is_new,
        journaled=journaled if not view.is_new else None,
        unacked=unacked if not view.is_new else None,
    )
    if not view.is_new and report.position_gap == 0:
        logger.info(
            "recovered: journal + {} missed fills = venue position {}",
            len(report.missed_fills),
            sized_lots(a.instrument, report.venue_position),
        )
    rec = checkpoint_record(
        PHASE_START,
        symbol,
        report,
        a.mm.ledger,
        report.last_trade_id,
        now_ms=a.wall_ms(),
        replayed_fills=replayed,
    )
    # Durable before the first quote: the missed fills appended above commit with it.
    await a.sink.write_durable([rec])
    return report


class Checkpointer:
    """Turns periodic passes into verified watermarks.

    Every trade id a pass reads is *pending* until the fills table holds it (the loop books
    and journals fills the pass fed it, or the stream's, shortly after). The checkpoint is the
    highest id below which nothing is pending: after a crash, trades above it are re-read.
    """

    def __init__(self, journal_path: Path, symbol: str) -> None:
        self.path = journal_path
        self.symbol = symbol
        self.pending: set[int] = set()

    async def after_pass(self, report: ReconcileReport) -> int | None:
        """The new checkpoint after ``report``'s pass, or None when it cannot advance."""
        self.pending.update(report.venue_trade_ids)
        if self.pending:
            lo, hi = min(self.pending), max(self.pending)
            done = await determinism.run_sync(journaled_ids, self.path, self.symbol, lo, hi)
            self.pending -= done
        if len(self.pending) > MAX_PENDING_IDS:
            # Fills that never reach the journal: the writer is failing; recovery re-reads.
            logger.error("{} venue trades not journaled", len(self.pending))
            self.pending = set(sorted(self.pending)[:MAX_PENDING_IDS])
        if self.pending:
            below = min(self.pending) - 1
            return below if report.last_trade_id is None else min(below, report.last_trade_id)
        return report.last_trade_id


async def reconcile_at_stop(
    gateway: Gateway,
    mm: Reconcilable,
    symbol: str,
    *,
    since_trade_id: int | None,
    tolerance_lots: int,
    known_trade_ids: MutableSet[int],
    is_ours: Callable[[str], bool],
    clock_ms: Callable[[], int],
    wall_ms: Callable[[], int],
    record: Callable[[Event], object],
    sink: DurableSink,
) -> ReconcileReport:
    """After the cancel-all: book and journal fills that raced the stop, then record the
    books' final position (``phase = "stop"``). The loop is gone, so events are stepped here.

    A journal that refuses them (its writer stopped: a full disk is what stops many a bot)
    does not end the pass: the fills are booked all the same, in memory, so the pass's log
    line and the exit summary state the position the venue holds, and no checkpoint is
    written past them (the next start books them from the venue, as any fill the journal
    lacks). DST seed 205635: the journal failed, a fill raced the cancel-all, and the first
    refused record ended the pass before it said anything; the bot stopped saying it was
    flat with 2 lots left open."""
    refused: list[JournalError] = []

    def journaled(event: Event) -> object:
        try:
            return record(event)
        except JournalError as exc:
            refused.append(exc)
            return None

    report = await reconcile(
        gateway,
        mm,
        symbol,
        adopt=False,
        tolerance_lots=tolerance_lots,
        known_trade_ids=known_trade_ids,
        is_ours=is_ours,
        clock_ms=clock_ms,
        startup=False,
        since_trade_id=since_trade_id,
        record=journaled,
    )
    if refused:
        logger.error(
            "final reconciliation: {} event(s) applied to the books but not journaled ({}); "
            "the next start reads them from the venue",
            len(refused),
            refused[0],
        )
        return report
    # Every trade read is now booked and appended before this record: a valid checkpoint.
    try:
        sink.append(
            checkpoint_record(
                PHASE_STOP, symbol, report, mm.ledger, report.last_trade_id, now_ms=wall_ms()
            )
        )
    except JournalError as exc:
        logger.error("final reconciliation: its checkpoint is not journaled ({})", exc)
    return report


__all__ = [
    "Checkpointer",
    "StartArgs",
    "checkpoint_record",
    "rebuild_ledger",
    "reconcile_at_stop",
    "recover_at_start",
]
