"""The report's charts (matplotlib, Agg), each as a base64 PNG.

What a trader looks for, top to bottom:

1. **price** — the mid, our bid and ask quotes as their resting segments, our fills (▲ buy,
   ▼ sell), halted periods shaded and kills marked;
2. **P&L parts** — equity and what it is made of over time: spread capture, inventory,
   fees (negative), funding;
3. **inventory** — the position in the base asset against ±max_position and the warn /
   critical / hard bands (when the config is known), halts shaded;
4. **markouts** — mean markout (bps) at each horizon by side, on a categorical axis
   (1 s, 5 s, 30 s, 60 s), with the fill count.

Time axes are UTC wall-clock (HH:MM:SS); figures on axes are plain numbers, not offsets or
powers of ten.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mmtrio.core.instruments import Instrument
from mmtrio.reporting.pnl import SessionReport
from mmtrio.reporting.timeline import Timeline, halt_spans

_BUY, _SELL, _HALT = "tab:green", "tab:red", "tab:orange"


@dataclass(frozen=True, slots=True)
class InventoryLimits:
    """The inventory limit and its bands (fractions of it), from the bot's config."""

    max_position_lots: int
    warn: float
    critical: float
    hard: float


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


MIN_SPAN_S = 10
"""A time axis shows at least this many seconds (a one-point or sub-second report included)."""
_MAX_TICKS = 8
_SECOND_STEPS = (1, 2, 5, 10, 15, 30)  # divisors of 60: ticks on round seconds


def _time_axis(ax: Any, report: SessionReport) -> None:
    """UTC HH:MM:SS ticks over the report's time range, at least ``MIN_SPAN_S`` wide.

    matplotlib cannot tick a range of (nearly) zero width: a report of one sample is expanded
    by its autoscaling to days, where the AutoDateLocator finds no interval and warns "unable
    to pick an appropriate interval" at every draw. The range is set here instead: from the
    report's first to its last sample or fill, widened around its centre when shorter than
    ``MIN_SPAN_S``; up to two minutes the ticks are on round seconds (every 1, 2, 5 … 30 s),
    longer ranges keep the AutoDateLocator (at least 3 ticks, at most 8).
    """
    import matplotlib.dates as mdates

    span = _extent(report)
    span_s = 86_400.0
    if span is not None:
        lo, hi = float(span[0]), float(span[1])
        if hi - lo < MIN_SPAN_S * 1000:
            centre = (lo + hi) / 2
            lo, hi = centre - MIN_SPAN_S * 500, centre + MIN_SPAN_S * 500
        ax.set_xlim(_dt([round(lo), round(hi)]))
        span_s = (hi - lo) / 1000
    if span_s <= 120:
        step = next((s for s in _SECOND_STEPS if span_s / s <= _MAX_TICKS), 30)
        locator: Any = mdates.SecondLocator(bysecond=range(0, 60, step))  # type: ignore[no-untyped-call]
    else:
        # minticks 3, not its 5: with 5 a range of 4 to 5 minutes (or hours) is too short to
        # tick in minutes and too long for 8 ticks of 30 s, and the locator warns at every draw.
        locator = mdates.AutoDateLocator(minticks=3, maxticks=_MAX_TICKS)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))  # type: ignore[no-untyped-call]
    ax.set_xlabel("time (UTC)")
    ax.grid(alpha=0.3)


def _extent(report: SessionReport) -> tuple[int, int] | None:
    """The first and last moment of the report's samples and fills (else of its window: a
    ``--since`` long before the first record would otherwise squeeze the data to a line)."""
    times = [p.ts for p in report.curve[:1] + report.curve[-1:]]
    times += [t for t, _ in report.mids[:1] + report.mids[-1:]]
    times += [t for t, _, _ in report.fill_points[:1] + report.fill_points[-1:]]
    if not times:
        times = [t for t in (report.start_ms, report.end_ms) if t is not None]
    return (min(times), max(times)) if times else None


def _plain_y(ax: Any, decimals: int) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.{decimals}f}"))


def _dt(ms: Sequence[int]) -> Any:
    import numpy as np

    return np.array(ms, dtype="datetime64[ms]")


def _shade(ax: Any, timeline: Timeline | None, end_ms: int, *, label: bool) -> None:
    if timeline is None:
        return
    first = label
    for t0, t1, _ in halt_spans(timeline.markers, end_ms):
        ax.axvspan(*_dt([t0, t1]), color=_HALT, alpha=0.15, lw=0, label="halted" if first else None)
        first = False
    first = label
    for m in timeline.markers:
        if m.kind == "kill":
            ax.axvline(
                _dt([m.ts])[0], color="black", ls="--", lw=1, label="kill switch" if first else None
            )
            first = False


def _price_chart(report: SessionReport, timeline: Timeline | None, inst: Instrument) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.8))
    ax = fig.add_subplot()
    tick = float(inst.tick_size)
    if report.mids:
        ax.plot(
            _dt([m[0] for m in report.mids]),
            [m[1] * tick for m in report.mids],
            color="grey",
            lw=0.8,
            label="mid",
        )
    if timeline is not None:
        for side, color in (("BUY", _BUY), ("SELL", _SELL)):
            segs = [s for s in timeline.quotes if s.side == side]
            if segs:
                ax.hlines(
                    [s.price * tick for s in segs],
                    _dt([s.t0 for s in segs]),
                    _dt([max(s.t1, s.t0 + 1) for s in segs]),
                    colors=color,
                    lw=1.6,
                    alpha=0.7,
                    label=f"our {'bid' if side == 'BUY' else 'ask'}",
                )
    for side, color, mark in (("BUY", _BUY, "^"), ("SELL", _SELL, "v")):
        fills = [f for f in report.fill_points if f[1] == side]
        if fills:
            ax.scatter(
                _dt([f[0] for f in fills]),
                [f[2] * tick for f in fills],
                c=color,
                marker=mark,
                s=36,
                edgecolors="black",
                linewidths=0.5,
                zorder=5,
                label=f"{'bought' if side == 'BUY' else 'sold'}",
            )
    _shade(ax, timeline, report.end_ms or 0, label=True)
    ax.set_title(f"{report.symbol}: price, our quotes and fills ({inst.quote_asset})")
    ax.set_ylabel(inst.quote_asset)
    _plain_y(ax, inst.price_decimals)
    _time_axis(ax, report)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize=8, ncols=3)
    else:
        ax.text(0.5, 0.5, "no market data in this period", transform=ax.transAxes, ha="center")
    return _png(fig)


def _pnl_chart(report: SessionReport, timeline: Timeline | None, inst: Instrument) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.4))
    ax = fig.add_subplot()
    xs = _dt([p.ts for p in report.curve])
    ax.plot(xs, [p.equity for p in report.curve], color="black", lw=1.6, label="equity")
    for attr, label, color in (
        ("spread_capture", "spread capture", "tab:blue"),
        ("inventory", "inventory (price moves)", "tab:purple"),
        ("fees", "fees", "tab:red"),
        ("funding", "funding", "tab:olive"),
    ):
        ax.plot(xs, [getattr(p, attr) for p in report.curve], lw=1, label=label, color=color)
    ax.axhline(0, color="grey", lw=0.8)
    _shade(ax, timeline, report.end_ms or 0, label=False)
    ax.set_title(f"P&L and its parts ({inst.quote_asset}, marked to mid; parts add up to equity)")
    ax.set_ylabel(inst.quote_asset)
    _plain_y(ax, 2)
    _time_axis(ax, report)
    ax.legend(loc="upper left", fontsize=8, ncols=5)
    return _png(fig)


def _inventory_chart(
    report: SessionReport,
    timeline: Timeline | None,
    inst: Instrument,
    limits: InventoryLimits | None,
) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.0))
    ax = fig.add_subplot()
    lot = float(inst.base_per_lot)
    ax.step(
        _dt([p.ts for p in report.curve]),
        [p.position_lots * lot for p in report.curve],
        where="post",
        lw=1.4,
        color="tab:blue",
        label="position",
    )
    ax.axhline(0, color="grey", lw=0.8)
    title = f"inventory ({inst.base_asset})"
    if limits is not None:
        cap = limits.max_position_lots * lot
        for frac, name, style in (
            (limits.warn, "warn", ":"),
            (limits.critical, "critical (reduce only)", "-."),
            (limits.hard, "hard (no increase)", "--"),
        ):
            for sign in (1, -1):
                ax.axhline(
                    sign * cap * frac,
                    color="tab:red",
                    ls=style,
                    lw=0.9,
                    label=f"{name} ±{cap * frac:.{inst.base_decimals}f}" if sign > 0 else None,
                )
        ax.set_ylim(-cap * 1.1, cap * 1.1)
        title += f" against max position ±{cap:.{inst.base_decimals}f}"
    else:
        title += " (limits unknown: run `mmtrio report --config FILE` to draw them)"
    _shade(ax, timeline, report.end_ms or 0, label=False)
    ax.set_title(title)
    ax.set_ylabel(inst.base_asset)
    _plain_y(ax, inst.base_decimals)
    _time_axis(ax, report)
    ax.legend(loc="upper left", fontsize=8, ncols=4)
    return _png(fig)


def _markout_chart(report: SessionReport) -> str:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.2))
    ax = fig.add_subplot()
    horizons = sorted({h for cells in report.markouts.values() for h in cells})
    xs = list(range(len(horizons)))
    for side, style, color in (("BUY", "o-", _BUY), ("SELL", "s-", _SELL), ("ALL", "--", None)):
        cells = report.markouts.get(side, {})
        ys = [cells[h]["mean_bps"] if h in cells else float("nan") for h in horizons]
        ax.plot(xs, ys, style, label=side, color=color or "black")
    counts = report.markouts.get("ALL", {})
    ax.set_xticks(
        xs,
        [
            f"{h / 1000:g} s\n({int(counts[h]['count']) if h in counts else 0} fills)"
            for h in horizons
        ],
    )
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("horizon after the fill")
    ax.set_ylabel("mean markout (bps)")
    _plain_y(ax, 1)
    ax.set_title("markouts by side (positive = the price moved in our favour)")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def plots(
    report: SessionReport,
    timeline: Timeline | None = None,
    limits: InventoryLimits | None = None,
) -> dict[str, str]:
    """Base64 PNGs by name: ``price``, ``pnl``, ``inventory``, ``markouts``."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a Pi or in CI; must precede pyplot
    inst = report.instrument
    return {
        "price": _price_chart(report, timeline, inst),
        "pnl": _pnl_chart(report, timeline, inst),
        "inventory": _inventory_chart(report, timeline, inst, limits),
        "markouts": _markout_chart(report),
    }


__all__ = ["InventoryLimits", "halt_spans", "plots"]
