"""A report window that opens with a position: the carried position is the journal's.

Before, ``read_report_input`` read only the fills inside the window and started from flat,
so a window that opened short 0.002 and ended flat printed ``inventory final +0.002``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mmtrio.cli import main
from mmtrio.core.events import Fill, Side
from mmtrio.reporting.journal_read import connect_readonly, read_report_input
from mmtrio.reporting.pnl import compute_report
from mmtrio.runtime import journal_schema as js
from mmtrio.runtime.journal import JOURNAL_NAME, Journal
from mmtrio.runtime.journal_schema import Kind, Record


def _mid(ts: int, bid: int, ask: int) -> Record:
    return Record(Kind.MID_SAMPLE, ts, {"symbol": "BTCUSDT", "bid": bid, "ask": ask})


def _fill(tid: int, side: Side, price: int, lots: int, ts: int) -> Record:
    fill = Fill("BTCUSDT", tid, f"c{tid}", tid, side, price, lots, Decimal(0), "USDT", True, ts)
    return js.fill(fill, ts, bid=price - 1, ask=price + 1)


def _reconcile(ts: int, lots: int, entry: str, gap: int = 0, phase: str = "start") -> Record:
    payload: dict[str, Any] = {
        "ok": True,
        "phase": phase,
        "symbol": "BTCUSDT",
        "checkpoint_trade_id": None,
        "position_lots": lots,
        "entry_price": entry,
        "venue_position_lots": lots,
        "position_gap_lots": gap,
        "missed_fills": 0,
    }
    return Record(Kind.RECONCILE, ts, payload)


def _write(state_dir: Path, *sessions: list[Record]) -> Path:
    for records in sessions:
        j = Journal.open(state_dir)
        j.next_epoch()
        j.write_batch(records)
        j.close()
    return state_dir / JOURNAL_NAME


def _long_then_window(state_dir: Path) -> Path:
    """Session 1 buys 1 BTC at 60000.0; session 2 (the window, from t=500) sells half."""
    return _write(
        state_dir,
        [
            Record(Kind.START, 1, {}),
            _reconcile(2, 0, "0"),
            _mid(10, 600_000, 600_002),
            _fill(1, Side.BUY, 600_000, 1000, 20),
            _mid(100, 600_100, 600_102),  # 60010.1: the mid when the window opens
        ],
        [
            Record(Kind.START, 500, {}),
            _mid(1000, 600_200, 600_202),
            _fill(2, Side.SELL, 600_210, 500, 1500),
            _mid(2000, 600_300, 600_302),  # 60030.1
        ],
    )


def test_window_opens_with_the_position_of_earlier_fills(tmp_path: Path) -> None:
    conn = connect_readonly(_long_then_window(tmp_path))
    data = read_report_input(conn, "BTCUSDT", since_ms=500)
    conn.close()
    assert data.opening is not None
    assert data.opening.lots == 1000 and data.opening.cost_basis == Decimal("60000.0")
    assert data.opening.valued_at == Decimal("60010.1")
    report = compute_report(data)
    assert report.position_lots == 500  # 1 BTC carried in, 0.5 sold: not -0.5
    assert report.max_abs_position_lots == 1000
    # Valued at the opening mid 60010.1: realised 0.5·(60021.0 − 60010.1), unrealised
    # 0.5·(60030.1 − 60010.1).
    assert report.pnl["realised"] == Decimal("5.45")
    assert report.pnl["unrealised"] == Decimal("10.0")
    assert report.pnl["equity"] == Decimal("15.45")
    # = the equity change over the window at the cost basis 60000.0:
    # (10.5 + 15.05) at the end − 10.1 (1 BTC·(60010.1 − 60000.0)) at the start.
    assert Decimal("10.5") + Decimal("15.05") - Decimal("10.1") == report.pnl["equity"]
    assert sum(report.attribution.values()) == report.pnl["equity"]
    assert report.attribution["reconciliation"] == 0


def test_window_opens_from_the_recovered_position(tmp_path: Path) -> None:
    """The kill -9 case: the earlier fills were pruned, a reconcile record holds the books'
    position (short 0.002 at 61764.10); the restarted session buys it back: flat."""
    path = _write(
        tmp_path,
        [
            Record(Kind.START, 1, {}),
            _reconcile(50, -2, "61764.10", phase="periodic"),
            _mid(60, 617_650, 617_652),  # 61765.1
        ],
        [
            Record(Kind.START, 500, {}),
            _fill(8, Side.BUY, 617_627, 2, 510),
            _reconcile(520, 0, "0"),  # agrees with the books: no gap, nothing to set
            _mid(1000, 617_700, 617_702),
        ],
    )
    conn = connect_readonly(path)
    report = compute_report(read_report_input(conn, "BTCUSDT", since_ms=500))
    conn.close()
    assert report.opening is not None and report.opening.lots == -2
    assert report.position_lots == 0
    assert report.pnl["unrealised"] == 0
    # Bought back at 61762.7 what was worth 61765.1 when the window opened: +2.4 per BTC.
    assert report.pnl["realised"] == Decimal("0.0048") == report.pnl["equity"]


def test_gap_adopted_inside_the_window_sets_the_books(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            Record(Kind.START, 500, {}),
            _reconcile(501, 0, "0"),
            _mid(600, 600_000, 600_002),
            _fill(1, Side.BUY, 600_000, 1000, 700),
            # The venue says 1.5 BTC at 59990.0: the books adopt it (a missed fill).
            _reconcile(800, 1500, "59990.0", gap=500),  # a start-up adoption
            _mid(900, 600_010, 600_012),  # 60001.1
        ],
    )
    conn = connect_readonly(path)
    report = compute_report(read_report_input(conn, "BTCUSDT", since_ms=500))
    conn.close()
    assert report.opening is None
    assert report.position_lots == 1500
    assert report.pnl["unrealised"] == Decimal("16.65")  # 1.5·(60001.1 − 59990.0)
    # Marked at the fill's mid 60000.0: 0 before, 1.5·(60000.0 − 59990.0) after.
    assert report.attribution["reconciliation"] == Decimal("15")
    assert sum(report.attribution.values()) == report.pnl["equity"]


def test_cli_says_what_was_carried_in_and_the_convention(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _long_then_window(tmp_path)
    assert main(["report", "--journal", str(path)]) == 0  # default: the latest session
    out = capsys.readouterr().out
    assert "carried in +1.000 BTC (cost basis 60000.00, valued at the opening mid 60010.10" in out
    assert "inventory final +0.500 BTC" in out
    assert "P&L of the window = equity change over it" in out
    assert main(["report", "--journal", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["inventory"]["opening_lots"] == 1000 and doc["inventory"]["final_lots"] == 500
    assert doc["inventory"]["opening_cost_basis"] == "60000"
    assert doc["inventory"]["opening_valued_at"] == "60010.1"
    assert doc["pnl"]["equity"] == "15.45"
