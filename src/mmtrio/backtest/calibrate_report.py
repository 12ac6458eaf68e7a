"""The calibration's report: the fits, the grid's best points, the exact-engine table, and a
plain sentence per configuration and set saying where it loses (before and after fees).

Money is rounded to the cent as on every surface (:mod:`mmtrio.units`); in the table, before
fees and fees are rounded together so that they add up to after fees as printed, and spread
capture and inventory so that they add up to before fees (less funding, when there is any).
The fits (A, k, r²) keep four and three significant figures, the overrides the values given.
The JSON document keeps the exact figures."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mmtrio import units
from mmtrio.backtest.calibrate import CALIBRATED, GIVEN, NO_DEFENCE, Calibration, Row
from mmtrio.backtest.intensity_fit import RecordingFit
from mmtrio.backtest.report import NO_TRADES, pnl_verdict
from mmtrio.reporting.pnl import decimal_text

GRID_SHOWN = 10


def _fit_line(role: str, fit: RecordingFit | str) -> str:
    if isinstance(fit, str):
        return f"  {role:9s}  {fit}"
    return (
        f"  {role:9s}  {fit.label}: A {fit.a:.4g}/s  k {fit.k:.4g}/tick  r² {fit.r2:.3f}  "
        f"({fit.arrivals} arrivals over {fit.span_s:.0f} s)"
    )


def _money(x: Decimal) -> str:
    return units.money(x)


def _fee_split(before: Decimal, fees: Decimal, after: Decimal) -> tuple[str, str, str]:
    """Before fees, fees and after fees as printed: after fees rounded to the cent, its cents
    split over the other two (:func:`mmtrio.units.apportion`), so that they add up."""
    after_c = units.cent(after)
    before_c, fees_c = units.apportion(after_c, [before, fees])
    return units.money(before_c), units.money(fees_c), units.money(after_c)


def _before_split(r: Row) -> tuple[str, str]:
    """Spread capture and inventory as printed: the cents of before fees as printed split over
    them and the rest (funding, reconciliation), so that they add up where the rest is zero
    and each is the figure `mmtrio backtest` prints for the same run."""
    before_c, _ = units.apportion(units.cent(r.after_fees), [r.before_fees, r.fees])
    rest = r.before_fees - r.spread_capture - r.inventory
    spread, inventory, _ = units.apportion(before_c, [r.spread_capture, r.inventory, rest])
    return units.money(spread), units.money(inventory)


def verdicts(rows: list[Row], quote_asset: str) -> list[str]:
    """Per configuration and set: the totals and, plainly, on how many recordings it loses."""
    out = []
    for config in (GIVEN, NO_DEFENCE, CALIBRATED):
        for role in ("in-sample", "held-out"):
            sel = [r for r in rows if r.config == config and r.role == role]
            if not sel:
                continue
            before = sum((r.before_fees for r in sel), Decimal(0))
            fees = sum((r.fees for r in sel), Decimal(0))
            after = sum((r.after_fees for r in sel), Decimal(0))
            before_text, _, after_text = _fee_split(before, fees, after)  # as the table rounds
            lose_b = sum(1 for r in sel if r.before_fees < 0)
            lose_a = sum(1 for r in sel if r.after_fees < 0)
            win_a = sum(1 for r in sel if r.after_fees > 0)
            n = len(sel)
            if win_a == 0 and lose_a == 0:
                traded = any(r.fills for r in sel)
                word = (
                    "breaks even after fees on every recording: nothing made or lost"
                    if traded
                    else f"{NO_TRADES} on any recording"
                )
            elif win_a == n:
                word = "makes money after fees on every recording"
            elif lose_a == 0:
                word = (
                    f"makes money after fees on {win_a} of {n} recording(s), nothing made or "
                    "lost on the others"
                )
            elif lose_b == n:
                word = f"LOSES on all {n} recording(s), before and after fees"
            elif lose_a == n:
                word = (
                    f"LOSES after fees on all {n} recording(s) (before fees it loses on "
                    f"{lose_b} of {n})"
                )
            else:
                word = (
                    f"LOSES after fees on {lose_a} of {n} recording(s), before fees on "
                    f"{lose_b} of {n}"
                )
            out.append(
                f"{config} / {role}: before fees {before_text}, after fees {after_text}"
                f" {quote_asset}: {word}"
            )
    return out


def format_text(cal: Calibration, quote_asset: str) -> str:
    """The whole report as text (see the module doc)."""
    lines = ["intensity fit λ(δ) = A·e^(−kδ) (core estimator, whole recording):"]
    lines += [_fit_line("in-sample", f) for f in cal.train_fits]
    lines += [_fit_line("held-out", f) for f in cal.holdout_fits]
    lines.append(
        f"  fitted fallback (geometric mean of the in-sample fits): A {cal.fallback_a:.4g}/s, "
        f"k {cal.fallback_k:.4g}/tick"
    )
    lines.append("")
    lines.append(
        f"grid on the in-sample recordings (fast sweep model, no defence), best "
        f"{min(GRID_SHOWN, len(cal.grid))} of {len(cal.grid)} by equity after fees:"
    )
    for s in cal.grid[:GRID_SHOWN]:
        lines.append(
            f"  after fees {_money(s.after_fees)}  before {_money(s.before_fees)}  fills "
            f"{s.fills:4d} (min/recording {s.fills_min:3d})  {' '.join(s.overrides)}"
        )
    floor = f"at least {cal.min_fills} fills on each in-sample recording"
    if cal.floor_met:
        lines.append(f"chosen: the best point with {floor}:")
    else:
        lines.append(f"NO grid point reaches {floor}; chosen: the busiest point:")
    lines.append(
        f"  {' '.join(cal.chosen.overrides)}  (in-sample, fast model: after fees "
        f"{_money(cal.chosen.after_fees)}, before {_money(cal.chosen.before_fees)}, "
        f"{cal.chosen.fills} fills)"
    )
    if cal.defence is not None:
        lines.append("")
        lines.append(
            "defence bounds at that point (exact engine, in-sample), by equity after fees:"
        )
        for s in cal.defence_grid:
            lines.append(
                f"  after fees {_money(s.after_fees)}  before {_money(s.before_fees)}  fills "
                f"{s.fills:4d} (min/recording {s.fills_min:3d})  {' '.join(s.overrides)}"
            )
        how = "the best" if cal.defence_floor_met else "NO point reaches the floor; the busiest"
        lines.append(f"chosen ({how}): {' '.join(cal.defence.overrides) or '(as given)'}")
    lines.append("")
    lines.append(f"exact engine (the live strategy, defence included), {quote_asset}:")
    head = ("config", "set", "recording", "before fees", "fees", "after fees", "spread")
    table = [(*head, "inventory", "fills", "max dd", "engine")]
    for r in cal.rows:
        table.append(
            (
                r.config,
                r.role,
                r.recording,
                *_fee_split(r.before_fees, r.fees, r.after_fees),
                *_before_split(r),
                str(r.fills),
                units.money(r.max_drawdown, signed=False),
                r.engine,
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    lines.append("")
    lines += verdicts(cal.rows, quote_asset)
    lines.append("")
    lines.append("calibrated keys (config.toml, or --set):")
    lines += [f"  {o}" for o in cal.chosen_overrides]
    return "\n".join(lines)


def to_json(cal: Calibration, quote_asset: str) -> dict[str, Any]:
    """The report as one JSON document."""

    def fit(f: RecordingFit | str) -> dict[str, Any]:
        if isinstance(f, str):
            return {"error": f}
        return {"recording": f.label, "a": f.a, "k": f.k, "r2": f.r2, "arrivals": f.arrivals}

    return {
        "schema": "mmtrio.calibration/1",
        "quote_asset": quote_asset,
        "fits": {
            "in_sample": [fit(f) for f in cal.train_fits],
            "held_out": [fit(f) for f in cal.holdout_fits],
            "fallback_a": cal.fallback_a,
            "fallback_k": cal.fallback_k,
        },
        "grid": [
            {
                "overrides": list(s.overrides),
                "after_fees": decimal_text(s.after_fees),
                "before_fees": decimal_text(s.before_fees),
                "fills": s.fills,
                "fills_min": s.fills_min,
            }
            for s in cal.grid
        ],
        "defence_grid": [
            {
                "overrides": list(s.overrides),
                "after_fees": decimal_text(s.after_fees),
                "before_fees": decimal_text(s.before_fees),
                "fills": s.fills,
                "fills_min": s.fills_min,
            }
            for s in cal.defence_grid
        ],
        "min_fills": cal.min_fills,
        "floor_met": cal.floor_met,
        "chosen": list(cal.chosen_overrides),
        "exact": [r.to_json() for r in cal.rows],
        "verdicts": verdicts(cal.rows, quote_asset),
    }


__all__ = ["format_text", "pnl_verdict", "to_json", "verdicts"]  # pnl_verdict: re-export
