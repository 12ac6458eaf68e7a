"""A position gap the bot adopted from the venue is in the report: carried in + fills +
adopted = final, and the adoption's equity jump is the ``reconciliation`` part.

The QA case (OKX sim, ``position_adjust`` of 3 lots): the bot halted on the mismatch
(``reconcile`` records of phase periodic and stop with ``position_gap_lots`` 3 and the books'
4 lots), was restarted, and the start-up adopted the venue's 7 lots. ``mmtrio report`` said
carried in +0.004, fills buy 1 / sell 5 lots…, reconciliation 0 and final +0.001: the
adoption was valued at no mid (the session's first mid came after it), so its jump landed in
inventory, and nothing said where the 3 lots came from. The journals here are written with
the bot's own record builders (``runtime.recovery.checkpoint_record``, ``journal_schema``).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from mmtrio.cli import main
from mmtrio.core.events import Fill, Side
from mmtrio.core.instruments import Instrument
from mmtrio.core.ledger import Ledger
from mmtrio.reporting.journal_read import (
    _LEGACY,
    connect_readonly,
    instrument_of,
    read_report_input,
)
from mmtrio.reporting.pnl import SessionReport, compute_report
from mmtrio.runtime import journal_schema as js
from mmtrio.runtime.journal import JOURNAL_NAME, Journal
from mmtrio.runtime.journal_schema import Kind, Record
from mmtrio.runtime.journal_view import PHASE_PERIODIC, PHASE_START, PHASE_STOP
from mmtrio.runtime.reconcile import ReconcileReport
from mmtrio.runtime.recovery import checkpoint_record

SYMBOL = "BTCUSDT"  # the legacy rules: tick 0.10, lot 0.001 BTC
EPS = Decimal("1e-18")


def _mid(ts: int, bid: int, ask: int) -> Record:
    return Record(Kind.MID_SAMPLE, ts, {"symbol": SYMBOL, "bid": bid, "ask": ask})


def _fill(tid: int, side: Side, price: int, lots: int, ts: int) -> Record:
    fill = Fill(SYMBOL, tid, f"c{tid}", tid, side, price, lots, Decimal(0), "USDT", True, ts)
    return js.fill(fill, ts)  # no bid/ask: as a fill booked by start-up recovery


def _pass(
    phase: str, ts: int, books: tuple[int, str], venue: int, *, gap: int, halted: bool = False
) -> Record:
    """The ``reconcile`` record a pass writes: ``books`` is the ledger after the pass."""
    ledger = Ledger(Instrument.from_json(_LEGACY[SYMBOL]))
    ledger.set_position(books[0], Decimal(books[1]))
    report = ReconcileReport(startup=phase == PHASE_START)
    report.venue_position, report.position_gap = venue, gap
    if halted:
        report.halted = True
        report.halt_reason = "position mismatch"
    elif gap:
        report.gap_reason = "a position change without a trade of ours"
    return checkpoint_record(phase, SYMBOL, report, ledger, None, now_ms=ts)


def _journal(state_dir: Path) -> Path:
    """Session 1 buys 4 lots at 60000.0; the venue gains 3 lots behind its back: halt
    (periodic and stop records compare only). Session 2 adopts the venue's 7 lots at its
    entry 60020.0 at start, before its first mid, then sells 5 lots."""
    sessions = [
        [
            Record(Kind.START, 1, {}),
            _pass(PHASE_START, 2, (0, "0"), 0, gap=0),
            _mid(10, 600_000, 600_002),
            _fill(1, Side.BUY, 600_000, 4, 20),
            _mid(30, 600_100, 600_102),  # 60010.1: the mid when session 2 opens
            _pass(PHASE_PERIODIC, 40, (4, "60000.0"), 7, gap=3, halted=True),
            _pass(PHASE_STOP, 50, (4, "60000.0"), 7, gap=3, halted=True),
        ],
        [
            Record(Kind.START, 500, {}),
            _pass(PHASE_START, 501, (7, "60020.0"), 7, gap=3),
            _mid(600, 600_200, 600_202),  # 60020.1: the first mid after the adoption
            _fill(2, Side.SELL, 600_300, 5, 700),
            _mid(800, 600_300, 600_302),  # 60030.1
        ],
    ]
    for records in sessions:
        j = Journal.open(state_dir)
        j.next_epoch()
        j.write_batch(records)
        j.close()
    return state_dir / JOURNAL_NAME


def _report(path: Path, since_ms: int) -> SessionReport:
    conn = connect_readonly(path)
    try:
        return compute_report(read_report_input(conn, SYMBOL, since_ms=since_ms))
    finally:
        conn.close()


def _adds_up(report: SessionReport, fill_lots: int) -> None:
    """carried in + fills + adopted = final, and the parts add up to equity."""
    opening = 0 if report.opening is None else report.opening.lots
    assert opening + fill_lots + report.adopted_lots == report.position_lots == 2
    assert sum(report.attribution.values()) == report.pnl["equity"]


def test_startup_adoption_inside_the_window(tmp_path: Path) -> None:
    report = _report(_journal(tmp_path), since_ms=500)
    assert report.opening is not None and report.opening.lots == 4
    assert report.opening.cost_basis == Decimal("60000.0")
    assert report.opening.valued_at == Decimal("60010.1")
    assert report.adopted_lots == 3 and report.adoptions == 1
    _adds_up(report, -5)  # 4 − 5 + 3 = 2
    # The bot's books went from 4 lots at 60000.0 to 7 at 60020.0: the 3 lots entered at
    # (7·60020.0 − 4·60000.0)/3; valued at the first mid 60020.1 the jump is
    # 0.003·60020.1 − 0.001·(7·60020.0 − 4·60000.0).
    expected = Decimal("0.003") * Decimal("60020.1") - Decimal("0.001") * (
        7 * Decimal("60020.0") - 4 * Decimal("60000.0")
    )
    assert expected == Decimal("-0.0797")
    assert abs(report.attribution["reconciliation"] - expected) < EPS
    # Equity over the window: 4 lots from 60010.1 and the adoption, then 5 sold at 60030.0,
    # 2 left at 60030.1 — the window's equity change, whatever the parts.
    carried = Decimal("0.004") * (Decimal("60030.1") - Decimal("60010.1"))
    gap_cost = (7 * Decimal("60020.0") - 4 * Decimal("60000.0")) / 3
    adopted = Decimal("0.003") * (Decimal("60030.1") - gap_cost)
    sold = Decimal("0.005") * (Decimal("60030.0") - Decimal("60030.1"))
    assert abs(report.pnl["equity"] - (carried + adopted + sold)) < EPS


def test_startup_adoption_before_the_window_is_carried_in(tmp_path: Path) -> None:
    report = _report(_journal(tmp_path), since_ms=502)
    assert report.opening is not None and report.opening.lots == 7  # the start record's
    assert report.opening.cost_basis == Decimal("60020.0")
    assert report.adopted_lots == 0 and report.adoptions == 0
    assert report.attribution["reconciliation"] == 0
    _adds_up(report, -5)  # 7 − 5 = 2


def test_halted_passes_adopt_nothing_only_the_start_does(tmp_path: Path) -> None:
    """Over both sessions: the periodic and stop records of the halt carry a gap of 3 but
    the books' 4 lots; applying them would not change the lots but would re-price them."""
    report = _report(_journal(tmp_path), since_ms=0)
    assert report.opening is None
    assert report.adopted_lots == 3 and report.adoptions == 1
    _adds_up(report, 4 - 5)  # 0 + 4 − 5 + 3 = 2
    # At 501 the last mid is 60010.1 (t=30), the books 4 lots at the fill's 60000.0.
    expected = Decimal("0.003") * Decimal("60010.1") - Decimal("0.001") * (
        7 * Decimal("60020.0") - 4 * Decimal("60000.0")
    )
    assert abs(report.attribution["reconciliation"] - expected) < EPS


def test_cli_names_the_adopted_gap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _journal(tmp_path)
    assert main(["report", "--journal", str(path)]) == 0
    out = capsys.readouterr().out
    assert "carried in +0.004 BTC" in out
    assert "adopted from the venue +0.003 BTC (1 reconciliation(s)" in out
    assert "inventory final +0.002 BTC" in out
    assert re.search(r"reconciliation +-0\.08\n", out)
    assert main(["report", "--journal", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    inv = doc["inventory"]
    assert (inv["opening_lots"], inv["adopted_lots"], inv["final_lots"]) == (4, 3, 2)
    conn = connect_readonly(path)
    assert instrument_of(conn, SYMBOL, 10**12).base_asset == "BTC"
    conn.close()
