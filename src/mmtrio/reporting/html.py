"""The report as one self-contained HTML file: tables plus matplotlib (Agg) plots as base64 PNG.

No external asset, script or font: the file can be mailed or opened offline. Every figure is
rounded the way every other surface rounds it (:mod:`mmtrio.units`): money to the cent of the
quote asset with fees negative, sizes to the lot, prices to the tick, times in UTC.
"""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime
from decimal import Decimal

from mmtrio import units
from mmtrio.reporting.charts import InventoryLimits, halt_spans, plots
from mmtrio.reporting.pnl import SessionReport, printed_parts
from mmtrio.reporting.timeline import ResumeEntry, Timeline

_CHART_TITLES = {
    "price": "price, our quotes and fills",
    "pnl": "P&L and its parts over time",
    "inventory": "inventory against its limits",
    "markouts": "markouts by side",
}


def utc(ms: int | None) -> str:
    """``2024-08-08 23:54:16 UTC`` (— for None)."""
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(ms: int) -> str:
    """``1 h 02 min 05 s``-style length of a period."""
    s = max(0, ms) // 1000
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h} h {m:02d} min {sec:02d} s" if h else f"{m} min {sec:02d} s" if m else f"{sec} s"


def _table(rows: list[tuple[str, object]]) -> str:
    body = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    return f"<table>{body}</table>"


def render_html(
    report: SessionReport,
    timeline: Timeline | None = None,
    limits: InventoryLimits | None = None,
) -> str:
    """The whole report page as a string."""
    inst = report.instrument
    q, b = inst.quote_asset, inst.base_asset
    imgs = plots(report, timeline, limits)
    span = (
        ""
        if report.start_ms is None or report.end_ms is None
        else f" ({duration(report.end_ms - report.start_ms)})"
    )
    parts = printed_parts(report.pnl, report.attribution)  # they add up as printed
    summary: list[tuple[str, object]] = [
        ("symbol", report.symbol),
        ("from", utc(report.start_ms)),
        ("to", f"{utc(report.end_ms)}{span}"),
        *((f"P&L: {k} ({q})", units.money(v)) for k, v in parts.pnl().items()),
        ("fills (buys / sells)", f"{report.fills} ({report.buys} / {report.sells})"),
        (
            "volume",
            f"{units.size(inst, report.volume_lots)} {b} "
            f"({units.money(report.volume_quote, signed=False)} {q})",
        ),
        ("maker share", "—" if report.maker_share is None else f"{report.maker_share:.1%}"),
        (
            "order messages per fill",
            "—" if report.quote_to_trade is None else f"{report.quote_to_trade:.1f}",
        ),
        (
            f"final / max |inventory| ({b})",
            f"{units.size(inst, report.position_lots, signed=True)} / "
            f"{units.size(inst, report.max_abs_position_lots)}",
        ),
        (
            f"max drawdown ({q})",
            f"{units.money(report.max_drawdown, signed=False)} at {utc(report.max_drawdown_ts)}",
        ),
    ]
    attribution: list[tuple[str, object]] = [
        (f"{k.replace('_', ' ')} ({q})", units.money(v)) for k, v in parts.attribution().items()
    ]
    mk_rows = []
    for side, cells in report.markouts.items():
        for h, cell in sorted(cells.items()):
            bps = cell["mean_bps"]
            mk_rows.append(
                f"<tr><td>{side}</td><td>{h / 1000:g} s</td><td>{int(cell['count'])}</td>"
                f"<td>{'—' if math.isnan(bps) else units.bps(bps)}</td>"
                f"<td>{units.money(Decimal(str(cell['pnl_quote'])))}</td></tr>"
            )
    markout_table = (
        "<table><tr><th>side</th><th>horizon</th><th>fills</th><th>mean markout (bps)</th>"
        f"<th>P&amp;L at horizon ({q})</th></tr>{''.join(mk_rows)}</table>"
    )
    events = _events_table(timeline, report.end_ms or 0)
    img = "".join(
        f'<h2>{html.escape(_CHART_TITLES[name])}</h2><img alt="{name}" '
        f'src="data:image/png;base64,{data}">'
        for name, data in imgs.items()
    )
    title = html.escape(f"mmtrio report — {report.symbol}")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>"
        "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:1em 0}"
        "th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}"
        "td{font-variant-numeric:tabular-nums}"
        ".cols{display:flex;gap:2em;flex-wrap:wrap}"
        "img{max-width:100%}</style></head><body>"
        f"<h1>{title}</h1><div class=cols><div><h2>summary</h2>{_table(summary)}</div>"
        f"<div><h2>P&amp;L attribution</h2>{_table(attribution)}"
        "<p>The parts add up to equity. Fees are a cost (negative); a maker rebate is "
        "positive.</p></div></div>"
        f"{img}<h2>markouts by side and horizon</h2>{markout_table}{events}</body></html>\n"
    )


def _events_table(timeline: Timeline | None, end_ms: int) -> str:
    """Halts and kills, listed (the charts shade and mark them)."""
    if timeline is None:
        return ""
    rows = [
        f"<tr><td>{utc(t0)}</td><td>halted for {duration(t1 - t0)}</td>"
        f"<td>{html.escape(reason)}</td></tr>"
        for t0, t1, reason in halt_spans(timeline.markers, end_ms)
    ]
    rows += [
        f"<tr><td>{utc(m.ts)}</td><td>kill switch</td><td>{html.escape(m.reason)}</td></tr>"
        for m in timeline.markers
        if m.kind == "kill"
    ]
    rows += [
        f"<tr><td>{utc(r.ts)}</td><td>{html.escape(_resume_what(r))}</td>"
        f"<td>{html.escape(_resume_why(r))}</td></tr>"
        for r in timeline.resumes
    ]
    if not rows:
        return "<h2>halts, kills and resumes</h2><p>none in this period</p>"
    return (
        "<h2>halts, kills and resumes</h2><table><tr><th>when</th><th>what</th><th>why</th>"
        f"</tr>{''.join(sorted(rows))}</table>"
    )


def _resume_what(r: ResumeEntry) -> str:
    return f"{r.how}: {'resumed' if r.accepted else 'refused'}"


def _resume_why(r: ResumeEntry) -> str:
    """The operator's reason, and for a refusal what refused it."""
    why = r.why_refused
    return f"reason: {r.reason}" + ("" if why is None else f"; refused: {why}")
