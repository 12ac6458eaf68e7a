"""The report as one self-contained HTML file: tables plus matplotlib (Agg) plots as base64 PNG.

No external asset, script or font: the file can be mailed or opened offline.
"""

from __future__ import annotations

import base64
import html
import io
import math
from datetime import UTC, datetime
from typing import Any

from mmtrio.reporting.pnl import SessionReport


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _time(ms: int | None) -> str:
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def plots(report: SessionReport) -> dict[str, str]:
    """Base64 PNGs: ``equity`` (with drawdown), ``inventory`` and ``markouts`` by side."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a Pi or in CI; must precede pyplot
    import numpy as np
    from matplotlib.figure import Figure

    xs = np.array([p.ts for p in report.curve], dtype="datetime64[ms]")
    out: dict[str, str] = {}

    fig = Figure(figsize=(9, 3.2))
    ax = fig.add_subplot()
    eq = [p.equity for p in report.curve]
    peak: list[float] = []
    for v in eq:
        peak.append(v if not peak or v > peak[-1] else peak[-1])
    ax.plot(xs, eq, lw=1.2, label="equity")
    ax.fill_between(xs, eq, peak, color="tab:red", alpha=0.2, label="drawdown")
    ax.set_title(f"{report.symbol} session equity (quote asset, marked to mid)")
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    out["equity"] = _png(fig)

    fig = Figure(figsize=(9, 2.8))
    ax = fig.add_subplot()
    ax.step(xs, [p.position_lots for p in report.curve], where="post", lw=1.2)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_title("inventory (lots)")
    ax.grid(alpha=0.3)
    out["inventory"] = _png(fig)

    fig = Figure(figsize=(6, 3.2))
    ax = fig.add_subplot()
    for side, style in (("BUY", "o-"), ("SELL", "s-"), ("ALL", "k--")):
        cells = report.markouts.get(side, {})
        hs = sorted(cells)
        ys = [cells[h]["mean_bps"] for h in hs]
        ax.plot([h / 1000 for h in hs], ys, style, label=side)
    ax.axhline(0, color="grey", lw=0.8)
    horizons = sorted({h for cells in report.markouts.values() for h in cells}) or [1000]
    ax.set_xscale("log")
    # Explicit limits: with no completed markout there is no data to autoscale a log axis on.
    ax.set_xlim(horizons[0] / 1500, horizons[-1] / 1000 * 1.5)
    ax.set_xlabel("horizon (s)")
    ax.set_ylabel("mean markout (bps)")
    ax.set_title("markouts by side (positive = in our favour)")
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    out["markouts"] = _png(fig)
    return out


def _table(rows: list[tuple[str, object]]) -> str:
    body = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows
    )
    return f"<table>{body}</table>"


def render_html(report: SessionReport) -> str:
    """The whole report page as a string."""
    j = report.to_json()
    imgs = plots(report)
    summary = [
        ("symbol", report.symbol),
        ("from", _time(report.start_ms)),
        ("to", _time(report.end_ms)),
        *((f"P&L {k}", v) for k, v in j["pnl"].items()),
        ("fills (buys / sells)", f"{report.fills} ({report.buys} / {report.sells})"),
        ("volume", f"{report.volume_qty} ({report.volume_quote} quote)"),
        ("maker share", "—" if report.maker_share is None else f"{report.maker_share:.1%}"),
        (
            "quote-to-trade",
            "—" if report.quote_to_trade is None else f"{report.quote_to_trade:.1f}",
        ),
        (
            "final / max |inventory| (lots)",
            f"{report.position_lots} / {report.max_abs_position_lots}",
        ),
        ("max drawdown", f"{report.max_drawdown} at {_time(report.max_drawdown_ts)}"),
    ]
    attribution = list(j["attribution"].items())
    mk_rows = []
    for side, cells in report.markouts.items():
        for h, cell in sorted(cells.items()):
            bps = cell["mean_bps"]
            mk_rows.append(
                f"<tr><td>{side}</td><td>{h / 1000:g} s</td><td>{int(cell['count'])}</td>"
                f"<td>{'—' if math.isnan(bps) else f'{bps:.2f}'}</td>"
                f"<td>{cell['pnl_quote']:.4f}</td></tr>"
            )
    markout_table = (
        "<table><tr><th>side</th><th>horizon</th><th>fills</th><th>mean bps</th>"
        f"<th>P&amp;L (quote)</th></tr>{''.join(mk_rows)}</table>"
    )
    img = "".join(
        f'<h2>{name}</h2><img alt="{name}" src="data:image/png;base64,{data}">'
        for name, data in imgs.items()
    )
    title = html.escape(f"mmtrio report — {report.symbol}")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>"
        "body{font-family:sans-serif;max-width:960px;margin:2em auto}"
        "table{border-collapse:collapse;margin:1em 0}"
        "th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}"
        "img{max-width:100%}</style></head><body>"
        f"<h1>{title}</h1><h2>summary</h2>{_table(summary)}"
        f"<h2>P&amp;L attribution</h2>{_table(attribution)}"
        f"<h2>markouts</h2>{markout_table}{img}</body></html>\n"
    )
