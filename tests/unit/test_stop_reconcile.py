"""The stop's final reconciliation (``runtime.recovery.reconcile_at_stop``) when the journal
refuses what it books: a fake venue, the real MarketMaker.

DST seed 205635: the journal failed (a full disk), a fill raced the stop's cancel-all, and the
final reconciliation's first refused record ended the pass before it logged the position; the
bot stopped believing it was flat with 2 lots left open (its log and its exit summary said so).
"""

from __future__ import annotations

from typing import Any

from loguru import logger

from mmtrio.core.events import Event, Side
from mmtrio.errors import JournalError
from mmtrio.runtime.reconcile import ReconcileReport
from mmtrio.runtime.recovery import reconcile_at_stop
from tests.unit.test_reconcile import IDS, FakeVenue, fill_of, trade
from tests.unit.test_strategy import SYM, quoting_session


class Journal:
    """The recorder and the sink of the final pass: ``stopped`` refuses every record."""

    def __init__(self, *, stopped: bool) -> None:
        self.stopped = stopped
        self.events: list[Event] = []
        self.records: list[Any] = []

    def record(self, event: Event) -> object:
        if self.stopped:
            raise JournalError("the journal writer has stopped: database or disk is full")
        self.events.append(event)
        return None

    def append(self, record: Any) -> int:
        if self.stopped:
            raise JournalError("the journal writer has stopped: database or disk is full")
        self.records.append(record)
        return len(self.records)


async def final_pass(journal: Journal, lines: list[str]) -> tuple[ReconcileReport, int, int]:
    """A bid of ours filled at the venue while the stop cancelled: (report, lots, venue lots)."""
    s, bid, _ = quoting_session()
    venue = FakeVenue()
    venue.fill(trade(10, Side.BUY, qty=bid.qty, order_id=1))
    venue.states[bid.client_id] = fill_of(bid.client_id, 10, Side.BUY, bid.qty, bid.qty)
    sink = logger.add(lambda m: lines.append(str(m)), level="INFO", format="{message}")
    try:
        report = await reconcile_at_stop(
            venue,
            s.mm,
            SYM,
            since_trade_id=9,
            tolerance_lots=0,
            known_trade_ids=set(),
            is_ours=IDS.is_ours,
            clock_ms=lambda: 5_000,
            wall_ms=lambda: 5_000,
            record=journal.record,
            sink=journal,  # type: ignore[arg-type]
        )
    finally:
        logger.remove(sink)
    return report, s.mm.ledger.position_lots, venue.lots


async def test_a_fill_that_raced_the_stop_is_booked_journaled_and_checkpointed() -> None:
    journal = Journal(stopped=False)
    lines: list[str] = []
    report, lots, venue_lots = await final_pass(journal, lines)
    assert report.missed_fills == [10] and lots == venue_lots == 3
    assert any(getattr(e, "fill", None) is not None for e in journal.events)
    assert [r.payload["phase"] for r in journal.records] == ["stop"]


async def test_a_journal_that_refuses_the_pass_does_not_keep_it_from_the_position() -> None:
    journal = Journal(stopped=True)
    lines: list[str] = []
    report, lots, venue_lots = await final_pass(journal, lines)  # was: JournalError
    # booked all the same, and said: the log and the exit summary state the venue's position
    assert report.missed_fills == [10] and lots == venue_lots == 3
    assert report.our_position == report.venue_position == 3 and not report.halted
    said = [line for line in lines if "position venue" in line]
    assert said and "position venue 0.003 BTC (3 lots) / ours 0.003 BTC (3 lots)" in said[-1]
    # no checkpoint past a fill the journal lacks: the next start reads it from the venue
    assert journal.records == []
    assert any("applied to the books but not journaled" in line for line in lines)
