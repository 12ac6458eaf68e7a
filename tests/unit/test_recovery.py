"""recover_at_start over a real journal and a fake venue, across simulated kill -9s.

Issue #20, finding 1: a bot killed before any trade was ever journaled (its start record's
checkpoint trade id is None: the venue had listed no trade then) had a quote filled while it
was down. The restart treated the journal as new, adopted the venue's position silently and
never journaled the trade: `mmtrio report` then disagreed with the venue about fills, fees
and inventory. Recovery must book every venue trade since the journal's last known state,
and a position gap the trades do not explain is an alert with a reason, never silent.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import trio

from mmtrio.core.events import Fill, Side
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.strategy import MarketMaker
from mmtrio.runtime.journal import Journal
from mmtrio.runtime.journal_recorder import JournalRecorder
from mmtrio.runtime.journal_writer import JournalWriter
from mmtrio.runtime.reconcile import ReconcileReport
from mmtrio.runtime.recovery import StartArgs, recover_at_start
from tests.unit.test_reconcile import IDS, FakeVenue, new_mm, trade


async def _session(state: Path, venue: FakeVenue) -> tuple[ReconcileReport, MarketMaker]:
    """One process's start-up recovery; the process is then 'killed' (nothing else runs)."""
    journal = Journal.open(state)
    journal.next_epoch()
    writer = JournalWriter(journal)
    recorder = JournalRecorder(writer, lambda: 1_000)
    mm = new_mm()
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        report = await recover_at_start(
            StartArgs(
                journal_path=journal.path,
                gateway=venue,
                mm=mm,
                instrument=BTCUSDT,
                adopt=False,
                tolerance_lots=1,
                known_trade_ids=set(),
                is_ours=IDS.is_ours,
                clock_ms=lambda: 1_000,
                wall_ms=lambda: 1_000,
                record=lambda event: recorder.event(event, 1_000),
                sink=writer,
            )
        )
        await writer.flush()
        nursery.cancel_scope.cancel()
    journal.close()
    return report, mm


def _journaled_trades(state: Path) -> list[int]:
    conn = sqlite3.connect(state / "journal.sqlite3")
    try:
        return sorted(r[0] for r in conn.execute("SELECT trade_id FROM fills"))
    finally:
        conn.close()


async def test_fill_while_down_before_any_trade_was_journaled_is_booked(tmp_path: Path) -> None:
    venue = FakeVenue()
    first, _ = await _session(tmp_path, venue)
    assert first.last_trade_id is None  # the venue had no trade: the checkpoint is None
    # Killed with quotes resting; one of them fills while no process runs.
    venue.fill(trade(7, Side.SELL, qty=2))
    second, mm = await _session(tmp_path, venue)
    assert second.missed_fills == [7]
    assert _journaled_trades(tmp_path) == [7]
    assert second.position_gap == 0 and mm.ledger.position_lots == -2
    # booked as the trade it was, with its fee: not adopted as a position adjustment
    assert mm.ledger.snapshot().fees == Decimal("0.01")


async def test_a_gap_the_trades_do_not_explain_is_an_alert_with_a_reason(
    tmp_path: Path,
) -> None:
    venue = FakeVenue()
    await _session(tmp_path, venue)
    venue.fill(trade(3, Side.BUY, qty=1))
    venue.lots += 4  # and the position moved by 4 lots more without any trade of ours
    report, mm = await _session(tmp_path, venue)
    assert report.missed_fills == [3]
    assert report.position_gap == 4 and mm.ledger.position_lots == 5
    alerts = [a for a in mm.status(1_000).alerts if "position" in a.message]
    assert alerts, mm.status(1_000).alerts
    assert "+0.004 BTC" in alerts[0].message and "trade" in alerts[0].message
    assert report.gap_reason is not None and "not explain" in report.gap_reason


async def test_a_new_journal_adopts_the_venue_position_without_booking_old_trades(
    tmp_path: Path,
) -> None:
    venue = FakeVenue()
    venue.fill(trade(1, Side.BUY, qty=3))  # history from before this journal existed
    report, mm = await _session(tmp_path, venue)
    assert report.missed_fills == [] and _journaled_trades(tmp_path) == []
    assert mm.ledger.position_lots == 3 and report.gap_reason is None
    assert report.last_trade_id == 1


class SameMillisecondVenue(FakeVenue):
    """Lists the trade before ``from_id`` again, as Hyperliquid's connector lists the rest of
    the watermark's millisecond (fills of one millisecond are not ordered by ``tid``)."""

    async def user_trades(self, symbol: str, from_id: int | None) -> list[Fill]:
        self.trade_calls.append(from_id)
        return [t for t in self.trades if from_id is None or t.trade_id >= from_id - 1]


async def test_a_restart_books_nothing_the_baseline_holds_when_the_venue_lists_it_again(
    tmp_path: Path,
) -> None:
    # The baseline (the last start's position, trade id T) holds every trade <= T, but the
    # rebuilt ledger knew only the journaled fills after T: a venue listing T again booked it
    # as missed (journaled twice), then raised a false "gap adopted" alert (Hyperliquid, the
    # audit of issue 17's seed 1817; the real connector against the sim did the same).
    venue = SameMillisecondVenue()
    venue.fill(trade(1, Side.BUY, qty=3))  # history from before this journal
    first, _ = await _session(tmp_path, venue)
    assert first.last_trade_id == 1
    again, mm = await _session(tmp_path, venue)  # restarted; nothing traded meanwhile
    assert again.missed_fills == [] and again.gap_reason is None
    assert mm.ledger.position_lots == 3 and _journaled_trades(tmp_path) == []
    # A fill of ours while down: booked once at the next start, never at the one after.
    venue.fill(trade(7, Side.SELL, qty=2))
    third, _ = await _session(tmp_path, venue)
    assert third.missed_fills == [7] and third.last_trade_id == 7
    fourth, mm = await _session(tmp_path, venue)
    assert fourth.missed_fills == [] and fourth.gap_reason is None
    assert mm.ledger.position_lots == 1 and _journaled_trades(tmp_path) == [7]
