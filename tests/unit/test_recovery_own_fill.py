"""A fill of the bot's OWN order made while it was down is booked as that order's fill.

Operator QA (Binance testnet mode against ``mmtrio sim``): the bot was short with its order
``mmt1-7`` (venue order id 7) resting, was killed with ``kill -9``, the order filled, and the
restart booked the fill with an empty client id, journaled the order as PARTIALLY_FILLED
with ``cum_qty`` 0 after a full fill, and logged it as "an order this bot does not know (the
venue's own, e.g. a liquidation, or another client's)". Binance's ``userTrades`` gives the
venue's order id only, and the new process's tracker and the venue's open orders no longer
know the order: the journal does. Here recover_at_start runs over a real journal and a fake
venue (``tests/unit/test_reconcile.py``) across simulated kill -9s.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import trio

from mmtrio.core.commands import PlaceOrder
from mmtrio.core.events import ExecType, OrderStatus, OrderUpdate, Side, TimeInForce
from mmtrio.core.instruments import BTCUSDT
from mmtrio.core.strategy import MarketMaker
from mmtrio.runtime import journal_schema as js
from mmtrio.runtime.journal import Journal
from mmtrio.runtime.journal_recorder import JournalRecorder
from mmtrio.runtime.journal_writer import JournalWriter
from mmtrio.runtime.reconcile import ReconcileReport
from mmtrio.runtime.recovery import StartArgs, recover_at_start
from tests.unit.test_reconcile import IDS, FakeVenue, new_mm, trade
from tests.unit.test_strategy import MID, SYM

FOREIGN = "an order this bot does not know"
OWN = "a missed fill of this bot's own order"

Placed = Callable[[JournalWriter, JournalRecorder, int], None]


def placed(cid: str, order_id: int, side: Side, qty: int) -> Placed:
    """What the trading loop journals for one resting order: sent, then the venue's NEW."""

    def write(writer: JournalWriter, recorder: JournalRecorder, now: int) -> None:
        cmd = PlaceOrder(cid, SYM, side, MID - 50, qty, TimeInForce.POST_ONLY)
        writer.append(js.order_sent(cmd, now))
        new = OrderUpdate(
            SYM, cid, order_id, side, ExecType.NEW, OrderStatus.NEW, MID - 50, qty, 0,
            TimeInForce.POST_ONLY, False, now,
        )  # fmt: skip
        recorder.event(new, now)

    return write


async def session(
    state: Path, venue: FakeVenue, *orders: Placed
) -> tuple[ReconcileReport, MarketMaker]:
    """One process: start-up recovery, then ``orders`` journaled; then 'killed'."""
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
        for write in orders:
            write(writer, recorder, 1_000)
        await writer.flush()
        nursery.cancel_scope.cancel()
    journal.close()
    return report, mm


def journaled(state: Path, kind: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(state / "journal.sqlite3")
    try:
        rows = conn.execute("SELECT payload FROM records WHERE kind = ? ORDER BY seq", (kind,))
        return [json.loads(text) for (text,) in rows]
    finally:
        conn.close()


def fill_lines(mm: MarketMaker) -> list[str]:
    return [n.message for n in mm.log.last_fills]


async def test_own_order_filled_while_down_is_booked_against_it_once(tmp_path: Path) -> None:
    venue = FakeVenue()
    # The bot is short 2 lots, its buy t1-7 (venue id 7) resting; then kill -9.
    venue.fill(trade(3, Side.SELL, qty=2, order_id=5))
    await session(tmp_path, venue)  # a new journal: that sell is adopted history
    await session(tmp_path, venue, placed("t2-7", 7, Side.BUY, 2))
    # While no process runs, t2-7 fills in full; the venue's trade list names order 7 only,
    # and the venue's order query no longer knows it (the fallback is the journal's facts).
    venue.fill(trade(9, Side.BUY, qty=2, order_id=7))
    report, mm = await session(tmp_path, venue)

    assert report.missed_fills == [9] and report.position_gap == 0
    assert mm.ledger.position_lots == venue.lots == 0
    fills = [f for f in journaled(tmp_path, "fill") if f["trade_id"] == 9]
    assert len(fills) == 1 and fills[0]["client_id"] == "t2-7", fills
    last = journaled(tmp_path, "order_update")[-1]
    assert last["client_id"] == "t2-7" and last["order_id"] == 7 and last["trade_id"] == 9
    assert last["status"] == "FILLED" and last["cum_qty"] == 2 and last["qty"] == 2, last
    lines = fill_lines(mm)
    assert len(lines) == 1 and OWN in lines[0] and "t2-7" in lines[0], lines
    assert not any(FOREIGN in line for line in lines)
    assert not [a for a in mm.log.alerts if "did not place" in a.message], mm.log.alerts

    # The next restart books nothing again: idempotent.
    again, mm = await session(tmp_path, venue)
    assert again.missed_fills == [] and again.position_gap == 0
    assert [f["trade_id"] for f in journaled(tmp_path, "fill")] == [9]


async def test_the_venues_queried_state_wins_and_partial_fills_count_on(tmp_path: Path) -> None:
    venue = FakeVenue()
    await session(tmp_path, venue)
    await session(
        tmp_path, venue, placed("t2-4", 40, Side.SELL, 3), placed("t2-5", 50, Side.BUY, 2)
    )
    # t2-4 (3 lots) fills 1 then 2 lots: the venue forgot it, the journal counts it on.
    venue.fill(trade(11, Side.SELL, qty=1, order_id=40))
    venue.fill(trade(12, Side.SELL, qty=2, order_id=40))
    # t2-5 fills 1 of 2 lots; the venue still answers its query (it is then canceled).
    venue.fill(trade(13, Side.BUY, qty=1, order_id=50))
    venue.states["t2-5"] = OrderUpdate(
        SYM, "t2-5", 50, Side.BUY, ExecType.CANCELED, OrderStatus.CANCELED, MID - 50, 2, 1,
        TimeInForce.POST_ONLY, False, 2_000,
    )  # fmt: skip
    report, mm = await session(tmp_path, venue)

    assert report.missed_fills == [11, 12, 13] and report.position_gap == 0
    updates = {u["trade_id"]: u for u in journaled(tmp_path, "order_update") if u["trade_id"]}
    assert (updates[11]["status"], updates[11]["cum_qty"]) == ("PARTIALLY_FILLED", 1)
    assert (updates[12]["status"], updates[12]["cum_qty"]) == ("FILLED", 3)
    assert (updates[13]["status"], updates[13]["cum_qty"]) == ("CANCELED", 1)
    assert [u["client_id"] for u in updates.values()] == ["t2-4", "t2-4", "t2-5"]
    assert all(OWN in line for line in fill_lines(mm)), fill_lines(mm)


def sent_only(cid: str, side: Side, qty: int) -> Placed:
    """Killed between sending the order and journaling its accept: the send alone."""

    def write(writer: JournalWriter, recorder: JournalRecorder, now: int) -> None:
        writer.append(js.order_sent(PlaceOrder(cid, SYM, side, MID - 50, qty), now))

    return write


async def test_a_fill_of_an_order_whose_accept_was_never_journaled_is_named(
    tmp_path: Path,
) -> None:
    """The README suite's flake (test_crash_recovery, killed 0.5 s after start under load):
    the accept of the resting order was not yet committed, so the journal had no order id
    for it, and Binance's trade list names the order id only. The restart asks the venue for
    the unacknowledged placements by client id: the answer names the order."""
    venue = FakeVenue()
    await session(tmp_path, venue)
    await session(tmp_path, venue, sent_only("t2-6", Side.SELL, 1), sent_only("t2-7", Side.BUY, 2))
    venue.fill(trade(9, Side.BUY, qty=2, order_id=7))
    venue.states["t2-7"] = OrderUpdate(
        SYM, "t2-7", 7, Side.BUY, ExecType.TRADE, OrderStatus.FILLED, MID - 50, 2, 2,
        TimeInForce.POST_ONLY, False, 2_000,
    )  # fmt: skip
    report, mm = await session(tmp_path, venue)

    assert report.missed_fills == [9] and mm.ledger.position_lots == venue.lots == 2
    (fill,) = journaled(tmp_path, "fill")
    assert fill["client_id"] == "t2-7" and fill["order_id"] == 7
    last = journaled(tmp_path, "order_update")[-1]
    assert (last["client_id"], last["status"], last["cum_qty"]) == ("t2-7", "FILLED", 2)
    lines = fill_lines(mm)
    assert len(lines) == 1 and OWN in lines[0] and "t2-7" in lines[0], lines


async def test_a_fill_no_one_knows_is_still_named_foreign(tmp_path: Path) -> None:
    venue = FakeVenue()
    await session(tmp_path, venue)
    await session(tmp_path, venue, placed("t2-7", 7, Side.BUY, 2))
    # Order 8 is neither in the journal nor open at the venue: a liquidation, or another
    # client's order (Binance lists it by order id only).
    venue.fill(trade(9, Side.SELL, qty=1, order_id=8))
    report, mm = await session(tmp_path, venue)

    assert report.missed_fills == [9] and mm.ledger.position_lots == -1
    (fill,) = journaled(tmp_path, "fill")
    assert fill["client_id"] == "" and fill["order_id"] == 8
    lines = fill_lines(mm)
    assert len(lines) == 1 and FOREIGN in lines[0] and "order 8" in lines[0], lines


async def test_a_client_id_the_venue_gives_is_kept(tmp_path: Path) -> None:
    # OKX, Hyperliquid, Extended list the client id with the fill: it names the order even
    # when the journal never learnt the venue's order id (killed before the accept), and a
    # foreign client id stays foreign.
    venue = FakeVenue()
    await session(tmp_path, venue)
    await session(tmp_path, venue)
    venue.fill(replace(trade(9, Side.BUY, qty=1, order_id=70), client_id="t2-3"))
    venue.fill(replace(trade(10, Side.SELL, qty=1, order_id=71), client_id="web_1"))
    report, mm = await session(tmp_path, venue)

    assert report.missed_fills == [9, 10]
    assert [f["client_id"] for f in journaled(tmp_path, "fill")] == ["t2-3", "web_1"]
    own, other = fill_lines(mm)
    assert OWN in own and "t2-3" in own, own
    assert FOREIGN in other and "web_1" in other, other
