"""The journal's fill record: one definition written by the bot, read back by start-up
recovery and by the reports, strict about what it reads (core/fill_record.py)."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mmtrio.core.events import Fill, Side
from mmtrio.core.fill_record import MALFORMED, fill_from_payload, fill_payload, touch_of
from mmtrio.core.instruments import BTCUSDT
from mmtrio.errors import JournalError
from mmtrio.reporting.journal_read import connect_readonly, read_report_input
from mmtrio.runtime import journal_schema as js
from mmtrio.runtime.journal import Journal
from mmtrio.runtime.journal_view import read_journal

FILL = Fill(
    symbol="BTCUSDT",
    trade_id=42,
    client_id="mmt1-7",
    order_id=9001,
    side=Side.SELL,
    price=600_001,
    qty=3,
    fee=Decimal("-0.0012"),
    fee_asset="USDT",
    is_maker=True,
    ts=1_700_000_000_123,
)


def _as_journaled(bid: int | None, ask: int | None) -> dict[str, Any]:
    """The payload as the journal stores it (encoded to JSON text, read back)."""
    row = js.encode_record(js.fill(FILL, 5, bid, ask))
    _kind, _local, _exchange, text = json.loads(row.row)
    payload: dict[str, Any] = json.loads(text)
    return payload


def test_a_journaled_fill_reads_back_as_the_same_fill() -> None:
    p = _as_journaled(599_990, 600_010)
    assert fill_from_payload(p, FILL.ts) == FILL
    assert p["side"] == "SELL" and p["fee"] == "-0.0012"  # the values, as the encoder writes
    assert touch_of(p) == (599_990, 600_010)
    assert touch_of(_as_journaled(None, 600_010)) is None
    assert fill_payload(FILL)["bid"] is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price", "600001"),  # a string where ticks are an integer
        ("qty", 1.5),
        ("trade_id", True),
        ("is_maker", "false"),  # bool("false") would read as a maker fill
        ("fee", None),
        ("client_id", None),
        ("side", "HOLD"),
        ("fee", "abc"),
    ],
)
def test_a_mistyped_field_is_refused_not_converted(field: str, value: object) -> None:
    p = _as_journaled(1, 2)
    p[field] = value
    with pytest.raises(MALFORMED):
        fill_from_payload(p, 0)


def test_a_missing_field_is_refused() -> None:
    for field in ("symbol", "trade_id", "client_id", "order_id", "price", "qty", "fee"):
        p = _as_journaled(1, 2)
        del p[field]
        with pytest.raises(KeyError):
            fill_from_payload(p, 0)


def _journal_with_a_damaged_fill(state: Path) -> int:
    journal = Journal.open(state)
    journal.next_epoch()
    journal.write_batch([js.instrument_record(BTCUSDT, 1_000)])
    (seq,) = journal.write_batch([js.fill(FILL, 2_000, 599_990, 600_010)])
    journal.close()
    conn = sqlite3.connect(state / "journal.sqlite3")
    with conn:
        conn.execute(
            "UPDATE records SET payload = json_remove(payload, '$.price') WHERE seq = ?", (seq,)
        )
    conn.close()
    return seq


def test_start_up_refuses_a_damaged_fill_record_naming_it(tmp_path: Path) -> None:
    seq = _journal_with_a_damaged_fill(tmp_path)
    with pytest.raises(JournalError) as caught:
        read_journal(tmp_path / "journal.sqlite3", BTCUSDT)
    text = str(caught.value)
    assert f"journal record seq {seq} (fill)" in text and "'price'" in text
    assert "Move the journal aside" in text


def test_the_report_refuses_the_same_record_naming_it(tmp_path: Path) -> None:
    seq = _journal_with_a_damaged_fill(tmp_path)
    conn = connect_readonly(tmp_path / "journal.sqlite3")
    try:
        with pytest.raises(JournalError, match=f"seq {seq} \\(fill\\)"):
            read_report_input(conn, BTCUSDT.symbol, 0, 10_000)
    finally:
        conn.close()


def test_start_up_refuses_a_damaged_start_record_naming_it(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)
    journal.next_epoch()
    (seq,) = journal.write_batch(
        [
            js.Record(
                js.Kind.RECONCILE,
                1_000,
                {"phase": "start", "symbol": "BTCUSDT", "position_lots": "three"},
            )
        ]
    )
    journal.close()
    with pytest.raises(JournalError, match=f"journal record seq {seq} \\(reconcile\\)"):
        read_journal(tmp_path / "journal.sqlite3", BTCUSDT)
