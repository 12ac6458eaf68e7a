"""P&L parts are rounded together on every surface, so they add up to equity as printed.

The QA pass's case: a fee of 0.006 and funding paid of 0.007 on a session that otherwise made
nothing. Equity is -0.013, printed -0.01; each part rounded on its own printed fees -0.01 and
funding -0.01, two cents for a total of one. Rounded together (largest remainder), the fee,
whose rounding moved it furthest, gives the cent back: fees +0.00, funding -0.01."""

from __future__ import annotations

import dataclasses
import io
import re
from decimal import Decimal as D
from pathlib import Path

import pytest
from rich.console import Console

from mmtrio import units
from mmtrio.cli import main
from mmtrio.config.notify import TelegramConfig
from mmtrio.core.events import Fill, Side
from mmtrio.core.instruments import BTCUSDT
from mmtrio.reporting.html import render_html
from mmtrio.reporting.journal_read import connect_readonly, read_report_input
from mmtrio.reporting.pnl import compute_report, printed_parts
from mmtrio.runtime import journal_schema as js
from mmtrio.runtime.exit_summary import ExitSummary
from mmtrio.runtime.journal import JOURNAL_NAME, Journal
from mmtrio.runtime.journal_schema import Kind, Record
from mmtrio.runtime.notifier import TelegramNotifier
from mmtrio.runtime.screen import render_status, status_line
from mmtrio.runtime.status_doc import strategy_doc
from tests.strategies import SampleStatus, consistent_ledger, sample_status

MONEY = re.compile(r"[+-][\d,]+\.\d\d")


def cents(text: str) -> D:
    return D(text.replace(",", ""))


def test_apportion_moves_the_leftover_cent_to_the_largest_remainder() -> None:
    # 0.004 + 0.004 + 0.004 = 0.012 → 0.01; each alone rounds to 0.00.
    assert units.apportion(D("0.01"), [D("0.004")] * 3) == [D("0.01"), D(0), D(0)]
    # Largest remainder first, whatever its place; ties to the earlier part.
    assert units.apportion(D("0.01"), [D("0.003"), D("0.004"), D("0.003")]) == [
        D(0),
        D("0.01"),
        D(0),
    ]
    assert units.apportion(D("-0.01"), [D("-0.003"), D("-0.004"), D("-0.004")]) == [
        D(0),
        D("-0.01"),
        D(0),
    ]
    # Nothing to move: plain rounding, half to even, never -0.00.
    assert units.apportion(D("1.22"), [D("1.225"), D("-0.004")]) == [D("1.22"), D(0)]
    assert str(units.apportion(D(0), [D("-0.001")])[0]) == "0.00"


def test_apportion_refuses_a_total_its_parts_cannot_reach() -> None:
    with pytest.raises(ValueError, match="a cent or more from the sum"):
        units.apportion(D("0.02"), [D("0.004"), D("0.004")])
    with pytest.raises(ValueError, match="not a whole number of cents"):
        units.apportion(D("0.015"), [D("0.015")])
    with pytest.raises(ValueError, match="finite Decimal"):
        units.apportion(D(0), [D("NaN")])


def test_pnl_parts_refuses_parts_that_do_not_add_up() -> None:
    good = {
        "equity": D("0.5"),
        "realised": D("1"),
        "unrealised": D("0"),
        "fees": D("-0.5"),
        "funding": D("0"),
        "spread_capture": D("0.25"),
        "inventory": D("0.75"),
        "reconciliation": D("0"),
    }
    assert units.pnl_parts(**good).equity == D("0.50")
    with pytest.raises(ValueError, match=r"is not equity 0\.6"):
        units.pnl_parts(**{**good, "equity": D("0.6")})
    with pytest.raises(ValueError, match=r"is not realised \+ unrealised 1"):
        units.pnl_parts(**{**good, "inventory": D("0.7")})
    with pytest.raises(ValueError, match="has no 'reconciliation'"):
        printed_parts(good, {k: good[k] for k in ("spread_capture", "inventory", "fees")})


# --- the report: a journal whose parts, rounded one by one, missed equity by a cent ---------


def qa_journal(state_dir: Path) -> Path:
    """Bought 1 BTC at the mid 60000.1 with a fee of 0.006, paid 0.007 of funding; the mid
    never moved: equity -0.013 = fees -0.006 + funding -0.007, every other part zero."""
    j = Journal.open(state_dir)
    j.next_epoch()
    buy = Fill("BTCUSDT", 1, "c1", 1, Side.BUY, 600_001, 1000, D("0.006"), "USDT", True, 1000)
    mid = {"symbol": "BTCUSDT", "bid": 600_000, "ask": 600_002}
    j.write_batch(
        [
            Record(Kind.START, 500, {"pid": 1}),
            Record(Kind.MID_SAMPLE, 1000, mid),
            js.fill(buy, 1000, bid=600_000, ask=600_002),
            Record(Kind.FUNDING, 2000, {"symbol": "BTCUSDT", "amount": D("-0.007")}),
            Record(Kind.MID_SAMPLE, 3000, mid),
        ]
    )
    j.close()
    return state_dir / JOURNAL_NAME


def block(out: str, title: str) -> dict[str, D]:
    """The ``name  +0.00`` lines under the line starting with ``title``."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rows: dict[str, D] = {}
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        name, value = line.split()
        rows[name] = cents(value)
    return rows


def test_report_text_parts_add_up_to_equity_as_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--journal", str(qa_journal(tmp_path))]) == 0
    out = capsys.readouterr().out
    pnl = block(out, "P&L (")
    attribution = block(out, "attribution (")
    assert pnl == {
        "equity": D("-0.01"),
        "realised": D(0),
        "unrealised": D(0),
        "fees": D(0),
        "funding": D("-0.01"),
    }
    assert sum(v for k, v in pnl.items() if k != "equity") == pnl["equity"]
    assert sum(attribution.values()) == pnl["equity"]
    assert attribution["fees"] == pnl["fees"] and attribution["funding"] == pnl["funding"]


def test_report_json_keeps_the_exact_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    assert main(["report", "--journal", str(qa_journal(tmp_path)), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["pnl"]["equity"] == "-0.013" and doc["pnl"]["fees"] == "-0.006"


def test_report_json_money_is_exact_past_28_digits() -> None:
    # The text report rounds the document's figures together: they must be the exact ones.
    from mmtrio.reporting.pnl import decimal_text

    long = D("123456789012345678901234.123456789")
    assert decimal_text(long) == "123456789012345678901234.123456789"
    assert decimal_text(D("-1.2300")) == "-1.23" and decimal_text(D("-0.000")) == "0"


def test_report_html_parts_add_up_to_equity_as_printed(tmp_path: Path) -> None:
    conn = connect_readonly(qa_journal(tmp_path))
    page = render_html(compute_report(read_report_input(conn, "BTCUSDT", since_ms=500)))
    conn.close()
    cell = re.compile(r"<tr><th>([^<]*)</th><td>([^<]*)</td></tr>")
    rows = dict(cell.findall(page))
    assert rows["P&amp;L: equity (USDT)"] == "-0.01"
    assert rows["P&amp;L: fees (USDT)"] == "+0.00"
    assert rows["P&amp;L: funding (USDT)"] == "-0.01"
    parts = ("spread capture", "inventory", "fees", "funding", "reconciliation")
    assert sum(cents(rows[f"{p} (USDT)"]) for p in parts) == D("-0.01")


# --- the live surfaces: screen, status, Telegram, exit summary ------------------------------


def qa_status() -> SampleStatus:
    view = sample_status()
    assert view.strategy is not None
    led = consistent_ledger(
        realised=D(0), unrealised=D(0), fees=D("0.006"), funding=D("-0.007"), spread_capture=D(0)
    )
    return dataclasses.replace(view, strategy=dataclasses.replace(view.strategy, ledger=led))


def test_screen_and_its_log_line_print_parts_that_add_up() -> None:
    view = qa_status()
    console = Console(width=80, height=24, record=True, file=io.StringIO(), color_system=None)
    console.print(render_status(view))
    text = console.export_text()
    assert "P&L -0.01  real +0.00  unreal +0.00  fees +0.00  fund -0.01" in text
    assert "spread +0.00  inventory +0.00  recon +0.00" in text
    line = status_line(view)
    assert "equity -0.01 (real +0.00 unreal +0.00 fees +0.00 fund -0.01)" in line


def test_status_json_parts_add_up() -> None:
    view = qa_status()
    assert view.strategy is not None
    doc = strategy_doc(view.strategy, BTCUSDT)
    led = doc["ledger"]
    assert (led["equity"], led["fees"], led["funding"]) == ("-0.01", "+0.00", "-0.01")
    for split in (
        ("realised", "unrealised", "fees", "funding"),
        ("spread_capture", "inventory", "fees", "funding", "reconciliation"),
    ):
        assert sum(cents(led[k]) for k in split) == cents(led["equity"])


def test_telegram_and_exit_summary_print_parts_that_add_up() -> None:
    view = qa_status()
    status = view.strategy
    notifier = TelegramNotifier(
        TelegramConfig(enabled=True, chat_ids=[1], api_url="http://127.0.0.1:9"),
        "123:token",
        bot="btc-a",
        instrument=lambda: BTCUSDT,
        status=lambda: status,
        control=None,
        wall_ms=lambda: 1_723_161_600_000,
    )
    daily = notifier.daily_pnl()
    summary = "\n".join(ExitSummary("btc-a", BTCUSDT, "SIGINT", 0, 0, 0, status, None).lines())
    expected = "P&L -0.01 USDT (realised +0.00, unrealised +0.00, fees +0.00, funding -0.01)"
    assert daily is not None and expected in daily
    assert expected.replace("P&L", "P&L      ") in summary
