"""The session report: hand-checked P&L from a journal, JSON schema, HTML, CLI."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mmtrio.cli import main
from mmtrio.cli.report import parse_since
from mmtrio.core.commands import AmendOrder, CancelAll, CancelOrder, PlaceOrder
from mmtrio.core.events import Fill, Side
from mmtrio.core.instruments import BTCUSDT
from mmtrio.reporting.html import render_html
from mmtrio.reporting.journal_read import connect_readonly, read_report_input
from mmtrio.reporting.pnl import MidSample, ReportInput, compute_report
from mmtrio.runtime import journal_schema as js
from mmtrio.runtime.journal import JOURNAL_NAME, Journal
from mmtrio.runtime.journal_schema import Kind, Record


def _mid(ts: int, bid: int, ask: int) -> Record:
    return Record(Kind.MID_SAMPLE, ts, {"symbol": "BTCUSDT", "bid": bid, "ask": ask})


def _fill(tid: int, side: Side, price: int, ts: int) -> Fill:
    # 1 BTC (1000 lots of 0.001), maker rebate 0.6 USDT.
    return Fill(
        "BTCUSDT", tid, f"c{tid}", tid, side, price, 1000, Decimal("-0.6"), "USDT", True, ts
    )


def build_journal(state_dir: Path) -> Path:
    """A session with two fills whose P&L is worked out by hand in the test below."""
    j = Journal.open(state_dir)
    j.next_epoch()
    j.write_batch([Record(Kind.START, 1, {}), _mid(10, 1, 2)])  # before the session window
    j.close()
    j = Journal.open(state_dir)
    j.next_epoch()
    j.write_batch(
        [
            Record(Kind.START, 500, {"pid": 1}),
            js.order_sent(PlaceOrder("c1", "BTCUSDT", Side.BUY, 600_000, 1000), 900),
            js.order_sent(PlaceOrder("c2", "BTCUSDT", Side.SELL, 600_020, 1000), 900),
            js.order_sent(AmendOrder("c2", "BTCUSDT", Side.SELL, 600_012, 1000), 950),
            js.order_sent(CancelOrder("c9", "BTCUSDT"), 960),
            js.order_sent(CancelAll("BTCUSDT", "stop: SIGINT received"), 970),
            _mid(1000, 600_000, 600_002),  # mid 60000.1
            js.fill(_fill(1, Side.BUY, 600_000, 1000), 1000, bid=600_000, ask=600_002),
            _mid(2000, 600_010, 600_012),  # mid 60001.1
            Record(Kind.FUNDING, 2500, {"symbol": "BTCUSDT", "amount": Decimal("-0.5")}),
            Record(Kind.KILL_SWITCH, 2600, {"reason": "operator kill", "flatten": False}),
            Record(Kind.STATE_CHANGE, 2600, {"state": "HALTED", "reason": "kill switch"}),
            Record(Kind.STATE_CHANGE, 2900, {"state": "ACTIVE", "reason": "resumed"}),
            js.fill(_fill(2, Side.SELL, 600_012, 3000), 3000),  # no book: mid from the samples
            js.fill(_fill(2, Side.SELL, 600_012, 3000), 3001),  # duplicate: a journal no-op
            _mid(4000, 600_020, 600_022),  # mid 60002.1
        ]
    )
    j.close()
    return state_dir / JOURNAL_NAME


def test_hand_checked_pnl(tmp_path: Path) -> None:
    conn = connect_readonly(build_journal(tmp_path))
    report = compute_report(read_report_input(conn, "BTCUSDT", since_ms=500))
    conn.close()
    # Bought 1 @ 60000.0, sold 1 @ 60001.2: realised 1.2; two rebates +1.2; funding −0.5.
    assert report.pnl["realised"] == Decimal("1.2")
    assert report.pnl["fees"] == Decimal("1.2")  # a rebate: positive
    assert report.pnl["funding"] == Decimal("-0.5")
    assert report.pnl["equity"] == Decimal("1.9")
    # Spread capture: buy 0.1 under the mid 60000.1, sell 0.1 over the mid 60001.1.
    assert report.attribution == {
        "spread_capture": Decimal("0.2"),
        "inventory": Decimal("1.0"),
        "fees": Decimal("1.2"),
        "funding": Decimal("-0.5"),
        "reconciliation": Decimal("0"),
    }
    assert sum(report.attribution.values()) == report.pnl["equity"]
    assert (report.fills, report.buys, report.sells, report.volume_lots) == (2, 1, 1, 2000)
    assert report.volume_quote == Decimal("120001.2")
    assert report.maker_share == 1.0
    # the cancel-all counts as one cancel message
    assert (report.orders.place, report.orders.amend, report.orders.cancel) == (2, 1, 2)
    assert report.quote_to_trade == 2.5
    # Equity peaks at 1.7 (t=2000: 1.1 unrealised + 0.6 rebate), funding takes it to 1.2.
    assert report.max_drawdown == Decimal("0.5") and report.max_drawdown_ts == 2500
    assert report.position_lots == 0 and report.max_abs_position_lots == 1000
    # 1 s markouts: the buy sees mid 600011 at t=2000 (+11 ticks); the sell mid 600021 (−9).
    assert report.markouts["BUY"][1000]["mean_ticks"] == 11.0
    assert report.markouts["SELL"][1000]["mean_ticks"] == -9.0
    assert report.markouts["ALL"][1000]["count"] == 2.0
    assert report.markouts["BUY"][60000]["count"] == 0.0  # the session is too short


def test_fill_before_any_mid_counts_as_without_mid() -> None:
    data = ReportInput(BTCUSDT, [_fill(1, Side.BUY, 600_000, 5)], [MidSample(10, 600_000, 600_004)])
    report = compute_report(data)
    assert report.fills_without_mid == 1 and report.attribution["spread_capture"] == 0
    assert report.pnl["unrealised"] == Decimal("0.2")


def test_bad_mid_sample_is_rejected() -> None:
    from mmtrio.errors import ParameterError

    with pytest.raises(ParameterError, match="0 < bid <= ask"):
        compute_report(ReportInput(BTCUSDT, [], [MidSample(1, 600_010, 600_000)]))


def test_cli_json_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = build_journal(tmp_path)
    assert main(["report", "--journal", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "mmtrio.report/2" and doc["symbol"] == "BTCUSDT"
    assert doc["start_ms"] == 500 and doc["end_ms"] == 4000  # default: the last session
    assert set(doc) == {
        "schema",
        "symbol",
        "instrument",
        "start_ms",
        "end_ms",
        "pnl",
        "attribution",
        "fills",
        "orders",
        "markouts",
        "inventory",
        "drawdown",
        "curve_columns",
        "curve",
        "pnl_convention",
        "halts",
        "kills",
        "resumes",
    }
    assert doc["pnl"]["equity"] == "1.9" and doc["attribution"]["spread_capture"] == "0.2"
    assert doc["fills"]["count"] == 2 and doc["orders"]["quote_to_trade"] == 2.5
    assert set(doc["markouts"]) == {"BUY", "SELL", "ALL"}
    assert set(doc["markouts"]["BUY"]) == {"1000", "5000", "30000", "60000"}
    assert doc["markouts"]["BUY"]["60000"]["mean_bps"] is None  # NaN becomes null
    counts = [c["count"] for cells in doc["markouts"].values() for c in cells.values()]
    assert all(type(n) is int for n in counts), counts  # fills counted: 1, not 1.0
    assert doc["markouts"]["ALL"]["1000"]["count"] == 2
    assert doc["drawdown"] == {"max": "0.5", "at_ms": 2500}
    assert all(len(p) == len(doc["curve_columns"]) == 7 for p in doc["curve"])
    last = dict(zip(doc["curve_columns"], doc["curve"][-1], strict=True))
    # The parts add up to equity at every point (fees negative: a rebate here, so positive).
    parts = ("spread_capture", "inventory", "fees", "funding")
    assert sum(last[k] for k in parts) == pytest.approx(last["equity"])


def test_cli_text_and_since(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = build_journal(tmp_path)
    assert main(["report", "--journal", str(path), "--since", "2500"]) == 0
    out = capsys.readouterr().out
    assert "fills 1 (buy 0 / sell 1)" in out and "BUY" in out


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.imgs: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "img":
            self.imgs.append(dict(attrs)["src"] or "")


def test_html_report_is_self_contained(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = build_journal(tmp_path / "state")
    out = tmp_path / "report.html"
    assert main(["report", "--journal", str(path), "--html", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    parser = _Collect()
    parser.feed(text)
    parser.close()
    assert text.startswith("<!DOCTYPE html>") and "table" in parser.tags
    assert len(parser.imgs) == 4  # price+quotes+fills, P&L parts, inventory, markouts
    assert "halted for 0 s" in text and "operator kill" in text  # the halt is listed
    for src in parser.imgs:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        assert base64.b64decode(src[len(prefix) :]).startswith(b"\x89PNG\r\n\x1a\n")
    assert "http" not in text  # nothing fetched from anywhere


def test_html_with_no_activity_renders() -> None:
    report = compute_report(ReportInput(BTCUSDT, [], []))
    assert render_html(report).count("<img") == 4


def test_cli_errors_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["report", "--journal", str(tmp_path / "nope.sqlite3")]) == 2
    assert "no journal at" in capsys.readouterr().err
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not a database at all" * 100)
    assert main(["report", "--journal", str(garbage)]) == 2
    assert "not a readable mmtrio journal" in capsys.readouterr().err
    path = build_journal(tmp_path / "s")
    assert main(["report", "--journal", str(path), "--since", "yesterday"]) == 2
    assert "--since 'yesterday'" in capsys.readouterr().err
    # No arguments, from a directory without config.toml: the packaged default's state dir.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MMTRIO_STATE_ROOT", str(tmp_path / "root"))
    assert main(["report"]) == 2
    assert f"no journal at {tmp_path / 'root' / 'binance-paper'}" in capsys.readouterr().err


def test_parse_since() -> None:
    now = 10_000_000
    assert parse_since("-1h", now) == now - 3_600_000
    assert parse_since("-90s", now) == now - 90_000
    assert parse_since("-2d", now) == now - 2 * 86_400_000
    assert parse_since("1700000000000", now) == 1_700_000_000_000
    assert parse_since("2024-08-08T00:00:00", now) == 1_723_075_200_000
    assert parse_since("2024-08-08T02:00:00+02:00", now) == 1_723_075_200_000
    with pytest.raises(ValueError, match="relative age"):
        parse_since("-1w", now)


def test_since_takes_a_relative_age_as_a_separate_argument(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`report --since -1h` as the README writes it (argparse alone refuses "-1h")."""
    path = build_journal(tmp_path)
    assert main(["report", "--journal", str(path), "--since", "-100000d"]) == 0
    out = capsys.readouterr().out
    assert "UTC" in out and "epoch" not in out


def test_timeline_has_quote_segments_and_halts(tmp_path: Path) -> None:
    from mmtrio.reporting.charts import halt_spans
    from mmtrio.reporting.timeline import read_timeline

    conn = connect_readonly(build_journal(tmp_path))
    tl = read_timeline(conn, "BTCUSDT", 500, 4000)
    # c1 bid from its place to the end; c2 ask placed then amended: two segments.
    assert [(q.side, q.price, q.t0, q.t1) for q in tl.quotes] == [
        ("BUY", 600_000, 900, 4000),
        ("SELL", 600_020, 900, 950),
        ("SELL", 600_012, 950, 4000),
    ]
    assert halt_spans(tl.markers, 4000) == [(2600, 2900, "kill switch")]
    assert [m.kind for m in tl.markers] == ["kill", "state", "state"]


def test_a_report_that_cannot_be_printed_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The text summary and the HTML page are rendered inside the command's error handling:
    a report whose P&L parts do not add up names that in one line (exit 2), no traceback."""
    from mmtrio.reporting import html
    from mmtrio.reporting.pnl import SessionReport

    path = build_journal(tmp_path / "s")
    exact = SessionReport.to_json

    def off_by_a_dollar(report: SessionReport) -> dict[str, object]:
        doc = exact(report)
        doc["attribution"]["inventory"] = str(Decimal(doc["attribution"]["inventory"]) + 1)
        return doc

    monkeypatch.setattr(SessionReport, "to_json", off_by_a_dollar)
    assert main(["report", "--journal", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("mmtrio report: spread capture ") and "is not realised" in line
    monkeypatch.undo()

    def broken(*_: object) -> str:
        raise ValueError("the chart's inventory series is empty")

    monkeypatch.setattr(html, "render_html", broken)
    page = tmp_path / "r.html"
    assert main(["report", "--journal", str(path), "--html", str(page)]) == 2
    captured = capsys.readouterr()
    assert captured.err == "mmtrio report: the chart's inventory series is empty\n"
    assert captured.out == "" and not page.exists()


def test_html_path_is_checked_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # as `backtest --html`: a missing directory is bad usage (exit 2, one line naming it), not
    # an I/O failure found after the report was computed (was: exit 1 and an errno repr)
    path = build_journal(tmp_path / "state")
    page = tmp_path / "missing" / "r.html"
    assert main(["report", "--journal", str(path), "--html", str(page)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"mmtrio report: --html {page}: directory {page.parent} does not exist; create it or "
        "choose another path\n"
    )


def test_an_empty_window_says_so_rather_than_asking_for_a_symbol(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = build_journal(tmp_path)
    assert main(["report", "--journal", str(path), "--since", str(10**13)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "has no fills or mid samples since" in line and "nothing to report" in line
    assert "--symbol" not in line  # the symbol is not what is missing


def test_a_markout_that_rounds_to_zero_prints_plus_zero_not_minus_zero(tmp_path: Path) -> None:
    # ETHUSDT 2024-08-08's backtest page said "BUY 30 s 55 -0.00": a mean of -0.004 bps
    import dataclasses

    from mmtrio import units
    from mmtrio.cli.report import format_text

    assert units.bps(-0.004) == "+0.00" and units.bps(-0.006) == "-0.01"
    assert units.bps(0.004) == "+0.00" and units.bps(1.5) == "+1.50"
    report = compute_report(
        read_report_input(connect_readonly(build_journal(tmp_path)), "BTCUSDT", 0)
    )
    cell = {"count": 3.0, "mean_ticks": -0.1, "mean_bps": -0.004, "weighted_ticks": -0.1,
            "pnl_quote": -0.0001}  # fmt: skip
    tiny = dataclasses.replace(report, markouts={"BUY": {1000: cell}})
    assert "-0.00" not in render_html(tiny)
    assert "<td>+0.00</td>" in render_html(tiny)
    doc = tiny.to_json()
    doc.update(halts=[], kills=[], resumes=[])
    text = format_text(doc)
    assert "1s +0.00 (3)" in text and "-0.00" not in text


def test_a_fill_without_a_two_sided_touch_gives_no_mid_sample(tmp_path: Path) -> None:
    """The touch is read as recovery reads it (``fill_record.touch_of``): a fill booked with
    a one-sided book (ask 0) used to become a mid sample halfway to zero."""
    j = Journal.open(tmp_path)
    j.next_epoch()
    j.write_batch(
        [
            Record(Kind.START, 500, {"pid": 1}),
            _mid(1000, 600_000, 600_002),
            js.fill(_fill(1, Side.BUY, 600_000, 1100), 1100, bid=600_000, ask=0),
            js.fill(_fill(2, Side.SELL, 600_002, 1200), 1200, bid=600_000, ask=600_002),
        ]
    )
    j.close()
    with connect_readonly(tmp_path / JOURNAL_NAME) as conn:
        data = read_report_input(conn, "BTCUSDT", 0)
    assert [m.ts for m in data.mids] == [1000, 1200]
    assert len(data.fills) == 2
