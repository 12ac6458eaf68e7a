"""Report glue: a backtest result → the same report (JSON and HTML) as ``mmtrio report``.

The JSON is ``SessionReport.to_json()`` (schema ``mmtrio.report/2``) plus a ``backtest``
section with the run's settings and statistics, the P&L before fees and a plain verdict
(:func:`pnl_verdict`: where the run loses, before and after fees), so a backtest and a live
session can be compared field by field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmtrio.backtest.runner import BacktestResult, BacktestSettings
from mmtrio.reporting.pnl import SessionReport, compute_report, decimal_text

if TYPE_CHECKING:
    from mmtrio.reporting.charts import InventoryLimits

NO_TRADES = "no trades: nothing made or lost"


def build_report(result: BacktestResult) -> SessionReport:
    """The session report of a run (fills, mids, funding and order counts of the venue)."""
    return compute_report(result.report_input)


def report_json(
    report: SessionReport, result: BacktestResult, settings: BacktestSettings, files: list[Path]
) -> dict[str, Any]:
    """``report.to_json()`` plus the ``backtest`` section (settings and run statistics)."""
    doc = report.to_json()
    after, fees = report.pnl["equity"], report.pnl["fees"]
    doc["backtest"] = {
        "pnl_before_fees": decimal_text(after - fees),
        "verdict": pnl_verdict(after - fees, after, report.fills),
        "files": [str(p) for p in files],
        "settings": {
            "order_latency_ms": settings.order_latency_ms,
            "order_jitter_ms": settings.order_jitter_ms,
            "user_latency_ms": settings.user_latency_ms,
            "feed_latency": settings.feed_latency.value,
            "feed_base_ms": settings.feed_base_ms,
            "queue_model": settings.queue_model.value,
            "maker_fee_bps": str(settings.maker_fee_bps),
            "taker_fee_bps": str(settings.taker_fee_bps),
            "seed": settings.seed,
        },
        "engine": result.engine,  # the replay core that ran: "compiled" or "python"
        "market_messages": result.market_messages,
        "events": result.events,
        "strategy_steps": result.strategy_steps,
        "commands": dict(sorted(result.commands.items())),
        "notices": dict(sorted(result.notices.items())),
        "venue_rejects": {str(k): v for k, v in sorted(result.rejects.items())},
        "funding_payments": result.funding_payments,
        "strategy_position_lots": result.strategy_position_lots,
        "venue_position_lots": result.venue_position_lots,
        "alerts": [{"ts": a.ts, "message": a.message} for a in result.alerts],
        "restrictions": [
            {"state": r.state, "reason": r.reason, "first_ts": r.first_ts, "count": r.count}
            for r in result.restrictions
        ],
        "final_state": result.final_state,  # after the tail: HALTED on a stale book is usual
    }
    return doc


def restriction_lines(result: BacktestResult) -> list[str]:
    """What stopped or restricted quoting during the run, by cause, for the text summary:
    a kill switch that latched early explains a run with few fills. Book continuity losses
    are said apart (they are the data's), and so is what happens after the data's last
    event (the run's tail, where the book goes stale because the recording ended)."""
    lines = []
    for r in result.restrictions:
        if r.reason.startswith("book invalid") or r.first_ts > result.last_ms:
            continue
        at = datetime.fromtimestamp(r.first_ts / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        times = "once" if r.count == 1 else f"{r.count} times"
        lines.append(f"{r.state} {times}, first at {at} UTC: {r.reason}")
    return lines


def pnl_verdict(before_fees: Decimal, after_fees: Decimal, fills: int | None = None) -> str:
    """One run's P&L said plainly: where it loses, before and after fees. Zero is not money
    made: a run without fills says so, and a P&L of exactly zero breaks even."""
    if fills == 0 and after_fees == 0:
        return NO_TRADES
    if after_fees > 0:
        return "makes money after fees"
    if after_fees == 0:
        return "breaks even after fees: nothing made or lost"
    if before_fees >= 0:
        return "LOSES after fees (it makes money before fees: the fees eat the spread)"
    return "LOSES before and after fees"


def write_html(
    report: SessionReport, result: BacktestResult, limits: InventoryLimits, path: Path
) -> None:
    """Render the report's HTML page (plots embedded) to ``path``, with what the run knows
    that a journal-less report would not: our quotes and the halts over time
    (``result.timeline``) and the config's inventory limits (``limits``, in the data's lots:
    the caller sizes them from the config, which the backtest package does not import)."""
    from mmtrio.reporting.html import render_html

    path.write_text(render_html(report, result.timeline, limits), encoding="utf-8")
